import {createRequire} from 'node:module'

import type ttestFn from '@stdlib/stats-ttest'
import type wilcoxonFn from '@stdlib/stats-wilcoxon'

// loaded on first use (CommonJS, ~0.4 s to import): every `rec` command imports this module through oclif
const require = createRequire(import.meta.url)
const ttest = (): typeof ttestFn => require('@stdlib/stats-ttest') as typeof ttestFn
const wilcoxon = (): typeof wilcoxonFn => require('@stdlib/stats-wilcoxon') as typeof wilcoxonFn

/**
 * Paired tests of two measurements of the same units (per-user metric values of a variant and its
 * base over the same test users, or per-seed means). The distributions come from @stdlib
 * (stats-ttest, stats-wilcoxon); this file only chooses their options, drops unusable pairs and
 * states what was computed. test/stats/paired.test.ts checks every figure against scipy 1.10.
 *
 * - Paired t-test: stdlib `ttest(x, y)`, two-sided, on d = x − y (= scipy.stats.ttest_rel(x, y)).
 *   The 95% interval of the mean difference is mean(d) ± t(0.975, n−1) · sd(d) / √n.
 * - Wilcoxon signed-rank: stdlib `wilcoxon(x, y)` with its defaults: zero differences dropped
 *   (`zeroMethod: 'wilcox'`), two-sided; the exact distribution when at most 50 non-zero differences
 *   remain and none are zero or tied, else the normal approximation with the tie correction of the
 *   variance and a continuity correction of 0.5. scipy.stats.wilcoxon(x, y, zero_method='wilcox',
 *   correction=True, mode=<the same choice>) gives the same p-value (scipy's own `mode='auto'` would
 *   take the exact distribution for ties too; its statistic is min(W+, W−), ours W+).
 * - Pairs where either value is NaN (a user without a defined AUC) are dropped first.
 * - All differences zero (a variant identical to its base on every user): no test can reject; the
 *   result says so (`identical: true`, t-test p = 1, interval [0, 0], no Wilcoxon) instead of stdlib's
 *   NaN / error.
 */
export interface PairedTest {
  /** pairs used (both values defined) */
  n: number
  /** mean of x − y */
  meanDiff: number
  /** 95% confidence interval of the mean difference (t distribution, n − 1 degrees of freedom) */
  ci95: [number, number]
  /** every difference is exactly 0 */
  identical: boolean
  tTest: {statistic: number; df: number; pValue: number}
  /** null when every difference is 0 (nothing to rank) */
  wilcoxon: {
    /** W+ = sum of the ranks of the positive differences */
    statistic: number
    pValue: number
    method: 'exact' | 'normal'
    /** zero differences dropped before ranking */
    zeros: number
  } | null
}

/** the paired tests of x against y (equal lengths; at least 2 usable pairs, else null) */
export function pairedTest(x: ArrayLike<number>, y: ArrayLike<number>): PairedTest | null {
  if (x.length !== y.length) throw new Error(`pairedTest: ${x.length} values against ${y.length}`)
  const xs: number[] = []
  const ys: number[] = []
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(x[i]) || Number.isNaN(y[i])) continue
    xs.push(x[i])
    ys.push(y[i])
  }
  const n = xs.length
  if (n < 2) return null
  const d = xs.map((v, i) => v - ys[i])
  const nonZero = d.filter((v) => v !== 0)
  if (nonZero.length === 0) {
    return {n, meanDiff: 0, ci95: [0, 0], identical: true, tTest: {statistic: 0, df: n - 1, pValue: 1}, wilcoxon: null}
  }
  const t = ttest()(xs, ys, {alpha: 0.05})
  const w = wilcoxon()(xs, ys)
  const tied = new Set(nonZero.map(Math.abs)).size !== nonZero.length
  const zeros = n - nonZero.length
  const method = nonZero.length > 50 || zeros > 0 || tied ? 'normal' : 'exact'
  return {
    n,
    meanDiff: t.mean,
    ci95: [t.ci[0], t.ci[1]],
    identical: false,
    tTest: {statistic: t.statistic, df: t.df, pValue: t.pValue},
    // stdlib's exact two-sided p doubles one tail without capping it at 1 (at the centre it exceeds 1)
    wilcoxon: {statistic: w.statistic, pValue: Math.min(1, w.pValue), method, zeros},
  }
}

/** mean and sample standard deviation (n − 1); std is 0 for a single value, NaN for none */
export function meanStd(values: ArrayLike<number>): {mean: number; std: number; n: number} {
  const n = values.length
  if (n === 0) return {mean: Number.NaN, std: Number.NaN, n}
  let s = 0
  for (let i = 0; i < n; i++) s += values[i]
  const mean = s / n
  if (n === 1) return {mean, std: 0, n}
  let ss = 0
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2
  return {mean, std: Math.sqrt(ss / (n - 1)), n}
}
