import {formatBytes, formatCount, formatMetric} from '../report/format.js'
import type {Column, Table} from '../report/table.js'

/** one strategy on one window: evaluated with the model from before the window, then updated */
export interface WindowRow {
  model: string
  strategy: string
  /** 0-based window index */
  window: number
  /** time of the window's first and last event (ISO 8601) */
  from: string
  to: string
  events: number
  /** events of users the model could not score (popularity fallback) */
  coldUsers: number
  /** events of items the model did not know */
  coldItems: number
  /** mean over the window's events: hr@K, ndcg@K, mrr@K */
  metrics: Record<string, number>
  /** the strategy updated the model after this window */
  updated: boolean
  /** wall seconds of the update (fold-in, training, variant re-compression and export); 0 without update */
  updateSeconds: number
  /** wall seconds of the window's evaluation */
  evalSeconds: number
  /** users and items the model knows after the window */
  users: number
  items: number
  /** bytes of the served form (ONNX) after the last window; only on the last window's row */
  modelBytes?: number
}

/** one strategy over the whole replay */
export interface StreamSummaryRow {
  model: string
  strategy: string
  windows: number
  events: number
  updates: number
  /** event-weighted means over the replay */
  metrics: Record<string, number>
  /** the same over the last 20% of windows (at least one) */
  last20: Record<string, number>
  /** update seconds per window (all windows, 0 when not updated): median, p95, mean; and their total */
  updateMedian: number
  updateP95: number
  updateMean: number
  updateTotal: number
  evalTotal: number
  coldUsers: number
  coldItems: number
  /** bytes of the served form at the end (absent while the replay is unfinished) */
  modelBytes?: number
}

/** nearest-rank quantile of a sorted array */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function weightedMeans(rows: WindowRow[], keys: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  const n = rows.reduce((a, r) => a + r.events, 0)
  for (const key of keys) out[key] = n > 0 ? rows.reduce((a, r) => a + r.metrics[key] * r.events, 0) / n : 0
  return out
}

/** per (model, strategy), in the order they first appear in `rows` */
export function streamSummary(rows: WindowRow[], keys: string[]): StreamSummaryRow[] {
  const groups = new Map<string, WindowRow[]>()
  for (const r of rows) {
    const g = `${r.model}\u0000${r.strategy}`
    groups.set(g, [...(groups.get(g) ?? []), r])
  }
  return [...groups.values()].map((g) => {
    const sorted = g.map((r) => r.updateSeconds).sort((a, b) => a - b)
    const total = sorted.reduce((a, b) => a + b, 0)
    const lastFrom = Math.min(g.length - 1, Math.floor(g.length * 0.8))
    const bytes = g.find((r) => r.modelBytes !== undefined)?.modelBytes
    return {
      model: g[0].model,
      strategy: g[0].strategy,
      windows: g.length,
      events: g.reduce((a, r) => a + r.events, 0),
      updates: g.filter((r) => r.updated).length,
      metrics: weightedMeans(g, keys),
      last20: weightedMeans(g.slice(lastFrom), keys),
      updateMedian: quantile(sorted, 0.5),
      updateP95: quantile(sorted, 0.95),
      updateMean: total / g.length,
      updateTotal: total,
      evalTotal: g.reduce((a, r) => a + r.evalSeconds, 0),
      coldUsers: g.reduce((a, r) => a + r.coldUsers, 0),
      coldItems: g.reduce((a, r) => a + r.coldItems, 0),
      ...(bytes !== undefined ? {modelBytes: bytes} : {}),
    }
  })
}

const CSV_COLUMNS = ['model', 'strategy', 'window', 'from', 'to', 'events', 'coldUsers', 'coldItems', 'updated', 'updateSeconds', 'evalSeconds', 'users', 'items'] as const

/** the per-window table as CSV: one line per (model, strategy, window), metrics as columns */
export function windowsCsv(rows: WindowRow[], keys: string[]): string {
  const lines = [[...CSV_COLUMNS, ...keys].join(',')]
  for (const r of rows) lines.push([...CSV_COLUMNS.map((c) => String(r[c])), ...keys.map((k) => String(r.metrics[k]))].join(','))
  return `${lines.join('\n')}\n`
}

/**
 * The summary as a report table (src/report/table.ts) for the terminal: one row per (model,
 * strategy) with mean HR / NDCG at the first K over the replay and over its last 20% of windows,
 * update seconds per window (median, p95), total update seconds, cold-start events, size at the end.
 */
export function summaryTable(summary: StreamSummaryRow[], k: number, notes: string[]): Table {
  const col = (key: string, title: string, kind: Column['kind'], align: Column['align'] = 'right'): Column => ({key, title, kind, align})
  const columns: Column[] = [
    col('model', 'model', 'key', 'left'),
    col('strategy', 'strategy', 'key', 'left'),
    col(`hr@${k}`, `HR@${k}`, 'metric'),
    col(`ndcg@${k}`, `NDCG@${k}`, 'metric'),
    col(`hr@${k}_last20`, `HR@${k} last 20%`, 'metric'),
    col(`ndcg@${k}_last20`, `NDCG@${k} last 20%`, 'metric'),
    col('update_median', 'update s p50', 'ms'),
    col('update_p95', 'update s p95', 'ms'),
    col('update_total', 'update s total', 'ms'),
    col('updates', 'updates', 'count'),
    col('cold_users', 'cold-user events', 'count'),
    col('cold_items', 'cold-item events', 'count'),
    col('size', 'size', 'bytes'),
  ]
  const values = summary.map((s) => [
    s.model,
    s.strategy,
    s.metrics[`hr@${k}`],
    s.metrics[`ndcg@${k}`],
    s.last20[`hr@${k}`],
    s.last20[`ndcg@${k}`],
    s.updateMedian,
    s.updateP95,
    s.updateTotal,
    s.updates,
    s.coldUsers,
    s.coldItems,
    s.modelBytes,
  ])
  const fmt = (c: Column, v: number | string | undefined): string =>
    typeof v === 'string' ? v : c.kind === 'metric' ? formatMetric(v) : c.kind === 'bytes' ? formatBytes(v) : c.kind === 'count' ? formatCount(v) : v === undefined ? '–' : v.toFixed(v >= 100 ? 0 : 2)
  return {
    columns,
    rows: values.map((r) => r.map((v, ci) => fmt(columns[ci], v))),
    raw: [],
    values,
    deltas: summary.map(() => null),
    baseline: null,
    keyColumns: 2,
    notes,
  }
}
