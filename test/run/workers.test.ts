/**
 * Evaluating several variants in worker threads (src/run/workers.ts) gives what the sequential path
 * gives: the same metrics, per-user values and draw files, variant by variant (equal numbers, not
 * timing). The run is made in-process once with one worker; a copy is re-evaluated with two.
 */
import {cpSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {loadConfig} from '../../src/config/load.js'
import type {Split} from '../../src/data/types.js'
import {RecError, dataError} from '../../src/errors.js'
import {silentProgress} from '../../src/progress.js'
import {continueRun, runExperiment, type RunResult} from '../../src/run/pipeline.js'
import {AUTO_WORKERS_MIN_PAIRS, deserializeError, serializeError, workerCount} from '../../src/run/workers.js'
import {tinyYaml, writeExperiment} from '../commands/fixtures.js'
import {interactions} from '../eval/fixtures.js'

let tmp: string
let sequential: RunResult
let parallel: RunResult
let copy: string
/** the stages the re-evaluation announced */
const stages: string[] = []

beforeAll(async () => {
  await initBackend('wasm')
  tmp = mkdtempSync(join(tmpdir(), 'rec-workers-'))
  const file = writeExperiment(
    tmp,
    'w.yaml',
    tinyYaml({name: 'w', models: ['{model: mf, factors: 8}'], variants: ['{name: int8, quantize: {dtype: int8}}', '{lowrank: {rank: 4}}']}).replace('train: {epochs: 3, batch_size: 256}', 'train: {epochs: 2, batch_size: 256}'),
  )
  sequential = await runExperiment(await loadConfig(file, {set: ['eval.also_sampled=20']}), {outDir: join(tmp, 'runs'), workers: 1})
  copy = join(tmp, 'copy')
  cpSync(sequential.runDir, copy, {recursive: true})
  parallel = await continueRun(copy, {from: 'eval', workers: 2, progress: {...silentProgress, stage: (name) => stages.push(name)}})
}, 120_000)

afterAll(() => {
  if (tmp) rmSync(tmp, {recursive: true, force: true})
})

describe('eval in two worker threads = eval in one', () => {
  it('the re-evaluation did use two workers', () => {
    expect(stages).toContain('eval metrics of 3 variants in 2 worker threads')
  })

  it('every variant: the same metrics (also_sampled too), ONNX difference and users', () => {
    expect(parallel.variants.map((v) => v.name)).toEqual(['base', 'int8', 'lowrank-r4'])
    expect(parallel.variants.map((v) => v.name)).toEqual(sequential.variants.map((v) => v.name))
    parallel.variants.forEach((v, k) => {
      const s = sequential.variants[k]
      expect(v.metrics).toEqual(s.metrics)
      expect(v.sampled).toEqual(s.sampled)
      expect(v.onnxMaxAbsDiff).toBe(s.onnxMaxAbsDiff)
      expect(v.execution).toBe(s.execution)
    })
    expect(parallel.protocol).toEqual(sequential.protocol)
  })

  it('the same per-user values and draw files (top-K lists, pointwise pairs)', () => {
    for (const v of ['base', 'int8', 'lowrank-r4']) {
      const rel = join('models', 'mf', v)
      expect(readFileSync(join(copy, rel, 'per-user.json'), 'utf8')).toBe(readFileSync(join(sequential.runDir, rel, 'per-user.json'), 'utf8'))
      for (const f of ['topk.bin', 'pointwise.bin']) expect(readFileSync(join(copy, rel, 'draws', f))).toEqual(readFileSync(join(sequential.runDir, rel, 'draws', f)))
    }
  })
})

describe('workerCount', () => {
  const split = (users: number, items: number, rows: number): Split => {
    const p = interactions([], users, items)
    return {train: {...p, length: rows}, valid: p, test: p}
  }
  const big = Math.ceil(Math.sqrt(AUTO_WORKERS_MIN_PAIRS))

  it('a number is taken as asked, never above the jobs, at least 1', () => {
    expect(workerCount(3, 10, split(10, 10, 10))).toBe(3)
    expect(workerCount(3, 2, split(10, 10, 10))).toBe(2)
    expect(workerCount(2, 0, split(10, 10, 10))).toBe(1)
  })

  it('by default one; auto: one for a small catalogue or a large split, up to one per core otherwise', () => {
    expect(workerCount('auto', 5, split(100, 100, 1000))).toBe(1)
    expect(workerCount('auto', 5, split(big, big, 3_000_000))).toBe(1)
    expect(workerCount(undefined, 5, split(big, big, 100_000))).toBe(1) // the default: one
    expect(workerCount('auto', 5, split(big, big, 100_000))).toBeGreaterThanOrEqual(1)
    expect(workerCount('auto', 1, split(big, big, 100_000))).toBe(1)
  })

  it('one on a native tfjs backend, whatever is asked', () => {
    expect(workerCount(3, 10, split(10, 10, 10), 'tensorflow')).toBe(1)
    expect(workerCount(3, 10, split(10, 10, 10), 'cpu')).toBe(3)
  })
})

describe('a worker\'s error', () => {
  it('comes back as the same RecError (code, hint, exit code), or as a plain error with its message', () => {
    const back = deserializeError(structuredClone(serializeError(dataError('model.corrupt', 'cannot load x', {hint: 're-run'}))))
    expect(back).toBeInstanceOf(RecError)
    expect((back as RecError).toJSON()).toEqual(dataError('model.corrupt', 'cannot load x', {hint: 're-run'}).toJSON())
    const plain = deserializeError(structuredClone(serializeError(new TypeError('boom'))))
    expect(plain).not.toBeInstanceOf(RecError)
    expect(plain.message).toBe('boom')
  })
})
