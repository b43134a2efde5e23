import {isNumeric, POINTWISE, rowKey, SAMPLED, type Column, type Delta, type ReportRow, type Table} from './table.js'

/**
 * Renderers that turn a Table into text. The terminal renderer (cli-table3) lives in
 * src/cli/table.ts, the only place allowed to import cli-table3.
 */


function csvField(v: unknown): string {
  if (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v))) return ''
  const s = String(v)
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** a CSV header that cannot be misread: pointwise metrics read `pointwise_precision`, never a bare `precision` */
/** the first word of a grouped column's group: `sampled` (eval.also_sampled) or `pointwise` */
const groupWord = (c: Column): string => (c.key.startsWith(SAMPLED) ? 'sampled' : POINTWISE)
const csvName = (c: Column): string => (c.key.startsWith(SAMPLED) ? `sampled_${c.key.slice(SAMPLED.length)}` : c.group ? `${POINTWISE}_${c.key}` : c.key)

/** a Markdown title: no spanning headers there, so a grouped title carries the group's first word */
const mdTitle = (c: Column): string => (c.group ? `${groupWord(c)} ${c.title}` : c.title)

/**
 * CSV (RFC 4180, `\n` line ends) for machines: header = column keys (`pointwise_<key>` for the
 * pointwise group), cells = raw values (numbers at
 * full precision, sizes in bytes, latencies in ms; empty when missing). With a baseline, every
 * numeric column is followed by `<key>_delta` and `<key>_delta_rel` (relative change as a fraction;
 * empty for the baseline row). Notes are not included (CSV holds only the table).
 */
export function renderCsv(table: Table): string {
  const withDeltas = table.baseline !== null
  const header: string[] = []
  for (const c of table.columns) {
    header.push(csvName(c))
    if (withDeltas && isNumeric(c)) header.push(`${csvName(c)}_delta`, `${csvName(c)}_delta_rel`)
  }
  const lines = [header.map(csvField).join(',')]
  table.values.forEach((vals, j) => {
    const out: string[] = []
    table.columns.forEach((c, ci) => {
      out.push(csvField(vals[ci]))
      if (withDeltas && isNumeric(c)) {
        const d = table.deltas[j]?.[c.key]
        out.push(csvField(d?.abs), csvField(d?.rel))
      }
    })
    lines.push(out.join(','))
  })
  return lines.join('\n') + '\n'
}

function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

/** GitHub-flavoured Markdown: the formatted cells, numeric columns right-aligned, notes below (they explain the pointwise group) */
export function renderMarkdown(table: Table): string {
  const head = `| ${table.columns.map((c) => mdCell(mdTitle(c))).join(' | ')} |`
  const align = `|${table.columns.map((c) => (c.align === 'right' ? ' ---: ' : ' --- ')).join('|')}|`
  const body = table.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)
  const notes = table.notes.flatMap((n) => ['', ...n.split('\n')])
  return [head, align, ...body, ...notes].join('\n') + '\n'
}

export interface JsonReportRow extends ReportRow {
  /** "run:model/variant" */
  key: string
  baseline: boolean
  /** numeric columns vs the baseline row; null for the baseline itself or without a baseline */
  deltas: Record<string, Delta> | null
}

export interface JsonReport {
  columns: {key: string; title: string; kind: string; higherIsBetter?: boolean; group?: string}[]
  /** "run:model/variant" of the baseline row, or null */
  baseline: string | null
  rows: JsonReportRow[]
  notes: string[]
}

/** the table as a plain object: the input rows (display order) with their deltas as numbers */
export function tableToJson(table: Table): JsonReport {
  return {
    columns: table.columns.map((c) => ({key: c.key, title: c.title, kind: c.kind, ...(c.higherIsBetter === undefined ? {} : {higherIsBetter: c.higherIsBetter}), ...(c.group === undefined ? {} : {group: c.group})})),
    baseline: table.baseline === null ? null : rowKey(table.raw[table.baseline]),
    rows: table.raw.map((r, j) => ({...r, key: rowKey(r), baseline: j === table.baseline, deltas: table.deltas[j]})),
    notes: table.notes,
  }
}

/** `tableToJson` as pretty-printed JSON text (NaN and ±Infinity become null) */
export function renderJson(table: Table): string {
  return JSON.stringify(tableToJson(table), (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n'
}
