import {buildTable, type ReportRow} from '../report/table.js'
import {renderCsv, renderJson, renderMarkdown} from '../report/render.js'
import {toReportRows} from '../run/rows.js'
import type {RunResult} from '../run/pipeline.js'
import {renderTable} from './table.js'

export interface ReportFlags {
  format?: string
  sort?: string
  metrics?: string
  baseline?: string
  width?: number
}

/** rows → the text of the chosen format (table, csv, md, json) */
export function renderRows(rows: ReportRow[], flags: ReportFlags): string {
  const table = buildTable(rows, {
    metrics: flags.metrics ? flags.metrics.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    sort: flags.sort,
    baseline: flags.baseline,
  })
  switch (flags.format ?? 'table') {
    case 'csv':
      return renderCsv(table)
    case 'md':
      return renderMarkdown(table)
    case 'json':
      return renderJson(table)
    default:
      return renderTable(table, {width: flags.width ?? 120})
  }
}

/** what `rec run` / `rec eval` print: where the run is, and the comparison table with its protocol */
export function renderRunReport(result: RunResult, flags: ReportFlags): string {
  const head = `run directory: ${result.runDir}`
  if (result.stoppedAfter === 'data') return `${head}\nstopped after the data stage (split written to data/split); no models were trained.`
  if (result.variants.length === 0) return `${head}\nstopped after ${result.stoppedAfter ?? 'training'}${result.interrupted ? ' (interrupted)' : ''}.`
  return `${head}\n${renderRows(toReportRows(result), flags)}`
}
