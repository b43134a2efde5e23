import type {RunResult} from '../run/pipeline.js'

/**
 * One line per model trained with early stopping: what validating cost against training (`rec
 * train`, `rec run`), or undefined when no model validated.
 */
export function renderValidation(result: Pick<RunResult, 'validation'>): string | undefined {
  const entries = Object.entries(result.validation ?? {})
  if (entries.length === 0) return undefined
  return entries
    .map(([label, v]) => {
      const users = v.users === undefined ? '' : v.usersTotal !== undefined && v.users < v.usersTotal ? `${v.users} of ${v.usersTotal} users, ` : `${v.users} users, `
      return `validation ${label}: ${v.checks} checks (${users}${v.validSeconds.toFixed(1)}s) against ${v.trainSeconds.toFixed(1)}s of training: ${(100 * v.share).toFixed(1)}% of the epoch loop`
    })
    .join('\n')
}
