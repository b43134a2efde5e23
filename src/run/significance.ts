import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {SAMPLED, rowKey, type ReportRow, type Table} from '../report/table.js'
import {holm} from '../stats/holm.js'
import {pairedTest, type PairedTest} from '../stats/paired.js'
import {FileDigests, rebuildHint} from './digests.js'
import {readManifest, readRunFile} from './rundir.js'

/**
 * `rec compare --significance`: is a delta of the table a difference or noise? Every row that has
 * deltas (against --baseline, by default each model's `base`) is paired with its baseline user by
 * user on the per-user values of each metric column that has them (top-K metrics, AUC; the means
 * of the table are the means of these values), then tested with the paired t-test and the
 * Wilcoxon signed-rank test (src/stats/paired.ts). Holm's adjustment runs across all comparisons of
 * the table, separately for each test; a delta is marked significant when its Holm-adjusted
 * t-test p <= α. The t-test decides because it tests what the table shows, the mean difference;
 * Wilcoxon is reported beside it (per-user ranking metrics are skewed and full of zeros, where the
 * two can disagree).
 */
export interface Comparison extends Omit<PairedTest, 'tTest' | 'wilcoxon'> {
  /** "run:model/variant" of the row and of its baseline */
  row: string
  baseline: string
  metric: string
  tTest: PairedTest['tTest'] & {pHolm: number}
  wilcoxon: (NonNullable<PairedTest['wilcoxon']> & {pHolm: number | null}) | null
  /** Holm-adjusted t-test p <= alpha */
  significant: boolean
}

export interface Significance {
  alpha: number
  /** how the comparisons were made, in one sentence (printed under the table) */
  method: string
  /** comparisons in each Holm family */
  family: number
  comparisons: Comparison[]
  /** row pairs that could not be tested, and why */
  skipped: {row: string; baseline: string; reason: string}[]
}

/** what a row's per-user values are read from */
export interface RowSource {
  runDir: string
  model: string
  variant: string
  /** the data/split key of the run: per-user values pair only between runs of one split */
  dataKey?: string
}

export interface PerUser {
  users: number[]
  values: Record<string, (number | null)[]>
}

export const PER_USER_FILE = 'per-user.json'

/**
 * A variant's per-user values, checked against the digest its eval stage recorded; a string says
 * why there are none (a run evaluated before rec recorded them).
 */
export function readPerUser(src: RowSource): PerUser | string {
  const rel = `models/${src.model}/${src.variant}/${PER_USER_FILE}`
  if (!existsSync(join(src.runDir, rel))) return `no ${PER_USER_FILE} in ${src.runDir}/models/${src.model}/${src.variant} (\`rec eval\` writes it)`
  const files = readManifest(src.runDir).stages[`eval:${src.model}/${src.variant}`]?.files
  const recorded = files?.[rel]
  if (recorded !== undefined) new FileDigests(src.runDir).verify('eval', {[rel]: recorded})
  return readRunFile<PerUser>(join(src.runDir, rel), 'per-user values', rebuildHint('eval'))
}

/** the values of one metric of two rows, paired by user (users both have; none when a row lacks the metric) */
export function pairUp(a: PerUser, b: PerUser, metric: string): [number[], number[]] {
  const va = a.values[metric]
  const vb = b.values[metric]
  if (!va || !vb) return [[], []]
  const at = new Map(b.users.map((u, i) => [u, i]))
  const x: number[] = []
  const y: number[] = []
  a.users.forEach((u, i) => {
    const j = at.get(u)
    if (j === undefined) return
    x.push(va[i] ?? Number.NaN)
    y.push(vb[j] ?? Number.NaN)
  })
  return [x, y]
}

/**
 * The significance of every delta of `table` (built with a baseline). `sources` maps a row key to
 * where its per-user values are; `alpha` is the level of the marks.
 */
export function significanceOf(table: Table, sources: Map<string, RowSource>, alpha: number): Significance {
  const metrics = table.columns.filter((c) => c.kind === 'metric' && !c.key.startsWith(SAMPLED)).map((c) => c.key)
  const cache = new Map<string, PerUser | string>()
  const load = (row: ReportRow): PerUser | string => {
    const key = rowKey(row)
    if (!cache.has(key)) {
      const src = sources.get(key)
      cache.set(key, src ? readPerUser(src) : `no run directory known for ${key}`)
    }
    return cache.get(key)!
  }
  const raw: (Omit<Comparison, 'tTest' | 'wilcoxon' | 'significant'> & {test: PairedTest})[] = []
  const skipped: Significance['skipped'] = []
  const against = table.against ?? table.raw.map(() => null)
  table.raw.forEach((row, j) => {
    const bj = against[j]
    if (bj === null || bj === undefined) return
    const base = table.raw[bj]
    const names = {row: rowKey(row), baseline: rowKey(base)}
    const [sa, sb] = [sources.get(names.row), sources.get(names.baseline)]
    if (sa?.dataKey !== sb?.dataKey) {
      skipped.push({...names, reason: 'the runs have different data splits: their test users do not pair'})
      return
    }
    const [a, b] = [load(row), load(base)]
    if (typeof a === 'string' || typeof b === 'string') {
      skipped.push({...names, reason: typeof a === 'string' ? a : (b as string)})
      return
    }
    for (const metric of metrics) {
      const test = pairedTest(...pairUp(a, b, metric))
      if (test) raw.push({...names, metric, ...test, test})
    }
  })
  // a variant identical to its baseline on every user is no comparison: it stays out of the families (p = 1)
  const tHolm = holm(raw.map((c) => (c.test.identical ? null : c.test.tTest.pValue)))
  const wHolm = holm(raw.map((c) => c.test.wilcoxon?.pValue ?? null))
  const comparisons: Comparison[] = raw.map(({test, ...c}, i) => ({
    ...c,
    tTest: {...test.tTest, pHolm: tHolm[i] ?? 1},
    wilcoxon: test.wilcoxon ? {...test.wilcoxon, pHolm: wHolm[i]} : null,
    significant: (tHolm[i] ?? 1) <= alpha,
  }))
  const family = tHolm.filter((p) => p !== null).length
  const users = [...new Set(comparisons.map((c) => c.n))]
  const method =
    `paired over ${users.length === 1 ? users[0] : users.join('/')} test users (per-user values of each metric, variant − baseline): ` +
    `t-test and Wilcoxon signed-rank, Holm-adjusted across the ${family} comparisons of this table` +
    `${family < comparisons.length ? ` (${comparisons.length - family} identical on every user left out)` : ''}; ` +
    `* marks a Holm-adjusted t-test p <= ${alpha}, otherwise p= gives it; metrics without per-user values (pointwise, sampled) are not tested`
  return {alpha, method, family, comparisons, skipped}
}
