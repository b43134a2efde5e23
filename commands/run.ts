import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags, formatFlags, outFlag} from '../src/cli/flags.js'
import {applyCheck, renderRunReport} from '../src/cli/report.js'
import {checkFlags, checkRunFlags, shardFlag, stageFlags} from '../src/cli/run-flags.js'
import {loadConfig} from '../src/config/load.js'
import {renderValidation} from '../src/cli/validation.js'
import {parseWorkers, workersFlag} from '../src/cli/workers-flag.js'
import {parseTolerance, readReference, type CheckResult} from '../src/run/check.js'
import {runExperiment, type RunResult, type Stage} from '../src/run/pipeline.js'
import {parseShard} from '../src/run/shard.js'
import {renderSeedsReport, seedsFlag} from '../src/cli/significance.js'
import {runSeeds, seedList, type SeedsResult} from '../src/run/seeds.js'

export default class Run extends BaseCommand {
  static summary = 'Run an experiment: data → split → train → compress → evaluate → compare.'
  static description = `Reads the experiment YAML (with extends: and --set applied), prepares the data, trains every
model, makes the compression variants, evaluates each on the test split with the protocol printed
below the table, measures latency and size, and prints the comparison table.
Outputs go to <output.dir>/<experiment>/<run id>/; running the same experiment again reuses every
finished stage (--force re-runs all, --from <stage> re-runs that stage and the later ones), and a
run that was killed resumes from its last checkpoint.
Progress goes to stderr; with --json only the result object is written to stdout.`
  static examples = [
    '<%= config.bin %> run experiments/quickstart.yaml',
    '<%= config.bin %> run experiments/ml100k-bpr.yaml --set train.epochs=5 --json',
    '<%= config.bin %> run experiments/ml100k-bpr.yaml --check reference.json --tolerance ndcg@10=0.005',
    '<%= config.bin %> run experiments/ml100k-neumf-compress.yaml --shard 2/4',
    '<%= config.bin %> run experiments/ml100k-bpr.yaml --seeds 3',
  ]
  static args = {experiment: Args.string({description: 'experiment YAML file', required: true})}
  static flags = {
    ...experimentFlags,
    ...outFlag,
    ...stageFlags,
    ...shardFlag,
    ...checkFlags,
    ...formatFlags,
    ...seedsFlag,
    ...workersFlag,
    until: Flags.string({description: 'stop after this stage', options: ['data', 'train', 'compress', 'eval']}),
  }

  async run(): Promise<(RunResult | SeedsResult) & {check?: CheckResult}> {
    const {args, flags} = await this.parse(Run)
    checkRunFlags(flags) // --run-id is a plain folder name; --from not after --until
    const shard = parseShard(flags.shard)
    const workers = parseWorkers(flags.workers)
    // bad --tolerance or an unreadable reference fail before any work
    parseTolerance(flags.tolerance)
    if (flags.check) readReference(flags.check)
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    const seeds = seedList(loaded.config, flags.seeds)
    if (seeds) {
      const options = {progress: this.progress, outDir: flags.out, until: flags.until as Stage | undefined, from: flags.from as Stage | undefined, force: flags.force, command: ['run', ...this.argv], runId: flags['run-id'], shard}
      const result = await this.interruptibly((signal) => runSeeds(loaded, seeds, {...options, signal}))
      this.out(renderSeedsReport(result, flags))
      return applyCheck(result, result, flags, (t) => this.out(t))
    }
    const result = await this.interruptibly((signal) =>
      runExperiment(loaded, {
        progress: this.progress,
        outDir: flags.out,
        runId: flags['run-id'],
        until: flags.until as Stage | undefined,
        from: flags.from as Stage | undefined,
        force: flags.force,
        shard,
        signal,
        command: ['run', ...this.argv],
        workers,
      }),
    )
    this.out(renderRunReport(result, flags))
    const validation = renderValidation(result)
    if (validation) this.out(validation)
    return applyCheck(result, result, flags, (t) => this.out(t))
  }
}
