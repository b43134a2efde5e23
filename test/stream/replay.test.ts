import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/config/load.js'
import {streamExperiment, type StreamResult} from '../../src/stream/replay.js'
import type {WindowRow} from '../../src/stream/report.js'
import {loadSchema} from '../commands/fixtures.js'
import {checkSchema} from '../commands/schema-check.js'
import {runCli, spawnCli} from '../helpers/cli.js'
import {runExperiment} from '../../src/run/pipeline.js'

/** a tiny replay: 2000 synthetic events, the last 40% in 4 windows of 200, every strategy, mf and a one-block SASRec */
const YAML = `name: tiny-stream
seed: 42
data:
  format: synth
  synth: {users: 100, items: 80, interactions: 2000, factors: 8, seed: 7}
split: {method: leave_one_out}
models:
  - {model: mf, factors: 8}
  - {model: sasrec, hidden: 8, layers: 1, heads: 1, inner: 8, max_len: 5, train: {epochs: 2}}
train: {epochs: 3, batch_size: 256}
compress:
  variants:
    - {name: int8, quantize: {dtype: int8}}
stream:
  start: 0.6
  window: {events: 200}
  strategies:
    - {name: static}
    - {name: incremental, epochs: 2, lr: 0.01}
    - {name: retrain, every: 2}
    - {name: sliding, span: {events: 800}, every: 3, models: [mf]}
    - {name: incremental, variant: int8, models: [mf]}
  eval: {k: [5, 10]}
`

/** what must not change between runs: everything but the seconds */
const numbers = (rows: WindowRow[]) => rows.map(({updateSeconds: _u, evalSeconds: _e, ...rest}) => rest)

describe('rec stream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rec-stream-'))
  const file = join(dir, 'exp.yaml')
  writeFileSync(file, YAML)
  let reference: StreamResult

  it('replays every strategy window by window: evaluate first, then update', async () => {
    reference = await streamExperiment(await loadConfig(file), {outDir: join(dir, 'a')})
    const w = reference.windows
    expect(reference.events).toMatchObject({initial: 1200, replayed: 800, windows: 4, duplicates: 0})
    expect(w.length).toBe(4 * (5 + 3))
    const of = (model: string, strategy: string) => w.filter((r) => r.model === model && r.strategy === strategy)
    // the first window is evaluated by the same initial model for every strategy
    const first = w.filter((r) => r.window === 0 && r.model === 'mf' && r.strategy !== 'incremental-int8')
    for (const r of first) expect(r.metrics).toEqual(first[0].metrics)
    // updates: incremental after each window but the last, retrain every 2nd, sliding every 3rd; static never
    expect(of('mf', 'incremental').map((r) => r.updated)).toEqual([true, true, true, false])
    expect(of('mf', 'retrain').map((r) => r.updated)).toEqual([false, true, false, false])
    expect(of('mf', 'sliding').map((r) => r.updated)).toEqual([false, false, true, false])
    expect(of('sasrec', 'static').every((r) => !r.updated && r.updateSeconds === 0)).toBe(true)
    // static keeps the initial id map: users first seen in the replay stay cold; incremental folds them in
    const coldStatic = of('mf', 'static').reduce((a, r) => a + r.coldUsers, 0)
    const coldIncremental = of('mf', 'incremental').reduce((a, r) => a + r.coldUsers, 0)
    expect(coldIncremental).toBeLessThan(coldStatic)
    expect(of('mf', 'incremental').at(-1)!.users).toBeGreaterThan(of('mf', 'static').at(-1)!.users)
    // the int8 variant is what is served: a smaller model than the float one at the end
    const size = (s: string) => reference.summary.find((r) => r.model === 'mf' && r.strategy === s)!.modelBytes!
    expect(size('incremental-int8')).toBeLessThan(size('incremental'))
    // per-window files in the run directory
    const csv = readFileSync(join(reference.dir, 'windows.csv'), 'utf8').trim().split('\n')
    expect(csv[0]).toBe('model,strategy,window,from,to,events,coldUsers,coldItems,updated,updateSeconds,evalSeconds,users,items,hr@5,ndcg@5,mrr@5,hr@10,ndcg@10,mrr@10')
    expect(csv.length).toBe(1 + w.length)
    expect(JSON.parse(readFileSync(join(reference.dir, 'windows.json'), 'utf8'))).toEqual(w)
  })

  it('cuts a finished replay to a lower max_windows without replaying: the same windows, no update after the last', async () => {
    const short = await streamExperiment(await loadConfig(file, {set: ['stream.max_windows=3']}), {outDir: join(dir, 'a')})
    expect(short.events.windows).toBe(3)
    const kept = reference.windows.filter((r) => r.window < 3)
    expect(short.windows.map((r) => r.metrics)).toEqual(kept.map((r) => r.metrics))
    expect(short.windows.filter((r) => r.window === 2).every((r) => !r.updated && r.updateSeconds === 0)).toBe(true)
    expect(short.windows.filter((r) => r.window < 2)).toEqual(kept.filter((r) => r.window < 2))
  })

  // two CLI runs: more than the default minute on a busy machine
  it('continues after kill -9 at a window and ends with the same per-window numbers; --json fits its schema', {timeout: 180_000}, async () => {
    const out = join(dir, 'b')
    // kill the CLI as soon as it reports a window of the second model (mf is finished, sasrec is midway)
    const run = spawnCli(['stream', file, '--out', out], {
      onStderr: (s) => {
        if (/stream sasrec window 1\/4/.test(s)) run.child.kill('SIGKILL')
      },
    })
    const killed = await run.done
    expect(killed.signal).toBe('SIGKILL')
    const state = JSON.parse(readFileSync(join(reference.dir.replace(join(dir, 'a'), out), 'sasrec', 'state.json'), 'utf8'))
    expect(state.window).toBeGreaterThanOrEqual(1)
    expect(state.window).toBeLessThan(4)
    const again = await runCli(['stream', file, '--out', out, '--json'])
    expect(again.code, again.stderr).toBe(0)
    const result = JSON.parse(again.stdout)
    expect(numbers(result.windows)).toEqual(numbers(reference.windows))
    expect(checkSchema(result, loadSchema('stream'))).toEqual([])
    expect(existsSync(join(result.dir, 'summary.json'))).toBe(true)
  })

  it('refuses a sliding strategy without span and an unknown variant (exit 2)', async () => {
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, YAML.replace('span: {events: 800}, ', '').replace('variant: int8', 'variant: int4'))
    const r = await runCli(['stream', bad, '--out', join(dir, 'c')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/a sliding strategy needs span/)
    expect(r.stderr).toMatch(/variant int4 is not defined in compress.variants/)
  })

  it('is a stage of rec run: the same replay in the run directory, its summary in the run result', async () => {
    const yaml = YAML.replace(/models:\n[\s\S]*?train: \{epochs: 3/, 'models:\n  - {model: mf, factors: 8}\ntrain: {epochs: 3')
    const runFile = join(dir, 'run.yaml')
    writeFileSync(runFile, yaml.replace('{name: int8, quantize: {dtype: int8}}', '{name: int8, quantize: {dtype: int8}}\neval: {latency: {requests: 2, warmup: 1, batch: 4}}'))
    const r = await runExperiment(await loadConfig(runFile), {outDir: join(dir, 'd')})
    expect(r.stream!.summary.map((s) => s.strategy)).toEqual(['static', 'incremental', 'retrain', 'sliding', 'incremental-int8'])
    // the same numbers as rec stream (the model, data and seed are the same)
    const mf = reference.summary.filter((s) => s.model === 'mf')
    expect(r.stream!.summary.map((s) => s.metrics)).toEqual(mf.map((s) => s.metrics))
    expect(checkSchema(JSON.parse(JSON.stringify(r)), loadSchema('run-result'))).toEqual([])
  })
})
