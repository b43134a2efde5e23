import type {NegativesConfig} from '../config/schema.js'
import {dataError} from '../errors.js'
import type {Rng} from '../rng.js'
import {AliasTable} from './alias.js'
import type {Interactions} from './types.js'

/**
 * Each user's positive items as CSR: items of user u are `items[offsets[u] .. offsets[u+1])`,
 * sorted ascending and without repeats. `has` is a binary search in that slice.
 */
export class UserPositives {
  constructor(
    readonly offsets: Int32Array,
    readonly items: Int32Array,
    readonly numUsers: number,
  ) {}

  count(user: number): number {
    return this.offsets[user + 1] - this.offsets[user]
  }

  /** the user's sorted positives (a view, do not modify) */
  itemsOf(user: number): Int32Array {
    return this.items.subarray(this.offsets[user], this.offsets[user + 1])
  }

  has(user: number, item: number): boolean {
    let lo = this.offsets[user]
    let hi = this.offsets[user + 1] - 1
    const items = this.items
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = items[mid]
      if (v === item) return true
      if (v < item) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }
}

/**
 * Positives of every user over the given parts (e.g. [train] or [train, valid]). Memoized on the
 * identity of the parts: evaluation asks for the same ones for every variant and every
 * early-stopping epoch, and the parts of a split are never modified once made.
 */
export function userPositives(parts: Interactions[], numUsers: number): UserPositives {
  const first = parts[0]
  if (!first) return buildUserPositives(parts, numUsers)
  let entries = memo.get(first)
  if (!entries) memo.set(first, (entries = []))
  const same = (e: MemoEntry) => e.numUsers === numUsers && e.parts.length === parts.length && e.parts.every((q, k) => q === parts[k] && e.lengths[k] === q.length)
  const hit = entries.find(same)
  if (hit) return hit.result
  const result = buildUserPositives(parts, numUsers)
  entries.push({parts: [...parts], lengths: parts.map((q) => q.length), numUsers, result})
  return result
}

interface MemoEntry {
  parts: Interactions[]
  lengths: number[]
  numUsers: number
  result: UserPositives
}
const memo = new WeakMap<Interactions, MemoEntry[]>()

function buildUserPositives(parts: Interactions[], numUsers: number): UserPositives {
  const counts = new Int32Array(numUsers + 1)
  for (const p of parts) for (let r = 0; r < p.length; r++) counts[p.user[r] + 1]++
  for (let u = 0; u < numUsers; u++) counts[u + 1] += counts[u]
  const raw = new Int32Array(counts[numUsers])
  const fill = counts.slice(0, numUsers)
  for (const p of parts) for (let r = 0; r < p.length; r++) raw[fill[p.user[r]]++] = p.item[r]
  // sort each slice and squeeze out repeats
  const offsets = new Int32Array(numUsers + 1)
  let w = 0
  for (let u = 0; u < numUsers; u++) {
    const slice = raw.subarray(counts[u], counts[u + 1]).sort()
    offsets[u] = w
    for (let k = 0; k < slice.length; k++) if (k === 0 || slice[k] !== slice[k - 1]) raw[w++] = slice[k]
  }
  offsets[numUsers] = w
  return new UserPositives(offsets, w === raw.length ? raw : raw.slice(0, w), numUsers)
}

export interface NegativeSampler {
  sample(user: number): number
  sampleMany(user: number, n: number, out?: Int32Array): Int32Array
}

/** rejection attempts before falling back to drawing from the user's explicit complement */
const MAX_REJECTIONS = 64

/** the popularity sampler's item weights, (train count)^exponent (0^0 = 1); undefined for uniform */
export function popularityWeights(train: Interactions, cfg: NegativesConfig): Float64Array | undefined {
  if (cfg.sampler !== 'popularity') return undefined
  const weights = new Float64Array(train.numItems)
  for (let r = 0; r < train.length; r++) weights[train.item[r]]++
  for (let i = 0; i < weights.length; i++) weights[i] = Math.pow(weights[i], cfg.exponent)
  return weights
}

/**
 * Items the user has not interacted with (in train nor in any `exclude` part), drawn uniformly or
 * with probability ∝ (train count)^exponent (alias table; items never seen in train then have
 * weight 0 unless exponent is 0). Rejection sampling against the user's sorted positives; after
 * 64 rejections in a row the user's allowed items are enumerated once (cached), so users who have
 * seen almost everything stay fast. A user who has interacted with every item is a data error.
 * Draws are with replacement (independent).
 */
export function createNegativeSampler(train: Interactions, cfg: NegativesConfig, rng: Rng, exclude: Interactions[] = []): NegativeSampler {
  const numItems = train.numItems
  const numUsers = train.numUsers
  if (numItems === 0) throw dataError('data.no_items', 'cannot sample negatives: there are no items')
  const positives = userPositives([train, ...exclude], numUsers)

  const weights = popularityWeights(train, cfg)
  const table = weights?.some((w) => w > 0) ? new AliasTable(weights) : undefined
  const draw = table ? () => table.sample(rng) : () => rng.int(numItems)

  /** per user: allowed items, and an alias table over them when weighted (built on demand) */
  const fallback = new Map<number, {items: Int32Array; table?: AliasTable}>()
  const fromComplement = (user: number): number => {
    let fb = fallback.get(user)
    if (!fb) {
      const pos = positives.itemsOf(user)
      const items = new Int32Array(numItems - pos.length)
      let w = 0
      let p = 0
      for (let i = 0; i < numItems; i++) {
        if (p < pos.length && pos[p] === i) p++
        else items[w++] = i
      }
      if (items.length === 0) {
        throw dataError('data.no_negatives', `user ${train.userIds[user] ?? user} has interacted with every item (${numItems}): no negative to sample`, {
          hint: 'drop such users (preprocess.kcore cannot do it; filter the data) or add items',
        })
      }
      let t: AliasTable | undefined
      if (weights) {
        const ws = new Float64Array(items.length)
        let any = false
        for (let k = 0; k < items.length; k++) {
          ws[k] = weights[items[k]]
          if (ws[k] > 0) any = true
        }
        // only never-seen items are left: fall back to uniform over them
        if (any) t = new AliasTable(ws)
      }
      fb = {items, table: t}
      fallback.set(user, fb)
    }
    return fb.items[fb.table ? fb.table.sample(rng) : rng.int(fb.items.length)]
  }

  const sample = (user: number): number => {
    if (positives.count(user) < numItems) {
      for (let k = 0; k < MAX_REJECTIONS; k++) {
        const i = draw()
        if (!positives.has(user, i)) return i
      }
    }
    return fromComplement(user)
  }

  return {
    sample,
    sampleMany(user: number, n: number, out?: Int32Array): Int32Array {
      const dst = out && out.length >= n ? out : new Int32Array(n)
      for (let k = 0; k < n; k++) dst[k] = sample(user)
      return dst
    },
  }
}
