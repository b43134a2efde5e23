/**
 * "No silent wrong result" (the trust issue), through the CLI: changing eval.* never retrains;
 * run files are verified against the digests their stage recorded and validated against their
 * schema (exit 3 naming the file); SIGTERM stops like Ctrl-C; a lock of an unrelated live process
 * gets a hint; `rec eval` on a data-only run says what it will do.
 */
import {createHash} from 'node:crypto'
import {copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, spawnCli} from '../helpers/cli.js'
import {runJson, tempDir, tinyYaml, writeYaml, type RunJson} from './helpers.js'

let dir: string
let exp: string
let base: RunJson

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')
const manifestOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8')) as {stages: Record<string, {key?: string; files?: Record<string, string>}>}

// early stopping (so that validation runs), 3 epochs, one int8 variant; 200 items, so that the
// sampled protocol's 99 distinct negatives exist for every user
const YAML = tinyYaml({name: 'trust', epochs: 3, items: 200, extra: ['compress:', '  variants:', '    - {name: int8, quantize: {dtype: int8}}'].join('\n')}).replace(
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
  // epochs of ~250 steps (batch 8) through the tfjs step (~1 ms a step): long enough for a signal to
  // land inside the first epoch (the hand-written mf step trains this epoch in a few ms)
  const SLOW = tinyYaml({name: 'stop', epochs: 3}).replace('batch_size: 256', 'batch_size: 8')
  const runDirIn = (out: string) => join(out, 'stop', readdirSync(join(out, 'stop'))[0])

  /** `rec run` of the slow experiment, sent `signal` when stderr first matches `when` */
  async function stopRun(out: string, signal: NodeJS.Signals, when: RegExp) {
    const exp = writeYaml(dir, 'stop.yaml', SLOW)
    let sent = false
    const run = spawnCli(['run', exp, '--out', out], {
      env: {REC_TRAIN_ENGINE: 'tfjs'},
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

describe('run files are verified against the digests their stage recorded', () => {
  it('every stage records the sha256 of each file it wrote in the manifest', () => {
    const stages = manifestOf(base.runDir).stages
    const files = (name: string) => Object.keys(stages[name].files ?? {}).sort()
    expect(files('data')).toEqual(['data/split/idmap.json', 'data/split/test.bin', 'data/split/train.bin', 'data/split/valid.bin', 'data/stats.json'])
    expect(files('train:mf')).toEqual(['models/mf/base/idmap.json', 'models/mf/base/model.json', 'models/mf/base/model.onnx', 'models/mf/base/weights.bin', 'models/mf/train.json'])
    expect(files('compress:mf/int8')).toEqual(['models/mf/int8/compress.json', 'models/mf/int8/model.onnx', 'models/mf/int8/variant.bin', 'models/mf/int8/variant.json'])
    // evaluation: its records, per-user values and the draws behind them (README, "Auditing a run")
    expect(files('eval:mf/int8')).toEqual(['models/mf/int8/draws/latency.bin', 'models/mf/int8/draws/pointwise.bin', 'models/mf/int8/draws/topk.bin', 'models/mf/int8/eval.json', 'models/mf/int8/per-user.json', 'models/mf/int8/result.json'])
    for (const s of Object.values(stages)) for (const [rel, digest] of Object.entries(s.files ?? {})) expect(sha(join(base.runDir, rel)), rel).toBe(digest)
  })

  it('a garbled weights.bin of the right size: rec eval exits 3 naming the file, expected and found digest, and rewrites nothing', async () => {
    const run = copyRun('garbled')
    const weights = join(run, 'models', 'mf', 'base', 'weights.bin')
    const expected = sha(weights)
    const bytes = readFileSync(weights)
    bytes[7] ^= 0xff
    writeFileSync(weights, bytes)
    const found = sha(weights)
    const resultBefore = readFileSync(join(run, 'results.json'))
    const r = await runCli(['eval', run])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`Error [run.file_changed]: ${weights} is not the file the train stage wrote: sha256 ${found}, expected ${expected}`)
    expect(r.stderr).toContain('rec run <experiment> --from train')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(readFileSync(join(run, 'results.json')).equals(resultBefore)).toBe(true)
  })

  it('a model.onnx copied from another model: rec eval exits 3 naming it', async () => {
    const run = copyRun('onnx-copied')
    const onnx = join(run, 'models', 'mf', 'base', 'model.onnx')
    copyFileSync(join(run, 'models', 'mf', 'int8', 'model.onnx'), onnx)
    const r = await runCli(['eval', run, '--json'])
    expect(r.code, r.stderr).toBe(3)
    expect(JSON.parse(r.stdout).error).toMatchObject({code: 'run.file_changed', kind: 'data', exitCode: 3, message: expect.stringContaining(onnx)})
  })

  it('a split file changed after the data stage: rec run exits 3 before training', async () => {
    const run = copyRun('split-changed')
    const train = join(run, 'data', 'split', 'train.bin')
    const bytes = readFileSync(train)
    bytes[bytes.length - 1] ^= 0x01
    writeFileSync(train, bytes)
    const r = await runCli(['eval', run])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`Error [run.file_changed]: ${train} is not the file the data stage wrote`)
    expect(r.stderr).toContain('--from data')
  })
})

describe('run files of the wrong shape are data errors naming the file', () => {
  /** drop the recorded digests, as a run made before they were recorded has none: the schema alone must catch it */
  function withoutDigests(run: string): void {
    const file = join(run, 'manifest.json')
    const m = JSON.parse(readFileSync(file, 'utf8')) as {stages: Record<string, {files?: unknown}>}
    for (const s of Object.values(m.stages)) delete s.files
    writeFileSync(file, JSON.stringify(m))
  }

  it('results.json of the wrong shape: rec compare exits 3 naming the file', async () => {
    const run = copyRun('results-shape')
    writeFileSync(join(run, 'results.json'), JSON.stringify({variants: 'none'}))
    const r = await runCli(['compare', run])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`Error [run.bad_file]: ${join(run, 'results.json')} is not a valid results file`)
    expect(r.stderr).toContain('variants')
  })

  it('result.json of the wrong shape (a reused evaluation under rec run): exit 3 naming the file', async () => {
    // the copy sits where rec run of the same experiment finds it, so every stage is reused
    const out = join(dir, 'result-shape')
    const run = join(out, 'trust', base.runDir.split('/').at(-1)!)
    cpSync(base.runDir, run, {recursive: true})
    withoutDigests(run)
    const file = join(run, 'models', 'mf', 'base', 'result.json')
    writeFileSync(file, JSON.stringify({name: 'base', metrics: {'ndcg@10': 'high'}}))
    const r = await runCli(['run', exp, '--out', out])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`Error [run.bad_file]: ${file} is not a valid result file`)
    expect(r.stderr).toContain('metrics.ndcg@10')
    expect(r.stderr).toContain('rec run <experiment> --from eval')
  })

  it('a manifest of the wrong shape: exit 3 naming it', async () => {
    const run = copyRun('manifest-shape')
    writeFileSync(join(run, 'manifest.json'), JSON.stringify({stages: 5}))
    const r = await runCli(['eval', run])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`Error [run.bad_file]: ${join(run, 'manifest.json')} is not a valid manifest`)
  })

  it('an emptied or edited config.resolved.yaml (still a valid config) is exit 3: it is not the config the run used', async () => {
    for (const [label, edit] of [['config-empty', () => ''], ['config-edited', (t: string) => t.replace(/lr: 0\.01/, 'lr: 0.02')]] as const) {
      const run = copyRun(label)
      const file = join(run, 'config.resolved.yaml')
      const text = readFileSync(file, 'utf8')
      const edited = edit(text)
      expect(edited).not.toBe(text)
      writeFileSync(file, edited)
      const r = await runCli(['eval', run])
      expect(r.code, r.stderr).toBe(3)
      expect(r.stderr).toContain(`Error [run.file_changed]: ${file} is not the config this run was made with`)
    }
  })

  it('a garbage config.resolved.yaml: exit 3 naming the file, never exit 1', async () => {
    const run = copyRun('config-garbage')
    writeFileSync(join(run, 'config.resolved.yaml'), 'models: 7\nmodles: [1, 2]\n')
    const r = await runCli(['eval', run])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain(`Error [run.bad_file]: ${join(run, 'config.resolved.yaml')} is not a valid resolved config`)
    expect(r.stderr).toContain('modles')
    expect(r.stderr).not.toContain('Error [internal]')
  })
})
