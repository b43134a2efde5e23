import {Flags} from '@oclif/core'

import {SAFE_NAME} from '../config/schema.js'
import {clip, usageError} from '../errors.js'
import {STAGES, type Stage} from '../run/pipeline.js'

/** stage cache, sharding and reference-check flags of `rec run` (and `rec train`) */
export const stageFlags = {
  force: Flags.boolean({description: 're-run every stage, ignoring finished ones'}),
  from: Flags.string({description: 're-run this stage and every later one', options: STAGES}),
  'run-id': Flags.string({description: "run directory name under <output.dir>/<experiment>/ (default: derived from what decides training); letters, digits, '.', '_' or '-', not starting with '.'"}),
}

export const shardFlag = {
  shard: Flags.string({description: 'run the i-th of n deterministic slices of the variant grid, e.g. 2/4 (CI matrix jobs)'}),
}

export const checkFlags = {
  check: Flags.string({description: 'compare the metrics with a reference JSON (an earlier --json output, or {variant: {metric: value}}); exit 4 when any moved beyond tolerance'}),
  tolerance: Flags.string({description: 'allowed |new − reference|: 0.002 (default), or per metric: ndcg@10=0.005,recall@10=0.01'}),
}

/**
 * Checks across the stage flags, before any work: a run id is one plain folder name (`../../x`
 * would put the run outside output.dir), and `--from` may not come after `--until` (nothing would
 * run, yet the command would report success). Usage errors, exit 2.
 */
export function checkRunFlags(flags: {'run-id'?: string; from?: string; until?: string}): void {
  const id = flags['run-id']
  if (id !== undefined && (!SAFE_NAME.test(id) || id.length > 100)) {
    throw usageError('usage.bad_run_id', `--run-id ${JSON.stringify(clip(id))} is not a plain folder name`, {
      hint: "use letters, digits, '.', '_' or '-', not starting with '.' (it names the run directory under <output.dir>/<experiment>/)",
    })
  }
  const from = STAGES.indexOf(flags.from as Stage)
  const until = STAGES.indexOf(flags.until as Stage)
  if (from >= 0 && until >= 0 && from > until) {
    throw usageError('usage.bad_stage_range', `--from ${flags.from} comes after --until ${flags.until}: nothing would run`, {
      hint: `stages run in the order ${STAGES.join(' → ')}`,
    })
  }
}
