import {Args} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base.js'
import {experimentFlags} from '../../src/cli/flags.js'
import {displayPath, loadConfig} from '../../src/config/load.js'

export interface ConfigValidateResult {
  /** the experiment file, absolute */
  file: string
  valid: true
  /** every config file read, absolute, in merge order */
  files: string[]
}

export default class ConfigValidate extends BaseCommand {
  static summary = 'Check an experiment file (and everything it extends) without running anything.'
  static description = `Loads, merges and validates the config exactly as \`rec run\` would, and reports every problem at
once, each as file:line:col, the key and what is wrong (unknown keys get a "did you mean"). Also checks
what \`rec run\` would otherwise reject after work started: data.path exists, model and variant names
are unique, the test (and, for early stopping, validation) part is not empty, the gate metric is
computed, model shapes and memory, and every compression variant against every model. Exit code 0
when valid, 2 when not. With --json: {file, valid: true, files}, or
{error: {code, message, details, ...}} and exit code 2.`
  static examples = [
    '<%= config.bin %> config validate experiments/quickstart.yaml',
    '<%= config.bin %> config validate experiments/quickstart.yaml --set train.lr=0.01',
    '<%= config.bin %> config validate experiments/quickstart.yaml --json',
  ]
  static args = {experiment: Args.string({description: 'experiment YAML file', required: true})}
  static flags = {...experimentFlags}

  async run(): Promise<ConfigValidateResult> {
    const {args, flags} = await this.parse(ConfigValidate)
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    const n = loaded.files.length
    this.out(`ok: ${displayPath(loaded.file)} is valid (${n} ${n === 1 ? 'file' : 'files'})`)
    return {file: loaded.file, valid: true, files: loaded.files}
  }
}
