import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags, outFlag} from '../src/cli/flags.js'
import {renderSearch} from '../src/cli/search.js'
import {loadConfig} from '../src/config/load.js'
import {usageError} from '../src/errors.js'
import {parseBound, parseBudget, type Budget} from '../src/search/budget.js'
import {runSearch, type SearchResult} from '../src/search/search.js'

export default class Search extends BaseCommand {
  static summary = 'Find the variant to ship: the best validation metric under a latency / size budget.'
  static description = `Trains the experiment's model (or reuses its training), then makes compression candidates in
order of expected gain (int8; structured-pruning and low-rank ramps; ramp steps then int8; a
distilled half-size student when nothing cheaper fits) with the compress stage's own code, and
measures each as served in ONNX Runtime: the metric on the validation part, p50 latency against
the base's in the same window, the ONNX file's size. It skips what cannot help (a stronger form of a
candidate that already lost too much or already fits; anything that cannot beat the best so far)
and stops when the space is exhausted. The chosen variant and the base are then evaluated on the
test part. The trajectory is printed and saved as <run dir>/search/<model>/search.json.`
  static examples = [
    '<%= config.bin %> search experiments/ml100k-neumf.yaml --budget p50=0.5x --max-drop 0.01',
    '<%= config.bin %> search experiments/ml100k-neumf.yaml --budget p50=0.1ms,size=400KiB --metric recall@10',
  ]
  static args = {experiment: Args.string({description: 'experiment YAML file', required: true})}
  static flags = {
    ...experimentFlags,
    ...outFlag,
    budget: Flags.string({description: 'p50=<0.1ms | 0.5x>,size=<400KiB | 0.5x> (x: relative to the base model); default search.budget'}),
    'max-drop': Flags.string({description: 'largest tolerable relative drop of the validation metric (0.01 = 1%); default search.max_drop'}),
    metric: Flags.string({description: 'validation metric to keep highest; default search.metric (ndcg@10)'}),
    model: Flags.string({description: 'model label to search for (when the experiment has several)'}),
    distill: Flags.boolean({description: 'try a distilled half-size student when nothing cheaper fits (--no-distill: never)', allowNo: true}),
    'run-id': Flags.string({description: 'run directory name under <output.dir>/<experiment>/ (default: derived from what decides training)'}),
  }

  async run(): Promise<SearchResult> {
    const {args, flags} = await this.parse(Search)
    const budgetFlag = flags.budget ? parseBudget(flags.budget) : undefined
    const maxDrop = flags['max-drop'] === undefined ? undefined : Number(flags['max-drop'])
    if (maxDrop !== undefined && !(maxDrop >= 0 && maxDrop <= 1)) throw usageError('search.bad_max_drop', `--max-drop ${flags['max-drop']} is not a fraction in [0, 1]`, {hint: '0.01 allows a 1% relative drop'})
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    const s = loaded.config.search
    const budget: Budget | undefined = budgetFlag ?? (s.budget && (s.budget.p50 !== undefined || s.budget.size !== undefined)
      ? {...(s.budget.p50 !== undefined ? {p50: parseBound('p50', s.budget.p50)} : {}), ...(s.budget.size !== undefined ? {size: parseBound('size', s.budget.size)} : {})}
      : undefined)
    if (!budget) throw usageError('search.no_budget', 'no budget: say what the variant must meet', {hint: '--budget p50=0.5x (half the base\'s p50) or --budget size=400KiB, or search.budget in the experiment'})
    const result = await this.interruptibly((signal) =>
      runSearch(loaded, {
        budget,
        maxDrop: maxDrop ?? s.max_drop,
        metric: flags.metric ?? s.metric,
        model: flags.model ?? s.model,
        distill: flags.distill ?? s.distill,
        progress: this.progress,
        signal,
        outDir: flags.out,
        runId: flags['run-id'],
        command: ['search', ...this.argv],
      }),
    )
    this.out(renderSearch(result))
    return result
  }
}
