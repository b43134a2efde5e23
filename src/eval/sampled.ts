import type {NegativesConfig} from '../config/schema.js'
import type {Split} from '../data/types.js'
import {createNegativeSampler, popularityWeights, userPositives, type UserPositives} from '../data/negatives.js'
import {dataError} from '../errors.js'
import type {Rng} from '../rng.js'
import type {FixedNegatives} from '../data/negatives-file.js'
import {partName} from './protocol.js'

/**
 * Negatives of sampled evaluation (NCF protocol): each positive is ranked against N *distinct*
 * items the user never interacted with (in train, validation or test). Drawing them independently
 * (with replacement) would put the same item twice into a "1 + 99" list, which then holds fewer
 * than 99 negatives and is not the protocol it claims.
 */

/** every part of the split: sampled negatives are items the user never interacted with in any */
const allParts = (split: Split) => [split.train, split.valid, split.test]

/** per item, the sampler's weight: 1 (uniform) or the popularity sampler's (createNegativeSampler's own) */
function itemWeights(split: Split, cfg: NegativesConfig): Float64Array {
  return popularityWeights(split.train, cfg) ?? new Float64Array(split.train.numItems).fill(1)
}

/**
 * The items the sampler can draw for `user`: the items the user never interacted with that have a
 * positive weight — or all of them when none has (the sampler then falls back to uniform), as
 * createNegativeSampler does. Ascending ids.
 */
function drawable(positives: UserPositives, weights: Float64Array, user: number): number[] {
  const seen = positives.itemsOf(user)
  const allowed: number[] = []
  let p = 0
  for (let i = 0; i < weights.length; i++) {
    if (p < seen.length && seen[p] === i) p++
    else allowed.push(i)
  }
  const weighted = allowed.filter((i) => weights[i] > 0)
  return weighted.length > 0 ? weighted : allowed
}

/**
 * per user: how many distinct negatives the sampler can draw (the size of its support, `drawable`'s
 * length), counted without listing them: the unseen items of positive weight, or all unseen items
 * when there are none
 */
export function sampledSupport(split: Split, cfg: NegativesConfig): Int32Array {
  const numUsers = split.train.numUsers
  const positives = userPositives(allParts(split), numUsers)
  const weights = itemWeights(split, cfg)
  let weighted = 0
  for (const w of weights) if (w > 0) weighted++
  return Int32Array.from({length: numUsers}, (_, u) => {
    const seen = positives.itemsOf(u)
    let seenWeighted = 0
    for (const i of seen) if (weights[i] > 0) seenWeighted++
    return weighted - seenWeighted > 0 ? weighted - seenWeighted : weights.length - seen.length
  })
}

/** users with at least one item in `part` that is not excluded there (the users evaluate averages over) */
function evaluatedUsers(split: Split, part: 'valid' | 'test'): number[] {
  const numUsers = split.train.numUsers
  const excluded = userPositives(part === 'test' ? [split.train, split.valid] : [split.train], numUsers)
  const evalPart = part === 'test' ? split.test : split.valid
  const users = new Set<number>()
  for (let r = 0; r < evalPart.length; r++) if (!excluded.has(evalPart.user[r], evalPart.item[r])) users.add(evalPart.user[r])
  return [...users].sort((a, b) => a - b)
}

/**
 * Refuses a sampled protocol the data cannot honour: every evaluated user (a user with an item of
 * `part`) needs at least `perPositive` distinct drawable negatives (see sampledSupport), else the
 * printed "1 positive + N negatives" would be false. A data error (exit 3) naming the setting, how
 * many users fall short and the worst one. `setting` names the config key of N: `eval.negatives`
 * for the test protocol, `train.early_stopping.negatives` for sampled validation. The pipeline
 * calls this right after the data stage; evaluate calls it too.
 */
export function checkSampledProtocol(split: Split, negatives: NegativesConfig, perPositive: number, where: {part: 'valid' | 'test'; setting: string}): void {
  const support = sampledSupport(split, negatives)
  const users = evaluatedUsers(split, where.part)
  const short = users.filter((u) => support[u] < perPositive)
  if (short.length === 0) return
  const worst = short.reduce((a, u) => (support[u] < support[a] ? u : a), short[0])
  const part = partName(where.part)
  const numItems = split.train.numItems
  throw dataError(
    'eval.too_few_negatives',
    `${where.setting} = ${perPositive} needs ${perPositive} distinct negatives per ${part} positive, but ${short.length} of ${users.length} ${part} users has fewer items to draw from (user ${split.train.userIds[worst] ?? worst}: ${support[worst]} of ${numItems} items)`,
    {
      hint: `lower ${where.setting}, use full ranking, or use a larger catalogue${negatives.sampler === 'popularity' ? ' (the popularity sampler only draws items seen in train)' : ''}`,
    },
  )
}

export interface DistinctSampler {
  /** writes n distinct negatives of `user` (for its test positive `positive`) into out[0..n) */
  sampleDistinct(user: number, n: number, out: Int32Array, positive?: number): void
}

/**
 * The negatives of a file (eval.negatives_file, src/data/negatives-file.ts) as a sampler: the
 * file's line for (user, positive); a data error naming the pair when the file has none.
 */
export function fixedSampler(fixed: FixedNegatives, split: Split): DistinctSampler {
  return {
    sampleDistinct(user, n, out, positive) {
      const negs = positive === undefined ? undefined : fixed.of(user, positive)
      if (!negs) {
        const pair = `(${split.train.userIds[user]},${positive === undefined ? '?' : split.train.itemIds[positive]})`
        throw dataError('eval.no_negatives', `the negatives file ${fixed.file} has no line for the test positive ${pair}`, {hint: 'the file needs one line per test interaction (its test split and this one must be the same)'})
      }
      out.set(negs.subarray(0, n))
    },
  }
}

/** consecutive repeats before the remaining support is enumerated */
const MAX_REPEATS = 64

/**
 * Distinct negatives: draws from createNegativeSampler (uniform or popularity, never an item the
 * user interacted with) and rejects repeats, which is sampling without replacement: each next item
 * is drawn with probability ∝ its weight among the items not drawn yet. After 64 repeats in a row
 * (a support barely larger than n) the rest is drawn from the explicitly enumerated remaining
 * support with the same weights (cumulative sum), so it always ends. The caller guarantees
 * n <= support (checkSampledProtocol).
 */
export function createDistinctSampler(split: Split, cfg: NegativesConfig, rng: Rng): DistinctSampler {
  const base = createNegativeSampler(split.train, cfg, rng, [split.valid, split.test])
  const numItems = split.train.numItems
  const mark = new Uint8Array(numItems)
  let weights: Float64Array | undefined
  let positives: UserPositives | undefined
  return {
    sampleDistinct(user, n, out) {
      let k = 0
      let repeats = 0
      while (k < n && repeats < MAX_REPEATS) {
        const i = base.sample(user)
        if (mark[i]) repeats++
        else {
          mark[i] = 1
          out[k++] = i
          repeats = 0
        }
      }
      if (k < n) {
        weights ??= itemWeights(split, cfg)
        positives ??= userPositives(allParts(split), split.train.numUsers)
        const rest = drawable(positives, weights, user).filter((i) => !mark[i])
        const hasWeight = rest.some((i) => weights![i] > 0)
        const w = rest.map((i) => (hasWeight ? weights![i] : 1))
        for (; k < n; k++) {
          let total = 0
          for (const x of w) total += x
          let t = rng.next() * total
          let j = 0
          let last = -1 // the last item with weight left: float rounding may run t past the end
          for (; j < w.length; j++) {
            if (w[j] === 0) continue
            last = j
            if (t < w[j]) break
            t -= w[j]
          }
          if (j === w.length) j = last
          out[k] = rest[j]
          mark[rest[j]] = 1
          w[j] = 0
        }
      }
      for (let q = 0; q < n; q++) mark[out[q]] = 0
    },
  }
}
