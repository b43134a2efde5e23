import type {Scorer} from '../models/types.js'
import {Rng} from '../rng.js'
import {TopK} from './topk.js'

export interface Latency {
  /** per-request latency percentiles (nearest rank), milliseconds */
  p50Ms: number
  p95Ms: number
  p99Ms: number
  meanMs: number
  /** timed requests (warm-up excluded) */
  requests: number
  /** users scored + top-K selected per second, over batches of `batch` users */
  throughputUsersPerS: number
  batch: number
  /** the scorer's runtime, e.g. "wasm", "onnxruntime-cpu" */
  runtime: string
}

export interface LatencyArgs {
  scorer: Scorer
  numUsers: number
  k: number
  requests: number
  warmup: number
  batch: number
  seed: number
  /** timed batches for the throughput figure (default 3, after one untimed warm-up batch) */
  throughputBatches?: number
}

/** the raw measurement behind a Latency: what the run directory keeps (latency.bin) */
export interface LatencySamples {
  /** timed request durations, milliseconds, in request order (warm-up excluded) */
  ms: Float64Array
  /** the user of each timed request */
  users: Int32Array
  /** the users of the timed throughput batches, batch after batch (the warm-up batch excluded) */
  throughputUsers: Int32Array
}

/**
 * Nearest-rank percentile of ascending `sorted` samples: the value at 1-based rank ⌈p/100 · n⌉
 * (clamped to [1, n]). Always one of the samples, never interpolated; NaN for no samples.
 */
export function percentileNearestRank(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length
  if (n === 0) return Number.NaN
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)))
  return sorted[rank - 1]
}

/**
 * Latency of serving one user: per request, a user drawn with the seeded Rng is scored against the
 * whole catalogue (`scoreUsers` of one user) and the top K items are selected; both are inside the
 * timed region (process.hrtime.bigint). `warmup` requests run first and are not timed (JIT, backend
 * initialisation, caches). Percentiles are nearest-rank over the sorted request times.
 *
 * Throughput: `throughputBatches` batches of `batch` seeded random users (one `scoreUsers` call
 * plus a top-K per user each), after one untimed warm-up batch; users / total seconds.
 */
export async function measureLatency(args: LatencyArgs): Promise<Latency> {
  return (await measureLatencyWithSamples(args)).latency
}

/** measureLatency, plus the raw samples and the users drawn (for the run directory) */
export async function measureLatencyWithSamples(args: LatencyArgs): Promise<{latency: Latency; samples: LatencySamples}> {
  const {scorer, numUsers, requests, warmup, batch, seed} = args
  if (numUsers < 1) throw new Error('measureLatency: numUsers must be >= 1')
  if (requests < 1) throw new Error('measureLatency: requests must be >= 1')
  const numItems = scorer.numItems
  const k = Math.max(1, Math.min(args.k, numItems))
  const sel = new TopK(k)
  const out = new Int32Array(k)
  const rng = new Rng(seed)
  const one = new Int32Array(1)
  let sink = 0

  const request = async (): Promise<number> => {
    one[0] = rng.int(numUsers)
    const scores = await scorer.scoreUsers(one)
    const n = sel.select(scores, 0, numItems, out)
    sink += n > 0 ? out[0] : 0
    return one[0]
  }

  for (let w = 0; w < warmup; w++) await request()
  const samples = new Float64Array(requests)
  const requestUsers = new Int32Array(requests)
  for (let r = 0; r < requests; r++) {
    const t0 = process.hrtime.bigint()
    requestUsers[r] = await request()
    samples[r] = Number(process.hrtime.bigint() - t0) / 1e6
  }
  const inOrder = samples.slice()
  samples.sort()
  let total = 0
  for (let r = 0; r < requests; r++) total += samples[r]

  const batchSize = Math.max(1, batch)
  const batches = Math.max(1, args.throughputBatches ?? 3)
  const users = new Int32Array(batchSize)
  const runBatch = async (): Promise<void> => {
    for (let b = 0; b < batchSize; b++) users[b] = rng.int(numUsers)
    const scores = await scorer.scoreUsers(users)
    for (let b = 0; b < batchSize; b++) {
      const n = sel.select(scores, b * numItems, numItems, out)
      sink += n > 0 ? out[0] : 0
    }
  }
  await runBatch()
  const throughputUsers = new Int32Array(batches * batchSize)
  const t0 = process.hrtime.bigint()
  for (let b = 0; b < batches; b++) {
    await runBatch()
    throughputUsers.set(users, b * batchSize) // 4 · batch bytes: nothing next to scoring the batch
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (sink < 0) throw new Error('unreachable') // keeps the selections observable

  const latency: Latency = {
    p50Ms: percentileNearestRank(samples, 50),
    p95Ms: percentileNearestRank(samples, 95),
    p99Ms: percentileNearestRank(samples, 99),
    meanMs: total / requests,
    requests,
    throughputUsersPerS: seconds > 0 ? (batches * batchSize) / seconds : Number.POSITIVE_INFINITY,
    batch: batchSize,
    runtime: scorer.runtime,
  }
  return {latency, samples: {ms: inOrder, users: requestUsers, throughputUsers}}
}
