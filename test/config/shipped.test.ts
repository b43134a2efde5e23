import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/config/load.js'
import {repoRoot} from '../helpers/cli.js'
import {fixture} from './fixtures.js'

const configsDir = join(repoRoot, 'configs')
const shipped = readdirSync(configsDir, {recursive: true, encoding: 'utf8'})
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(configsDir, f))

describe('configs/ building blocks', () => {
  it('are there', () => {
    const names = shipped.map((f) => f.slice(configsDir.length + 1)).sort()
    expect(names).toEqual(
      expect.arrayContaining([
        'datasets/ml-100k.yaml',
        'datasets/ml-1m.yaml',
        'datasets/synth-small.yaml',
        'models/mf.yaml',
        'models/neumf.yaml',
        'models/two_tower.yaml',
        'protocols/recbole.yaml',
      ]),
    )
  })

  it.each(shipped)('%s starts with a yaml-language-server $schema line that points at the schema', async (file) => {
    const first = readFileSync(file, 'utf8').split('\n')[0]
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)
    expect(m).not.toBeNull()
    expect(resolve(dirname(file), m![1])).toBe(join(repoRoot, 'schema/rec-config.schema.json'))
    const loaded = await loadConfig(file, {checkFiles: false})
    expect(loaded.files).toEqual([file])
  })

  it('datasets resolve their paths against configs/datasets/', async () => {
    const ml100k = await loadConfig(join(configsDir, 'datasets/ml-100k.yaml'), {checkFiles: false})
    expect(ml100k.config.data).toMatchObject({format: 'ml-100k', path: resolve(repoRoot, '../shared/datasets/ml-100k/u.data')})
    const ml1m = await loadConfig(join(configsDir, 'datasets/ml-1m.yaml'), {checkFiles: false})
    expect(ml1m.config.data).toMatchObject({format: 'ml-1m', path: join(repoRoot, 'data/ml-1m/ratings.dat')})
    const synth = await loadConfig(join(configsDir, 'datasets/synth-small.yaml'))
    expect(synth.config.data.synth).toMatchObject({users: 300, items: 200, interactions: 12000})
  })

  it('compose into an experiment', async () => {
    const dir = fixture({
      'exp.yaml': [
        'extends:',
        `  - ${join(configsDir, 'datasets/synth-small.yaml')}`,
        `  - ${join(configsDir, 'models/mf.yaml')}`,
        `  - ${join(configsDir, 'protocols/recbole.yaml')}`,
        'train:',
        '  epochs: 5',
        '',
      ].join('\n'),
    })
    const {config, sources} = await loadConfig(join(dir, 'exp.yaml'))
    expect(config.models).toEqual([expect.objectContaining({model: 'mf'})])
    expect(config.split).toMatchObject({method: 'random', scope: 'per_user', ratios: [0.8, 0.1, 0.1]})
    expect(config.eval).toMatchObject({mode: 'full', k: [10, 20]})
    expect(config.train).toMatchObject({optimizer: 'adam', lr: 0.001, batch_size: 2048, negatives: 1, epochs: 5, early_stopping: {metric: 'mrr@10', patience: 10}})
    expect(config.preprocess.implicit.mode).toBe('all')
    expect(sources['train.epochs'].kind).toBe('experiment')
    expect(sources['train.batch_size']).toMatchObject({kind: 'extends', file: join(configsDir, 'protocols/recbole.yaml')})
  })

  it.runIf(existsSync(resolve(repoRoot, '../shared/datasets/ml-100k/u.data')))('ml-100k validates with its data file present', async () => {
    await expect(loadConfig(join(configsDir, 'datasets/ml-100k.yaml'))).resolves.toBeDefined()
  })
})
