import {Args} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags, formatFlags} from '../src/cli/flags.js'
import {renderRunReport} from '../src/cli/report.js'
import {parseWorkers, workersFlag} from '../src/cli/workers-flag.js'
import {continueRun, type RunResult} from '../src/run/pipeline.js'
import {resolveRunDir} from '../src/run/rundir.js'

export default class Eval extends BaseCommand {
  static summary = '(Re)measure every model variant of a run: test metrics, latency, size, FLOPs.'
  static description = `Evaluates the base model and each compression variant of the run with the protocol of its
resolved config (printed below the table), in the runtime of eval.runtime (onnx by default), and
writes eval.json, per-user values and result.json next to each model and results.json at the top.
Given runs/<experiment>, uses its newest run. --set may change eval.* (e.g. eval.k=[5,10]); the run\nkeeps the new settings (its config.resolved.yaml and results.json are rewritten).`
  static examples = ['<%= config.bin %> eval runs/quickstart', '<%= config.bin %> eval runs/quickstart/0123456789 --set eval.runtime=both --json', '<%= config.bin %> eval runs/ml100k-neumf-compress --workers 2']
  static args = {run: Args.string({description: 'run directory (or runs/<experiment> for the newest)', required: true})}
  static flags = {...experimentFlags, ...formatFlags, ...workersFlag}

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Eval)
    const workers = parseWorkers(flags.workers)
    // interruptible: on a run whose models are not trained yet, eval trains them first
    const result = await this.interruptibly((signal) =>
      continueRun(resolveRunDir(args.run), {progress: this.progress, from: 'eval', set: flags.set, signal, command: ['eval', ...this.argv], workers}),
    )
    this.out(renderRunReport(result, flags))
    return result
  }
}
