import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {formatFlags} from '../src/cli/flags.js'
import {applyCheck, renderRows, tableFor} from '../src/cli/report.js'
import {checkFlags} from '../src/cli/run-flags.js'
import {parseTolerance, readReference, type CheckResult} from '../src/run/check.js'
import {tableToJson, type JsonReport} from '../src/report/render.js'
import {loadRuns} from '../src/run/compare.js'
import {writeParetoPlots} from '../src/run/report.js'
import {parseAlpha, significanceFlags, significanceTable} from '../src/cli/significance.js'
import {renderSignificance} from '../src/report/significance.js'
import type {Significance} from '../src/run/significance.js'

export default class Compare extends BaseCommand {
  static summary = 'Compare the model variants of one or more runs in one table.'
  static description = `One row per model variant (and per run when several are given): metrics, latency, size and
parameters, read from each run's results.json. --baseline adds absolute and % deltas against one row;
--significance tests each delta on the per-user values (paired t-test and Wilcoxon, Holm-adjusted)
and marks the significant ones with * (others show their adjusted p).
Several runs (e.g. CI shards) are merged only when their data, split and training agree.`
  static examples = [
    '<%= config.bin %> compare runs/quickstart',
    '<%= config.bin %> compare runs/a runs/b --format md --sort ndcg@10 --baseline mf/base',
    '<%= config.bin %> compare runs/quickstart --metrics ndcg@10,recall@10,p50,size --format csv',
    '<%= config.bin %> compare runs/exp/*-shard* --check reference.json --tolerance 0.002',
    '<%= config.bin %> compare runs/ml100k-neumf-compress --significance --alpha 0.05',
  ]
  static strict = false
  static args = {runs: Args.string({description: 'run directories (or runs/<experiment> for the newest run)', required: true})}
  static flags = {
    ...formatFlags,
    ...checkFlags,
    ...significanceFlags,
    plot: Flags.string({description: 'also write plots as SVG files in each run directory: pareto = ndcg@10 against p50 and against size (<run>/plots/<model>-pareto-*.svg; rec report makes the whole page)', options: ['pareto']}),
  }

  async run(): Promise<JsonReport & {check?: CheckResult; significance?: Significance}> {
    const {argv, flags} = await this.parse(Compare)
    parseTolerance(flags.tolerance)
    if (flags.check) readReference(flags.check)
    parseAlpha(flags.alpha, flags.significance ?? false)
    const {rows, sources} = loadRuns(argv as string[])
    const sig = flags.significance ? significanceTable(rows, sources, flags) : undefined
    const table = sig?.table ?? tableFor(rows, flags)
    if (flags.plot === 'pareto') for (const f of await writeParetoPlots(argv as string[])) this.progress.info(`wrote ${f}`)
    const json = {...tableToJson(table), ...(sig ? {significance: sig.significance} : {})}
    if (sig && flags.format === 'json') this.out(JSON.stringify(json, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2))
    else this.out(renderRows(table, flags))
    if (sig && (flags.format === 'table' || flags.format === 'md')) this.out(`\n${renderSignificance(sig.significance, {markdown: flags.format === 'md'})}`)
    return applyCheck(json, {rows}, flags, (t) => this.out(t))
  }
}
