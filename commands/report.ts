import {resolve} from 'node:path'

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {writeFileAtomic, writeFailed} from '../src/run/atomic.js'
import {tableToJson, type JsonReport} from '../src/report/render.js'
import {buildReport, writePlots} from '../src/run/report.js'

export interface ReportOutput {
  /** the HTML file written */
  html: string
  bytes: number
  runs: string[]
  /** every plot, with the SVG file it was also written to (null when the run directory was not writable) */
  plots: {run: string; model: string; kind: string; title: string; file: string | null}[]
  table: JsonReport
}

export default class Report extends BaseCommand {
  static summary = 'Write one self-contained HTML report of one or more runs: table, protocol and plots.'
  static description = `The comparison table (every variant against its model's base), the protocol, and per model the
Pareto front of a metric (default ndcg@10) against p50 latency and against size, with the gate's
bound shaded, and the training curves (loss and validation metric per epoch). The plots are
Vega-Lite specs rendered to SVG in Node and inlined: the page needs no network and no script.
Each plot is also written as <run dir>/plots/<model>-<kind>.svg.`
  static examples = [
    '<%= config.bin %> report runs/ml100k-neumf-compress',
    '<%= config.bin %> report runs/a runs/b --out comparison.html --metric recall@10',
  ]
  static strict = false
  static args = {runs: Args.string({description: 'run directories (or runs/<experiment> for the newest run)', required: true})}
  static flags = {
    out: Flags.string({char: 'o', description: 'HTML file to write', default: 'report.html'}),
    metric: Flags.string({description: 'metric on the y axis of the Pareto plots (higher is better)', default: 'ndcg@10'}),
    columns: Flags.string({description: 'comma-separated table columns (as rec compare --metrics), e.g. ndcg@10,recall@10,p50,size'}),
    svg: Flags.boolean({description: 'also write each plot as an .svg file in its run directory', default: true, allowNo: true}),
  }

  async run(): Promise<ReportOutput> {
    const {argv, flags} = await this.parse(Report)
    this.progress.stage('report')
    const report = await buildReport(argv as string[], {metric: flags.metric, ...(flags.columns ? {columns: flags.columns.split(',').map((c) => c.trim()).filter(Boolean)} : {})})
    const out = resolve(flags.out)
    try {
      writeFileAtomic(out, report.html)
    } catch (err) {
      throw writeFailed(out, err)
    }
    const written = new Set<string>()
    if (flags.svg) {
      for (const m of report.plots) {
        try {
          for (const f of writePlots([m])) written.add(f)
        } catch (err) {
          this.progress.warn(`could not write the SVG files of ${m.run}/${m.model} into its run directory (${(err as Error).message}); the HTML has them`)
        }
      }
    }
    const plots = report.plots.flatMap((m) =>
      m.plots.map((p) => {
        const file = resolve(m.runDir, 'plots', `${m.model}-${p.kind}.svg`)
        return {run: m.run, model: m.model, kind: p.kind, title: p.title, file: written.has(file) ? file : null}
      }),
    )
    this.progress.done(`${out} (${plots.length} plots)`)
    this.out(`wrote ${out} (${(Buffer.byteLength(report.html) / 1024).toFixed(0)} KiB, ${plots.length} plots)${written.size > 0 ? `\nSVG files: ${[...written].join(', ')}` : ''}`)
    return {html: out, bytes: Buffer.byteLength(report.html), runs: report.runs, plots, table: tableToJson(report.table)}
  }
}
