import Table from 'cli-table3'

import {buildTable, type ReportRow, type Table as ReportTable} from '../report/table.js'
import {signedChange} from '../report/format.js'
import {renderCsv, renderJson, renderMarkdown} from '../report/render.js'
import {toReportRows} from '../run/rows.js'
import {checkAgainst, checkFailure, metricTable, parseTolerance, readReference, readReferenceSpreads, type CheckResult} from '../run/check.js'
import type {RunResult} from '../run/pipeline.js'
import {renderTable} from './table.js'

export interface ReportFlags {
  format?: string
  sort?: string
  metrics?: string
  baseline?: string
  width?: number
}

/** the comparison table the flags ask for (columns, sort, baseline) */
export function tableFor(rows: ReportRow[], flags: ReportFlags): ReportTable {
  return buildTable(rows, {
    metrics: flags.metrics ? flags.metrics.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    sort: flags.sort,
    baseline: flags.baseline,
  })
}

/** rows → the text of the chosen format (table, csv, md, json) */
export function renderRows(rows: ReportRow[] | ReportTable, flags: ReportFlags): string {
  const table = Array.isArray(rows) ? tableFor(rows, flags) : rows
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
  const cached = result.cached.length > 0 ? `\nreused ${result.cached.length} finished stage(s) of an earlier run (--force or --from <stage> to redo them)` : ''
  if (result.variants.length === 0) return `${head}${cached}\nstopped after ${result.stoppedAfter ?? 'training'}${result.interrupted ? ' (interrupted)' : ''}.`
  const columns = flags.metrics ?? result.columns?.join(',')
  return `${head}${cached}\n${renderRows(toReportRows(result), {...flags, metrics: columns})}`
}

/** the diff table of a reference check: every metric that moved, with what was allowed */
export function renderCheck(check: CheckResult, referenceFile: string): string {
  const head = check.ok
    ? `check against ${referenceFile}: ok (${check.compared} metrics, ${check.moved.length} moved within tolerance)`
    : `check against ${referenceFile}: FAILED (${check.failed.length} of ${check.compared} metrics beyond tolerance)`
  if (check.moved.length === 0) return head
  const t = new Table({head: ['variant', 'metric', 'reference', 'new', 'delta', 'allowed', ''], style: {head: [], border: []}})
  const num = (x: number | null) => (x === null ? 'missing' : String(Number(x.toPrecision(6))))
  for (const r of check.moved) {
    t.push([r.variant, r.metric, num(r.reference), num(r.actual), r.delta === null ? '-' : signedChange(r.delta), `±${r.allowed}`, r.ok ? 'ok' : 'FAIL'])
  }
  return `${head}\n${t.toString()}`
}

/**
 * `--check <reference> [--tolerance ...]` on a finished result: prints the diff; a failed check
 * throws (exit 4) carrying `{...output, check}` so that --json prints one document.
 */
export function applyCheck<T extends object>(output: T, table: Parameters<typeof metricTable>[0], flags: {check?: string; tolerance?: string}, print: (text: string) => void): T & {check?: CheckResult} {
  if (!flags.check) return output
  const check = checkAgainst(readReference(flags.check), metricTable(table, 'this run'), parseTolerance(flags.tolerance), readReferenceSpreads(flags.check))
  print(renderCheck(check, flags.check))
  if (!check.ok) throw checkFailure(check, flags.check, {...output, check})
  return {...output, check}
}
