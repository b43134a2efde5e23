import {existsSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {parseMetricName} from '../eval/metrics.js'
import {usageError} from '../errors.js'
import {renderReportHtml, type ReportSection} from '../report/html.js'
import {gateLabel, paretoSpec, renderSvg, trainingSpec, type EpochPoint, type ParetoAxis, type VegaLiteSpec} from '../report/plots.js'
import {buildTable, type Table} from '../report/table.js'
import {writeFileAtomic} from './atomic.js'
import {loadRunResults} from './compare.js'
import type {RunResult, VariantResult} from './pipeline.js'
import {readRunFile} from './rundir.js'
import {runLabel, toReportRows} from './rows.js'

/** the plots rec draws; each is also written as `<runDir>/plots/<model>-<kind>.svg` */
export type PlotKind = 'pareto-p50' | 'pareto-size' | 'training'
export const PLOTS_DIR = 'plots'

export interface Plot {
  kind: PlotKind
  title: string
  spec: VegaLiteSpec
  svg: string
}

/** the plots of one model of one run */
export interface ModelPlots {
  run: string
  runDir: string
  model: string
  plots: Plot[]
}

interface TrainRecord {
  bestEpoch?: number
  history: {epoch: number; loss: number; valid?: number}[]
  train?: {early_stopping?: {metric?: string} | null}
}

/** the gate's bound on `metric` for one model (base · (1 − max drop)), when the run had a gate on that metric */
function gateBound(variants: VariantResult[], metric: string): {bound: number; label: string} | undefined {
  const base = variants.find((v) => v.name === 'base')
  const gate = variants.find((v) => v.gate)?.gate
  if (!base || !gate || gate.metric !== metric || base.metrics[metric] === undefined) return undefined
  const b = base.metrics[metric]
  const bound = b - gate.maxRelativeDrop * Math.abs(b)
  return {bound, label: gateLabel(metric, bound, gate.maxRelativeDrop)}
}

/**
 * The training curves of a model from its train.json (loss per epoch; the early-stopping metric per
 * epoch when it validated), or undefined when the run has no training record for it.
 */
export function trainingCurve(runDir: string, model: string): {history: EpochPoint[]; validMetric?: string; bestEpoch?: number} | undefined {
  const file = join(runDir, 'models', model, 'train.json')
  if (!existsSync(file)) return undefined
  const t = readRunFile<TrainRecord>(file, 'training record')
  if (t.history.length === 0) return undefined
  const validMetric = t.train?.early_stopping?.metric
  // training keeps the validation value with a higher-is-better sign (−value for lower-is-better metrics)
  const sign = validMetric && !parseMetricName(validMetric).info.higherIsBetter ? -1 : 1
  return {
    history: t.history.map((h) => ({epoch: h.epoch, loss: h.loss, ...(h.valid === undefined ? {} : {valid: sign * h.valid})})),
    ...(validMetric ? {validMetric} : {}),
    ...(t.bestEpoch ? {bestEpoch: t.bestEpoch} : {}),
  }
}

/** the Pareto plots (metric vs p50, vs size) of every model of a run, and its training curves */
export async function runPlots(result: RunResult, options: {metric: string; kinds?: PlotKind[]}): Promise<ModelPlots[]> {
  const kinds = new Set<PlotKind>(options.kinds ?? ['pareto-p50', 'pareto-size', 'training'])
  const {metric} = options
  if (!parseMetricName(metric).info.higherIsBetter) throw usageError('report.bad_metric', `${metric} is lower-is-better: a Pareto plot needs a metric where higher is better`, {hint: 'e.g. ndcg@10, recall@10, mrr@10'})
  const models = [...new Set(result.variants.map((v) => v.model))]
  const out: ModelPlots[] = []
  for (const model of models) {
    const variants = result.variants.filter((v) => v.model === model)
    const points = variants.filter((v) => v.metrics[metric] !== undefined).map((v) => ({variant: v.name, metric: v.metrics[metric], p50Ms: v.latency?.p50Ms, sizeBytes: v.sizeBytes, execution: v.execution}))
    const plots: Plot[] = []
    const gate = gateBound(variants, metric)
    for (const axis of ['p50', 'size'] as ParetoAxis[]) {
      const kind: PlotKind = axis === 'p50' ? 'pareto-p50' : 'pareto-size'
      if (!kinds.has(kind) || points.length === 0) continue
      const title = `${model}: ${metric} vs ${axis === 'p50' ? 'p50 latency' : 'size'}`
      const spec = paretoSpec(points, {axis, metric, title, ...(gate ? {gate} : {})})
      plots.push({kind, title, spec, svg: await renderSvg(spec)})
    }
    const curve = kinds.has('training') ? trainingCurve(result.runDir, model) : undefined
    if (curve) {
      const title = `${model}: training`
      const spec = trainingSpec(curve.history, {title, ...(curve.validMetric ? {validMetric: curve.validMetric} : {}), ...(curve.bestEpoch ? {bestEpoch: curve.bestEpoch} : {})})
      plots.push({kind: 'training', title, spec, svg: await renderSvg(spec)})
    }
    out.push({run: runLabel(result.runDir), runDir: result.runDir, model, plots})
  }
  return out
}

/** write every plot as `<runDir>/plots/<model>-<kind>.svg`; returns the files written */
export function writePlots(models: ModelPlots[]): string[] {
  const files: string[] = []
  for (const m of models) {
    const dir = join(m.runDir, PLOTS_DIR)
    mkdirSync(dir, {recursive: true})
    for (const p of m.plots) {
      const file = join(dir, `${m.model}-${p.kind}.svg`)
      writeFileAtomic(file, p.svg)
      files.push(file)
    }
  }
  return files
}

/** the table columns of a report page (narrower than compare's defaults: the plots carry the rest) */
export const REPORT_COLUMNS = ['execution', 'ndcg@10', 'recall@10', 'p50_ms', 'p95_ms', 'size', 'params_nonzero', 'gate']

export interface ReportResult {
  /** the runs the report covers (their directories) */
  runs: string[]
  /** the comparison table, each model's variants against its base */
  table: Table
  plots: ModelPlots[]
  html: string
}

/**
 * `rec report`: the comparison table (every variant against its model's base), the protocol, and
 * per model the Pareto plots and training curves, as one self-contained HTML page.
 */
export async function buildReport(paths: string[], options: {metric?: string; columns?: string[]; title?: string; now?: Date} = {}): Promise<ReportResult> {
  const metric = options.metric ?? 'ndcg@10'
  const results = loadRunResults(paths)
  const rows = results.flatMap((r) => toReportRows(r))
  const hasBase = rows.some((r) => r.variant === 'base')
  const columns = options.columns ?? (REPORT_COLUMNS.includes(metric) ? REPORT_COLUMNS : [...REPORT_COLUMNS.slice(0, 2), metric, ...REPORT_COLUMNS.slice(2)])
  const table = buildTable(rows, {metrics: columns, ...(hasBase ? {baseline: 'base'} : {})})
  const plots: ModelPlots[] = []
  for (const r of results) plots.push(...(await runPlots(r, {metric})))
  const several = results.length > 1
  const sections: ReportSection[] = plots.map((m) => ({heading: several ? `${m.run}: ${m.model}` : m.model, plots: m.plots.map((p) => ({title: p.title, svg: p.svg, file: `${PLOTS_DIR}/${m.model}-${p.kind}.svg`}))}))
  const html = renderReportHtml({
    title: options.title ?? `rec report: ${results.map((r) => runLabel(r.runDir)).join(', ')}`,
    generatedAt: (options.now ?? new Date()).toISOString(),
    runs: results.map((r) => ({label: runLabel(r.runDir), experiment: r.experiment, variants: r.variants.length})),
    table,
    sections,
  })
  return {runs: results.map((r) => r.runDir), table, plots, html}
}

/** `rec compare --plot pareto`: each run's Pareto plots (metric vs p50, vs size) written as SVG files in the run; returns the files */
export async function writeParetoPlots(paths: string[], metric = 'ndcg@10'): Promise<string[]> {
  const files: string[] = []
  for (const r of loadRunResults(paths)) files.push(...writePlots(await runPlots(r, {metric, kinds: ['pareto-p50', 'pareto-size']})))
  return files
}
