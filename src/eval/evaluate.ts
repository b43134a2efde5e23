import type {NegativesConfig, EvalConfig} from '../config/schema.js'
import type {Interactions, Split} from '../data/types.js'
import {createNegativeSampler, userPositives, type UserPositives} from '../data/negatives.js'
import {dataError, RecError} from '../errors.js'
import type {Scorer} from '../models/types.js'
import {silentProgress, type Progress} from '../progress.js'
import {Rng} from '../rng.js'
import {
  TOPK_FUNCTIONS,
  TOPK_METRICS,
  accuracyFromConfusion,
  confusion,
  f1FromConfusion,
  itemCoverage,
  logloss,
  precisionFromConfusion,
  recallFromConfusion,
  sigmoid,
} from './metrics.js'
import {partName, type Protocol} from './protocol.js'
import {checkSampledProtocol, createDistinctSampler, fixedSampler} from './sampled.js'
import type {FixedNegatives} from '../data/negatives-file.js'
import {basename} from 'node:path'
import {FullRankKernel} from './fullrank.js'

export {describeProtocol, type Protocol} from './protocol.js'

export interface EvalResult {
  /** mean over evaluated users, e.g. "ndcg@10", "auc", "coverage@10", "accuracy", "logloss" */
  metrics: Record<string, number>
  /** per-user values of the top-K metrics and AUC, parallel to `users` (ascending user ids) */
  perUser: {users: Int32Array; values: Record<string, Float32Array>}
  usersEvaluated: number
  seconds: number
  protocol: Protocol
  /** with `record`: every draw and ranking the numbers come from (saved in the run directory) */
  draws?: EvalDraws
}

/**
 * What the metrics were computed from, so that they can be recomputed without the model:
 * full ranking: each evaluated user's top max(K) items; sampled: each positive's distinct
 * negatives and its rank; pointwise: every (user, item, label, probability) pair.
 */
export interface EvalDraws {
  /** full mode: user `users[j]`'s top `k` items are items[j·k .. (j+1)·k), best first, −1 when fewer were eligible */
  topK?: {k: number; items: Int32Array}
  /**
   * sampled mode, one entry per positive in evaluation order (users ascending): the user, the
   * positive, its rank (0-based: negatives scored >= it) and its N negatives at negatives[p·N ..)
   */
  sampled?: {n: number; users: Int32Array; items: Int32Array; ranks: Int32Array; negatives: Int32Array}
  /** pointwise pairs: positives (label 1) then one sampled negative each (label 0) */
  pointwise?: {users: Int32Array; items: Int32Array; labels: Uint8Array; probs: Float64Array}
}

/**
 * eval settings as evaluate reads them (sampled early stopping validates with
 * train.early_stopping.negatives instead of eval.negatives)
 */
export type EvalSettings = Omit<EvalConfig, 'negatives'> & {negatives: number}

export interface EvalArgs {
  scorer: Scorer
  split: Split
  part: 'valid' | 'test'
  cfg: EvalSettings
  seed: number
  negatives: NegativesConfig
  /** overrides cfg.threshold (e.g. a threshold already picked on validation) */
  threshold?: number
  /**
   * false: skip the pointwise metrics (and picking their threshold), e.g. for early stopping on a
   * ranking metric; the ranking metrics are identical either way (their random streams are separate)
   */
  pointwise?: boolean
  /** sampled mode: each test positive's negatives from a file (eval.negatives_file) instead of drawn ones */
  fixedNegatives?: FixedNegatives
  /** keep the draws in the result (`draws`): the run directory saves them for auditing */
  record?: boolean
  /** the config key of `cfg.negatives`, named when the data cannot honour it (default `eval.negatives`) */
  negativesSetting?: string
  progress?: Progress
}

/** salts of the independent random streams, so that each sampling task is reproducible on its own */
const STREAM_RANKING = 1
const STREAM_POINTWISE = 2
const STREAM_THRESHOLD = 3
/** the random stream of one sampling task: depends only on the seed and the task */
const streamRng = (seed: number, salt: number): Rng => new Rng(seed).fork(salt)
/** pairs per scorePairs call for pointwise scoring */
export const PAIR_CHUNK = 1 << 16

interface Targets {
  /** evaluated users, ascending */
  users: Int32Array
  /** relevant items of users[j]: items[offsets[j] .. offsets[j+1]) */
  offsets: Int32Array
  items: Int32Array
}

/**
 * The relevant items of each user in `part`: the user's items in that part that are not also
 * excluded (an item seen in training cannot be recommended, so it cannot count as a hit). Users
 * left with no relevant item are skipped.
 */
function targets(part: Interactions, excluded: UserPositives, numUsers: number): Targets {
  const lists = userPositives([part], numUsers)
  const users: number[] = []
  const offsets: number[] = [0]
  const items: number[] = []
  for (let u = 0; u < numUsers; u++) {
    const before = items.length
    for (let j = lists.offsets[u]; j < lists.offsets[u + 1]; j++) {
      const i = lists.items[j]
      if (!excluded.has(u, i)) items.push(i)
    }
    if (items.length > before) {
      users.push(u)
      offsets.push(items.length)
    }
  }
  return {users: Int32Array.from(users), offsets: Int32Array.from(offsets), items: Int32Array.from(items)}
}

/** a tiny sorted-array set, enough for the metric functions' `has` / `size` */
class SortedSet {
  constructor(private readonly a: Int32Array) {}
  get size(): number {
    return this.a.length
  }
  has(x: number): boolean {
    let lo = 0
    let hi = this.a.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.a[mid] < x) lo = mid + 1
      else hi = mid
    }
    return lo < this.a.length && this.a[lo] === x
  }
}

/**
 * Evaluate a scorer on the validation or test part of a split.
 *
 * Full ranking (`cfg.mode: 'full'`): users are scored `cfg.batch_users` at a time (one
 * `scoreUsers` call per batch); each user's training items — and validation items when `part` is
 * 'test' — get score -Infinity; the top max(K) items come from a partial selection (ties: lower
 * item id first); top-K metrics, AUC (relevant items vs every other non-excluded item) and item
 * coverage follow. The -Infinity scores are written into the array `scoreUsers` returned (a
 * scorer must hand out a fresh array per call).
 *
 * Sampled (`cfg.mode: 'sampled'`): for every relevant (user, item), `cfg.negatives` distinct
 * negatives are drawn (seeded, without replacement, see sampled.ts) from the items the user never
 * interacted with in any part — a data error first when some evaluated user has fewer than that
 * (checkSampledProtocol); the positive is ranked
 * among those 1 + N candidates (`scorePairs`), with ties placed *after* the positive's equals
 * (pessimistic, so a constant scorer earns nothing). The metrics see the list of the 1 + N
 * candidates; with a single relevant item, recall@K = HR@K and precision@K = HR@K / K. Per user,
 * the values are averaged over the user's positives first. AUC is that of each 1 + N list
 * (share of its negatives scored below the positive, ties ½). Coverage is not computed (it needs
 * full ranking).
 *
 * Pointwise metrics (both modes): each relevant (user, item) against one negative sampled (seeded)
 * for the same user, so positives and negatives are equally many; scores become probabilities
 * (sigmoid unless `scorer.probabilities`); positive prediction when probability >= threshold.
 *
 * Users with no relevant item in the part are skipped; every mean is over the evaluated users
 * (AUC: over the users for whom it is defined, i.e. with at least one negative candidate).
 * Deterministic: the same inputs and seed give identical numbers, whatever `batch_users` is
 * (given a scorer whose scores do not depend on the batch).
 */
export async function evaluate(args: EvalArgs): Promise<EvalResult> {
  const started = process.hrtime.bigint()
  const {scorer, split, part, cfg, seed} = args
  const progress = args.progress ?? silentProgress
  const numUsers = split.train.numUsers
  const numItems = split.train.numItems
  if (scorer.numItems !== numItems) {
    throw dataError('eval.num_items', `the model scores ${scorer.numItems} items but the split has ${numItems}`, {
      hint: 'evaluate a model on the split it was trained on',
    })
  }
  const ks = [...new Set(cfg.k)].sort((a, b) => a - b)
  if (ks.length === 0) throw dataError('eval.no_k', 'eval.k is empty')
  const maxK = ks[ks.length - 1]

  const evalPart = part === 'test' ? split.test : split.valid
  const excludedParts = part === 'test' ? [split.train, split.valid] : [split.train]
  const excludedSet = userPositives(excludedParts, numUsers)
  const tg = targets(evalPart, excludedSet, numUsers)
  const nUsers = tg.users.length
  if (nUsers === 0) {
    throw dataError('eval.no_users', `the ${partName(part)} part has no user with a ${partName(part)} item to evaluate`, {
      hint: part === 'valid' ? 'set a non-zero validation ratio in split.ratios' : 'check split.ratios and the preprocessing filters',
    })
  }

  // a "1 + N" protocol the catalogue cannot honour is refused before anything is scored
  const fixed = cfg.mode === 'sampled' ? args.fixedNegatives : undefined
  if (cfg.mode === 'sampled' && !fixed) checkSampledProtocol(split, args.negatives, cfg.negatives, {part, setting: args.negativesSetting ?? 'eval.negatives'})

  // independent seeded streams: each depends only on the seed and its task
  const rankingRng = streamRng(seed, STREAM_RANKING)
  const pointwiseRng = streamRng(seed, STREAM_POINTWISE)
  const neverInteracted = [split.valid, split.test]

  progress.stage(`evaluate ${partName(part)} (${cfg.mode})`)
  /** topKeys[ki][mi] = `${TOPK_METRICS[mi]}@${ks[ki]}` */
  const topKeys = ks.map((k) => TOPK_METRICS.map((m) => `${m}@${k}`))
  const keys: string[] = [...topKeys.flat(), 'auc']
  const perUser: Record<string, Float32Array> = {}
  const sums: Record<string, number> = {}
  for (const key of keys) {
    perUser[key] = new Float32Array(nUsers)
    sums[key] = 0
  }
  let aucUsers = 0
  const metrics: Record<string, number> = {}
  const draws: EvalDraws | undefined = args.record ? {} : undefined

  if (cfg.mode === 'full') {
    const kernel = new FullRankKernel(numItems, ks)
    const top = new Int32Array(nUsers * maxK).fill(-1)
    const topLen = new Int32Array(nUsers)
    const flatKeys = topKeys.flat()
    const userMetrics = new Float64Array(flatKeys.length)
    const perKey = flatKeys.map((key) => perUser[key])
    const keySums = new Float64Array(flatKeys.length)
    const batch = Math.max(1, cfg.batch_users)
    for (let start = 0; start < nUsers; start += batch) {
      const end = Math.min(nUsers, start + batch)
      const batchUsers = tg.users.slice(start, end)
      const scores = await scorer.scoreUsers(batchUsers)
      if (scores.length !== batchUsers.length * numItems) {
        throw new RecError('bug', 'eval.scorer_shape', `scoreUsers returned ${scores.length} scores for ${batchUsers.length} users × ${numItems} items`)
      }
      for (let b = 0; b < batchUsers.length; b++) {
        const j = start + b
        const u = batchUsers[b]
        const off = b * numItems
        for (let e = excludedSet.offsets[u]; e < excludedSet.offsets[u + 1]; e++) scores[off + excludedSet.items[e]] = -Infinity
        // top max(K), AUC (relevant items vs every other non-excluded item) and every top-K metric in one pass
        const ranked = kernel.rank(scores, off, tg.items.subarray(tg.offsets[j], tg.offsets[j + 1]), top.subarray(j * maxK, (j + 1) * maxK), userMetrics)
        topLen[j] = ranked.n
        for (let q = 0; q < flatKeys.length; q++) {
          perKey[q][j] = userMetrics[q]
          keySums[q] += userMetrics[q]
        }
        perUser.auc[j] = ranked.auc
        if (!Number.isNaN(ranked.auc)) {
          sums.auc += ranked.auc
          aucUsers++
        }
      }
      progress.update(`users ${end}/${nUsers}`)
    }
    for (const k of ks) {
      const lists = function* () {
        for (let j = 0; j < nUsers; j++) yield top.subarray(j * maxK, j * maxK + topLen[j])
      }
      metrics[`coverage@${k}`] = itemCoverage(lists(), numItems, k)
    }
    flatKeys.forEach((key, q) => (sums[key] = keySums[q]))
    if (draws) draws.topK = {k: maxK, items: top}
  } else {
    const nNeg = fixed?.perPositive ?? cfg.negatives
    const sampler = fixed ? fixedSampler(fixed, split) : createDistinctSampler(split, args.negatives, rankingRng)
    const batch = Math.max(1, cfg.batch_users)
    const ranked = new Int32Array(Math.min(maxK, nNeg + 1))
    const totalPos = tg.items.length
    const rec = draws
      ? (draws.sampled = {n: nNeg, users: new Int32Array(totalPos), items: new Int32Array(totalPos), ranks: new Int32Array(totalPos), negatives: new Int32Array(totalPos * nNeg)})
      : undefined
    for (let start = 0; start < nUsers; start += batch) {
      const end = Math.min(nUsers, start + batch)
      const nPos = tg.offsets[end] - tg.offsets[start]
      const pairsU = new Int32Array(nPos * (nNeg + 1))
      const pairsI = new Int32Array(nPos * (nNeg + 1))
      let w = 0
      for (let j = start; j < end; j++) {
        const u = tg.users[j]
        for (let r = tg.offsets[j]; r < tg.offsets[j + 1]; r++) {
          pairsU.fill(u, w, w + nNeg + 1)
          pairsI[w] = tg.items[r]
          sampler.sampleDistinct(u, nNeg, pairsI.subarray(w + 1, w + 1 + nNeg), tg.items[r])
          w += nNeg + 1
        }
      }
      const scores = await scorer.scorePairs(pairsU, pairsI)
      if (scores.length !== pairsU.length) {
        throw new RecError('bug', 'eval.scorer_shape', `scorePairs returned ${scores.length} scores for ${pairsU.length} pairs`)
      }
      let c = 0
      const nKeys = topKeys.flat().length
      const acc = new Float64Array(nKeys)
      for (let j = start; j < end; j++) {
        const count = tg.offsets[j + 1] - tg.offsets[j]
        acc.fill(0)
        let aucSum = 0
        for (let r = 0; r < count; r++, c += nNeg + 1) {
          const sp = scores[c]
          const positive = pairsI[c]
          // rank among the 1 + N candidates (tied negatives go before the positive) and, in the
          // same pass, the AUC of this list: (#neg below + ½ #neg tied) / N
          let ahead = 0
          let below = 0
          let tied = 0
          for (let q = 1; q <= nNeg; q++) {
            const s = scores[c + q]
            if (s < sp) below++
            else {
              ahead++
              if (s === sp) tied++
            }
          }
          if (rec) {
            const p = tg.offsets[j] + r
            rec.users[p] = tg.users[j]
            rec.items[p] = positive
            rec.ranks[p] = ahead
            rec.negatives.set(pairsI.subarray(c + 1, c + 1 + nNeg), p * nNeg)
          }
          // the candidate list as the metrics see it: only the positive's position matters when it
          // is the one relevant item, so the other slots hold -1 (never relevant)
          ranked.fill(-1)
          if (ahead < ranked.length) ranked[ahead] = positive
          const rel = new SortedSet(Int32Array.of(positive))
          let a = 0
          ks.forEach((k, ki) => TOPK_METRICS.forEach((m, mi) => (acc[a++] += TOPK_FUNCTIONS[m](ranked, rel, k))))
          aucSum += (below + 0.5 * tied) / nNeg
        }
        let a = 0
        for (const row of topKeys) {
          for (const key of row) {
            const v = acc[a++] / count
            perUser[key][j] = v
            sums[key] += v
          }
        }
        perUser.auc[j] = aucSum / count
        sums.auc += aucSum / count
        aucUsers++
      }
      progress.update(`users ${end}/${nUsers}`)
    }
  }

  for (const key of topKeys.flat()) metrics[key] = sums[key] / nUsers
  metrics.auc = aucUsers > 0 ? sums.auc / aucUsers : Number.NaN

  // pointwise: relevant pairs vs one sampled negative each
  let threshold: number
  let thresholdSource: Protocol['thresholdSource']
  if (args.pointwise === false) {
    threshold = typeof cfg.threshold === 'number' ? cfg.threshold : Number.NaN
    thresholdSource = 'config'
  } else if (args.threshold !== undefined) {
    threshold = args.threshold
    // a caller that passes a threshold while the config says 'validation' picked it with pickThreshold
    thresholdSource = cfg.threshold === 'validation' ? 'validation' : 'argument'
  } else if (cfg.threshold === 'validation') {
    thresholdSource = 'validation'
    threshold = await pickThreshold({scorer, split, cfg, seed, negatives: args.negatives, progress})
  } else {
    threshold = cfg.threshold
    thresholdSource = 'config'
  }
  if (args.pointwise !== false) {
    const pw = await pointwiseSet(scorer, split, args.negatives, pointwiseRng, tg, neverInteracted)
    const cm = confusion(pw.probs, pw.labels, threshold)
    metrics.accuracy = accuracyFromConfusion(cm)
    metrics.precision = precisionFromConfusion(cm)
    metrics.recall = recallFromConfusion(cm)
    metrics.f1 = f1FromConfusion(cm)
    metrics.logloss = logloss(pw.probs, pw.labels)
    if (draws) draws.pointwise = pw
  }

  const protocol: Protocol = {
    mode: cfg.mode,
    part,
    candidates: cfg.mode === 'full' ? 'all items' : fixed ? `1 positive + ${fixed.perPositive} negatives from ${basename(fixed.file)}` : `1 positive + ${cfg.negatives} sampled negatives`,
    excluded:
      cfg.mode === 'full'
        ? part === 'test'
          ? 'train + validation items'
          : 'train items'
        : 'items the user interacted with (never sampled as negatives)',
    users: `${partName(part)} users with at least one ${partName(part)} item`,
    k: ks,
    threshold,
    thresholdSource,
    negatives: {...args.negatives, perPositive: cfg.mode === 'sampled' ? (fixed?.perPositive ?? cfg.negatives) : null},
    seed,
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const headline = `ndcg@${ks[0]}`
  progress.done(`${nUsers} users, ${headline} ${metrics[headline].toFixed(4)}, ${seconds.toFixed(1)}s`)
  return {metrics, perUser: {users: tg.users, values: perUser}, usersEvaluated: nUsers, seconds, protocol, ...(draws ? {draws} : {})}
}

/**
 * Probabilities and labels for the pointwise metrics: every relevant (user, item) of `tg` (label
 * 1) followed by one negative per positive sampled for the same user (label 0), in user order.
 */
async function pointwiseSet(
  scorer: Scorer,
  split: Split,
  negatives: NegativesConfig,
  rng: Rng,
  tg: Targets,
  neverInteracted: Interactions[],
): Promise<{users: Int32Array; items: Int32Array; probs: Float64Array; labels: Uint8Array}> {
  const nPos = tg.items.length
  const users = new Int32Array(2 * nPos)
  const items = new Int32Array(2 * nPos)
  const labels = new Uint8Array(2 * nPos)
  const sampler = createNegativeSampler(split.train, negatives, rng, neverInteracted)
  for (let j = 0; j < tg.users.length; j++) {
    const u = tg.users[j]
    for (let r = tg.offsets[j]; r < tg.offsets[j + 1]; r++) {
      users[r] = u
      items[r] = tg.items[r]
      labels[r] = 1
      users[nPos + r] = u
      items[nPos + r] = sampler.sample(u)
    }
  }
  const probs = new Float64Array(2 * nPos)
  for (let start = 0; start < users.length; start += PAIR_CHUNK) {
    const end = Math.min(users.length, start + PAIR_CHUNK)
    const s = await scorer.scorePairs(users.subarray(start, end), items.subarray(start, end))
    if (s.length !== end - start) throw new RecError('bug', 'eval.scorer_shape', `scorePairs returned ${s.length} scores for ${end - start} pairs`)
    for (let j = 0; j < s.length; j++) probs[start + j] = scorer.probabilities ? s[j] : sigmoid(s[j])
  }
  return {users, items, probs, labels}
}

/**
 * The threshold that maximises pointwise F1 on the validation part: validation positives (items
 * not already in train) of every user vs one sampled negative each (seeded, its own random
 * stream), scores → probabilities as in `evaluate`, then `bestF1Threshold`. `evaluate` calls this
 * itself when `cfg.threshold` is 'validation' and no threshold is given, with the same result.
 * An empty validation part gives 0.5 (with a warning).
 */
export async function pickThreshold(args: {
  scorer: Scorer
  split: Split
  cfg: EvalSettings
  seed: number
  negatives: NegativesConfig
  progress?: Progress
}): Promise<number> {
  const {scorer, split} = args
  const numUsers = split.train.numUsers
  const tg = targets(split.valid, userPositives([split.train], numUsers), numUsers)
  if (tg.users.length === 0) {
    ;(args.progress ?? silentProgress).warn('eval.threshold is "validation" but the validation part is empty: using 0.5')
    return 0.5
  }
  const v = await pointwiseSet(scorer, split, args.negatives, streamRng(args.seed, STREAM_THRESHOLD), tg, [split.valid, split.test])
  return bestF1Threshold(v.probs, v.labels).threshold
}

/**
 * The probability threshold that maximises pointwise F1 on (probs, labels), where a prediction is
 * positive when p >= threshold. Sweeps the distinct probabilities from the highest down (O(n log n));
 * the returned threshold is the midpoint between the lowest probability still predicted positive
 * and the next lower distinct probability (or that probability itself when none is lower), so
 * small score perturbations do not flip the boundary examples. Ties in F1 keep the higher
 * threshold. With no positive label, F1 is 0 everywhere and the threshold is 0.5.
 */
export function bestF1Threshold(probs: ArrayLike<number>, labels: ArrayLike<number>): {threshold: number; f1: number} {
  const n = probs.length
  if (n !== labels.length) throw new Error(`bestF1Threshold: ${n} probabilities but ${labels.length} labels`)
  let totalPos = 0
  for (let j = 0; j < n; j++) if (labels[j] > 0.5) totalPos++
  if (totalPos === 0) return {threshold: 0.5, f1: 0}
  const order = Array.from({length: n}, (_, j) => j).sort((a, b) => probs[b] - probs[a] || a - b)
  let tp = 0
  let fp = 0
  let best = -1
  let bestThreshold = 0.5
  for (let r = 0; r < n; ) {
    const v = probs[order[r]]
    // take every example tied at v
    while (r < n && probs[order[r]] === v) {
      if (labels[order[r]] > 0.5) tp++
      else fp++
      r++
    }
    const f1 = (2 * tp) / (2 * tp + fp + (totalPos - tp))
    if (f1 > best) {
      best = f1
      bestThreshold = r < n ? (v + probs[order[r]]) / 2 : v
    }
  }
  return {threshold: bestThreshold, f1: best}
}
