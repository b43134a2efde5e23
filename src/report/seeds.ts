import {describeProtocol, type Protocol} from '../eval/protocol.js'
import {formatMetric} from './format.js'
import {formatP} from './significance.js'
import {buildTable, rowKey, type ReportRow, type Table, type TableOptions} from './table.js'

/** what the seeds table needs of a repeated-seeds result (src/run/seeds.ts), as plain data */
export interface SeedsView {
  seeds: number[]
  shared: string[]
  perSeed: string[]
  alpha: number
  rows: {model: string; variant: string; backend: string; runtime: string; execution: string; metrics: Record<string, number>; stats: Record<string, {mean: number; std: number}>; p50Ms?: {mean: number}; sizeBytes?: number}[]
  comparisons: {model: string; variant: string; metric: string; tTest: {pHolm: number}; significant: boolean}[]
  protocol: unknown
  runLabel: string
}

/**
 * The comparison table of a repeated-seeds run: every metric cell reads `mean ± std` over the
 * seeds; a compression variant's cell adds ` *` when its seed-paired t-test against the base is
 * significant (Holm-adjusted), else ` p=…`. Columns, sorting and protocol notes are buildTable's.
 */
export function seedsTable(view: SeedsView, options: TableOptions = {}): Table {
  const rows: ReportRow[] = view.rows.map((r) => ({
    run: view.runLabel,
    model: r.model,
    variant: r.variant,
    backend: r.backend,
    runtime: r.runtime,
    execution: r.execution,
    metrics: r.metrics,
    ...(r.p50Ms ? {latency: {p50Ms: r.p50Ms.mean} as ReportRow['latency']} : {}),
    ...(r.sizeBytes === undefined ? {} : {sizeBytes: r.sizeBytes}),
    protocol: view.protocol,
  }))
  const table = buildTable(rows, options)
  const tests = new Map(view.comparisons.map((c) => [`${c.model}/${c.variant}\u0000${c.metric}`, c]))
  const cells = table.rows.map((cells, j) => {
    const row = view.rows.find((r) => rowKey(table.raw[j]) === `${view.runLabel}:${r.model}/${r.variant}`)
    return cells.map((cell, ci) => {
      const col = table.columns[ci]
      const s = col.kind === 'metric' ? row?.stats[col.key] : undefined
      if (!s) return cell
      const c = tests.get(`${row!.model}/${row!.variant}\u0000${col.key}`)
      const mark = c ? (c.significant ? ' *' : ` p=${formatP(c.tTest.pHolm)}`) : ''
      return `${formatMetric(s.mean)} ± ${formatMetric(s.std)}${mark}`
    })
  })
  // the protocol of every seed, with all the seeds (the rows carry the first seed's)
  const protocol = view.protocol as Protocol
  const notes = [
    ...table.notes.filter((n) => !n.startsWith('Deltas')).map((n) => (n.startsWith('Protocol: ') ? `Protocol: ${describeProtocol(protocol, {seeds: view.seeds})}` : n)),
    `Mean ± standard deviation (n − 1) over seeds ${view.seeds.join(', ')}; each seed re-draws ${view.perSeed.join(', ')}; computed once: ${view.shared.join(', ')}.`,
  ]
  if (view.comparisons.length > 0) {
    const df = view.seeds.length - 1
    notes.push(
      `Variants against their base: paired t-test over the ${view.seeds.length} seeds (df ${df}), Holm-adjusted across the table; * marks p <= ${view.alpha}, otherwise p= gives it. ` +
        `With so few seeds the test only sees differences large against the seed-to-seed spread; \`rec compare --significance\` on one seed's run tests over test users.`,
    )
  }
  return {...table, rows: cells, notes}
}
