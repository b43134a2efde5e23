import {Flags} from '@oclif/core'

import {usageError} from '../errors.js'
import {markSignificance} from '../report/significance.js'
import {seedsTable} from '../report/seeds.js'
import {runLabel} from '../run/rows.js'
import type {SeedsResult} from '../run/seeds.js'
import type {ReportRow, Table} from '../report/table.js'
import {significanceOf, type RowSource, type Significance} from '../run/significance.js'
import {renderRows, tableFor, type ReportFlags} from './report.js'

export const significanceFlags = {
  significance: Flags.boolean({description: 'test every delta against its baseline (paired t-test and Wilcoxon over test users, Holm-adjusted) and mark the significant ones; without --baseline each model against its base'}),
  alpha: Flags.string({description: 'significance level of the marks, with --significance (default 0.05)'}),
}

/** --alpha as a number in (0, 1), or a usage error; it means nothing without --significance */
export function parseAlpha(text: string | undefined, significance = true): number {
  if (!significance && text !== undefined) throw usageError('usage.alpha_alone', '--alpha sets the level of --significance, which was not given', {hint: 'add --significance'})
  const alpha = Number(text ?? '0.05')
  if (!Number.isFinite(alpha) || alpha <= 0 || alpha >= 1 || text?.trim() === '') {
    throw usageError('usage.bad_alpha', `--alpha ${text} is not a level between 0 and 1`, {hint: 'e.g. --alpha 0.05 or --alpha 0.01'})
  }
  return alpha
}

/**
 * The comparison table with its deltas tested: each row against --baseline (default: each model's
 * base), the cells marked, and the tests as data for --json.
 */
export function significanceTable(rows: ReportRow[], sources: Map<string, RowSource>, flags: ReportFlags & {alpha?: string}): {table: Table; significance: Significance} {
  const alpha = parseAlpha(flags.alpha)
  const table = tableFor(rows, {...flags, baseline: flags.baseline ?? 'base'})
  const significance = significanceOf(table, sources, alpha)
  return {table: markSignificance(table, significance), significance}
}

export const seedsFlag = {
  seeds: Flags.integer({description: 'run the experiment once per seed 1..N and report mean ± std over them (overrides the config\'s seeds:)', min: 2}),
}

/** what `rec run` prints for repeated seeds: where the runs are, and the mean ± std table */
export function renderSeedsReport(result: SeedsResult, flags: ReportFlags): string {
  const head = [`seeds ${result.seeds.join(', ')}: ${result.seedsDir}`, ...result.runs.map((r) => `  seed ${r.seed}: ${r.runDir}${r.cached.length > 0 ? ` (reused ${r.cached.length} finished stage(s))` : ''}`)]
  if (result.rows.length === 0) return `${head.join('\n')}\nno seed finished its evaluation${result.interrupted ? ' (interrupted)' : ''}.`
  const columns = flags.metrics ?? result.columns?.join(',')
  const table = seedsTable({...result, runLabel: runLabel(result.seedsDir)}, {metrics: columns ? columns.split(',').map((s) => s.trim()).filter(Boolean) : undefined, sort: flags.sort})
  return `${head.join('\n')}\n${renderRows(table, flags)}`
}
