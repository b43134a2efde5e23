import {basename, dirname} from 'node:path'

import type {ReportRow} from '../report/table.js'
import type {RunResult} from './pipeline.js'

/** a run's label in tables: `<experiment>/<run id>` */
export function runLabel(runDir: string): string {
  return `${basename(dirname(runDir))}/${basename(runDir)}`
}

/** result variants → report rows (plain data that every renderer consumes) */
export function toReportRows(result: Pick<RunResult, 'runDir' | 'variants' | 'protocol'>): ReportRow[] {
  return result.variants.map((v) => ({
    ...v,
    run: runLabel(result.runDir),
    model: v.model,
    variant: v.name,
    backend: v.backend,
    runtime: v.runtime,
    execution: v.execution,
    protocol: result.protocol,
  }))
}
