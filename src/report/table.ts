import {usageError} from '../errors.js'
import {describeProtocol, type Protocol} from '../eval/protocol.js'
import type {Latency} from '../eval/latency.js'
import {parseMetricName} from '../eval/metrics.js'
import {formatBytes, formatCount, formatDelta, formatMetric, formatMs, formatRate, shortNumber, signed} from './format.js'

/**
 * One model variant's numbers, as plain data: what every report is made of. `protocol` (an
 * eval Protocol) may ride along as an extra field; the table notes then describe it.
 */
export interface ReportRow {
  run: string
  model: string
  variant: string
  backend: string
  runtime?: string
  execution?: string
  metrics: Record<string, number>
  latency?: Latency
  sizeBytes?: number
  params?: number
  paramsNonZero?: number
  flopsPerPair?: number
  [extra: string]: unknown
}

export type ColumnKind = 'key' | 'text' | 'metric' | 'ms' | 'bytes' | 'count' | 'rate'

export interface Column {
  /** stable id: `model`, `ndcg@10`, `p50_ms`, `size`... (CSV header, JSON keys) */
  key: string
  /** header shown to humans: `p50 ms`, `size`... */
  title: string
  align: 'left' | 'right'
  kind: ColumnKind
  /** numeric columns: the better direction (sorting, reading deltas) */
  higherIsBetter?: boolean
  /**
   * a header over several columns, e.g. "pointwise @0.5 vs 1:1 sampled negatives" over accuracy,
   * precision, recall, f1: a bare "precision 0.75" next to NDCG@10 reads as precision@10
   */
  group?: string
}

export interface Delta {
  /** value − baseline */
  abs: number
  /** (value − baseline) / |baseline|; null when the baseline is 0 */
  rel: number | null
}

export interface Table {
  columns: Column[]
  /** formatted cells, row-major, in display order */
  rows: string[][]
  /** the input rows in display order */
  raw: ReportRow[]
  /** the unformatted value of every cell (numbers, strings, undefined when missing) */
  values: (number | string | undefined)[][]
  /** per row: deltas of every numeric column against the baseline; null for the baseline itself or without one */
  deltas: (Record<string, Delta> | null)[]
  /** index into `raw` of the baseline row, or null */
  baseline: number | null
  /** per row: index into `raw` of the row its deltas are against (its own group's baseline), or null */
  against?: (number | null)[]
  /** how many leading columns identify a row (run?, model, variant); repeated when a table is split */
  keyColumns: number
  /** lines to print under the table: protocols, baseline */
  notes: string[]
}

export interface TableOptions {
  /** columns after the key columns and backend: metric names (`ndcg@10`) or `p50_ms`, `size`, `params`... */
  metrics?: string[]
  /** a column to sort by; metrics sort best first (their higherIsBetter), text ascending */
  sort?: string
  /** the row deltas are computed against: "variant", "model/variant" or "run:model/variant" */
  baseline?: string
  /** force the direction of `sort` (true: largest first) */
  descending?: boolean
}

/** the fixed (non-metric) columns and how to read them off a row */
interface FieldColumn extends Column {
  get(row: ReportRow): number | string | undefined
}

const text = (key: string, title: string, get: (r: ReportRow) => string | undefined, kind: ColumnKind = 'text'): FieldColumn => ({
  key,
  title,
  align: 'left',
  kind,
  get,
})
const num = (key: string, title: string, kind: ColumnKind, higherIsBetter: boolean, get: (r: ReportRow) => number | undefined): FieldColumn => ({
  key,
  title,
  align: 'right',
  kind,
  higherIsBetter,
  get,
})

const FIELD_COLUMNS: Record<string, FieldColumn> = {
  // the protocol label (P1, P2...) is given by buildTable, which groups the rows per protocol
  protocol: text('protocol', 'protocol', () => undefined, 'key'),
  run: text('run', 'run', (r) => r.run, 'key'),
  model: text('model', 'model', (r) => r.model, 'key'),
  variant: text('variant', 'variant', (r) => r.variant, 'key'),
  backend: text('backend', 'backend', (r) => r.backend),
  runtime: text('runtime', 'runtime', (r) => r.runtime ?? r.latency?.runtime),
  execution: text('execution', 'execution', (r) => r.execution),
  p50_ms: num('p50_ms', 'p50 ms', 'ms', false, (r) => r.latency?.p50Ms),
  p95_ms: num('p95_ms', 'p95 ms', 'ms', false, (r) => r.latency?.p95Ms),
  p99_ms: num('p99_ms', 'p99 ms', 'ms', false, (r) => r.latency?.p99Ms),
  mean_ms: num('mean_ms', 'mean ms', 'ms', false, (r) => r.latency?.meanMs),
  throughput: num('throughput', 'users/s', 'rate', true, (r) => r.latency?.throughputUsersPerS),
  size: num('size', 'size', 'bytes', false, (r) => r.sizeBytes),
  params: num('params', 'params', 'count', false, (r) => r.params),
  params_nonzero: num('params_nonzero', 'non-zero', 'count', false, (r) => r.paramsNonZero),
  flops: num('flops', 'FLOPs/pair', 'count', false, (r) => r.flopsPerPair),
  gate: text('gate', 'gate', (r) => {
    const g = r.gate as {passed: boolean; relativeDrop: number; maxRelativeDrop?: number; significance?: {significant: boolean}} | undefined
    // compress.gate.significant: a drop beyond the bound that passed because it is not significant says so
    const ns = g?.significance && !g.significance.significant && g.maxRelativeDrop !== undefined && g.relativeDrop > g.maxRelativeDrop ? ' n.s.' : ''
    return g ? `${g.passed ? 'pass' : 'FAIL'} ${signed(-g.relativeDrop * 100, 1)}%${ns}` : undefined
  }),
}

/** other spellings accepted for the field columns (`p50`, `p50 ms`, `size_bytes`...) */
const FIELD_ALIASES: Record<string, string> = {
  p50: 'p50_ms',
  p95: 'p95_ms',
  p99: 'p99_ms',
  mean: 'mean_ms',
  latency: 'p50_ms',
  size_bytes: 'size',
  bytes: 'size',
  nonzero: 'params_nonzero',
  non_zero: 'params_nonzero',
  flops_per_pair: 'flops',
  users_per_s: 'throughput',
}

/**
 * default metric columns, shown when at least one row has them: the ranking metrics of the
 * protocol first (precision@10 among them), then the pointwise group
 */
export const DEFAULT_METRIC_COLUMNS = ['ndcg@10', 'precision@10', 'recall@10', 'hr@10', 'mrr@10', 'auc', 'accuracy', 'precision', 'recall', 'f1']

/** the first word of every pointwise group header (renderers without spanning headers prefix titles with it) */
export const POINTWISE = 'pointwise'

const isPointwise = (c: Column): boolean => c.kind === 'metric' && !c.key.startsWith(SAMPLED) && parseMetricName(c.key).info.kind === 'pointwise'

/**
 * The header of the pointwise columns: what they are measured against and at which threshold,
 * e.g. "pointwise @0.5 vs 1:1 sampled negatives" (each test positive and one sampled negative,
 * positive when probability >= 0.5). The threshold is that of the rows' protocols: one shared
 * number, "best-F1" when every row picked its own on validation, else "each run's threshold".
 */
export function pointwiseGroup(rows: ReportRow[]): string {
  const protocols = rows.map((r) => r.protocol).filter(isProtocol)
  const numbers = new Set(protocols.map((p) => p.threshold).filter((t): t is number => typeof t === 'number'))
  const at =
    protocols.length === 0
      ? ''
      : protocols.every((p) => p.thresholdSource === 'validation' || p.threshold === ('validation' as unknown))
        ? ' @best-F1 threshold'
        : numbers.size === 1 && protocols.every((p) => typeof p.threshold === 'number')
          ? ` @${shortNumber([...numbers][0])}`
          : " @each run's threshold"
  return `${POINTWISE}${at} vs 1:1 sampled negatives`
}

function metricColumn(key: string): Column {
  if (key.startsWith(SAMPLED)) return sampledColumn(key.slice(SAMPLED.length))
  const info = parseMetricName(key)
  return {key: info.key, title: info.key, align: 'right', kind: 'metric', higherIsBetter: info.info.higherIsBetter}
}

/** the key prefix of a metric of the secondary sampled protocol (eval.also_sampled): `sampled:ndcg@10` */
export const SAMPLED = 'sampled:'

/** the secondary protocol's metrics of a row (VariantResult.sampled), if any */
const sampledOf = (row: ReportRow) => row.sampled as {negatives: number; metrics: Record<string, number>} | undefined

/** a metric of the secondary sampled protocol: titled like the metric, under the group "sampled: 1 + N negatives" */
function sampledColumn(metric: string): Column {
  const info = parseMetricName(metric)
  return {key: `${SAMPLED}${info.key}`, title: info.key, align: 'right', kind: 'metric', higherIsBetter: info.info.higherIsBetter}
}

/** the group header of the sampled columns, e.g. "sampled 1+100" (1 positive + 100 negatives; the note says so) */
export function sampledGroup(rows: ReportRow[]): string {
  const n = [...new Set(rows.map((r) => sampledOf(r)?.negatives).filter((x) => x !== undefined))]
  return `sampled 1+${n.length === 1 ? n[0] : n.join('/')}`
}

/** a column by key, alias or metric name; throws a usage error for unknown names */
function resolveColumn(name: string): Column {
  const norm = name.trim().toLowerCase().replace(/[\s-]+/g, '_')
  const field = FIELD_COLUMNS[norm] ?? FIELD_COLUMNS[FIELD_ALIASES[norm] ?? '']
  if (field) return field
  try {
    return metricColumn(name)
  } catch (error) {
    throw usageError('report.unknown_column', `unknown column "${name}"`, {
      hint: `use a metric name (e.g. ndcg@10, auc, accuracy) or one of: ${Object.keys(FIELD_COLUMNS).join(', ')}`,
      cause: error,
    })
  }
}

function cellValue(col: Column, row: ReportRow): number | string | undefined {
  const field = FIELD_COLUMNS[col.key]
  if (field) return field.get(row)
  if (col.key.startsWith(SAMPLED)) return sampledOf(row)?.metrics[col.key.slice(SAMPLED.length)]
  return row.metrics[col.key]
}

/** a column of numbers (metrics, ms, bytes, counts, rates), which get deltas */
export const isNumeric = (c: Pick<Column, 'kind'>) => c.kind !== 'key' && c.kind !== 'text'

function formatValue(col: Column, v: number | string | undefined): string {
  if (v === undefined) return '–'
  if (typeof v === 'string') return v
  switch (col.kind) {
    case 'metric':
      return formatMetric(v)
    case 'ms':
      return formatMs(v)
    case 'bytes':
      return formatBytes(v)
    case 'count':
      return formatCount(v)
    case 'rate':
      return formatRate(v)
    default:
      return String(v)
  }
}

/** "run:model/variant", the unambiguous name of a row */
export function rowKey(row: ReportRow): string {
  return `${row.run}:${row.model}/${row.variant}`
}

/**
 * The rows a baseline spec names: "variant", "model/variant" or "run:model/variant" (the run part
 * matches the run exactly or its last path segment).
 */
export function matchBaseline(rows: ReportRow[], spec: string): number[] {
  const full = /^(.*):([^:/]+)\/([^:/]+)$/.exec(spec)
  const mv = /^([^:/]+)\/([^:/]+)$/.exec(spec)
  const runMatches = (run: string, want: string) => run === want || run.split(/[\\/]/).filter(Boolean).pop() === want
  const out: number[] = []
  rows.forEach((r, j) => {
    const ok = full
      ? runMatches(r.run, full[1]) && r.model === full[2] && r.variant === full[3]
      : mv
        ? r.model === mv[1] && r.variant === mv[2]
        : r.variant === spec
    if (ok) out.push(j)
  })
  return out
}

function defaultColumns(rows: ReportRow[]): Column[] {
  const cols: Column[] = []
  const any = (f: (r: ReportRow) => unknown) => rows.some((r) => f(r) !== undefined)
  if (any((r) => r.execution)) cols.push(FIELD_COLUMNS.execution)
  for (const m of DEFAULT_METRIC_COLUMNS) if (any((r) => r.metrics[m])) cols.push(metricColumn(m))
  // the secondary protocol's hit ratio and NDCG (eval.also_sampled), in their own group
  for (const m of ['hr@10', 'ndcg@10']) if (any((r) => sampledOf(r)?.metrics[m])) cols.push(sampledColumn(m))
  if (any((r) => r.latency)) cols.push(FIELD_COLUMNS.p50_ms, FIELD_COLUMNS.p95_ms)
  if (any((r) => r.sizeBytes)) cols.push(FIELD_COLUMNS.size)
  if (any((r) => r.params)) cols.push(FIELD_COLUMNS.params)
  if (rows.some((r) => r.paramsNonZero !== undefined && r.paramsNonZero !== r.params)) cols.push(FIELD_COLUMNS.params_nonzero)
  if (any((r) => r.gate)) cols.push(FIELD_COLUMNS.gate)
  return cols
}

const stripGet = (c: Column, group?: string): Column => ({
  key: c.key,
  title: c.title,
  align: c.align,
  kind: c.kind,
  ...(c.higherIsBetter === undefined ? {} : {higherIsBetter: c.higherIsBetter}),
  ...(group === undefined ? {} : {group}),
})

/**
 * Comparison rows → a table of formatted cells (plus the raw values and deltas for machine output).
 *
 * Columns: the key columns (`run` only when the rows come from more than one run, `model`,
 * `variant`), `backend`, then either `options.metrics` or the defaults — execution, ndcg@10,
 * precision@10, recall@10, hr@10, mrr@10, auc, then the pointwise accuracy, precision, recall, f1,
 * then p50 ms, p95 ms, size, params — each only when some row has it. Pointwise columns carry
 * `group` (pointwiseGroup), and a note says what it means.
 *
 * Sorting (`options.sort`): by any column; numeric columns best first by their higherIsBetter
 * (latency, size and params: lowest first), text ascending; `descending` forces the direction;
 * rows without the value go last; ties keep the input order.
 *
 * Protocols: rows whose protocols differ (another split, mode, negatives, K, threshold) cannot
 * share one ranking; a different seed alone is a different draw of the same protocol (the note
 * lists the seeds). Then a leading key column `protocol` labels each row P1, P2... (in
 * display order), rows are grouped per protocol (in order of first appearance; the sort applies
 * within each group), the notes print every protocol with its label, and deltas are only computed
 * against a baseline of the same protocol.
 *
 * Baseline (`options.baseline`): every other row's numeric cells get deltas in `deltas`; metric
 * cells show them as `0.2812 (−0.0040, −1.4%)`. The baseline's variant cell reads
 * `<variant> (baseline)`.
 */
export function buildTable(rows: ReportRow[], options: TableOptions = {}): Table {
  const runs = new Set(rows.map((r) => r.run))
  // the protocol as such, without its seed: runs that differ only in the seed rank together
  const protocolOf = rows.map((r) => (isProtocol(r.protocol) ? describeProtocol(r.protocol, {seeds: []}) : undefined))
  const protocols = [...new Set(protocolOf.filter((p): p is string => p !== undefined))]
  const several = protocols.length > 1
  const keyCols: Column[] = [...(several ? [FIELD_COLUMNS.protocol] : []), ...(runs.size > 1 ? [FIELD_COLUMNS.run] : []), FIELD_COLUMNS.model, FIELD_COLUMNS.variant]
  const rest: Column[] = options.metrics && options.metrics.length > 0 ? options.metrics.map(resolveColumn) : defaultColumns(rows)
  const columns: Column[] = []
  const seen = new Set<string>()
  // latency measured outside the tfjs backend (ONNX Runtime) is named in its own column
  const runtimeDiffers = rows.some((r) => r.runtime !== undefined && r.runtime !== r.backend)
  const group = pointwiseGroup(rows)
  const sampled = sampledGroup(rows)
  for (const c of [...keyCols, FIELD_COLUMNS.backend, ...(runtimeDiffers ? [FIELD_COLUMNS.runtime] : []), ...rest]) {
    if (seen.has(c.key)) continue
    seen.add(c.key)
    columns.push(stripGet(c, c.key.startsWith(SAMPLED) ? sampled : isPointwise(c) ? group : undefined))
  }

  let order = rows.map((_, j) => j)
  if (options.sort) {
    const col = resolveColumn(options.sort)
    const numeric = isNumeric(col)
    const desc = options.descending ?? (numeric ? col.higherIsBetter !== false : false)
    const vals = rows.map((r) => cellValue(col, r))
    const missing = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isNaN(v))
    order = [...order].sort((a, b) => {
      const va = vals[a]
      const vb = vals[b]
      if (missing(va) || missing(vb)) return missing(va) === missing(vb) ? a - b : missing(va) ? 1 : -1
      let c: number
      if (typeof va === 'number' && typeof vb === 'number') c = va - vb
      else c = String(va).localeCompare(String(vb))
      if (desc) c = -c
      return c || a - b
    })
  }
  if (several) {
    // rows of one protocol together (protocols in order of first appearance, the sort within each)
    const groupOrder = new Map<string | undefined, number>()
    order.forEach((j) => groupOrder.has(protocolOf[j]) || groupOrder.set(protocolOf[j], groupOrder.size))
    order = [...order].sort((a, b) => groupOrder.get(protocolOf[a])! - groupOrder.get(protocolOf[b])!) // stable
  }
  const raw = order.map((j) => rows[j])
  /** P1, P2... in display order: the protocol of each displayed row */
  const shown = [...new Set(order.map((j) => protocolOf[j]).filter((p): p is string => p !== undefined))]
  const labelOf = (p: string | undefined) => (p === undefined ? undefined : `P${shown.indexOf(p) + 1}`)
  const rowProtocol = order.map((j) => protocolOf[j])

  let baseline: number | null = null
  let baselineRows = new Set<number>()
  /** per row: the index of the row its deltas are against (its own group's baseline), or null */
  let against: (number | null)[] = raw.map(() => null)
  if (options.baseline !== undefined) {
    const hits = matchBaseline(raw, options.baseline)
    baselineRows = new Set(hits)
    if (hits.length === 0) {
      throw usageError('report.baseline_not_found', `no row matches the baseline "${options.baseline}"`, {
        hint: `rows: ${raw.map(rowKey).join(', ')} (give "variant", "model/variant" or "run:model/variant")`,
      })
    }
    const group = (r: ReportRow) => `${r.run}:${r.model}`
    const groups = new Set(hits.map((j) => group(raw[j])))
    if (hits.length > 1 && groups.size < hits.length) {
      throw usageError('report.baseline_ambiguous', `the baseline "${options.baseline}" matches ${hits.length} rows`, {
        hint: `be more specific: ${hits.map((j) => rowKey(raw[j])).join(', ')}`,
      })
    }
    baseline = hits[0]
    if (hits.length === 1) against = raw.map((_, j) => (j === baseline ? null : baseline))
    else {
      // one match per model (e.g. --baseline base): each row against its own model's baseline
      const byGroup = new Map(hits.map((j) => [group(raw[j]), j]))
      against = raw.map((r, j) => {
        const b = byGroup.get(group(r))
        return b === undefined || b === j ? null : b
      })
    }
  }
  const isBaseline = (j: number) => baselineRows.has(j)
  // a delta between numbers of different protocols means nothing
  against = against.map((b, j) => (b !== null && rowProtocol[b] !== rowProtocol[j] ? null : b))

  const values = raw.map((r, j) => columns.map((c) => (c.key === 'protocol' ? labelOf(rowProtocol[j]) : cellValue(c, r))))
  const deltas: (Record<string, Delta> | null)[] = raw.map((_, j) => {
    const bj = against[j]
    if (bj === null) return null
    const d: Record<string, Delta> = {}
    columns.forEach((c, ci) => {
      if (!isNumeric(c)) return
      const v = values[j][ci]
      const b = values[bj][ci]
      if (typeof v !== 'number' || typeof b !== 'number' || !Number.isFinite(v) || !Number.isFinite(b)) return
      const abs = v - b
      d[c.key] = {abs, rel: b === 0 ? (abs === 0 ? 0 : null) : abs / Math.abs(b)}
    })
    return d
  })

  const cells = raw.map((_, j) =>
    columns.map((c, ci) => {
      let s = formatValue(c, values[j][ci])
      if (c.key === 'variant' && isBaseline(j)) s += ' (baseline)'
      const d = deltas[j]?.[c.key]
      if (d && c.kind === 'metric') s += formatDelta(d.abs, d.rel)
      return s
    }),
  )

  const notes: string[] = []
  /** a protocol with the seeds of its rows */
  const withSeeds = (key: string): string => {
    const js = raw.map((_, j) => j).filter((j) => rowProtocol[j] === key)
    const seeds = [...new Set(js.map((j) => (raw[j].protocol as Protocol).seed).filter((x) => x !== undefined))]
    return describeProtocol(raw[js[0]].protocol as Protocol, {seeds})
  }
  if (shown.length === 1) notes.push(`Protocol: ${withSeeds(shown[0])}`)
  else if (shown.length > 1) {
    notes.push(`These rows were evaluated under ${shown.length} different protocols: their metrics are comparable only within one protocol (rows are grouped by protocol).`)
    shown.forEach((p, q) => notes.push(`P${q + 1}: ${withSeeds(p)}`))
  }
  if (columns.some((c) => c.group === group)) {
    notes.push(`Columns under "${group}" are pointwise (classification) metrics, not top-K: precision@K and recall@K are the ranking ones.`)
  }
  if (columns.some((c) => c.group === sampled)) {
    notes.push(`Columns under "${sampled}" rank each test item against N sampled items the user never interacted with (eval.also_sampled, drawn by the negatives sampler; the SASRec paper's protocol at 100); the other top-K columns rank it against all items.`)
  }
  if (baseline !== null) {
    const many = raw.filter((_, j) => isBaseline(j)).length > 1
    const within = several ? `, for rows of its protocol (${labelOf(rowProtocol[baseline])})` : ''
    notes.push(many ? `Deltas (absolute, relative) against each model's ${options.baseline} row${within}.` : `Deltas (absolute, relative) against ${rowKey(raw[baseline])}${within}.`)
  }

  return {columns, rows: cells, raw, values, deltas, baseline, against, keyColumns: keyCols.length, notes}
}

function isProtocol(x: unknown): x is Protocol {
  return typeof x === 'object' && x !== null && 'mode' in x && 'candidates' in x && 'negatives' in x && 'k' in x
}
