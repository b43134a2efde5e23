import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {runCli} from '../helpers/cli.js'
import {tempDir, writeExperiment} from '../commands/fixtures.js'

/**
 * A tiny run to serve: 60 synthetic users × 80 items under leave-one-out, neumf (pair model,
 * probabilities) and sasrec (sequential: reads histories), each with an int8 variant. ~10 s.
 */
export const SERVE_YAML = [
  'name: tiny-serve',
  'seed: 42',
  'data: {format: synth, synth: {users: 60, items: 80, interactions: 1500, seed: 7}}',
  'split: {method: leave_one_out, order: latest}',
  'models:',
  '  - {model: neumf, factors: 8, mlp_layers: [16, 8]}',
  '  - {model: sasrec, hidden: 16, layers: 1, heads: 2, inner: 32, max_len: 10, train: {batch_size: 320}}',
  'train: {epochs: 2, batch_size: 256}',
  'eval: {latency: {requests: 5, warmup: 1, batch: 16}}',
  'compress:',
  '  finetune: {epochs: 1}',
  '  variants:',
  '    - {name: int8, quantize: {dtype: int8}}',
  '',
].join('\n')

/** make the tiny run with the built CLI; returns the temp folder and the run directory */
export async function makeServeRun(prefix: string): Promise<{tmp: string; runDir: string}> {
  const tmp = tempDir(prefix)
  const out = join(tmp, 'runs')
  const r = await runCli(['run', writeExperiment(tmp, 'serve.yaml', SERVE_YAML), '--out', out, '--quiet'])
  if (r.code !== 0) throw new Error(`rec run failed (${r.code}):\n${r.stdout}\n${r.stderr}`)
  const base = join(out, 'tiny-serve')
  return {tmp, runDir: join(base, readdirSync(base)[0])}
}
