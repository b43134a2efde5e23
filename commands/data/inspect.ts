import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base.js'
import {experimentFlags} from '../../src/cli/flags.js'
import {loadConfig} from '../../src/config/load.js'
import {usageError} from '../../src/errors.js'
import {formatInspect, inspectDataset, type InspectResult} from '../../src/data/inspect.js'
import {dataConfigFromSpec, preprocessConfigFromOptions} from '../../src/data/spec.js'

export type DataInspectResult = InspectResult

export default class DataInspect extends BaseCommand {
  static summary = 'Read a dataset, preprocess it, and report its statistics.'
  static description = `Give an experiment file (its data and preprocess sections are used, --set applies), or a dataset
spec with --dataset:

  ml-100k:<path>     MovieLens 100K u.data (or the folder holding it)
  ml-1m:<path>       MovieLens 1M ratings.dat (or its folder)
  synth              the synthetic generator; synth:users=1000,items=500,interactions=5e4,seed=3
  <path>             a delimited file (--delimiter, --header, --columns, --encoding); a file named
                     u.data / ratings.dat is read as ml-100k / ml-1m

With --dataset, preprocessing comes from --dedupe, --threshold, --kcore-user, --kcore-item
(default: dedupe last, every row a positive, no k-core).`
  static examples = [
    '<%= config.bin %> data inspect experiments/ml100k-bpr.yaml',
    '<%= config.bin %> data inspect --dataset ml-100k:data/ml-100k --threshold 4',
    '<%= config.bin %> data inspect --dataset ratings.csv --header --columns userId,movieId,rating,timestamp --kcore-user 5',
    '<%= config.bin %> data inspect --dataset synth:users=2000,items=800,interactions=1e5 --json',
  ]
  static args = {experiment: Args.string({description: 'experiment YAML file'})}
  static flags = {
    ...experimentFlags,
    dataset: Flags.string({char: 'd', description: 'dataset spec instead of an experiment file (see description)'}),
    delimiter: Flags.string({description: 'delimited files: field delimiter ("\\t" or tab for a tab)', dependsOn: ['dataset']}),
    header: Flags.boolean({description: 'delimited files: the first line holds column names', dependsOn: ['dataset']}),
    columns: Flags.string({description: 'delimited files: user,item[,rating[,timestamp]] as names or 0-based indexes, or user=..,item=..', dependsOn: ['dataset']}),
    encoding: Flags.string({description: 'file encoding', options: ['utf-8', 'latin1'], dependsOn: ['dataset']}),
    'on-bad-row': Flags.string({description: 'malformed rows: stop (error) or count and skip', options: ['error', 'skip'], dependsOn: ['dataset']}),
    dedupe: Flags.string({description: 'duplicate (user, item) rows: keep last / first / none', options: ['last', 'first', 'none'], dependsOn: ['dataset']}),
    threshold: Flags.string({description: 'implicit conversion: only ratings >= this are positives', dependsOn: ['dataset']}),
    'kcore-user': Flags.integer({description: 'iterative k-core: minimum interactions per user', min: 0, dependsOn: ['dataset']}),
    'kcore-item': Flags.integer({description: 'iterative k-core: minimum interactions per item', min: 0, dependsOn: ['dataset']}),
  }

  async run(): Promise<DataInspectResult> {
    const {args, flags} = await this.parse(DataInspect)
    if ((args.experiment === undefined) === (flags.dataset === undefined)) {
      throw usageError('usage.inspect', 'give either an experiment file or --dataset <spec>', {hint: 'rec data inspect --help'})
    }
    let data
    let pre
    if (args.experiment !== undefined) {
      const {config} = await loadConfig(args.experiment, {set: flags.set})
      data = config.data
      pre = config.preprocess
    } else {
      if (flags.set.length > 0) throw usageError('usage.inspect', '--set applies to an experiment file; with --dataset use the preprocessing flags')
      let threshold: number | undefined
      if (flags.threshold !== undefined) {
        threshold = Number(flags.threshold)
        if (!Number.isFinite(threshold)) throw usageError('usage.number', `--threshold expects a number, got ${JSON.stringify(flags.threshold)}`)
      }
      data = dataConfigFromSpec(flags.dataset!, {
        delimiter: flags.delimiter,
        header: flags.header ? true : undefined,
        columns: flags.columns,
        encoding: flags.encoding as 'utf-8' | 'latin1' | undefined,
        onBadRow: flags['on-bad-row'] as 'error' | 'skip' | undefined,
      })
      pre = preprocessConfigFromOptions({
        dedupe: flags.dedupe as 'last' | 'first' | 'none' | undefined,
        threshold,
        kcoreUser: flags['kcore-user'],
        kcoreItem: flags['kcore-item'],
      })
    }
    const result = await inspectDataset(data, pre, {progress: this.progress})
    this.out(formatInspect(result, pre))
    return result
  }
}
