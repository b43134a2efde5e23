import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base.js'
import {experimentFlags} from '../../src/cli/flags.js'
import {renderConfig} from '../../src/config/explain.js'
import {ignoredOptions} from '../../src/config/ignored.js'
import {configHash, loadConfig, type ValueSource} from '../../src/config/load.js'
import type {RecConfig} from '../../src/config/schema.js'

export interface ConfigShowResult {
  /** the experiment file, absolute */
  file: string
  /** every config file read, absolute, in merge order */
  files: string[]
  /** the resolved config (defaults filled in, paths absolute) */
  config: RecConfig
  /** leaf path → where its value came from (always present under --json) */
  sources: Record<string, ValueSource>
  /** sha256 of the canonical JSON of the config (the hash recorded in run manifests) */
  hash: string
  /** config path → why this configuration ignores that option (e.g. loss on neumf); the YAML marks them `# ignored: ...` */
  ignored: Record<string, string>
}

export default class ConfigShow extends BaseCommand {
  static summary = 'Print the resolved config of an experiment: defaults, extends and --set applied.'
  static description = `Loads the experiment file and everything it extends, applies --set overrides, validates, and
prints the result as YAML. Precedence, lowest to highest: built-in defaults < extended files (in order)
< the experiment file < --set. With --explain each value is annotated with its source: "# default",
"# configs/models/mf.yaml:3" (an extended file and line), "# experiment:12" or "# --set train.lr=0.01".
Options the configuration ignores (loss on neumf, split.ratios under leave_one_out, ...) are marked
"# ignored: <why>". With --json the result is {file, files, config, sources, hash, ignored}; sources
(leaf path → origin) and ignored (path → why) are always included, --explain only changes the YAML output.`
  static examples = [
    '<%= config.bin %> config show experiments/quickstart.yaml',
    '<%= config.bin %> config show experiments/quickstart.yaml --explain',
    '<%= config.bin %> config show experiments/quickstart.yaml --set train.epochs=5 --set eval.k=[5,10]',
    '<%= config.bin %> config show experiments/quickstart.yaml --json',
  ]
  static args = {experiment: Args.string({description: 'experiment YAML file', required: true})}
  static flags = {
    ...experimentFlags,
    explain: Flags.boolean({char: 'e', description: 'annotate each value with the file and line (or default, or --set) it came from'}),
  }

  async run(): Promise<ConfigShowResult> {
    const {args, flags} = await this.parse(ConfigShow)
    const loaded = await loadConfig(args.experiment, {set: flags.set})
    this.out(renderConfig(loaded, {explain: flags.explain}))
    return {file: loaded.file, files: loaded.files, config: loaded.config, sources: loaded.sources, hash: configHash(loaded.config), ignored: ignoredOptions(loaded.config)}
  }
}
