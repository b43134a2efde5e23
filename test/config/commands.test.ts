import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {fixture} from './fixtures.js'

// fixtures are named by absolute path, so the CLI may run from any working directory
const dir = fixture({
  'base.yaml': 'train:\n  epochs: 3\n',
  'good.yaml': ['extends: base.yaml', 'name: good', 'models:', '  - model: mf', '    factors: 8', ''].join('\n'),
  'typo.yaml': ['name: typo', 'seed: 1', 'modles:', '  - model: mf', ''].join('\n'),
  'late.yaml': ['name: late', 'models:', '  - {model: neumf, mlp_layers: [7, 4]}', '  - {model: mf, name: neumf}', ''].join('\n'),
})
const good = join(dir, 'good.yaml')
const typo = join(dir, 'typo.yaml')

describe('rec config show', () => {
  it('--json: {file, files, config, sources, hash, ignored} and nothing else on stdout', async () => {
    const r = await runCli(['config', 'show', good, '--json', '--set', 'train.lr=0.01'])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(Object.keys(out).sort()).toEqual(['config', 'file', 'files', 'hash', 'ignored', 'sources'])
    expect(out.ignored['models.0.mlp_layers']).toBe('only neumf uses mlp_layers')
    expect(out.file).toBe(good)
    expect(out.files).toEqual([join(dir, 'base.yaml'), good])
    expect(out.config).toMatchObject({name: 'good', train: {epochs: 3, lr: 0.01}, models: [{model: 'mf', factors: 8}]})
    expect(out.sources['train.epochs']).toMatchObject({kind: 'extends', file: join(dir, 'base.yaml'), line: 2, col: 3})
    expect(out.sources['train.lr']).toEqual({kind: 'set', arg: 'train.lr=0.01'})
    expect(out.sources.seed).toEqual({kind: 'default'})
    expect(out.hash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('--explain annotates values with their sources', async () => {
    const r = await runCli(['config', 'show', good, '--explain', '--set', 'train.lr=0.01'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('name: good # experiment:2')
    expect(r.stdout).toContain(`epochs: 3 # ${join(dir, 'base.yaml')}:2`)
    expect(r.stdout).toContain('lr: 0.01 # --set train.lr=0.01')
    expect(r.stdout).toContain('seed: 42 # default')
  })

  it('without --explain prints plain YAML', async () => {
    const r = await runCli(['config', 'show', good])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('name: good\n')
    expect(r.stdout).not.toContain('# default')
  })
})

describe('rec config validate', () => {
  it('a valid file: exit 0 and a one-line ok', async () => {
    const r = await runCli(['config', 'validate', good])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(`ok: ${good} is valid (2 files)`)
  })

  it('--json on a valid file', async () => {
    const r = await runCli(['config', 'validate', good, '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({file: good, valid: true, files: [join(dir, 'base.yaml'), good]})
  })

  it('a misspelt top-level key: exit 2, file:line:col, the key and a suggestion', async () => {
    const r = await runCli(['config', 'validate', typo])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${typo}:3:1`)
    expect(r.stderr).toContain('modles')
    expect(r.stderr).toContain('did you mean `models`')
    expect(r.stderr).toContain(`  - ${typo}:3:1 modles: unknown key; did you mean \`models\`?`)
  })

  it('the same with --json: exit 2 and the error object on stdout', async () => {
    const r = await runCli(['config', 'validate', typo, '--json'])
    expect(r.code).toBe(2)
    const {error} = JSON.parse(r.stdout)
    expect(error).toMatchObject({code: 'config.invalid', kind: 'config', exitCode: 2})
    expect(error.message).toBe(`unknown key \`modles\` at ${typo}:3:1; did you mean \`models\`?`)
    expect(error.details).toEqual([`${typo}:3:1 modles: unknown key; did you mean \`models\`?`])
  })

  it('a --set to a key that does not exist: exit 2 with a suggestion', async () => {
    const r = await runCli(['config', 'validate', good, '--set', 'train.epoch=5'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('train.epoch=5')
    expect(r.stderr).toContain('did you mean `train.epochs`')
  })

  it('reports at once what rec run found only after the data stage, and a --set into a prototype (exit 2)', async () => {
    const r = await runCli(['config', 'validate', join(dir, 'late.yaml'), '--set', '__proto__.x=1'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error \[config\.invalid\]: 3 problems in /)
    expect(r.stderr).toContain('late.yaml:3:5 models.0: neumf mlp_layers[0] must be even')
    expect(r.stderr).toContain('late.yaml:4:23 models.1.name: model label "neumf" is also the label of models.0')
    expect(r.stderr).toContain('__proto__.x (--set __proto__.x=1): unknown key')
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack
  })

  it('a malformed --set is a usage error (exit 2)', async () => {
    const r = await runCli(['config', 'validate', good, '--set', 'train.epochs', '--json'])
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout).error).toMatchObject({code: 'usage.bad_set', kind: 'usage'})
  })
})
