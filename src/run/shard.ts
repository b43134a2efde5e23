import {usageError} from '../errors.js'

export interface Shard {
  /** 1-based */
  index: number
  count: number
}

/** `--shard 2/4` → {index: 2, count: 4}; 1 <= index <= count */
export function parseShard(spec: string | undefined): Shard | undefined {
  if (spec === undefined) return undefined
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim())
  const index = m ? Number(m[1]) : NaN
  const count = m ? Number(m[2]) : NaN
  if (!m || count < 1 || index < 1 || index > count) {
    throw usageError('usage.bad_shard', `bad --shard "${spec}": expected i/n with 1 <= i <= n, e.g. 2/4`)
  }
  return {index, count}
}

/**
 * The i-th of n deterministic slices of a list (round-robin by position, so slices differ in size
 * by at most one and every element is in exactly one slice). The list must be in a canonical order
 * (the order of the config), so every machine computes the same slices.
 */
export function shardSlice<T>(items: readonly T[], shard: Shard | undefined): T[] {
  if (!shard) return [...items]
  return items.filter((_, i) => i % shard.count === shard.index - 1)
}
