import {Flags} from '@oclif/core'

import {STAGES} from '../run/pipeline.js'

/** stage cache, sharding and reference-check flags of `rec run` (and `rec train`) */
export const stageFlags = {
  force: Flags.boolean({description: 're-run every stage, ignoring finished ones'}),
  from: Flags.string({description: 're-run this stage and every later one', options: STAGES}),
  'run-id': Flags.string({description: 'run directory name under <output.dir>/<experiment>/ (default: derived from what decides training)'}),
}

export const shardFlag = {
  shard: Flags.string({description: 'run the i-th of n deterministic slices of the variant grid, e.g. 2/4 (CI matrix jobs)'}),
}

export const checkFlags = {
  check: Flags.string({description: 'compare the metrics with a reference JSON (an earlier --json output, or {variant: {metric: value}}); exit 4 when any moved beyond tolerance'}),
  tolerance: Flags.string({description: 'allowed |new − reference|: 0.002 (default), or per metric: ndcg@10=0.005,recall@10=0.01'}),
}
