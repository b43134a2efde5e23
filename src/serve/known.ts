import {userPositives, type UserPositives} from '../data/negatives.js'
import {userSequences, type Sequences} from '../data/sequences.js'
import type {Interactions, Split} from '../data/types.js'

/** one interaction posted to POST /v1/events, in dense ids (−1: an id the model does not know) */
export interface PostedEvent {
  user: number
  item: number
  /** seconds since the epoch (the data's unit); the time it was posted when the client gave none */
  timestamp: number
  rawUser: string
  rawItem: string
}

/**
 * Everything the server knows about users and items beyond the model: the raw ↔ dense ids, the
 * interactions of the run (train + validation + test: every interaction the run knows) and the
 * events posted since the server started.
 *
 * - **Exclusion set** of a known user (what a served answer never contains, as evaluation never
 *   recommends an item the user already has): every item of the user in train, validation and test,
 *   plus every item posted for the user. Evaluation excludes train + validation when it ranks the
 *   test part; a server answers after all of them, so it excludes all three.
 * - **History** of a known user (what a sequential model reads): the same interactions in time order
 *   (userSequences: by timestamp, ties by part then row), then the posted events in the order they
 *   were posted. A posted event extends the history at once.
 * - **Popularity** (the cold-start answer for an unknown user): items by their number of
 *   interactions in the run (train + validation + test), most first, ties by lower item id.
 */
export class KnownInteractions {
  readonly numUsers: number
  readonly numItems: number
  readonly userIds: readonly string[]
  readonly itemIds: readonly string[]
  private readonly userIndex = new Map<string, number>()
  private readonly itemIndex = new Map<string, number>()
  private readonly seen: UserPositives
  /** posted items of known users, in posting order */
  private readonly posted = new Map<number, number[]>()
  /** posted (known) items of unknown users, by raw user id */
  private readonly postedCold = new Map<string, Set<number>>()
  /** events not yet handed to an update (known and unknown ids alike: a fold-in may want both) */
  private pending: PostedEvent[] = []
  /** bumped on every posted event of a user: an answer computed before it must not be cached after it */
  private readonly generations = new Map<string, number>()
  private readonly baseHistories: Sequences
  private liveHistories: Sequences | undefined
  /** item ids by popularity (most first) and their counts */
  readonly popular: Int32Array
  readonly popularCounts: Float32Array
  eventsPosted = 0

  constructor(split: Split) {
    const {train} = split
    this.numUsers = train.numUsers
    this.numItems = train.numItems
    this.userIds = train.userIds
    this.itemIds = train.itemIds
    train.userIds.forEach((id, u) => this.userIndex.set(id, u))
    train.itemIds.forEach((id, i) => this.itemIndex.set(id, i))
    const parts: Interactions[] = [split.train, split.valid, split.test]
    this.seen = userPositives(parts, this.numUsers)
    this.baseHistories = userSequences(parts, this.numUsers)
    const counts = new Float64Array(this.numItems)
    for (const p of parts) for (let r = 0; r < p.length; r++) counts[p.item[r]]++
    this.popular = Int32Array.from({length: this.numItems}, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b)
    this.popularCounts = Float32Array.from(this.popular, (i) => counts[i])
  }

  userOf(raw: string): number {
    return this.userIndex.get(raw) ?? -1
  }

  itemOf(raw: string): number {
    return this.itemIndex.get(raw) ?? -1
  }

  /** how many times raw user `raw` has posted events: changes whenever its answer may change */
  generation(raw: string): number {
    return this.generations.get(raw) ?? 0
  }

  /** set every excluded item of known user `u` to −Infinity in scores[offset .. offset + numItems) */
  exclude(u: number, scores: Float32Array, offset: number): void {
    const s = this.seen
    for (let e = s.offsets[u]; e < s.offsets[u + 1]; e++) scores[offset + s.items[e]] = -Infinity
    for (const i of this.posted.get(u) ?? []) scores[offset + i] = -Infinity
  }

  /** the exclusion set of known user `u`, ascending (what `exclude` writes) */
  excludedOf(u: number): Int32Array {
    const set = new Set<number>(this.seen.itemsOf(u))
    for (const i of this.posted.get(u) ?? []) set.add(i)
    return Int32Array.from(set).sort()
  }

  /** known items an unknown user has posted (excluded from their popularity answer) */
  coldExcluded(raw: string): ReadonlySet<number> {
    return this.postedCold.get(raw) ?? new Set()
  }

  /**
   * Record posted events: excluded from the users' answers from now on, appended to their
   * histories, and kept for the next update. Events of unknown items cannot be excluded or scored
   * (the model has no row for them) and are only kept for an update that can fold them in.
   */
  post(events: PostedEvent[]): void {
    for (const e of events) {
      this.eventsPosted++
      this.pending.push(e)
      this.generations.set(e.rawUser, this.generation(e.rawUser) + 1)
      if (e.item < 0) continue
      if (e.user >= 0) {
        const list = this.posted.get(e.user)
        if (list) list.push(e.item)
        else this.posted.set(e.user, [e.item])
        this.liveHistories = undefined
      } else {
        const set = this.postedCold.get(e.rawUser)
        if (set) set.add(e.item)
        else this.postedCold.set(e.rawUser, new Set([e.item]))
      }
    }
  }

  /** the events posted since the last call (an update takes them) */
  takePending(): PostedEvent[] {
    const out = this.pending
    this.pending = []
    return out
  }

  get pendingCount(): number {
    return this.pending.length
  }

  /**
   * Every known user's history in time order, then posted events in posting order. The returned
   * object reads the current state on every access, so a scorer holding it sees posted events at once.
   */
  readonly histories: Sequences = (() => {
    const self = this
    return {
      get offsets() {
        return self.currentHistories().offsets
      },
      get items() {
        return self.currentHistories().items
      },
      get times() {
        return self.currentHistories().times
      },
    }
  })()

  private currentHistories(): Sequences {
    if (this.posted.size === 0) return this.baseHistories
    if (this.liveHistories) return this.liveHistories
    const b = this.baseHistories
    let extra = 0
    for (const list of this.posted.values()) extra += list.length
    const offsets = new Int32Array(this.numUsers + 1)
    const items = new Int32Array(b.items.length + extra)
    const times = new Float64Array(b.items.length + extra)
    let w = 0
    for (let u = 0; u < this.numUsers; u++) {
      offsets[u] = w
      const s = b.offsets[u]
      const e = b.offsets[u + 1]
      items.set(b.items.subarray(s, e), w)
      times.set(b.times.subarray(s, e), w)
      w += e - s
      // posted events come after everything the run knows, in posting order (scorers read the order, not the times)
      for (const i of this.posted.get(u) ?? []) {
        items[w] = i
        times[w] = Number.POSITIVE_INFINITY
        w++
      }
    }
    offsets[this.numUsers] = w
    this.liveHistories = {offsets, items, times}
    return this.liveHistories
  }
}
