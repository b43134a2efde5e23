import {isNumeric, POINTWISE, SAMPLED, type Column, type Table} from './table.js'

/**
 * One self-contained HTML page (no script, no external file: the plots are inline SVG, the style
 * is inline CSS), so that it can be mailed, attached to a CI job or opened from disk.
 *
 * The table is rendered from the Table's formatted cells and notes, so whatever buildTable adds
 * to a cell or a note (deltas, significance marks, protocols) appears here as in the terminal;
 * numeric columns are right-aligned, the baseline rows are set apart, a failed gate is marked.
 */

export interface ReportPlot {
  title: string
  /** SVG markup (from renderSvg) */
  svg: string
  /** where the same SVG was written, relative to its run directory */
  file?: string
}

export interface ReportSection {
  heading: string
  plots: ReportPlot[]
}

export interface ReportDocument {
  title: string
  /** ISO time the page was made */
  generatedAt: string
  runs: {label: string; experiment: string; variants: number}[]
  table: Table
  sections: ReportSection[]
}

/** text → HTML text (also safe inside attribute values) */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#212121;line-height:1.4}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.meta{color:#616161;font-size:.9em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.8em;margin:12px 0}
th,td{padding:3px 6px;border-bottom:1px solid #eeeeee;white-space:nowrap}
th{background:#f5f5f5;text-align:left;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.baseline td{background:#f1f8e9;font-weight:600}
td.fail{color:#b71c1c}
ul.notes{font-size:.85em;color:#424242;padding-left:18px}
.plots{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0}figcaption{font-size:.8em;color:#757575}
`

/** a column's header: a grouped column (pointwise, sampled) carries its group's first word */
function header(c: Column): string {
  if (!c.group) return c.title
  return `${c.key.startsWith(SAMPLED) ? 'sampled' : POINTWISE} ${c.title}`
}

/** columns that say the same for every row of a report (where it ran): shown once above the table instead */
const COLLAPSIBLE = new Set(['backend', 'runtime'])

/**
 * The comparison table as an HTML table (the formatted cells of `table`). A backend or runtime
 * column with one value for every row is said once above the table instead of in every row.
 */
export function renderHtmlTable(table: Table): string {
  const same = table.columns.map((c, ci) => COLLAPSIBLE.has(c.key) && table.rows.length > 0 && table.rows.every((r) => r[ci] === table.rows[0][ci]))
  const shown = table.columns.map((_, ci) => ci).filter((ci) => !same[ci])
  const head = shown.map((ci) => table.columns[ci]).map((c) => `<th${isNumeric(c) ? ' class="num"' : ''}${c.group ? ` title="${escapeHtml(c.group)}"` : ''}>${escapeHtml(header(c))}</th>`).join('')
  const gateCol = table.columns.findIndex((c) => c.key === 'gate')
  const variantCol = table.columns.findIndex((c) => c.key === 'variant')
  const body = table.rows.map((cells) => {
    // buildTable marks every baseline row's variant cell (one per model with --baseline base)
    const cls = cells[variantCol]?.endsWith(' (baseline)') ? ' class="baseline"' : ''
    const tds = shown.map((ci) => {
      const cell = cells[ci]
      const classes = [isNumeric(table.columns[ci]) ? 'num' : '', ci === gateCol && /fail/i.test(cell) ? 'fail' : ''].filter(Boolean)
      return `<td${classes.length ? ` class="${classes.join(' ')}"` : ''}>${escapeHtml(cell)}</td>`
    })
    return `<tr${cls}>${tds.join('')}</tr>`
  })
  const where = table.columns.flatMap((c, ci) => (same[ci] ? [`${c.title} ${table.rows[0][ci]}`] : []))
  const caption = where.length > 0 ? `<p class="meta">every row: ${escapeHtml(where.join(', '))}</p>\n` : ''
  return `${caption}<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body.join('\n')}\n</tbody></table></div>`
}

/** the whole page */
export function renderReportHtml(doc: ReportDocument): string {
  const runs = doc.runs.map((r) => `<li>${escapeHtml(r.label)} (experiment ${escapeHtml(r.experiment)}, ${r.variants} rows)</li>`).join('')
  const notes = doc.table.notes.map((n) => `<li>${escapeHtml(n).replace(/\n/g, '<br>')}</li>`).join('')
  const sections = doc.sections
    .map((s) => {
      const figures = s.plots
        .map((p) => `<figure>${p.svg}<figcaption>${escapeHtml(p.title)}${p.file ? ` · also ${escapeHtml(p.file)}` : ''}</figcaption></figure>`)
        .join('\n')
      return `<h2>${escapeHtml(s.heading)}</h2>\n<div class="plots">\n${figures}\n</div>`
    })
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rec report">
<title>${escapeHtml(doc.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(doc.title)}</h1>
<p class="meta">made ${escapeHtml(doc.generatedAt)} by <code>rec report</code></p>
<ul class="meta">${runs}</ul>
<h2>Comparison</h2>
${renderHtmlTable(doc.table)}
<h2>Protocol and notes</h2>
<ul class="notes">${notes}</ul>
${sections}
</body>
</html>
`
}
