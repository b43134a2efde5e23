import {LRUCache} from 'lru-cache'

/** a user's computed answer: the top `k` items (fewer when fewer were eligible) and their scores */
export interface CachedAnswer {
  version: number
  k: number
  items: Int32Array
  scores: Float32Array
}

/**
 * The answer cache: each known user's latest top-K (the `lru-cache` package: least recently used
 * out first, entries older than the TTL computed again). A request for k ≤ the cached k is the
 * cached list's first k items (top-K selection is a prefix: the order is total, ties by item id).
 * Entries belong to one model version and to one generation of the user's events: a swap clears
 * the cache, a posted event deletes the user's entry, and an answer computed before either is not
 * stored after it (see `store`). Capacity 0: no cache.
 */
export class AnswerCache {
  private readonly lru: LRUCache<string, CachedAnswer> | undefined

  constructor(options: {capacity: number; ttlMs: number}) {
    this.lru = options.capacity > 0 ? new LRUCache<string, CachedAnswer>({max: options.capacity, ...(options.ttlMs > 0 ? {ttl: options.ttlMs} : {})}) : undefined
  }

  get enabled(): boolean {
    return this.lru !== undefined
  }

  get size(): number {
    return this.lru?.size ?? 0
  }

  /** the cached answer of `user` good for `k` under model `version`, or undefined */
  lookup(user: string, k: number, version: number): CachedAnswer | undefined {
    const hit = this.lru?.get(user)
    if (!hit || hit.version !== version || hit.k < k) return undefined
    return hit
  }

  store(user: string, answer: CachedAnswer): void {
    this.lru?.set(user, answer)
  }

  invalidate(user: string): void {
    this.lru?.delete(user)
  }

  clear(): void {
    this.lru?.clear()
  }
}
