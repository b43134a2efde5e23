import Table from 'cli-table3'

import {formatBytes, formatMetric, formatMs} from '../report/format.js'
import type {SearchResult} from '../search/search.js'

const ratio = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}×`)
const signedPct = (x: number | undefined) => (x === undefined ? '–' : `${x > 0 ? '−' : '+'}${(Math.abs(x) * 100).toFixed(2)}%`)

/** what `rec search` prints: the trajectory (every candidate, its cost and why it was kept or dropped), the verdict, the test rows */
export function renderSearch(r: SearchResult): string {
  const lines: string[] = []
  lines.push(`search for ${r.model} in ${r.runDir}: budget ${r.budget.text}, max drop ${(r.maxDrop * 100).toFixed(1)}% of validation ${r.metric}`)
  lines.push(`base: validation ${r.metric} ${formatMetric(r.base.valid)}, p50 ${formatMs(r.base.p50Ms)} ms, ${formatBytes(r.base.sizeBytes)}`)
  const t = new Table({
    head: ['#', 'candidate', 'cost s', 'valid', 'drop', 'p50 ms', 'p50/base', 'size', 'decision', 'why'],
    style: {head: [], border: [], compact: true},
    colWidths: [4, 26, 8, 9, 8, 8, 10, 10, 13, 52],
    wordWrap: true,
  })
  for (const x of r.trajectory) {
    const tried = x.decision !== 'skipped'
    t.push([
      String(x.step),
      x.name,
      tried ? x.seconds.total.toFixed(1) : '–',
      tried ? formatMetric(x.valid) : '–',
      tried ? signedPct(x.drop) : '–',
      tried ? formatMs(x.p50Ms) : '–',
      tried ? ratio(x.p50Ratio) : '–',
      tried ? formatBytes(x.sizeBytes) : '–',
      x.decision,
      x.reason,
    ])
  }
  lines.push(t.toString())
  lines.push(`valid: ${r.metric} on the validation part; drop: its change against the base; p50/base: against the base measured in the same window`)
  const s = r.seconds
  lines.push(`${r.tried} of ${r.space} candidates tried (${r.skipped} skipped) in ${s.search.toFixed(1)} s: making them ${s.makeTotal.toFixed(1)} s, validation ${s.validateTotal.toFixed(1)} s, latency ${s.latencyTotal.toFixed(1)} s`)
  lines.push(r.verdict === 'found' ? `chosen: ${r.message}` : `none: ${r.message}`)
  if (r.test) {
    // the searched metric first, then the usual top-K ones the run measured
    const keys = [...new Set([r.metric, 'recall@10', 'mrr@10', 'hr@10', 'precision@10'])].filter((k) => r.test!.base.metrics[k] !== undefined)
    const tt = new Table({head: ['test part', ...keys, 'p50 ms', 'size', 'execution'], style: {head: [], border: []}})
    for (const row of [r.test.base, r.test.chosen]) tt.push([row.variant, ...keys.map((k) => formatMetric(row.metrics[k])), formatMs(row.p50Ms), formatBytes(row.sizeBytes), row.execution])
    lines.push(tt.toString())
    lines.push(`(test metrics measured after the decision, which used the validation part only; files in ${r.searchDir})`)
  }
  return lines.join('\n')
}
