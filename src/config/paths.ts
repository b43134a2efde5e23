import {isAbsolute, relative, resolve} from 'node:path'

import {usageError} from '../errors.js'

/**
 * Throw unless `dir` is strictly inside `root` (not `root` itself, not beside or above it). A run
 * directory is deleted from and written to by stage; one that resolved to the output root or
 * outside it (a `..` in a name or `--run-id`) would mix runs or write where the user never asked.
 */
export function assertInside(root: string, dir: string): void {
  const rel = relative(resolve(root), resolve(dir))
  if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return
  throw usageError('run.dir_outside_output', `the run directory ${resolve(dir)} is not inside the output folder ${resolve(root)}`, {
    hint: "experiment names and --run-id are plain folder names: letters, digits, '.', '_' or '-', not starting with '.'",
  })
}
