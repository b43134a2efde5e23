import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {loadConfig, resolveConfigFromObject} from '../../src/config/load.js'
import {fixture, rejection, thrown} from './fixtures.js'

/** load `text` as exp.yaml and return the error */
async function problem(text: string, set?: string[]) {
  const dir = fixture({'exp.yaml': text})
  return rejection(loadConfig(join(dir, 'exp.yaml'), {set, cwd: dir}))
}

afterEach(() => {
  // a polluted prototype would leak into every later test: clean up, and the assertion below fails
  delete (Object.prototype as Record<string, unknown>).x
  delete (Object.prototype as Record<string, unknown>).polluted
})

describe('--set keys that name object internals', () => {
  for (const arg of ['__proto__.x=1', 'constructor.prototype.x=1', 'train.toString=1', 'train.__proto__.x=1', 'models.0.__proto__.x=1']) {
    it(`${arg}: exit 2, and no prototype is touched`, () => {
      const err = thrown(() => resolveConfigFromObject({models: [{model: 'mf'}]}, {set: [arg]}))
      expect(err.exitCode).toBe(2)
      expect(err.message).toMatch(/unknown key|not a config key/)
      expect(({} as Record<string, unknown>).x).toBeUndefined()
    })
  }

  it('a YAML file with a __proto__ key is an unknown key, not a prototype', async () => {
    const err = await problem('__proto__: {polluted: 1}\ntrain:\n  __proto__: {polluted: 2}\n')
    expect(err.exitCode).toBe(2)
    expect(err.details.join('\n')).toContain('__proto__: unknown key')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('names are path-safe: they name folders of the run directory', () => {
  const rule = "letters, digits, '.', '_' or '-', not starting with '.'"
  it('experiment name ".." is rejected with the rule', async () => {
    const err = await problem('name: ".."\n')
    expect(err.exitCode).toBe(2)
    expect(err.message).toBe(`\`name\` at exp.yaml:1:7: must be ${rule} (it names a folder); got string ".."`)
  })

  it('model and variant names "." / ".." / "a/b" are rejected, every one', async () => {
    const err = await problem(
      ['models:', '  - {model: mf, name: "."}', '  - {model: mf, name: "a/b"}', 'compress:', '  variants:', '    - {name: "..", quantize: {dtype: int8}}', ''].join('\n'),
    )
    expect(err.exitCode).toBe(2)
    expect(err.details).toEqual([
      `exp.yaml:2:23 models.0.name: must be ${rule} (it names a folder); got string "."`,
      `exp.yaml:3:23 models.1.name: must be ${rule} (it names a folder); got string "a/b"`,
      `exp.yaml:6:14 compress.variants.0.name: must be ${rule} (it names a folder); got string ".."`,
    ])
  })

  it('ordinary names pass', () => {
    const {config} = resolveConfigFromObject({name: 'ml-100k_v2.1', models: [{model: 'mf', name: 'MF-64'}], compress: {variants: [{name: 'q8', quantize: {dtype: 'int8'}}]}})
    expect(config.name).toBe('ml-100k_v2.1')
  })
})

describe('duplicate labels: two models or variants would write one folder', () => {
  it('name: a on two models: names both entries with their positions', async () => {
    const err = await problem(['models:', '  - {model: mf, name: a}', '  - {model: neumf, name: a, mlp_layers: [8, 4]}', ''].join('\n'))
    expect(err.exitCode).toBe(2)
    expect(err.details).toEqual(['exp.yaml:3:26 models.1.name: model label "a" is also the label of models.0 (exp.yaml:2:5); each model writes models/<label>/'])
    expect(err.hint).toMatch(/distinct name/)
  })

  it('two {model: mf} entries with different factors', async () => {
    const err = await problem(['models:', '  - {model: mf, factors: 8}', '  - {model: mf, factors: 16}', ''].join('\n'))
    expect(err.code).toBe('config.duplicate_model')
    expect(err.details).toEqual(['exp.yaml:3:5 models.1: model label "mf" is also the label of models.0 (exp.yaml:2:5); each model writes models/<label>/'])
  })

  it('duplicate variant names, from names given or generated, and the reserved name base', async () => {
    const err = await problem(
      [
        'models: [{model: mf}]',
        'compress:',
        '  variants:',
        '    - {quantize: {dtype: int8}}',
        '    - {name: int8, quantize: {dtype: float16}}',
        '    - {name: base, quantize: {dtype: float16}}',
        '',
      ].join('\n'),
    )
    expect(err.details).toEqual([
      'exp.yaml:5:7 compress.variants.1: variant name "int8" is also made by compress.variants.0 (exp.yaml:4:7); each variant writes models/<model>/<variant>/',
      'exp.yaml:6:7 compress.variants.2: variant name "base" is reserved for the trained model',
    ])
  })
})

describe('protocol errors before any work', () => {
  it('an unknown gate metric names the metric and the known ones', async () => {
    const err = await problem('compress:\n  gate: {metric: nddcg@10}\n')
    expect(err.details[0]).toMatch(/^exp.yaml:2:18 compress.gate.metric: unknown metric "nddcg@10"; known metrics: .*ndcg@K/)
  })

  it('a gate metric at a K that eval.k does not compute', async () => {
    const err = await problem('eval: {k: [10, 20]}\ncompress:\n  gate: {metric: ndcg@5}\n')
    expect(err.details).toEqual(['exp.yaml:3:18 compress.gate.metric: ndcg@5 is not computed: eval.k is [10, 20]'])
  })

  it('a gate metric written in another spelling than the result keys', async () => {
    const err = await problem('compress:\n  gate: {metric: NDCG@10}\n')
    expect(err.details).toEqual(['exp.yaml:2:18 compress.gate.metric: write it as ndcg@10 (the key results use)'])
  })

  it('a test fraction of 0 (random / temporal)', async () => {
    const err = await problem('split: {method: temporal, ratios: [0.9, 0.1, 0]}\n')
    expect(err.details).toEqual(['exp.yaml:1:46 split.ratios.2: the test fraction is 0: there would be nothing to evaluate'])
  })

  it('a validation fraction of 0 with early stopping, also when only one model turns it on', async () => {
    const err = await problem(
      ['split: {ratios: [0.9, 0, 0.1]}', 'models:', '  - {model: mf}', '  - {model: mf, name: b, train: {early_stopping: {metric: ndcg@10}}}', ''].join('\n'),
    )
    expect(err.details).toEqual(['exp.yaml:1:23 split.ratios.1: the validation fraction is 0, but early stopping of model b validates on it'])
  })

  it('leave_one_out ignores the ratios', () => {
    expect(() => resolveConfigFromObject({split: {method: 'leave_one_out', ratios: [0.9, 0, 0.1]}, train: {early_stopping: {}}, models: [{model: 'mf'}]})).not.toThrow()
  })
})

describe('config validation reports what rec run would reject, all at once', () => {
  it('odd neumf mlp_layers[0], too many factors, an impossible rank and an unsupported scope: every one', async () => {
    const err = await problem(
      [
        'models:',
        '  - {model: neumf, mlp_layers: [7, 4]}',
        '  - {model: mf, name: huge, factors: 100000000}',
        '  - {model: mf, name: small, factors: 8}',
        'compress:',
        '  variants:',
        '    - {lowrank: {rank: 64, target: embeddings}}',
        '    - {prune: {method: structured, sparsity: 0.5, scope: global}}',
        '',
      ].join('\n'),
    )
    expect(err.exitCode).toBe(2)
    const d = err.details.join('\n')
    expect(d).toContain('exp.yaml:2:5 models.0: neumf mlp_layers[0] must be even')
    expect(d).toMatch(/exp.yaml:3:5 models.1: model huge needs about \d/)
    expect(d).toContain('exp.yaml:7:7 compress.variants.0: model small: compress variant "lowrank-r64": rank 64 is above')
    expect(d).toContain('exp.yaml:8:7 compress.variants.1: model huge: compress variant "structured-0.5": structured pruning removes the same fraction')
  })

  it('compression on pop is reported once per variant', async () => {
    const err = await problem('models: [{model: pop}]\ncompress:\n  variants: [{quantize: {dtype: int8}}]\n')
    expect(err.details).toEqual(['exp.yaml:3:14 compress.variants.0: model pop: compress variant "int8": quantize does not apply to model pop (it has no weights to compress)'])
  })
})

describe('echoed values are cut', () => {
  const big = 'x'.repeat(2_000_000)
  it('2 MB field values, a 2 MB --set value and a 2 MB --set key: every message stays short and says the length', async () => {
    const err = await problem(`seed: "${big}"\ndata: {format: "${big}"}\n`, [`train.lr=${big}`, `${big}=1`])
    expect(err.exitCode).toBe(2)
    expect(err.details).toHaveLength(4)
    for (const d of [err.message, ...err.details]) expect(d.length).toBeLessThan(400)
    expect(err.details.join('\n')).toContain(`string "${'x'.repeat(60)}…" (2000000 chars)`)
    expect(err.details.join('\n')).toContain('(2000000 chars)')
  })

  it('a malformed 2 MB --set is cut too', () => {
    const err = thrown(() => resolveConfigFromObject({}, {set: [big]}))
    expect(err.message.length).toBeLessThan(200)
    expect(err.message).toContain('… (2000000 chars)')
  })
})

describe('metrics the config asks for are ones evaluation computes', () => {
  it('an eval.metrics column at a K that eval.k does not compute', async () => {
    const err = await problem('eval:\n  k: [10]\n  metrics: [ndcg@10, recall@20]\n')
    expect(err.details).toEqual(['exp.yaml:3:22 eval.metrics.1: recall@20 is not computed: eval.k is [10]'])
  })

  it('model labels that differ only in case share a folder on macOS and Windows', async () => {
    const err = await problem('models:\n  - {model: mf, name: MF}\n  - {model: mf}\n')
    expect(err.details).toEqual(['exp.yaml:3:5 models.1: model label "mf" names the same folder as models.0 ("MF", exp.yaml:2:5): folder names ignore case on macOS and Windows'])
  })
})
