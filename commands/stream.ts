import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags, outFlag} from '../src/cli/flags.js'
import {renderTable} from '../src/cli/table.js'
import {loadConfig} from '../src/config/load.js'
import {usageError} from '../src/errors.js'
import {SAFE_NAME} from '../src/config/schema.js'
import {summaryTable} from '../src/stream/report.js'
import {streamExperiment, type StreamResult} from '../src/stream/replay.js'

export default class Stream extends BaseCommand {
  static summary = 'Prequential replay: evaluate each window of events with the model as it was, then update it.'
  static description = `Reads the experiment YAML (its stream section), trains each model on the events before
stream.start, then replays the later events in time order, window by window: every strategy (static,
incremental, retrain, sliding; optionally serving a compression variant) first ranks each event of
the window against all items with its current model (the user's earlier items excluded), then
updates its model with the window. Writes stream/windows.csv, windows.json and summary.json in the
run directory and prints one summary row per model and strategy. A killed replay continues at the
next window when the same command runs again, with the same numbers.
Progress (one line per window) goes to stderr; with --json only the result object is written to stdout.`
  static examples = ['<%= config.bin %> stream experiments/ml100k-stream.yaml', '<%= config.bin %> stream experiments/ml100k-stream.yaml --set stream.max_windows=3 --json']
  static args = {experiment: Args.string({description: 'experiment YAML file with a stream section', required: true})}
  static flags = {
    ...experimentFlags,
    ...outFlag,
    'run-id': Flags.string({description: 'run directory name under <output.dir>/<experiment>/ (default: the one rec run uses)'}),
    width: Flags.integer({description: 'maximum table width in columns', default: 120}),
  }

  async run(): Promise<StreamResult & {runDir: string}> {
    const {args, flags} = await this.parse(Stream)
    const id = flags['run-id']
    if (id !== undefined && !SAFE_NAME.test(id)) throw usageError('usage.bad_run_id', `--run-id ${JSON.stringify(id)} is not a plain folder name`, {hint: "use letters, digits, '.', '_' or '-', not starting with '.'"})
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    const result = await this.interruptibly((signal) => streamExperiment(loaded, {progress: this.progress, signal, outDir: flags.out, runId: id}))
    const k = Math.min(...loaded.config.stream!.eval.k)
    const e = result.events
    const notes = [
      `Prequential replay of ${e.replayed} events after ${e.cut} in ${e.windows} windows (initial model: ${e.initial} events; ${e.duplicates} repeated (user, item) events skipped). Each event is ranked against all items the model knows (the user's earlier items excluded) before the model learns the window; metrics are means over events. Update seconds per window include fold-in, training and variant re-compression.`,
      result.interrupted ? 'Interrupted: run the same command again to continue from the last finished window.' : `Per window: ${result.dir}/windows.csv (and windows.json, summary.json)`,
    ]
    this.out(renderTable(summaryTable(result.summary, k, notes), {width: flags.width}))
    return result
  }
}
