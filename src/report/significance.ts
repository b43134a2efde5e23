import {signed} from './format.js'
import {rowKey, type Table} from './table.js'

/**
 * How significance shows in a report. Plain data in (the shape of src/run/significance.ts's
 * result, restated here so that report/ does not import run/), text out.
 */
export interface SignificanceView {
  alpha: number
  method: string
  family: number
  comparisons: {
    row: string
    baseline: string
    metric: string
    n: number
    meanDiff: number
    ci95: [number, number]
    identical: boolean
    tTest: {pValue: number; pHolm: number}
    wilcoxon: {pValue: number; pHolm: number | null; method: string} | null
    significant: boolean
  }[]
  skipped: {row: string; baseline: string; reason: string}[]
}

/** a p-value in 2 significant digits; below 0.001 as <0.001 */
export function formatP(p: number): string {
  if (!Number.isFinite(p)) return '–'
  if (p < 0.001) return '<0.001'
  return String(Number(p.toPrecision(2)))
}

/**
 * The table with every tested delta marked: `0.2812 (−0.0040, −1.4%) *` when significant at α
 * (Holm-adjusted t-test), `0.2812 (−0.0040, −1.4%) p=0.41` otherwise; the notes say how.
 */
export function markSignificance(table: Table, sig: SignificanceView): Table {
  const byCell = new Map(sig.comparisons.map((c) => [`${c.row}\u0000${c.metric}`, c]))
  const rows = table.rows.map((cells, j) =>
    cells.map((cell, ci) => {
      const c = byCell.get(`${rowKey(table.raw[j])}\u0000${table.columns[ci].key}`)
      if (!c || !table.deltas[j]?.[table.columns[ci].key]) return cell
      return c.significant ? `${cell} *` : `${cell} p=${formatP(c.tTest.pHolm)}`
    }),
  )
  const notes = [...table.notes, `Significance: ${sig.method}.`]
  for (const s of sig.skipped) notes.push(`Not tested: ${s.row} against ${s.baseline}: ${s.reason}.`)
  return {...table, rows, notes}
}

/** one line per comparison: the mean difference, its 95% interval and both tests (raw and Holm p) */
export function renderSignificance(sig: SignificanceView, options: {markdown?: boolean} = {}): string {
  const item = options.markdown ? '- ' : '  '
  if (sig.comparisons.length === 0) return 'significance: nothing to test (no row has a baseline with per-user values)'
  const lines = [`significance at α = ${sig.alpha} (Holm across ${sig.family} comparisons):`]
  for (const c of sig.comparisons) {
    const d = (x: number) => signed(x, 4)
    const w = c.wilcoxon ? `Wilcoxon p=${formatP(c.wilcoxon.pValue)} (Holm ${formatP(c.wilcoxon.pHolm ?? Number.NaN)}, ${c.wilcoxon.method})` : 'Wilcoxon –'
    const diff = c.identical ? 'identical on every user' : `Δ ${d(c.meanDiff)} [${d(c.ci95[0])}, ${d(c.ci95[1])}]`
    // within one run the model/variant names suffice
    const [run, name] = [c.row.slice(0, c.row.lastIndexOf(':')), c.row.slice(c.row.lastIndexOf(':') + 1)]
    const base = c.baseline.startsWith(`${run}:`) ? c.baseline.slice(run.length + 1) : c.baseline
    lines.push(`${item}${base === c.baseline ? c.row : name} vs ${base} ${c.metric}: ${diff}, t p=${formatP(c.tTest.pValue)} (Holm ${formatP(c.tTest.pHolm)})${c.significant ? ' *' : ''}, ${w}, n=${c.n}`)
  }
  return lines.join('\n')
}
