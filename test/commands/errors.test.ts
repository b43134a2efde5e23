/**
 * Command-level contract of failures: exit codes (2 usage/config, 3 data), the human form
 * ("Error [code]: message" on stderr, nothing on stdout) and the --json form
 * ({"error": {code, message, exitCode, ...}} on stdout, nothing on stderr), and config errors that
 * stop a run before any work (no run directory, no models folder).
 */
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, it} from 'vitest'

import {runCli, type CliResult} from '../helpers/cli.js'
import {findDirs, parseJson, tempDir, tinyYaml, writeExperiment} from './fixtures.js'

let tmp: string
beforeAll(() => {
  tmp = tempDir('errors')
})
afterAll(() => {
  if (tmp) rmSync(tmp, {recursive: true, force: true})
})

interface ErrorJson {
  error: {code: string; kind: string; message: string; hint?: string; details: string[]; exitCode: number}
}

/** the --json error document, checked for its shape */
function jsonError(r: CliResult, exitCode: number): ErrorJson['error'] {
  const doc = parseJson(r.stdout) as ErrorJson
  if (Object.keys(doc).join() !== 'error') throw new Error(`expected {"error": ...}, got keys ${Object.keys(doc).join(', ')}`)
  const e = doc.error
  if (typeof e.code !== 'string' || typeof e.message !== 'string' || e.exitCode !== exitCode || !Array.isArray(e.details)) {
    throw new Error(`malformed error document: ${r.stdout}`)
  }
  return e
}

describe.concurrent('errors and exit codes', () => {
  it('rec run missing.yaml: exit 2, "Error [" on stderr, nothing on stdout', async ({expect}) => {
    const r = await runCli(['run', join(tmp, 'missing.yaml')])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Error \[config\.not_found\]: .*missing\.yaml/)
  })

  it('rec run missing.yaml --json: exit 2, {"error": {code, message, exitCode: 2}} on stdout, nothing on stderr', async ({expect}) => {
    const r = await runCli(['run', join(tmp, 'missing.yaml'), '--json'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('')
    const e = jsonError(r, 2)
    expect(e.code).toBe('config.not_found')
    expect(e.kind).toBe('config')
    expect(e.message).toContain('missing.yaml')
  })

  it('rec eval /nonexistent: exit 2', async ({expect}) => {
    const r = await runCli(['eval', '/nonexistent'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Error \[run\.not_found\]: no run directory at \/nonexistent/)
  })

  it('rec compare of a run directory without results.json (trained, not evaluated): exit 3 naming the file', async ({expect}) => {
    const dir = join(tmp, 'no-results', 'tiny', 'abc')
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'manifest.json'), '{}')
    const r = await runCli(['compare', dir])
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Error \[run\.not_evaluated\]: .*abc has no results\.json: it was not evaluated yet/)
    expect(r.stderr).toContain(`Hint: run \`rec eval ${dir}\` first`)
  })

  it('lowrank rank 999: exit 2 before any training (no models folder), the message names the rank', async ({expect}) => {
    const dir = join(tmp, 'rank999')
    mkdirSync(dir)
    const file = writeExperiment(dir, 'rank.yaml', tinyYaml({variants: ['{lowrank: {rank: 999}}']}))
    const out = join(dir, 'runs')
    const r = await runCli(['run', file, '--out', out])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Error \[compress\.bad_value\]: .*rank 999/)
    expect(r.stderr).not.toMatch(/\[train /)
    expect(findDirs(out, 'models')).toEqual([])
  })

  it('magnitude pruning at sparsity 1.0: exit 2, a config error at the file position', async ({expect}) => {
    const dir = join(tmp, 'sparsity1')
    mkdirSync(dir)
    const file = writeExperiment(dir, 'sparsity.yaml', tinyYaml({variants: ['{prune: {method: magnitude, sparsity: 1.0}}']}))
    const out = join(dir, 'runs')
    const r = await runCli(['run', file, '--out', out, '--json'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('')
    const e = jsonError(r, 2)
    expect(e.code).toBe('config.invalid')
    expect(e.message).toContain('sparsity')
    expect(e.message).toMatch(/sparsity\.yaml:\d+:\d+/)
    expect(findDirs(out, 'models')).toEqual([])
  })

  it('lowrank on a pop model: exit 2, the method does not apply to pop', async ({expect}) => {
    const dir = join(tmp, 'pop')
    mkdirSync(dir)
    const file = writeExperiment(dir, 'pop.yaml', tinyYaml({name: 'tinypop', models: ['{model: pop}'], variants: ['{lowrank: {rank: 4}}']}))
    const out = join(dir, 'runs')
    const r = await runCli(['run', file, '--out', out, '--json'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('')
    const e = jsonError(r, 2)
    expect(e.code).toBe('compress.not_applicable')
    expect(e.message).toMatch(/lowrank does not apply to model pop/)
    expect(findDirs(out, 'models')).toEqual([])
  })
})
