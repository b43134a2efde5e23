import {Args} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags, outFlag} from '../src/cli/flags.js'
import {renderValidation} from '../src/cli/validation.js'
import {loadConfig} from '../src/config/load.js'
import {runExperiment, type RunResult} from '../src/run/pipeline.js'

export default class Train extends BaseCommand {
  static summary = 'Prepare the data and train every model of an experiment (no evaluation).'
  static description = `Creates a run directory with the split and the trained models (tfjs format: model.json +
weights.bin + idmap.json under models/<model>/base). Evaluate it later with \`rec eval <run-dir>\`.
Ctrl-C stops after the current batch and keeps the last completed checkpoint.`
  static examples = ['<%= config.bin %> train experiments/ml100k-bpr.yaml --set train.epochs=5']
  static args = {experiment: Args.string({description: 'experiment YAML file', required: true})}
  static flags = {...experimentFlags, ...outFlag}

  async run(): Promise<RunResult> {
    const {args, flags} = await this.parse(Train)
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    const result = await this.interruptibly((signal) => runExperiment(loaded, {progress: this.progress, outDir: flags.out, until: 'train', signal, command: ['train', ...this.argv]}))
    const validation = renderValidation(result)
    this.out(`run directory: ${result.runDir}${validation ? `\n${validation}` : ''}\nnext: rec eval ${result.runDir}`)
    return result
  }
}
