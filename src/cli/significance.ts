import {Flags} from '@oclif/core'

import {usageError} from '../errors.js'
import {markSignificance} from '../report/significance.js'
import type {ReportRow, Table} from '../report/table.js'
import {significanceOf, type RowSource, type Significance} from '../run/significance.js'
import {tableFor, type ReportFlags} from './report.js'

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
