import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {canonicalJson, configHash, loadConfig, parseSetArgs, resolveConfigFromObject} from '../../src/config/load.js'
import {configSchema} from '../../src/config/schema.js'
import {fixture, thrown} from './fixtures.js'

describe('precedence: defaults < extends (in order) < experiment < --set', () => {
  // train.optimizer: default only
  // train.lr:         base1
  // train.epochs:     base1, base2                     → base2
  // train.batch_size: base1, base2, experiment         → experiment
  // train.l2:         base1, base2, experiment, --set  → --set
  const dir = fixture({
    'base1.yaml': ['train:', '  lr: 0.1', '  epochs: 3', '  batch_size: 64', '  l2: 0.5', ''].join('\n'),
    'base2.yaml': ['train:', '  epochs: 4', '  batch_size: 128', '  l2: 0.25', ''].join('\n'),
    'exp.yaml': ['extends: [base1.yaml, base2.yaml]', 'train:', '  batch_size: 256', '  l2: 0.125', ''].join('\n'),
  })

  it('each level overrides the previous one, and sources name the winner', async () => {
    const loaded = await loadConfig(join(dir, 'exp.yaml'), {set: ['train.l2=0.0625']})
    const t = loaded.config.train
    expect(t).toMatchObject({optimizer: 'adam', lr: 0.1, epochs: 4, batch_size: 256, l2: 0.0625})
    expect(loaded.sources['train.optimizer']).toEqual({kind: 'default'})
    expect(loaded.sources['train.lr']).toEqual({kind: 'extends', file: join(dir, 'base1.yaml'), line: 2, col: 3})
    expect(loaded.sources['train.epochs']).toEqual({kind: 'extends', file: join(dir, 'base2.yaml'), line: 2, col: 3})
    expect(loaded.sources['train.batch_size']).toEqual({kind: 'experiment', file: join(dir, 'exp.yaml'), line: 3, col: 3})
    expect(loaded.sources['train.l2']).toEqual({kind: 'set', arg: 'train.l2=0.0625'})
    expect(loaded.files).toEqual([join(dir, 'base1.yaml'), join(dir, 'base2.yaml'), join(dir, 'exp.yaml')])
    expect(loaded.file).toBe(join(dir, 'exp.yaml'))
  })

  it('later --set wins over earlier --set', async () => {
    const loaded = await loadConfig(join(dir, 'exp.yaml'), {set: ['train.l2=1', 'train.l2=2']})
    expect(loaded.config.train.l2).toBe(2)
    expect(loaded.sources['train.l2']).toEqual({kind: 'set', arg: 'train.l2=2'})
  })

  it('every leaf of the config has a source', async () => {
    const loaded = await loadConfig(join(dir, 'exp.yaml'))
    expect(loaded.sources['eval.k']).toEqual({kind: 'default'})
    expect(loaded.sources['data.synth.users']).toEqual({kind: 'default'})
    expect(loaded.sources['compress.variants']).toEqual({kind: 'default'})
    expect(loaded.sources['train.early_stopping']).toEqual({kind: 'default'})
    expect(Object.keys(loaded.sources).length).toBeGreaterThan(50)
  })

  it('extends recurse: an extended file may extend others, relative to its own folder', async () => {
    const d = fixture({
      'lib/base.yaml': ['seed: 1', 'name: base', ''].join('\n'),
      'lib/mid.yaml': ['extends: base.yaml', 'seed: 2', ''].join('\n'),
      'exp.yaml': ['extends: lib/mid.yaml', ''].join('\n'),
    })
    const loaded = await loadConfig(join(d, 'exp.yaml'))
    expect(loaded.config.seed).toBe(2)
    expect(loaded.config.name).toBe('base')
    expect(loaded.files).toEqual([join(d, 'lib/base.yaml'), join(d, 'lib/mid.yaml'), join(d, 'exp.yaml')])
    expect(loaded.sources.name).toMatchObject({kind: 'extends', file: join(d, 'lib/base.yaml'), line: 2})
    expect(loaded.config).not.toHaveProperty('extends')
  })
})

describe('merge', () => {
  it('objects merge deeply; arrays and scalars replace', async () => {
    const d = fixture({
      'base.yaml': [
        'data:',
        '  synth:',
        '    users: 10',
        '    items: 11',
        'eval:',
        '  k: [1, 2, 3]',
        'models:',
        '  - model: mf',
        '    factors: 8',
        '  - model: pop',
        'train:',
        '  early_stopping: {metric: ndcg@10, patience: 3}',
        '',
      ].join('\n'),
      'exp.yaml': [
        'extends: base.yaml',
        'data:',
        '  synth:',
        '    items: 20',
        'eval:',
        '  k: [5]',
        'models:',
        '  - model: neumf',
        'train:',
        '  early_stopping: null',
        '',
      ].join('\n'),
    })
    const {config, sources} = await loadConfig(join(d, 'exp.yaml'))
    expect(config.data.synth).toMatchObject({users: 10, items: 20, interactions: 20000})
    expect(config.eval.k).toEqual([5])
    expect(config.models).toHaveLength(1)
    expect(config.models[0]).toMatchObject({model: 'neumf', factors: 64})
    expect(sources['models.0.model']).toMatchObject({kind: 'experiment', line: 8, col: 5})
    // the replaced list's values are gone: factors is a default now, not base.yaml's 8
    expect(sources['models.0.factors']).toEqual({kind: 'default'})
    expect(sources['data.synth.users']).toMatchObject({kind: 'extends', line: 3})
    expect(sources['data.synth.items']).toMatchObject({kind: 'experiment', line: 4})
    expect(sources['eval.k']).toMatchObject({kind: 'experiment', line: 6})
    expect(config.train.early_stopping).toBeNull()
    expect(sources['train.early_stopping']).toMatchObject({kind: 'experiment', line: 10})
  })

  it('a mapping replaces null and vice versa', async () => {
    const d = fixture({
      'base.yaml': 'train:\n  early_stopping: null\n',
      'exp.yaml': 'extends: base.yaml\ntrain:\n  early_stopping: {patience: 5}\n',
    })
    const {config} = await loadConfig(join(d, 'exp.yaml'))
    expect(config.train.early_stopping).toEqual({metric: 'mrr@10', patience: 5, mode: 'full', negatives: 99})
  })

  it('per-model train overrides keep only the keys they set', async () => {
    const d = fixture({'exp.yaml': 'train:\n  epochs: 7\nmodels:\n  - model: mf\n    train: {lr: 0.05}\n'})
    const {config} = await loadConfig(join(d, 'exp.yaml'))
    expect(config.models[0].train).toEqual({lr: 0.05})
    expect({...config.train, ...config.models[0].train}).toMatchObject({epochs: 7, lr: 0.05})
  })
})

describe('relative paths', () => {
  it('resolve against the folder of the file that set them', async () => {
    const d = fixture({
      'configs/data.yaml': 'data:\n  format: delimited\n  path: ratings.csv\n',
      'configs/ratings.csv': 'u,i,r\n',
      'exp/exp.yaml': 'extends: ../configs/data.yaml\noutput:\n  dir: ../out\n$schema: ../schema.json\n',
    })
    const {config} = await loadConfig(join(d, 'exp/exp.yaml'))
    expect(config.data.path).toBe(join(d, 'configs/ratings.csv'))
    expect(config.output.dir).toBe(join(d, 'out'))
    expect(config.$schema).toBe('../schema.json')
  })

  it('the default output.dir is ./runs of the working directory (not next to the experiment file)', async () => {
    const d = fixture({'sub/exp.yaml': 'name: x\n'})
    const {config, sources} = await loadConfig(join(d, 'sub/exp.yaml'), {cwd: d})
    expect(config.output.dir).toBe(join(d, 'runs'))
    expect(sources['output.dir']).toEqual({kind: 'default'})
  })

  it('a path given with --set resolves against the cwd', async () => {
    const d = fixture({'exp.yaml': 'data:\n  format: delimited\n', 'here/r.csv': 'x\n'})
    const {config} = await loadConfig(join(d, 'exp.yaml'), {set: ['data.path=r.csv'], cwd: join(d, 'here')})
    expect(config.data.path).toBe(join(d, 'here/r.csv'))
  })

  it('absolute paths stay as they are', async () => {
    const d = fixture({'r.csv': 'x\n'})
    writeFileSync(join(d, 'exp.yaml'), `data:\n  format: delimited\n  path: ${join(d, 'r.csv')}\n`)
    const {config} = await loadConfig(join(d, 'exp.yaml'))
    expect(config.data.path).toBe(join(d, 'r.csv'))
  })
})

describe('--set', () => {
  const d = fixture({'exp.yaml': 'models:\n  - model: mf\n'})
  const exp = join(d, 'exp.yaml')

  it('parses values as YAML scalars and flow collections', async () => {
    const {config, sources} = await loadConfig(exp, {
      set: ['train.epochs=5', 'eval.k=[5,10]', 'models.0.factors=32', 'split.method=temporal', 'train.lr=1e-3', 'name=my-exp', 'train.early_stopping={patience: 3}'],
    })
    expect(config.train.epochs).toBe(5)
    expect(config.eval.k).toEqual([5, 10])
    expect(config.models[0].factors).toBe(32)
    expect(config.models[0].model).toBe('mf')
    expect(config.split.method).toBe('temporal')
    expect(config.train.lr).toBe(0.001)
    expect(config.name).toBe('my-exp')
    expect(config.train.early_stopping).toEqual({metric: 'mrr@10', patience: 3, mode: 'full', negatives: 99})
    expect(sources['eval.k']).toEqual({kind: 'set', arg: 'eval.k=[5,10]'})
    expect(sources['models.0.factors']).toEqual({kind: 'set', arg: 'models.0.factors=32'})
    expect(sources['models.0.model']).toMatchObject({kind: 'experiment', line: 2, col: 5})
  })

  it('an index one past the end appends an entry', async () => {
    const {config} = await loadConfig(exp, {set: ['models.1.model=neumf']})
    expect(config.models.map((m) => m.model)).toEqual(['mf', 'neumf'])
  })

  it('parseSetArgs splits the path and keeps the argument', () => {
    expect(parseSetArgs(['a.b.0=x: y'])).toEqual([{arg: 'a.b.0=x: y', path: ['a', 'b', '0'], value: {x: 'y'}}])
    expect(parseSetArgs(['data.path='])[0].value).toBeNull()
  })
})

describe('resolveConfigFromObject', () => {
  it('fills defaults and applies --set', () => {
    const loaded = resolveConfigFromObject({models: [{model: 'mf'}]}, {set: ['train.epochs=2']})
    expect(loaded.config.models[0].factors).toBe(64)
    expect(loaded.config.train.epochs).toBe(2)
    expect(loaded.sources['train.epochs']).toEqual({kind: 'set', arg: 'train.epochs=2'})
    expect(loaded.sources['models.0.model'].kind).toBe('experiment')
  })

  it('reports problems like loadConfig', () => {
    const err = thrown(() => resolveConfigFromObject({train: {lr: 'x'}}))
    expect(err.code).toBe('config.invalid')
    expect(err.message).toContain('train.lr')
  })
})

describe('configHash / canonicalJson', () => {
  it('canonicalJson sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({b: 1, a: {d: [3, {z: 1, y: 2}], c: undefined}})).toBe('{"a":{"d":[3,{"y":2,"z":1}]},"b":1}')
  })

  it('the hash ignores key order and $schema, and changes with any value', () => {
    const a = configSchema.parse({seed: 1, train: {lr: 0.1}})
    const b = configSchema.parse({train: {lr: 0.1}, seed: 1, $schema: 'x.json'})
    const c = configSchema.parse({seed: 1, train: {lr: 0.2}})
    expect(configHash(a)).toMatch(/^[0-9a-f]{64}$/)
    expect(configHash(a)).toBe(configHash(b))
    expect(configHash(a)).not.toBe(configHash(c))
  })
})

describe('files on disk', () => {
  it('an empty experiment file is all defaults', async () => {
    const d = fixture({'exp.yaml': '# nothing here\n'})
    const {config} = await loadConfig(join(d, 'exp.yaml'))
    expect(config).toMatchObject({name: 'experiment', seed: 42, models: []})
  })

  it('reads each file once even when extended twice', async () => {
    const d = fixture({'c.yaml': 'seed: 3\n', 'a.yaml': 'extends: c.yaml\n', 'b.yaml': 'extends: c.yaml\n', 'exp.yaml': 'extends: [a.yaml, b.yaml]\n'})
    mkdirSync(join(d, 'unused'))
    const loaded = await loadConfig(join(d, 'exp.yaml'))
    expect(loaded.files).toEqual(['c.yaml', 'a.yaml', 'b.yaml', 'exp.yaml'].map((f) => join(d, f)))
    expect(loaded.config.seed).toBe(3)
  })
})
