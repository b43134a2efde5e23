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
  widenForGroups(table, natural)
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

/**
 * A group header that is wider than the columns it spans widens the last of them (in place), so
 * that it reads on one line when the table is not stacked.
 */
function widenForGroups(table: Table, natural: number[]): void {
  for (const s of groupSpans(table, table.columns.map((_, ci) => ci))) {
    if (s.label === undefined) continue
    // cli-table3 wraps a spanning cell at the sum of its column widths, not counting the borders between them
    const spanned = natural.slice(s.from, s.from + s.length).reduce((a, b) => a + b, 0)
    const need = cellWidth(s.label) + PADDING
    if (need > spanned) natural[s.from + s.length - 1] += need - spanned
  }
}

/** runs of consecutive columns (positions in `idx`) that share a group header */
function groupSpans(table: Table, idx: number[]): {from: number; length: number; label?: string}[] {
  const spans: {from: number; length: number; label?: string}[] = []
  idx.forEach((ci, j) => {
    const label = table.columns[ci].group
    const last = spans[spans.length - 1]
    if (last && label !== undefined && last.label === label) last.length++
    else spans.push({from: j, length: 1, label})
  })
  return spans
}

/**
 * The rule between two rendered row lines: a junction where either has a column border (┼ both,
 * ┴ only above, ┬ only below), a horizontal line elsewhere ("│ a   │" over "│ a │ b │" →
 * "├───┬───┤").
 */
function ruleBetween(above: string, below: string): string {
  const a = [...above]
  const b = [...below]
  return a
    .map((ch, j) => {
      if (j === 0) return '├'
      if (j === a.length - 1) return '┤'
      const up = ch === '│'
      const down = b[j] === '│'
      return up && down ? '┼' : up ? '┴' : down ? '┬' : '─'
    })
    .join('')
}

/** lines of one row rendered alone with these widths (a wrapped cell makes a row taller) */
type GroupCell = string | {content: string; colSpan: number; hAlign: 'center'}

function rowHeight(cells: GroupCell[], widths: number[], style: Record<string, unknown>): number {
  const t = new CliTable({colWidths: widths, wordWrap: true, wrapOnWordBoundary: true, style})
  t.push(cells)
  return t.toString().split('\n').length - 2
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
  const style = {head: [], border: [], 'padding-left': 1, 'padding-right': 1, compact: true}
  const titles = idx.map((ci) => table.columns[ci].title)
  const spans = groupSpans(table, idx)
  if (spans.every((s) => s.label === undefined)) {
    const t = new CliTable({head: titles, colAligns: idx.map((ci) => table.columns[ci].align), colWidths: widths, wordWrap: wrap, wrapOnWordBoundary: wrap, style})
    for (const row of table.rows) t.push(idx.map((ci) => row[ci]))
    return t.toString()
  }
  // two header rows: the group headers (spanning their columns, wrapped when longer), then the
  // titles; each ruled off from what follows, as a one-row header is
  const groupRow: GroupCell[] = spans.flatMap((s): GroupCell[] => (s.label === undefined ? Array.from({length: s.length}, () => '') : [{content: s.label, colSpan: s.length, hAlign: 'center'}]))
  const t = new CliTable({colAligns: idx.map((ci) => table.columns[ci].align), colWidths: widths, wordWrap: true, wrapOnWordBoundary: true, style})
  t.push(groupRow, titles)
  for (const row of table.rows) t.push(idx.map((ci) => row[ci]))
  const lines = t.toString().split('\n')
  const g = rowHeight(groupRow, widths, style) // lines 1..g: the group row
  const h = g + rowHeight(titles, widths, style) // lines g+1..h: the titles
  const out = [...lines.slice(0, g + 1), ruleBetween(lines[g], lines[g + 1]), ...lines.slice(g + 1, h + 1)]
  if (table.rows.length > 0) out.push(ruleBetween(lines[h], lines[h + 1]))
  return [...out, ...lines.slice(h + 1)].join('\n')
}
