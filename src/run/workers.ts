/**
 * The metrics part of several variants' evaluations at once, in worker threads (node:
 * worker_threads). Each worker gets the config and the split once, then variants one at a time;
 * it runs exactly what the sequential path runs for a variant's metrics (evaluateVariantMetrics:
 * the ONNX check, the test metrics with their draws, also_sampled), so the numbers are the same
 * bit for bit (test/run/workers.test.ts). Nothing is written into the run directory by a worker.
 *
 * Latency is never measured here: the pool is closed before the caller measures each variant's
 * latency on the main thread, one variant after the other, so no evaluation of ours runs beside a
 * timed request (p50 of a loaded core is not the variant's).
 */
import {availableParallelism, tmpdir} from 'node:os'
import {mkdtempSync, rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import {Worker} from 'node:worker_threads'

import type {RecConfig} from '../config/schema.js'
import type {Split} from '../data/types.js'
import {RecError, type ErrorKind} from '../errors.js'
import type {Progress} from '../progress.js'
import type {VariantMetrics} from './evaluate-stage.js'

export interface VariantRef {
  model: string
  variant: string
  dir: string
}

/** what a worker is started with (workerData) */
export interface WorkerSetup {
  cfg: RecConfig
  split: Split
  backend: string
  /** a folder of its own for ORT's optimized graphs (removed by the pool) */
  scratch: string
}

/** main → worker: evaluate this variant's metrics; worker → main: its metrics or its error */
export type WorkerRequest = {id: number; v: VariantRef}
export type WorkerReply = {id: number; metrics: VariantMetrics} | {id: number; error: SerializedError}

export interface SerializedError {
  message: string
  stack?: string
  rec?: {kind: ErrorKind; code: string; hint?: string; details: string[]}
}

export function serializeError(err: unknown): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err))
  return {message: e.message, stack: e.stack, ...(e instanceof RecError ? {rec: {kind: e.kind, code: e.code, hint: e.hint, details: e.details}} : {})}
}

/** a worker's error as the main thread throws it: a RecError keeps its code, hint and exit code */
export function deserializeError(s: SerializedError): Error {
  if (s.rec) return new RecError(s.rec.kind, s.rec.code, s.message, {hint: s.rec.hint, details: s.rec.details})
  const e = new Error(s.message)
  if (s.stack) e.stack = s.stack
  return e
}

/** interactions above which each worker's own copy of the split makes `auto` stay at one worker */
export const AUTO_WORKERS_MAX_INTERACTIONS = 2_000_000
/**
 * user × item pairs below which `auto` stays at one worker: starting a worker (its tfjs and ONNX
 * Runtime) costs about a second, more than evaluating a small catalogue takes
 */
export const AUTO_WORKERS_MIN_PAIRS = 1_000_000
/** tfjs backends a worker thread can initialise (WebAssembly / plain JS) */
export const WORKER_BACKENDS = new Set(['wasm', 'cpu'])
/** most workers `auto` starts */
export const AUTO_WORKERS_MAX = 4

/**
 * Workers for `jobs` variants: 1 by default, the number asked (eval.workers / --workers), or with
 * `auto` one per core up to AUTO_WORKERS_MAX — but one when the split is large (every worker holds a copy of it)
 * or the catalogue small (a worker costs more to start than it saves); never more than the jobs;
 * always one on a native tfjs backend.
 */
export function workerCount(requested: number | 'auto' | undefined, jobs: number, split: Split, backend = 'wasm'): number {
  // a native tfjs addon (tfjs-node, its GPU build) is not known to load in worker threads
  if (!WORKER_BACKENDS.has(backend)) return 1
  // one unless asked: on a machine whose cores are already busy, a second worker was measured
  // slower than one (README, Performance)
  if (requested === undefined) return 1
  let wanted: number
  if (requested === 'auto') {
    const size = split.train.length + split.valid.length + split.test.length
    const pairs = split.train.numUsers * split.train.numItems
    wanted = size > AUTO_WORKERS_MAX_INTERACTIONS || pairs < AUTO_WORKERS_MIN_PAIRS ? 1 : Math.min(AUTO_WORKERS_MAX, availableParallelism())
  } else wanted = requested
  return Math.max(1, Math.min(wanted, jobs))
}

/**
 * The worker entry (eval-worker.ts, or .js once built). Under TypeScript sources (tsx, vitest) a
 * worker does not inherit the loader, so it registers tsx itself before importing the entry.
 */
function startWorker(setup: WorkerSetup): Worker {
  const entry = new URL(import.meta.url.endsWith('.ts') ? './eval-worker.ts' : './eval-worker.js', import.meta.url)
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, {workerData: setup})
  const tsxApi = createRequire(import.meta.url).resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(`file://${tsxApi}`)}).then(({register}) => { register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(boot, {eval: true, workerData: setup})
}

/**
 * Evaluate the metrics of `variants` in `workers` worker threads; the result is keyed by variant
 * dir. The first failure stops every worker and is thrown (a RecError keeps its exit code). An
 * abort (`signal`) stops the workers and returns what finished.
 */
export async function measureMetricsInWorkers(args: {
  cfg: RecConfig
  split: Split
  backend: string
  variants: VariantRef[]
  workers: number
  progress: Progress
  signal?: AbortSignal
}): Promise<Map<string, VariantMetrics>> {
  const {variants, progress} = args
  const results = new Map<string, VariantMetrics>()
  if (variants.length === 0) return results
  const scratch = mkdtempSync(join(tmpdir(), 'rec-eval-workers-'))
  const n = Math.max(1, Math.min(args.workers, variants.length))
  const pool: Worker[] = []
  progress.stage(`eval metrics of ${variants.length} variants in ${n} worker threads`)
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0
      let finished = 0
      let failed = false
      const fail = (err: Error) => {
        if (failed) return
        failed = true
        reject(err)
      }
      const onAbort = () => resolve()
      args.signal?.addEventListener('abort', onAbort, {once: true})
      const feed = (w: Worker) => {
        if (failed || args.signal?.aborted) return
        if (next >= variants.length) return
        const id = next++
        w.postMessage({id, v: variants[id]} satisfies WorkerRequest)
      }
      for (let k = 0; k < n; k++) {
        const w = startWorker({cfg: args.cfg, split: args.split, backend: args.backend, scratch: join(scratch, String(k))})
        pool.push(w)
        w.on('message', (reply: WorkerReply) => {
          if ('error' in reply) return fail(deserializeError(reply.error))
          const v = variants[reply.id]
          results.set(v.dir, reply.metrics)
          finished++
          progress.update(`metrics ${finished}/${variants.length} (${v.model}/${v.variant})`)
          if (finished === variants.length) {
            args.signal?.removeEventListener('abort', onAbort)
            resolve()
          } else feed(w)
        })
        w.on('error', (err) => fail(err))
        w.on('exit', (code) => {
          if (code !== 0 && finished < variants.length && !args.signal?.aborted) fail(new RecError('bug', 'eval.worker_exit', `an evaluation worker exited with code ${code}`))
        })
        feed(w)
      }
    })
    progress.done(`${results.size} variants' metrics in ${n} workers`)
    return results
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
    rmSync(scratch, {recursive: true, force: true})
  }
}
