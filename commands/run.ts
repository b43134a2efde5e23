import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags, formatFlags, interruptible, outFlag} from '../src/cli/flags.js'
import {renderRunReport} from '../src/cli/report.js'
import {loadConfig} from '../src/config/load.js'
import {runExperiment, type RunResult} from '../src/run/pipeline.js'

export default class Run extends BaseCommand {
  static summary = 'Run an experiment: data → split → train → evaluate → compare, in a new run directory.'
  static description = `Reads the experiment YAML (with extends: and --set applied), prepares the data, trains every
model, evaluates each on the test split with the protocol printed below the table, measures latency,
and prints the comparison table. Everything is written to runs/<experiment>/<timestamp>/.
Progress goes to stderr; with --json only the result object is written to stdout.`
  static examples = [
    '<%= config.bin %> run experiments/quickstart.yaml',
    '<%= config.bin %> run experiments/ml100k-bpr.yaml --set train.epochs=5 --json',
    '<%= config.bin %> run experiments/quickstart.yaml --until data',
  ]
  static args = {experiment: Args.string({description: 'experiment YAML file', required: true})}
  static flags = {
    ...experimentFlags,
    ...outFlag,
    ...formatFlags,
    until: Flags.string({description: 'stop after this stage', options: ['data', 'train', 'eval']}),
  }

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Run)
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    const {signal, release} = interruptible(() => this.progress.warn('interrupt: stopping after the current batch (Ctrl-C again to quit now)'))
    try {
      const result = await runExperiment(loaded, {progress: this.progress, outDir: flags.out, until: flags.until as 'data' | 'train' | 'eval' | undefined, signal, command: ['run', ...this.argv]})
      this.out(renderRunReport(result, flags))
      return result
    } finally {
      release()
    }
  }
}
