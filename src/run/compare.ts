import {join} from 'node:path'

import type {ReportRow} from '../report/table.js'
import type {RunResult} from './pipeline.js'
import {readJson, resolveRunDir} from './rundir.js'
import {toReportRows} from './rows.js'

/** the rows of every run's results.json, in the order given */
export function loadRunRows(paths: string[]): ReportRow[] {
  const rows: ReportRow[] = []
  for (const p of paths) {
    const dir = resolveRunDir(p)
    const result = readJson<RunResult>(join(dir, 'results.json'))
    rows.push(...toReportRows({...result, runDir: dir}))
  }
  return rows
}
