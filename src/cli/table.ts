import CliTable from 'cli-table3'

import type {Table} from '../report/table.js'

/** display width of a cell (the longest of its lines; the formatter only emits narrow characters) */
const cellWidth = (s: string): number => s.split('\n').reduce((m, l) => Math.max(m, [...l].length), 0)

/** cli-table3 layout: every column is its content + 1 space of padding each side, plus one border between/around */
const PADDING = 2
const tableWidth = (widths: number[]): number => widths.reduce((a, b) => a + b, 0) + widths.length + 1

/** greedy word wrap of one line to `width` characters (words longer than width are cut) */
export function wrapText(line: string, width: number): string[] {
  const out: string[] = []
  let cur = ''
  for (const word of line.split(/\s+/).filter(Boolean)) {
    let w = word
    while (w.length > width) {
      if (cur) {
        out.push(cur)
        cur = ''
      }
      out.push(w.slice(0, width))
      w = w.slice(width)
    }
    if (!cur) cur = w
    else if (cur.length + 1 + w.length <= width) cur += ` ${w}`
    else {
      out.push(cur)
      cur = w
    }
  }
  if (cur) out.push(cur)
  return out.length > 0 ? out : ['']
}

/**
 * Render a report table for the terminal with cli-table3, never wider than `width` columns
 * (default 120).
 *
 * When all columns do not fit, the table is split into several tables stacked vertically: each
 * one repeats the key columns (run?, model, variant) on the left and takes as many of the
 * remaining columns, in order, as fit. When even the key columns plus a single column are too
 * wide, the widest columns of that table are narrowed and their cells wrapped onto more lines.
 * Stacked tables are separated by a blank line; rows have no rule between them (compact style).
 * The notes (protocol, baseline) follow, wrapped to the width. No colours (plain text, safe to
 * pipe).
 */
export function renderTable(table: Table, options: {width?: number} = {}): string {
  const width = Math.max(20, Math.floor(options.width ?? 120))
  const natural = table.columns.map((c, ci) => Math.max(cellWidth(c.title), ...table.rows.map((r) => cellWidth(r[ci]))) + PADDING)
  const keyIdx = table.columns.map((_, ci) => ci).slice(0, table.keyColumns)
  const restIdx = table.columns.map((_, ci) => ci).slice(table.keyColumns)

  const groups: number[][] = []
  if (tableWidth(natural) <= width || restIdx.length === 0) groups.push(table.columns.map((_, ci) => ci))
  else {
    let cur: number[] = []
    for (const ci of restIdx) {
      const next = [...keyIdx, ...cur, ci]
      if (cur.length > 0 && tableWidth(next.map((j) => natural[j])) > width) {
        groups.push([...keyIdx, ...cur])
        cur = []
      }
      cur.push(ci)
    }
    groups.push([...keyIdx, ...cur])
  }

  const parts = groups.map((idx) => renderGroup(table, idx, natural, width))
  const notes = table.notes.flatMap((n) => n.split('\n')).flatMap((l) => wrapText(l, width))
  return [parts.join('\n\n'), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n') + '\n'
}

function renderGroup(table: Table, idx: number[], natural: number[], width: number): string {
  const widths = idx.map((ci) => natural[ci])
  let wrap = false
  // too wide even on its own: narrow the widest column one character at a time
  while (tableWidth(widths) > width) {
    let w = 0
    for (let j = 1; j < widths.length; j++) if (widths[j] > widths[w]) w = j
    if (widths[w] <= PADDING + 1) break
    widths[w]--
    wrap = true
  }
  const t = new CliTable({
    head: idx.map((ci) => table.columns[ci].title),
    colAligns: idx.map((ci) => table.columns[ci].align),
    colWidths: widths,
    wordWrap: wrap,
    wrapOnWordBoundary: wrap,
    style: {head: [], border: [], 'padding-left': 1, 'padding-right': 1, compact: true},
  })
  for (const row of table.rows) t.push(idx.map((ci) => row[ci]))
  return t.toString()
}
