import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/config/load.js'
import {levenshtein, nearest} from '../../src/config/suggest.js'
import {fixture, rejection} from './fixtures.js'

/** load `text` as exp.yaml (plus any other files) and return the error */
async function problem(text: string, other: Record<string, string> = {}, set?: string[]) {
  const dir = fixture({'exp.yaml': text, ...other})
  const err = await rejection(loadConfig(join(dir, 'exp.yaml'), {set, cwd: dir}))
  return {err, dir}
}

describe('unknown keys', () => {
  it('nested: names file:line:col of the key, the full key and the nearest sibling', async () => {
    const {err} = await problem(['name: t', 'train:', '  lr: 0.01', '  epoch: 5', ''].join('\n'))
    expect(err.code).toBe('config.invalid')
    expect(err.exitCode).toBe(2)
    expect(err.message).toBe('unknown key `train.epoch` at exp.yaml:4:3; did you mean `epochs`?')
    expect(err.details).toEqual(['exp.yaml:4:3 train.epoch: unknown key; did you mean `epochs`?'])
  })

  it('top level', async () => {
    const {err} = await problem(['seed: 1', 'modles:', '  - model: mf', ''].join('\n'))
    expect(err.details).toEqual(['exp.yaml:2:1 modles: unknown key; did you mean `models`?'])
  })

  it('inside a list entry', async () => {
    const {err} = await problem(['models:', '  - model: mf', '    factor: 8', ''].join('\n'))
    expect(err.details).toEqual(['exp.yaml:3:5 models.0.factor: unknown key; did you mean `factors`?'])
  })

  it('the example of the issue: eval.metircs suggests metrics', async () => {
    const {err} = await problem('eval:\n  metircs: [ndcg@10]\n')
    expect(err.details).toEqual(['exp.yaml:2:3 eval.metircs: unknown key; did you mean `metrics`?'])
    expect(err.message).toBe('unknown key `eval.metircs` at exp.yaml:2:3; did you mean `metrics`?')
  })

  it('no suggestion when nothing is close', async () => {
    const {err} = await problem('eval:\n  zzzzzzzz: [ndcg]\n')
    expect(err.details).toEqual(['exp.yaml:2:3 eval.zzzzzzzz: unknown key'])
    expect(err.message).not.toContain('did you mean')
  })

  it('an unknown metric name lists the known ones', async () => {
    const {err} = await problem('eval:\n  metrics: [ndcg@10, nddcg@10]\n')
    expect(err.details[0]).toMatch(/^exp.yaml:2:\d+ eval.metrics.1: unknown metric "nddcg@10"; known metrics: .*ndcg@K/)
  })

  it('in an extended file: positioned in that file', async () => {
    const {err} = await problem('extends: base.yaml\n', {'base.yaml': 'seed: 1\n\nsplit:\n  ratio: [1, 0, 0]\n'})
    expect(err.details).toEqual(['base.yaml:4:3 split.ratio: unknown key; did you mean `ratios`?'])
  })
})

describe('every problem is reported, each with its position', () => {
  it('collects problems from all files and --set', async () => {
    const {err} = await problem(
      [
        'extends: base.yaml', // 1
        'modles: []', // 2
        'train:', // 3
        '  lr: fast', // 4
        'split:', // 5
        '  ratios: [0.5, 0.3, 0.3]', // 6
        'eval:', // 7
        '  k: [10, 0]', // 8
        '',
      ].join('\n'),
      {'base.yaml': 'seed: 1.5\n'},
      ['train.epochs=-1'],
    )
    expect(err.message).toBe('6 problems in exp.yaml')
    expect(err.details).toEqual([
      'base.yaml:1:7 seed: expected integer, got number 1.5',
      'exp.yaml:2:1 modles: unknown key; did you mean `models`?',
      'exp.yaml:4:7 train.lr: expected number, got string "fast"',
      'exp.yaml:6:11 split.ratios: split ratios must sum to 1 (they sum to 1.1)',
      'exp.yaml:8:11 eval.k.1: must be > 0 (got 0)',
      'train.epochs (--set train.epochs=-1): must be > 0 (got -1)',
    ])
  })
})

describe('value problems', () => {
  it('type error: expected type, got value', async () => {
    const {err} = await problem('train:\n  lr: fast\n')
    expect(err.message).toBe('`train.lr` at exp.yaml:2:7: expected number, got string "fast"')
    expect(err.details).toEqual(['exp.yaml:2:7 train.lr: expected number, got string "fast"'])
  })

  it('split ratios must sum to 1', async () => {
    const {err} = await problem('split:\n  ratios: [0.7, 0.2, 0.2]\n')
    expect(err.details).toEqual(['exp.yaml:2:11 split.ratios: split ratios must sum to 1 (they sum to 1.1)'])
  })

  it('eval.k must be > 0', async () => {
    const {err} = await problem('eval:\n  k: [0]\n')
    expect(err.details).toEqual(['exp.yaml:2:7 eval.k.0: must be > 0 (got 0)'])
    const neg = await problem('eval:\n  k: [-5, 10]\n')
    expect(neg.err.details).toEqual(['exp.yaml:2:7 eval.k.0: must be > 0 (got -5)'])
  })

  it('unknown data.format lists the allowed values', async () => {
    const {err} = await problem('data:\n  format: movielens\n')
    expect(err.details).toEqual(['exp.yaml:2:11 data.format: unknown value "movielens"; expected one of synth, ml-100k, ml-1m, delimited, recbole'])
  })

  it('a missing required key points at the list entry', async () => {
    const {err} = await problem('models:\n  - factors: 8\n')
    expect(err.details).toEqual(['exp.yaml:2:5 models.0.model: missing (required); expected one of pop, mf, neumf, two_tower, sasrec, gru4rec, itemknn, ease, gmf, mlp'])
  })

  it('a union names its alternatives', async () => {
    const {err} = await problem('eval:\n  negatives: 0\n  threshold: high\n')
    expect(err.details).toEqual([
      'exp.yaml:2:14 eval.negatives: must be > 0 (got 0)',
      'exp.yaml:3:14 eval.threshold: expected number or "validation", got string "high"',
    ])
  })
})

describe('missing files', () => {
  it('a missing data.path file names the resolved path and the key position', async () => {
    const {err, dir} = await problem('seed: 1\ndata:\n  format: ml-100k\n  path: nope/u.data\n')
    expect(err.code).toBe('config.invalid')
    expect(err.message).toBe(`data file not found: ${join(dir, 'nope/u.data')} (data.path at exp.yaml:4:3)`)
    expect(err.details).toEqual([`exp.yaml:4:3 data.path: file not found: ${join(dir, 'nope/u.data')}`])
    expect(err.hint).toContain('rec data download ml-100k')
  })

  it('a file-based format without data.path', async () => {
    const {err} = await problem('data:\n  format: delimited\n')
    expect(err.details).toEqual(['exp.yaml:2:3 data.path: required for data.format delimited'])
  })

  it('synth needs no file, and checkFiles: false skips the check', async () => {
    const dir = fixture({'a.yaml': 'data:\n  format: synth\n', 'b.yaml': 'data:\n  format: ml-1m\n  path: nope\n'})
    await expect(loadConfig(join(dir, 'a.yaml'))).resolves.toBeDefined()
    await expect(loadConfig(join(dir, 'b.yaml'), {checkFiles: false})).resolves.toBeDefined()
  })

  it('an option the data format ignores is a config error at its key (data.columns with ml-100k)', async () => {
    const {err} = await problem('data:\n  format: ml-100k\n  path: u.data\n  columns: {user: 1, item: 0}\n', {'u.data': '1\t10\t5\t100\n'})
    expect(err.exitCode).toBe(2)
    expect(err.details).toEqual(['exp.yaml:4:3 data.columns: format ml-100k ignores it (its layout is fixed: user, item, rating, timestamp, tab-separated, no header)'])
  })

  it('a missing extended file names the resolved path and where it was named', async () => {
    const {err, dir} = await problem('seed: 1\nextends: [configs/nope.yaml]\n')
    expect(err.code).toBe('config.extends_not_found')
    expect(err.exitCode).toBe(2)
    expect(err.message).toContain(join(dir, 'configs/nope.yaml'))
    expect(err.message).toContain('exp.yaml:2:11')
  })

  it('a missing experiment file', async () => {
    const dir = fixture({})
    const err = await rejection(loadConfig(join(dir, 'nope.yaml')))
    expect(err.code).toBe('config.not_found')
    expect(err.exitCode).toBe(2)
  })
})

describe('extends cycles', () => {
  it('a → b → a', async () => {
    const {err} = await problem('extends: a.yaml\n', {'a.yaml': 'extends: b.yaml\n', 'b.yaml': 'seed: 1\nextends: a.yaml\n'})
    expect(err.code).toBe('config.extends_cycle')
    expect(err.exitCode).toBe(2)
    expect(err.message).toBe('extends cycle: a.yaml → b.yaml → a.yaml')
    expect(err.details).toEqual(['b.yaml:2:10 extends: a.yaml'])
  })

  it('a file extending itself', async () => {
    const {err} = await problem('extends: exp.yaml\n')
    expect(err.code).toBe('config.extends_cycle')
    expect(err.message).toBe('extends cycle: exp.yaml → exp.yaml')
  })

  it('a bad extends value is a problem with a position', async () => {
    const {err} = await problem('extends: [3]\n')
    expect(err.details).toEqual(['exp.yaml:1:11 extends.0: expected a file path, got number 3'])
  })
})

describe('--set problems', () => {
  const text = 'models:\n  - model: mf\n'

  it('a path that is not in the schema names the arg and the nearest key', async () => {
    const {err} = await problem(text, {}, ['train.epoch=5'])
    expect(err.code).toBe('config.invalid')
    expect(err.exitCode).toBe(2)
    expect(err.message).toBe('unknown key `train.epoch` in --set train.epoch=5; did you mean `train.epochs`?')
    expect(err.details).toEqual(['train.epoch (--set train.epoch=5): unknown key; did you mean `train.epochs`?'])
  })

  it('an unknown top-level section', async () => {
    const {err} = await problem(text, {}, ['trian.lr=0.1'])
    expect(err.message).toContain('did you mean `train`?')
  })

  it('a list index out of range', async () => {
    const {err} = await problem(text, {}, ['models.3.factors=8'])
    expect(err.details).toEqual(['models.3.factors (--set models.3.factors=8): `models` has 1 entry; index 3 is out of range'])
  })

  it('a bad value names the arg', async () => {
    const {err} = await problem(text, {}, ['models.0.factors=many'])
    expect(err.details).toEqual(['models.0.factors (--set models.0.factors=many): expected number, got string "many"'])
  })

  it('a malformed --set (no =) is a usage error', async () => {
    for (const arg of ['train.epochs', '=5', 'train..lr=1']) {
      const {err} = await problem(text, {}, [arg])
      expect(err.code).toBe('usage.bad_set')
      expect(err.kind).toBe('usage')
      expect(err.exitCode).toBe(2)
      expect(err.message).toContain(`"${arg}"`)
    }
  })
})

describe('YAML syntax', () => {
  it('reports the position', async () => {
    const {err} = await problem('train:\n  lr: 0.1\n lr: [\n')
    expect(err.code).toBe('config.yaml_syntax')
    expect(err.details.length).toBeGreaterThan(0)
    expect(err.details[0]).toMatch(/^exp\.yaml:\d+:\d+ /)
  })

  it('duplicate keys are an error', async () => {
    const {err} = await problem('seed: 1\nseed: 2\n')
    expect(err.code).toBe('config.yaml_syntax')
    expect(err.message).toContain('exp.yaml:2:1')
  })

  it('the top level must be a mapping', async () => {
    const {err} = await problem('- a\n- b\n')
    expect(err.message).toContain('must be a mapping')
  })
})

describe('did you mean', () => {
  it('levenshtein', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3)
    expect(levenshtein('', 'abc')).toBe(3)
    expect(levenshtein('metircs', 'metrics')).toBe(2)
  })

  it('nearest returns a close candidate or nothing', () => {
    expect(nearest('modles', ['name', 'models', 'seed'])).toBe('models')
    expect(nearest('EPOCHS', ['epochs', 'lr'])).toBe('epochs')
    expect(nearest('zzzzzz', ['models', 'seed'])).toBeUndefined()
    expect(nearest('x', ['k'])).toBeUndefined()
    expect(nearest('a', [])).toBeUndefined()
  })
})
