import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {formatFlags} from '../src/cli/flags.js'
import {applyCheck, renderRows, tableFor} from '../src/cli/report.js'
import {checkFlags} from '../src/cli/run-flags.js'
import {parseTolerance, readReference, type CheckResult} from '../src/run/check.js'
import {tableToJson, type JsonReport} from '../src/report/render.js'
import {loadRunRows} from '../src/run/compare.js'
import {writeParetoPlots} from '../src/run/report.js'

export default class Compare extends BaseCommand {
  static summary = 'Compare the model variants of one or more runs in one table.'
  static description = `One row per model variant (and per run when several are given): metrics, latency, size and
parameters, read from each run's results.json. --baseline adds absolute and % deltas against one row.
Several runs (e.g. CI shards) are merged only when their data, split and training agree.`
  static examples = [
    '<%= config.bin %> compare runs/quickstart',
    '<%= config.bin %> compare runs/a runs/b --format md --sort ndcg@10 --baseline mf/base',
    '<%= config.bin %> compare runs/quickstart --metrics ndcg@10,recall@10,p50,size --format csv',
    '<%= config.bin %> compare runs/exp/*-shard* --check reference.json --tolerance 0.002',
  ]
  static strict = false
  static args = {runs: Args.string({description: 'run directories (or runs/<experiment> for the newest run)', required: true})}
  static flags = {
    ...formatFlags,
    ...checkFlags,
    plot: Flags.string({description: 'also write plots as SVG files in each run directory: pareto = ndcg@10 against p50 and against size (<run>/plots/<model>-pareto-*.svg; rec report makes the whole page)', options: ['pareto']}),
  }

  async run(): Promise<JsonReport & {check?: CheckResult}> {
    const {argv, flags} = await this.parse(Compare)
    parseTolerance(flags.tolerance)
    if (flags.check) readReference(flags.check)
    const rows = loadRunRows(argv as string[])
    const table = tableFor(rows, flags)
    if (flags.plot === 'pareto') for (const f of await writeParetoPlots(argv as string[])) this.progress.info(`wrote ${f}`)
    this.out(renderRows(table, flags))
    return applyCheck(tableToJson(table), {rows}, flags, (t) => this.out(t))
  }
}
