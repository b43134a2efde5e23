import {Args} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {formatFlags} from '../src/cli/flags.js'
import {renderRunReport} from '../src/cli/report.js'
import {evalRun, type RunResult} from '../src/run/pipeline.js'
import {resolveRunDir} from '../src/run/rundir.js'

export default class Eval extends BaseCommand {
  static summary = '(Re)measure every model variant of a run: test metrics, latency, size, FLOPs.'
  static description = `Evaluates each variant under models/<model>/<variant> of the run with the protocol of its
resolved config (printed below the table), writes eval.json and per-user values next to each model and
results.json at the top of the run. Given runs/<experiment>, uses its newest run.`
  static examples = ['<%= config.bin %> eval runs/quickstart', '<%= config.bin %> eval runs/quickstart/2026-11-24T10-00-00Z --json']
  static args = {run: Args.string({description: 'run directory (or runs/<experiment> for the newest)', required: true})}
  static flags = {...formatFlags}

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Eval)
    const result = await evalRun(resolveRunDir(args.run), {progress: this.progress})
    this.out(renderRunReport(result, flags))
    return result
  }
}
