import type {ServeConfig} from '../config/schema.js'
import {TopK} from '../eval/topk.js'
import type {Scorer} from '../models/types.js'
import {MicroBatcher} from './batcher.js'
import {AnswerCache} from './cache.js'
import {ModelHolder} from './holder.js'
import type {KnownInteractions, PostedEvent} from './known.js'
import type {ServeMetrics} from './metrics.js'

/** one answer of GET / POST /v1/recommend */
export interface Answer {
  /** the raw user id asked for */
  user: string
  /** raw item ids, best first (fewer than k when fewer items are eligible) */
  items: string[]
  scores: number[]
  /** version of the model that scored it (1 at start, +1 per swap); 0 for a cold-start answer */
  modelVersion: number
  /** came from the answer cache */
  cached: boolean
  /** unknown user: the popularity fallback (scores are interaction counts) */
  coldStart: boolean
}

/** a scored row of one request: the user's scores of every item from one model version */
interface Scored {
  scores: Float32Array
  version: number
}

/**
 * The answering core of `rec serve`, without HTTP: a known user's answer is scored by the served
 * ONNX model (through the micro-batcher, one session run per batch), the user's exclusion set gets
 * −Infinity and the top k come from the evaluator's own TopK (src/eval/topk.ts): exactly how
 * evaluation ranks, so a served top-K is evaluation's top-K on the same scores and exclusions.
 * The scorer scores each user independently of the batch (ONNX Runtime on one thread), so a
 * micro-batched answer is the unbatched one.
 */
export class Recommender {
  readonly holder: ModelHolder
  readonly cache: AnswerCache
  private readonly batcher: MicroBatcher<number, Scored>

  constructor(
    readonly known: KnownInteractions,
    scorer: Scorer,
    readonly settings: ServeConfig,
    readonly metrics: ServeMetrics,
  ) {
    this.holder = new ModelHolder(scorer)
    this.cache = new AnswerCache({capacity: settings.cache.capacity, ttlMs: settings.cache.ttl_ms})
    this.holder.onSwap(() => {
      this.cache.clear()
      this.metrics.swaps++
    })
    const numItems = known.numItems
    this.batcher = new MicroBatcher<number, Scored>(
      async (users) => {
        // one lease for the whole batch: every row comes from the same model version
        const lease = this.holder.acquire()
        try {
          const scores = await lease.model.scorer.scoreUsers(Int32Array.from(users))
          return users.map((_, b) => ({scores: scores.subarray(b * numItems, (b + 1) * numItems), version: lease.model.version}))
        } finally {
          lease.release()
        }
      },
      {maxBatch: settings.batching.max_batch, maxWaitMs: settings.batching.max_wait_ms, onBatch: (n) => metrics.batchSizes.observe(n)},
    )
  }

  /** requests waiting for their micro-batch */
  get queued(): number {
    return this.batcher.pending
  }

  /** the top `k` of raw user `user` (1 ≤ k; the caller checks the upper bound) */
  async recommend(user: string, k: number): Promise<Answer> {
    const u = this.known.userOf(user)
    if (u < 0) return this.coldStart(user, k)
    const generation = this.known.generation(user)
    const hit = this.cache.lookup(user, k, this.holder.current.version)
    if (hit) {
      this.metrics.cacheHits++
      return this.answer(user, hit.items.subarray(0, Math.min(k, hit.items.length)), hit.scores, hit.version, true)
    }
    if (this.cache.enabled) this.metrics.cacheMisses++
    const {scores, version} = await this.batcher.submit(u)
    // the exclusion set as it is now: an event posted while the request was scored counts already
    this.known.exclude(u, scores, 0)
    const out = new Int32Array(k)
    const n = new TopK(k).select(scores, 0, scores.length, out)
    const items = out.slice(0, n)
    const top = Float32Array.from(items, (i) => scores[i])
    // cached only if neither the user's events nor the model changed while it was computed
    if (generation === this.known.generation(user) && version === this.holder.current.version) this.cache.store(user, {version, k, items, scores: top})
    return this.answer(user, items, top, version, false)
  }

  /** record posted events: excluded from the users' next answers, their cache entries dropped */
  post(events: PostedEvent[]): void {
    this.known.post(events)
    this.metrics.eventsPosted += events.length
    for (const e of events) this.cache.invalidate(e.rawUser)
  }

  private coldStart(user: string, k: number): Answer {
    this.metrics.coldStarts++
    const skip = this.known.coldExcluded(user)
    const items: number[] = []
    const scores: number[] = []
    const {popular, popularCounts} = this.known
    for (let r = 0; r < popular.length && items.length < k; r++) {
      if (skip.has(popular[r])) continue
      items.push(popular[r])
      scores.push(popularCounts[r])
    }
    return {user, items: items.map((i) => this.known.itemIds[i]), scores, modelVersion: 0, cached: false, coldStart: true}
  }

  private answer(user: string, items: Int32Array, scores: Float32Array, version: number, cached: boolean): Answer {
    return {user, items: Array.from(items, (i) => this.known.itemIds[i]), scores: Array.from(scores.subarray(0, items.length)), modelVersion: version, cached, coldStart: false}
  }

  dispose(): void {
    this.holder.dispose()
  }
}
