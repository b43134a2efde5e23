/**
 * "No silent wrong result" (the trust issue), through the CLI: changing eval.* never retrains;
 * run files are verified against the digests their stage recorded and validated against their
 * schema (exit 3 naming the file); SIGTERM stops like Ctrl-C; a lock of an unrelated live process
 * gets a hint; `rec eval` on a data-only run says what it will do.
 */
import {createHash} from 'node:crypto'
import {cpSync, existsSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, spawnCli} from '../helpers/cli.js'
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

describe('stopping', () => {
  // epochs of ~250 steps (batch 8): long enough for a signal to land inside training
  const SLOW = tinyYaml({name: 'stop', epochs: 3}).replace('batch_size: 256', 'batch_size: 8')
  const runDirIn = (out: string) => join(out, 'stop', readdirSync(join(out, 'stop'))[0])

  /** `rec run` of the slow experiment, sent `signal` when stderr first matches `when` */
  async function stopRun(out: string, signal: NodeJS.Signals, when: RegExp) {
    const exp = writeYaml(dir, 'stop.yaml', SLOW)
    let sent = false
    const run = spawnCli(['run', exp, '--out', out], {
      onStderr: (soFar) => {
        if (!sent && when.test(soFar)) {
          sent = true
          run.child.kill(signal)
        }
      },
    })
    const r = await run.done
    expect(sent, r.stderr).toBe(true)
    return r
  }

  it('SIGTERM stops gracefully like Ctrl-C: exit 143, finished stages kept, the checkpoint named, no lock left', async () => {
    const out = join(dir, 'sigterm')
    const r = await stopRun(out, 'SIGTERM', /\[train mf\] epoch 1\/3 loss /)
    expect(r.signal).toBeNull()
    expect(r.code, r.stderr).toBe(143)
    expect(r.stderr).toContain('warning: SIGTERM: stopping after the current batch')
    const runDir = runDirIn(out)
    expect(r.stderr).toContain(`interrupted in train mf: the last completed checkpoint is in ${join(runDir, 'models', 'mf', 'checkpoint')}`)
    expect(JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8')).stages.data.status).toBe('done')
    expect(existsSync(join(runDir, '.lock'))).toBe(false)
  })

  it('Ctrl-C in the first epoch: the message names the stage and points at no checkpoint (none exists yet)', async () => {
    const out = join(dir, 'first-epoch')
    const r = await stopRun(out, 'SIGINT', /\[train mf\] started/)
    expect(r.code, r.stderr).toBe(130)
    const runDir = runDirIn(out)
    expect(existsSync(join(runDir, 'models', 'mf', 'checkpoint', 'state.json'))).toBe(false)
    expect(r.stderr).toContain('interrupted in train mf before its first checkpoint: run the same command again to start train mf over')
    expect(r.stderr).not.toContain('checkpoint is in')
  })
})

describe('rec eval on a run that was not trained', () => {
  it('says it will train the models first, then does so (exit 0)', async () => {
    const out = join(dir, 'data-only')
    const d = await runJson(['run', exp, '--out', out, '--until', 'data'])
    expect(d.code, d.stderr).toBe(0)
    const r = await runCli(['eval', d.json.runDir])
    expect(r.code, r.stderr).toBe(0)
    const said = r.stderr.indexOf(`${d.json.runDir} has 1 model that is not trained yet (mf): training it first, as rec run would (Ctrl-C stops and keeps what finished)`)
    expect(said, r.stderr).toBeGreaterThanOrEqual(0)
    expect(said).toBeLessThan(r.stderr.indexOf('[train mf] started'))
    expect(r.stdout).toContain('int8')
  })
})
