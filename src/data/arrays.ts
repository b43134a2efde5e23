import type {Interactions} from './types.js'

/**
 * Growable columns for interactions: typed arrays that double when full, so that reading N rows
 * costs O(N) copies in total and 20 bytes a row at rest (plus the slack of the last doubling).
 */
export class InteractionBuilder {
  user: Int32Array
  item: Int32Array
  rating: Float32Array
  timestamp: Float64Array
  length = 0

  constructor(initialCapacity = 1 << 16) {
    const cap = Math.max(16, initialCapacity)
    this.user = new Int32Array(cap)
    this.item = new Int32Array(cap)
    this.rating = new Float32Array(cap)
    this.timestamp = new Float64Array(cap)
  }

  push(user: number, item: number, rating: number, timestamp: number): void {
    if (this.length === this.user.length) this.grow()
    const i = this.length++
    this.user[i] = user
    this.item[i] = item
    this.rating[i] = rating
    this.timestamp[i] = timestamp
  }

  /** make room for `capacity` rows in total (one reallocation instead of several doublings) */
  reserve(capacity: number): void {
    if (capacity > this.user.length) this.grow(capacity)
  }

  private grow(capacity = this.user.length * 2): void {
    const cap = capacity
    const u = new Int32Array(cap)
    u.set(this.user)
    this.user = u
    const it = new Int32Array(cap)
    it.set(this.item)
    this.item = it
    const r = new Float32Array(cap)
    r.set(this.rating)
    this.rating = r
    const t = new Float64Array(cap)
    t.set(this.timestamp)
    this.timestamp = t
  }

  /**
   * The finished interactions. `trim` copies into exact-length arrays (frees the slack);
   * `'auto'` trims small results and those with more than 1/4 slack, and otherwise hands over the
   * longer arrays (the Interactions contract allows it) to spare a copy of a large dataset.
   */
  build(ids: {userIds: string[]; itemIds: string[]; hasTimestamps?: boolean}, trimOption: boolean | 'auto' = true): Interactions {
    const n = this.length
    const trim = trimOption === 'auto' ? n < 1_000_000 || this.user.length > n * 1.25 : trimOption
    return {
      user: trim ? this.user.slice(0, n) : this.user,
      item: trim ? this.item.slice(0, n) : this.item,
      rating: trim ? this.rating.slice(0, n) : this.rating,
      timestamp: trim ? this.timestamp.slice(0, n) : this.timestamp,
      length: n,
      numUsers: ids.userIds.length,
      numItems: ids.itemIds.length,
      userIds: ids.userIds,
      itemIds: ids.itemIds,
      ...(ids.hasTimestamps === undefined ? {} : {hasTimestamps: ids.hasTimestamps}),
    }
  }
}

/** Map original id strings to dense ints in first-seen order. */
export class IdMap {
  readonly ids: string[] = []
  private readonly index = new Map<string, number>()

  get(id: string): number {
    let v = this.index.get(id)
    if (v === undefined) {
      v = this.ids.length
      this.index.set(id, v)
      this.ids.push(id)
    }
    return v
  }

  get size(): number {
    return this.ids.length
  }
}

/** Select rows (by index, in the given order) into new exact-length interactions sharing the id space. */
export function selectRows(inter: Interactions, rows: ArrayLike<number>, count = rows.length): Interactions {
  const user = new Int32Array(count)
  const item = new Int32Array(count)
  const rating = new Float32Array(count)
  const timestamp = new Float64Array(count)
  for (let k = 0; k < count; k++) {
    const r = rows[k]
    user[k] = inter.user[r]
    item[k] = inter.item[r]
    rating[k] = inter.rating[r]
    timestamp[k] = inter.timestamp[r]
  }
  return {
    user,
    item,
    rating,
    timestamp,
    length: count,
    numUsers: inter.numUsers,
    numItems: inter.numItems,
    userIds: inter.userIds,
    itemIds: inter.itemIds,
    ...(inter.hasTimestamps === false ? {hasTimestamps: false} : {}),
  }
}

/**
 * Rows grouped by user (stable: within a user, rows keep their input order), as CSR:
 * rows of user u are `rows[offsets[u] .. offsets[u+1])`. Counting sort, O(n + users).
 */
export function groupByUser(inter: Interactions): {offsets: Int32Array; rows: Int32Array} {
  const {order, offsets} = countingSort(inter.user, inter.numUsers, inter.length, null)
  return {offsets, rows: order}
}

/**
 * Stable counting sort of row indexes by an integer key in [0, numKeys): `order` lists the rows
 * (those of `input`, in its order, or 0..n-1) grouped by key; the rows with key k are
 * `order[offsets[k] .. offsets[k+1])`.
 */
export function countingSort(keys: Int32Array, numKeys: number, n: number, input: Int32Array | null): {order: Int32Array; offsets: Int32Array} {
  const offsets = new Int32Array(numKeys + 1)
  for (let r = 0; r < n; r++) offsets[keys[r] + 1]++
  for (let k = 0; k < numKeys; k++) offsets[k + 1] += offsets[k]
  const fill = offsets.slice(0, numKeys)
  const order = new Int32Array(n)
  for (let j = 0; j < n; j++) {
    const r = input ? input[j] : j
    order[fill[keys[r]]++] = r
  }
  return {order, offsets}
}

/** median of a numeric array (copy is sorted; the input is untouched); 0 for an empty array */
export function median(values: ArrayLike<number>): number {
  const n = values.length
  if (n === 0) return 0
  const s = Float64Array.from(values as ArrayLike<number>).sort()
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}
