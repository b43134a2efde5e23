import {Args} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags} from '../src/cli/flags.js'
import {shardFlag} from '../src/cli/run-flags.js'
import {continueRun, type RunResult} from '../src/run/pipeline.js'
import {resolveRunDir} from '../src/run/rundir.js'
import {parseShard} from '../src/run/shard.js'

export default class Compress extends BaseCommand {
  static summary = 'Make the compression variants of a trained run (quantize, prune, low-rank).'
  static description = `Reads compress.variants of the run's resolved config (change them with --set compress.variants=...),
makes each variant from every trained model (fine-tuning pruned / low-rank ones when
compress.finetune.epochs > 0), and writes it under models/<model>/<variant>/ in its stored form
(variant.json + variant.bin) with its ONNX file and compress.json (execution, params, FLOPs).
Variants already made with the same settings are kept. Then run \`rec eval\` on the run.`
  static examples = [
    '<%= config.bin %> compress runs/ml100k-bpr',
    `<%= config.bin %> compress runs/ml100k-bpr --set 'compress.variants=[{quantize: {dtype: int8}}]'`,
  ]
  static args = {run: Args.string({description: 'run directory (or runs/<experiment> for the newest)', required: true})}
  static flags = {...experimentFlags, ...shardFlag}

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Compress)
    const runDir = resolveRunDir(args.run)
    const shard = parseShard(flags.shard)
    const result = await this.interruptibly((signal) =>
      continueRun(runDir, {progress: this.progress, until: 'compress', set: flags.set, shard, signal, command: ['compress', ...this.argv]}),
    )
    this.out(`run directory: ${result.runDir}\nvariants: ${result.cached.filter((c) => c.startsWith('compress:')).length} kept from before; next: rec eval ${result.runDir}`)
    return result
  }
}
