import {createHash} from 'node:crypto'
import {resolve} from 'node:path'

import type {SynthConfig} from '../config/schema.js'
import {configError} from '../errors.js'
import {Rng} from '../rng.js'
import {AliasTable} from './alias.js'
import {writeChunksAtomic} from '../run/atomic.js'
import {canonicalJson, sha256Hex} from '../config/hash.js'
import type {Interactions} from './types.js'

/** generator version: bump when the output for a given config changes */
export const SYNTH_VERSION = 1
/** timestamps are unix seconds in [EPOCH, EPOCH + SPAN) */
export const SYNTH_EPOCH = Date.UTC(2020, 0, 1) / 1000
export const SYNTH_SPAN = 2 * 365 * 86400
/** every user gets at least this many interactions (fewer only if there are fewer items) */
export const SYNTH_MIN_PER_USER = 5
/** sharpness of preference: an item is kept with probability sigmoid(BETA * affinity) */
const BETA = 2.5
/** spread of user activity (log-normal sigma): heavy-tailed, a few users are very active */
const ACTIVITY_SIGMA = 1.1
/** the most active users see at most this share of the catalog (unless the total needs more) */
const MAX_CATALOG_SHARE = 0.5

/** sha256 identifying the generator's output for this config (it determines the bytes) */
export function synthConfigSha256(cfg: SynthConfig): string {
  return sha256Hex(canonicalJson({generator: 'rec-synth', version: SYNTH_VERSION, ...cfg}))
}

/**
 * Synthetic interactions with the structure of real feedback data, deterministic from `cfg.seed`:
 *
 * - hidden user and item factors (cfg.factors dims, N(0,1)); affinity z = <p_u, q_i> / sqrt(F).
 *   An event (u, i) is drawn with probability ∝ popularity(i) · sigmoid(2.5 z), so factor models
 *   have something to learn;
 * - item popularity follows a power law: the item of popularity rank r has weight r^-exponent;
 * - user activity is log-normal (heavy-tailed); every user gets >= 5 interactions, and the total is
 *   exactly cfg.interactions whenever 5·users <= interactions <= users·items (below that: 5 per
 *   user; above it: every pair once);
 * - timestamps: unix seconds, each user active in a random window of a 2-year span from
 *   2020-01-01, events increasing in time per user;
 * - ratings 1-5 from affinity plus user/item bias and noise when cfg.explicit, else all 1;
 * - no duplicate (user, item) pairs.
 *
 * Rows come ordered by user, then time. Dense ids are assigned in first-seen order and the
 * original ids are "1".."users" / "1".."items", so reading the CSV from writeSyntheticCsv back gives
 * identical arrays.
 */
export function generateSynthetic(cfg: SynthConfig): Interactions {
  const U = cfg.users
  const I = cfg.items
  const F = cfg.factors
  if (!(U >= 1 && I >= 1 && F >= 1)) throw configError('config.synth', 'synth: users, items and factors must be >= 1')
  const root = new Rng(cfg.seed)
  const rngFactors = root.fork(1)
  const rngPop = root.fork(2)
  const rngAct = root.fork(3)
  const rngPick = root.fork(4)
  const rngTime = root.fork(5)
  const rngRate = root.fork(6)

  // latent factors
  const P = new Float64Array(U * F)
  const Q = new Float64Array(I * F)
  for (let k = 0; k < P.length; k++) P[k] = rngFactors.normal()
  for (let k = 0; k < Q.length; k++) Q[k] = rngFactors.normal()
  const userBias = new Float64Array(U)
  const itemBias = new Float64Array(I)
  for (let u = 0; u < U; u++) userBias[u] = rngFactors.normal()
  for (let i = 0; i < I; i++) itemBias[i] = rngFactors.normal()
  const invSqrtF = 1 / Math.sqrt(F)
  const affinity = (u: number, i: number): number => {
    let s = 0
    const pu = u * F
    const qi = i * F
    for (let f = 0; f < F; f++) s += P[pu + f] * Q[qi + f]
    return s * invSqrtF
  }

  // power-law popularity over a random permutation of items
  const rank = new Int32Array(I)
  for (let i = 0; i < I; i++) rank[i] = i
  rngPop.shuffle(rank)
  const pop = new Float64Array(I)
  for (let i = 0; i < I; i++) pop[i] = Math.pow(rank[i] + 1, -cfg.popularity_exponent)
  const popTable = new AliasTable(pop)

  // per-user counts
  const counts = allocateCounts(U, I, cfg.interactions, rngAct)
  let total = 0
  for (let u = 0; u < U; u++) total += counts[u]

  const user = new Int32Array(total)
  const item = new Int32Array(total)
  const rating = new Float32Array(total)
  const timestamp = new Float64Array(total)
  const mark = new Int32Array(I).fill(-1)
  const picked = new Int32Array(I)
  const times = new Float64Array(I)
  let row = 0
  for (let u = 0; u < U; u++) {
    const c = counts[u]
    let got = 0
    if (c <= I / 4) {
      // rejection sampling: popularity proposal, affinity acceptance, no repeats
      let attempts = 0
      const maxAttempts = 64 * c + 256
      while (got < c && attempts < maxAttempts) {
        attempts++
        const i = popTable.sample(rngPick)
        if (mark[i] === u) continue
        if (rngPick.next() >= sigmoid(BETA * affinity(u, i))) continue
        mark[i] = u
        picked[got++] = i
      }
    }
    if (got < c) {
      // heavy user (or rejection stalled): weighted sampling without replacement over the remaining
      // items by exponential races (Efraimidis-Spirakis): the c - got smallest Exp(1)/w win
      const cand: number[] = []
      const key = new Float64Array(I)
      for (let i = 0; i < I; i++) {
        if (mark[i] === u) continue
        let e = 0
        while (e === 0) e = rngPick.next()
        key[i] = -Math.log(e) / (pop[i] * sigmoid(BETA * affinity(u, i)))
        cand.push(i)
      }
      cand.sort((a, b) => key[a] - key[b] || a - b)
      for (let k = 0; got < c && k < cand.length; k++) {
        mark[cand[k]] = u
        picked[got++] = cand[k]
      }
    }
    // a window of activity inside the span, events spread uniformly in it, increasing
    const start = rngTime.next() * SYNTH_SPAN * 0.9
    const len = (SYNTH_SPAN - start) * (0.05 + 0.95 * rngTime.next())
    for (let k = 0; k < got; k++) times[k] = rngTime.next()
    const t = times.subarray(0, got).sort()
    for (let k = 0; k < got; k++) {
      const i = picked[k]
      user[row] = u
      item[row] = i
      timestamp[row] = Math.floor(SYNTH_EPOCH + start + t[k] * len)
      if (cfg.explicit) {
        const z = affinity(u, i)
        const r = Math.round(3.3 + 1.1 * z + 0.35 * userBias[u] + 0.25 * itemBias[i] + 0.45 * rngRate.normal())
        rating[row] = r < 1 ? 1 : r > 5 ? 5 : r
      } else {
        rating[row] = 1
      }
      row++
    }
  }

  // dense ids in first-seen order (users appear in order already; items get remapped)
  const itemDense = new Int32Array(I).fill(-1)
  const itemIds: string[] = []
  for (let r = 0; r < row; r++) {
    const i = item[r]
    let d = itemDense[i]
    if (d < 0) {
      d = itemDense[i] = itemIds.length
      itemIds.push(String(i + 1))
    }
    item[r] = d
  }
  const userIds: string[] = []
  for (let u = 0; u < U; u++) if (counts[u] > 0) userIds.push(String(u + 1))
  return {
    user: row === total ? user : user.slice(0, row),
    item: row === total ? item : item.slice(0, row),
    rating: row === total ? rating : rating.slice(0, row),
    timestamp: row === total ? timestamp : timestamp.slice(0, row),
    length: row,
    numUsers: userIds.length,
    numItems: itemIds.length,
    userIds,
    itemIds,
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x))
}

/**
 * Interactions per user: at least min(5, items) each, the rest spread in proportion to
 * log-normal activity weights, capped at half the items (all of them if the total needs it),
 * summing exactly to the target.
 */
function allocateCounts(U: number, I: number, requested: number, rng: Rng): Int32Array {
  const floor = Math.min(SYNTH_MIN_PER_USER, I)
  const target = Math.min(Math.max(requested, U * floor), U * I)
  const counts = new Int32Array(U).fill(floor)
  const w = new Float64Array(U)
  for (let u = 0; u < U; u++) w[u] = Math.exp(ACTIVITY_SIGMA * rng.normal())
  let remaining = target - U * floor
  // nobody has seen (nearly) every item unless the total demands it: cap at half the catalog
  const half = Math.max(floor, Math.ceil(I * MAX_CATALOG_SHARE))
  const cap = target <= U * half ? half : I
  let active: number[] = []
  for (let u = 0; u < U; u++) if (counts[u] < cap) active.push(u)
  while (remaining > 0 && active.length > 0) {
    let W = 0
    for (const u of active) W += w[u]
    let given = 0
    for (const u of active) {
      const add = Math.min(cap - counts[u], Math.floor((remaining * w[u]) / W))
      counts[u] += add
      given += add
    }
    remaining -= given
    if (given === 0) {
      // every share rounds to 0: hand out the rest one at a time, most active users first
      const order = active.slice().sort((a, b) => w[b] - w[a] || a - b)
      for (const u of order) {
        if (remaining === 0) break
        if (counts[u] < cap) {
          counts[u]++
          remaining--
        }
      }
    }
    active = active.filter((u) => counts[u] < cap)
  }
  return counts
}

export interface SynthCsvResult {
  out: string
  users: number
  items: number
  interactions: number
  bytes: number
  /** sha256 of the written file */
  sha256: string
}

/** Generate and write `user,item,rating,timestamp` (with a header line) atomically. */
export function writeSyntheticCsv(cfg: SynthConfig, outFile: string): SynthCsvResult {
  const inter = generateSynthetic(cfg)
  const out = resolve(outFile)
  const hash = createHash('sha256')
  let bytes = 0
  writeChunksAtomic(out, (write) => {
    const emit = (s: string) => {
      const b = Buffer.from(s, 'utf8')
      hash.update(b)
      bytes += b.length
      write(b)
    }
    let buf = 'user,item,rating,timestamp\n'
    const {user, item, rating, timestamp, userIds, itemIds} = inter
    for (let r = 0; r < inter.length; r++) {
      buf += `${userIds[user[r]]},${itemIds[item[r]]},${rating[r]},${timestamp[r]}\n`
      if (buf.length > 1 << 20) {
        emit(buf)
        buf = ''
      }
    }
    if (buf.length > 0) emit(buf)
  })
  return {out, users: inter.numUsers, items: inter.numItems, interactions: inter.length, bytes, sha256: hash.digest('hex')}
}
