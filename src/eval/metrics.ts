import {configError} from '../errors.js'

/**
 * Evaluation metrics, one function each, with the formula in its doc comment, plus a registry keyed
 * by name (`ndcg@10`, `auc`, `accuracy`...) that carries the metadata reports need.
 *
 * Conventions shared by the top-K metrics:
 * - `ranked` is the user's recommendation list, best first (item ids); only its first K entries
 *   count. It may be shorter than K (fewer candidates than K after exclusions): missing positions
 *   are simply not hits, and the divisors below still use K (precision@K = hits / K), so a short
 *   list is not rewarded.
 * - `relevant` is the set of the user's relevant items in the evaluated part (anything with
 *   `has(item)` and `size`, e.g. a `Set<number>`).
 * - A user with no relevant item makes every top-K metric undefined; these functions return 0 for
 *   them, and the evaluator skips such users altogether (they count in no average).
 * - Ranks are 1-based: the first item of `ranked` has rank 1.
 */

export interface ItemSet {
  has(item: number): boolean
  readonly size: number
}

/** hit indicator of each of the first min(K, ranked.length) positions */
function hits(ranked: ArrayLike<number>, relevant: ItemSet, k: number): Uint8Array {
  const n = Math.min(k, ranked.length)
  const h = new Uint8Array(n)
  for (let r = 0; r < n; r++) h[r] = relevant.has(ranked[r]) ? 1 : 0
  return h
}

function countHits(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  const n = Math.min(k, ranked.length)
  let c = 0
  for (let r = 0; r < n; r++) if (relevant.has(ranked[r])) c++
  return c
}

/** precision@K = |top-K ∩ rel| / K  (K, not the list length, divides) */
export function precisionAtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  if (relevant.size === 0) return 0
  return countHits(ranked, relevant, k) / k
}

/** recall@K = |top-K ∩ rel| / |rel| */
export function recallAtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  if (relevant.size === 0) return 0
  return countHits(ranked, relevant, k) / relevant.size
}

/** F1@K = 2·P@K·R@K / (P@K + R@K), and 0 when both are 0 */
export function f1AtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  const p = precisionAtK(ranked, relevant, k)
  const r = recallAtK(ranked, relevant, k)
  return p + r === 0 ? 0 : (2 * p * r) / (p + r)
}

/**
 * NDCG@K with binary gains:
 * DCG@K = Σ_{r ≤ K, item at r relevant} 1 / log2(r + 1),
 * IDCG@K = Σ_{r = 1..min(|rel|, K)} 1 / log2(r + 1),
 * NDCG@K = DCG@K / IDCG@K.
 */
export function ndcgAtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  if (relevant.size === 0) return 0
  const h = hits(ranked, relevant, k)
  let dcg = 0
  for (let r = 0; r < h.length; r++) if (h[r]) dcg += 1 / Math.log2(r + 2)
  let idcg = 0
  const ideal = Math.min(relevant.size, k)
  for (let r = 0; r < ideal; r++) idcg += 1 / Math.log2(r + 2)
  return dcg / idcg
}

/** HR@K (hit ratio) = 1 if |top-K ∩ rel| > 0, else 0 */
export function hitRateAtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  if (relevant.size === 0) return 0
  return countHits(ranked, relevant, k) > 0 ? 1 : 0
}

/** MRR@K = 1 / (rank of the first relevant item) when that rank is ≤ K, else 0 */
export function mrrAtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  if (relevant.size === 0) return 0
  const n = Math.min(k, ranked.length)
  for (let r = 0; r < n; r++) if (relevant.has(ranked[r])) return 1 / (r + 1)
  return 0
}

/**
 * MAP@K (per user, the average precision; the mean over users is taken by the evaluator):
 * AP@K = Σ_{r ≤ K, item at r relevant} precision@r / min(|rel|, K), where precision@r = hits in the
 * first r / r.
 */
export function mapAtK(ranked: ArrayLike<number>, relevant: ItemSet, k: number): number {
  if (relevant.size === 0) return 0
  const h = hits(ranked, relevant, k)
  let seen = 0
  let sum = 0
  for (let r = 0; r < h.length; r++) {
    if (h[r]) {
      seen++
      sum += seen / (r + 1)
    }
  }
  return sum / Math.min(relevant.size, k)
}

/**
 * AUC of one user = the fraction of (positive, negative) pairs ordered correctly, ties counting ½:
 * AUC = (1 / (P·N)) Σ_{p ∈ pos} ( #{n ∈ neg : s_n < s_p} + ½ #{n ∈ neg : s_n = s_p} ).
 * Computed by sorting the smaller side once and binary-searching each score of the other:
 * O((N + P) log min(N, P)), never O(P·N). Returns NaN when P = 0 or N = 0 (undefined; the evaluator
 * leaves such users out of the AUC mean). NaN scores are ignored.
 */
export function auc(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  // sort the smaller side and binary-search the other: O((P + N) log min(P, N))
  if (pos.length <= neg.length) {
    const posSorted = sortedFinite(pos)
    const p = posSorted.length
    let n = 0
    let correct = 0
    for (let j = 0; j < neg.length; j++) {
      const s = neg[j]
      if (Number.isNaN(s)) continue
      n++
      const below = lowerBound(posSorted, s)
      const upTo = upperBound(posSorted, s)
      // positives above s: p − upTo; tied with s: upTo − below
      correct += p - upTo + 0.5 * (upTo - below)
    }
    return p === 0 || n === 0 ? Number.NaN : correct / (p * n)
  }
  const negSorted = sortedFinite(neg)
  const n = negSorted.length
  let p = 0
  let correct = 0
  for (let j = 0; j < pos.length; j++) {
    const s = pos[j]
    if (Number.isNaN(s)) continue
    p++
    const below = lowerBound(negSorted, s)
    const upTo = upperBound(negSorted, s)
    correct += below + 0.5 * (upTo - below)
  }
  return p === 0 || n === 0 ? Number.NaN : correct / (p * n)
}

function sortedFinite(a: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length)
  let w = 0
  for (let j = 0; j < a.length; j++) if (!Number.isNaN(a[j])) out[w++] = a[j]
  return out.subarray(0, w).sort()
}

/** first index with a[i] >= x */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid] < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** first index with a[i] > x */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0
  let hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid] <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Item coverage@K = |⋃_users top-K(u)| / numItems: the share of the catalogue that appears in at
 * least one evaluated user's top-K list. Ids outside [0, numItems) are ignored.
 */
export function itemCoverage(lists: Iterable<ArrayLike<number>>, numItems: number, k: number): number {
  if (numItems <= 0) return 0
  const seen = new Uint8Array(numItems)
  let distinct = 0
  for (const list of lists) {
    const n = Math.min(k, list.length)
    for (let r = 0; r < n; r++) {
      const i = list[r]
      if (i >= 0 && i < numItems && seen[i] === 0) {
        seen[i] = 1
        distinct++
      }
    }
  }
  return distinct / numItems
}

// ---------------------------------------------------------------------------------------------
// Pointwise metrics: each example has a probability p ∈ [0, 1] and a label y ∈ {0, 1}; the
// prediction is positive when p >= threshold. TP, FP, TN, FN are the usual confusion counts.

export interface Confusion {
  tp: number
  fp: number
  tn: number
  fn: number
}

/** confusion counts with prediction = (p >= threshold), label = (y > 0.5) */
export function confusion(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  if (probs.length !== labels.length) throw new Error(`confusion: ${probs.length} probabilities but ${labels.length} labels`)
  const c = {tp: 0, fp: 0, tn: 0, fn: 0}
  for (let j = 0; j < probs.length; j++) {
    const predicted = probs[j] >= threshold
    const actual = labels[j] > 0.5
    if (predicted && actual) c.tp++
    else if (predicted) c.fp++
    else if (actual) c.fn++
    else c.tn++
  }
  return c
}

/** accuracy = (TP + TN) / (TP + FP + TN + FN); 0 for no examples */
export function accuracy(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): number {
  return accuracyFromConfusion(confusion(probs, labels, threshold))
}

export function accuracyFromConfusion(c: Confusion): number {
  const total = c.tp + c.fp + c.tn + c.fn
  return total === 0 ? 0 : (c.tp + c.tn) / total
}

/** precision = TP / (TP + FP); 0 when nothing is predicted positive */
export function pointwisePrecision(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): number {
  return precisionFromConfusion(confusion(probs, labels, threshold))
}

export function precisionFromConfusion(c: Confusion): number {
  return c.tp + c.fp === 0 ? 0 : c.tp / (c.tp + c.fp)
}

/** recall = TP / (TP + FN); 0 when there are no positives */
export function pointwiseRecall(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): number {
  return recallFromConfusion(confusion(probs, labels, threshold))
}

export function recallFromConfusion(c: Confusion): number {
  return c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn)
}

/** F1 = 2·TP / (2·TP + FP + FN) (the harmonic mean of precision and recall); 0 when TP = 0 */
export function pointwiseF1(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): number {
  return f1FromConfusion(confusion(probs, labels, threshold))
}

export function f1FromConfusion(c: Confusion): number {
  return c.tp === 0 ? 0 : (2 * c.tp) / (2 * c.tp + c.fp + c.fn)
}

export const LOGLOSS_EPS = 1e-7

/**
 * logloss = −(1/n) Σ_j [ y_j·ln(p_j) + (1 − y_j)·ln(1 − p_j) ], with p clipped to
 * [1e-7, 1 − 1e-7] so a confident mistake costs at most −ln(1e-7) ≈ 16.118. 0 for no examples.
 */
export function logloss(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (probs.length !== labels.length) throw new Error(`logloss: ${probs.length} probabilities but ${labels.length} labels`)
  if (probs.length === 0) return 0
  let sum = 0
  for (let j = 0; j < probs.length; j++) {
    const p = Math.min(1 - LOGLOSS_EPS, Math.max(LOGLOSS_EPS, probs[j]))
    sum += labels[j] > 0.5 ? Math.log(p) : Math.log(1 - p)
  }
  return -sum / probs.length
}

/** the logistic function 1 / (1 + e^(−x)), numerically stable for large |x| */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x))
  const e = Math.exp(x)
  return e / (1 + e)
}

// ---------------------------------------------------------------------------------------------
// Registry

export type MetricKind = 'topk' | 'auc' | 'pointwise' | 'coverage'

export interface MetricInfo {
  /** base name: `ndcg`, `auc`, `accuracy`... (`precision` is pointwise; `precision@K` is top-K) */
  name: string
  needsK: boolean
  higherIsBetter: boolean
  kind: MetricKind
  /** one line for help texts and reports */
  description: string
}

export type TopKMetricFn = (ranked: ArrayLike<number>, relevant: ItemSet, k: number) => number

const topk = (name: string, description: string): MetricInfo => ({name, needsK: true, higherIsBetter: true, kind: 'topk', description})
const pointwise = (name: string, description: string, higherIsBetter = true): MetricInfo => ({name, needsK: false, higherIsBetter, kind: 'pointwise', description})

/**
 * Every metric `rec` knows. Top-K metrics and coverage are keyed `name@K` (`ndcg@10`); the others
 * by their bare name. Top-K names and pointwise names share words (`precision@10` is the top-K
 * precision of a ranked list, `precision` the pointwise precision at a probability threshold), so
 * the registry is keyed by the pattern: `precision@K` vs `precision`.
 */
export const METRICS: Readonly<Record<string, MetricInfo>> = Object.freeze({
  'precision@K': topk('precision', 'hits in the top K / K'),
  'recall@K': topk('recall', 'hits in the top K / relevant items'),
  'f1@K': topk('f1', 'harmonic mean of precision@K and recall@K'),
  'ndcg@K': topk('ndcg', 'normalised discounted cumulative gain, binary gains'),
  'hr@K': topk('hr', 'hit ratio: 1 if any relevant item is in the top K'),
  'mrr@K': topk('mrr', 'reciprocal rank of the first relevant item within the top K'),
  'map@K': topk('map', 'mean average precision over the top K'),
  'coverage@K': {name: 'coverage', needsK: true, higherIsBetter: true, kind: 'coverage', description: 'share of items in at least one user\'s top K'},
  auc: {name: 'auc', needsK: false, higherIsBetter: true, kind: 'auc', description: 'fraction of (positive, negative) pairs ranked correctly'},
  accuracy: pointwise('accuracy', 'share of positives and sampled negatives classified correctly at the threshold'),
  precision: pointwise('precision', 'TP / (TP + FP) at the threshold'),
  recall: pointwise('recall', 'TP / (TP + FN) at the threshold'),
  f1: pointwise('f1', 'harmonic mean of pointwise precision and recall'),
  logloss: pointwise('logloss', 'binary cross-entropy of the probabilities', false),
})

/** the functions behind each top-K metric base name */
export const TOPK_FUNCTIONS: Readonly<Record<string, TopKMetricFn>> = Object.freeze({
  precision: precisionAtK,
  recall: recallAtK,
  f1: f1AtK,
  ndcg: ndcgAtK,
  hr: hitRateAtK,
  mrr: mrrAtK,
  map: mapAtK,
})

/** top-K base names in their report order */
export const TOPK_METRICS = ['precision', 'recall', 'f1', 'ndcg', 'hr', 'mrr', 'map'] as const

const ALIASES: Record<string, string> = {hit: 'hr', hitrate: 'hr', 'hit_rate': 'hr', ap: 'map'}

export interface ParsedMetric {
  /** the canonical key, e.g. `ndcg@10`, `auc` */
  key: string
  base: string
  /** the cut-off, for metrics that need one */
  k?: number
  info: MetricInfo
}

/** `'ndcg@10'` → {key: 'ndcg@10', base: 'ndcg', k: 10, info}; case-insensitive; `hit@10` = `hr@10` */
export function parseMetricName(name: string): ParsedMetric {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:@\s*(\d+))?\s*$/.exec(name)
  const unknown = () =>
    configError('eval.unknown_metric', `unknown metric "${name}"`, {
      hint: `known metrics: ${knownMetricNames().join(', ')} (K is a positive integer, e.g. ndcg@10)`,
    })
  if (!m) throw unknown()
  let base = m[1].toLowerCase()
  base = ALIASES[base] ?? base
  if (m[2] !== undefined) {
    const info = METRICS[`${base}@K`]
    const k = Number(m[2])
    if (!info) throw unknown()
    if (!Number.isSafeInteger(k) || k < 1) throw configError('eval.bad_k', `metric "${name}": K must be a positive integer`, {hint: 'e.g. ndcg@10'})
    return {key: `${base}@${k}`, base, k, info}
  }
  const info = METRICS[base]
  if (!info) {
    if (METRICS[`${base}@K`]) {
      throw configError('eval.missing_k', `metric "${name}" needs a cut-off K`, {hint: `write it as ${base}@10 (or another K)`})
    }
    throw unknown()
  }
  return {key: base, base, info}
}

/** registry keys, e.g. `ndcg@K`, `auc`, for error messages and help */
export function knownMetricNames(): string[] {
  return Object.keys(METRICS)
}

// ---------------------------------------------------------------------------------------------
// Every top-K metric of every cut-off in one pass (the evaluator's per-user hot path)

/** 1 / log2(r + 2) for r = 0, 1, ... (the NDCG discount of rank r + 1), grown on demand */
const discounts: number[] = []
/** idcgPrefix[m] = Σ_{r < m} 1 / log2(r + 2), summed in the same order as ndcgAtK */
const idcgPrefix: number[] = [0]
function growDiscounts(n: number): void {
  for (let r = discounts.length; r < n; r++) {
    discounts.push(1 / Math.log2(r + 2))
    idcgPrefix.push(idcgPrefix[r] + discounts[r])
  }
}

/**
 * Every metric of TOPK_METRICS at every cut-off of `ks` (ascending) for one user, written into
 * `out[ki · 7 + mi]` (mi in TOPK_METRICS order). `ranked[0 .. n)` is the user's list, best first;
 * `isRelevant[item]` is non-zero for the user's `relevantCount` (> 0) relevant items. The values
 * are those of the functions above, bit for bit (same operations in the same order; test/eval/
 * fullrank.test.ts), computed in one walk down the list instead of 7 · |ks| calls.
 */
export function topKMetricsInto(ranked: Int32Array, n: number, isRelevant: Uint8Array, relevantCount: number, ks: readonly number[], out: Float64Array): void {
  const maxK = ks[ks.length - 1]
  growDiscounts(maxK)
  const m = TOPK_METRICS.length
  let hitsSoFar = 0
  let dcg = 0
  let apSum = 0
  let firstHit = -1
  let r = 0
  for (let ki = 0; ki < ks.length; ki++) {
    const k = ks[ki]
    const upTo = Math.min(k, n)
    for (; r < upTo; r++) {
      if (isRelevant[ranked[r]] === 0) continue
      hitsSoFar++
      dcg += discounts[r]
      apSum += hitsSoFar / (r + 1)
      if (firstHit < 0) firstHit = r
    }
    const p = hitsSoFar / k
    const rc = hitsSoFar / relevantCount
    const o = ki * m
    out[o] = p // precision
    out[o + 1] = rc // recall
    out[o + 2] = p + rc === 0 ? 0 : (2 * p * rc) / (p + rc) // f1
    out[o + 3] = dcg / idcgPrefix[Math.min(relevantCount, k)] // ndcg
    out[o + 4] = hitsSoFar > 0 ? 1 : 0 // hr
    out[o + 5] = firstHit >= 0 && firstHit < k ? 1 / (firstHit + 1) : 0 // mrr
    out[o + 6] = apSum / Math.min(relevantCount, k) // map
  }
}
