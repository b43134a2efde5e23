/**
 * "No silent wrong result" (the trust issue), through the CLI: changing eval.* never retrains;
 * run files are verified against the digests their stage recorded and validated against their
 * schema (exit 3 naming the file); SIGTERM stops like Ctrl-C; a lock of an unrelated live process
 * gets a hint; `rec eval` on a data-only run says what it will do.
 */
import {createHash} from 'node:crypto'
import {cpSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {runJson, tempDir, tinyYaml, writeYaml, type RunJson} from './helpers.js'

let dir: string
let exp: string
let base: RunJson

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const manifestOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8')) as {stages: Record<string, {key?: string; files?: Record<string, string>}>}

// early stopping (so that validation runs), 3 epochs, one int8 variant
const YAML = tinyYaml({name: 'trust', epochs: 3, extra: ['compress:', '  variants:', '    - {name: int8, quantize: {dtype: int8}}'].join('\n')}).replace(
  'early_stopping: null',
  'early_stopping: {metric: ndcg@10, patience: 2}',
)

beforeAll(async () => {
  dir = tempDir('trust')
  exp = writeYaml(dir, 'trust.yaml', YAML)
  const r = await runJson(['run', exp, '--out', join(dir, 'runs')])
  expect(r.code, r.stderr).toBe(0)
  base = r.json
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** a copy of the finished run, so that changing it does not disturb the other tests */
function copyRun(name: string): string {
  const to = join(dir, 'copies', name)
  cpSync(base.runDir, to, {recursive: true})
  return to
}

describe('eval.* never retrains', () => {
  it('rec eval --set eval.mode=sampled on a run trained with early stopping keeps the train stage and weights.bin', async () => {
    const run = copyRun('sampled')
    const weights = join(run, 'models', 'mf', 'base', 'weights.bin')
    const before = sha(weights)
    const trainKey = manifestOf(run).stages['train:mf'].key
    const r = await runCli(['eval', run, '--set', 'eval.mode=sampled'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('train mf: reusing the model of an earlier run')
    expect(r.stderr).not.toContain('[train mf] epoch')
    expect(sha(weights)).toBe(before)
    expect(manifestOf(run).stages['train:mf'].key).toBe(trainKey)
    expect(r.stdout).toContain('sampled')
  })
})
