import {cpSync, existsSync, mkdirSync, rmSync, statSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join} from 'node:path'

import type {LoadedConfig} from '../config/load.js'
import {modelLabel, type ModelConfig, type RecConfig} from '../config/schema.js'
import {userSequences} from '../data/sequences.js'
import type {Split} from '../data/types.js'
import {RecError, configError, usageError} from '../errors.js'
import {evaluate} from '../eval/evaluate.js'
import {measureLatencyWithSamples, percentileNearestRank} from '../eval/latency.js'
import {parseMetricName} from '../eval/metrics.js'
import {loadModel} from '../models/io.js'
import {modelRegistry} from '../models/registry.js'
import {isSequential} from '../models/sequential.js'
import {createOnnxScorer, type OnnxScorer} from '../onnx/scorer.js'
import {silentProgress, type Progress} from '../progress.js'
import {formatBytes, formatMs} from '../report/format.js'
import {writeJsonAtomic} from '../run/atomic.js'
import {makeVariant, ONNX_FILE, saveVariant} from '../run/compress-stage.js'
import {evaluateVariant, type VariantResult} from '../run/evaluate-stage.js'
import {runExperiment} from '../run/pipeline.js'
import {readManifest, readRunFile} from '../run/rundir.js'
import {loadSplit} from '../run/split-io.js'
import {absoluteBound, describeBudget, type Budget} from './budget.js'
import {searchSpace, type Candidate} from './space.js'

/**
 * `rec search`: the variant to ship under a budget. The experiment's models are trained (or their
 * training reused) by the pipeline; then the candidates of src/search/space.ts are made one by one
 * with the compress stage's own code (makeVariant, saveVariant: fine-tuning, distillation, ONNX
 * export and the size account are the ones `rec compress` uses), and each is measured as served:
 * its validation metric in ONNX Runtime (the test part is never looked at while deciding), its p50
 * latency against the base's in the same window (alternating blocks of requests, src/eval/latency.ts),
 * and its ONNX file's size.
 *
 * What the search skips, and why (every candidate appears in the trajectory with its reason):
 * - a candidate whose milder form (ramp predecessor, pipeline part) already lost more than max-drop
 *   (a stronger form is expected to lose more);
 * - a candidate whose milder form already meets the budget within max-drop (a stronger form only
 *   loses metric);
 * - a candidate whose metric cannot beat the best feasible one found: its upper bound is the
 *   smallest metric of its measured milder forms, else the base's (so a feasible variant with no
 *   loss ends the search);
 * - a distillation candidate (a full training) once a feasible variant is known.
 * The chosen variant is the feasible one with the best validation metric (ties: lower p50); only it
 * and the base are then evaluated on the test part, for the report.
 */

export interface SearchOptions {
  budget: Budget
  maxDrop: number
  metric: string
  model?: string
  distill: boolean
  progress?: Progress
  signal?: AbortSignal
  outDir?: string
  runId?: string
  command?: string[]
}

export type Decision = 'best-so-far' | 'feasible' | 'over-budget' | 'too-lossy' | 'skipped' | 'failed'

/** one candidate of the trajectory: what was done, what it cost, what was measured and decided */
export interface Try {
  step: number
  name: string
  family: string
  steps: Record<string, unknown>[]
  decision: Decision
  reason: string
  /** wall seconds: making it (compression, fine-tuning or a student's training, export), validation, latency */
  seconds: {compress: number; validate: number; latency: number; total: number}
  /** the metric on the validation part, and its relative drop against the base's (positive = worse) */
  valid?: number
  drop?: number
  p50Ms?: number
  /** the base's p50 in the same measurement window, and the ratio */
  baseP50Ms?: number
  p50Ratio?: number
  sizeBytes?: number
  sizeRatio?: number
  execution?: string
  meetsBudget?: boolean
}

export interface SearchResult {
  runDir: string
  /** where the candidates and search.json are */
  searchDir: string
  model: string
  metric: string
  maxDrop: number
  budget: {text: string; p50Ms?: number; p50Relative?: number; sizeBytes?: number; sizeRelative?: number}
  base: {valid: number; p50Ms: number; sizeBytes: number}
  trajectory: Try[]
  /** the variant to ship, or null when no candidate meets the budget within max-drop */
  chosen: Try | null
  verdict: 'found' | 'none'
  message: string
  /** test metrics of the base and the chosen variant (measured after the decision, for the report) */
  test: {base: TestRow; chosen: TestRow} | null
  seconds: {search: number; makeTotal: number; validateTotal: number; latencyTotal: number; test: number}
  space: number
  tried: number
  skipped: number
  loadAverage: {before: number[]; after: number[]}
  interrupted?: boolean
}

export interface TestRow {
  variant: string
  metrics: Record<string, number>
  p50Ms: number
  sizeBytes: number
  execution: string
}

export const SEARCH_DIR = 'search'
export const SEARCH_JSON = 'search.json'

/** the model to search for: the only one, or the one named */
function pickModel(cfg: RecConfig, name: string | undefined): ModelConfig {
  if (cfg.models.length === 0) throw configError('search.no_model', 'the experiment has no models to search variants of')
  if (name === undefined) {
    if (cfg.models.length === 1) return cfg.models[0]
    throw usageError('search.which_model', `the experiment has ${cfg.models.length} models; say which one to search for`, {hint: `--model ${cfg.models.map(modelLabel).join(' | ')} (or search.model)`})
  }
  const m = cfg.models.find((x) => modelLabel(x) === name)
  if (!m) throw usageError('search.unknown_model', `no model "${name}" in the experiment`, {hint: `models: ${cfg.models.map(modelLabel).join(', ')}`})
  return m
}

/** requests per block of measurePair: short blocks, so that a change of the machine's load hits both alike */
const PAIR_BLOCK = 25

/**
 * p50 of a candidate and of the base in one window: short blocks of requests alternate base,
 * candidate (the same users in both blocks of a pair), `requests` in all for each; the samples of
 * each are pooled. On a shared machine the base's p50 moves by tens of percent between minutes: a
 * ratio from one window is what a budget relative to the base can be checked against.
 */
async function measurePair(base: OnnxScorer, cand: OnnxScorer, args: {numUsers: number; k: number; requests: number; warmup: number; seed: number}): Promise<{base: number; cand: number}> {
  const blocks = Math.max(3, Math.ceil(args.requests / PAIR_BLOCK))
  const per = Math.max(1, Math.ceil(args.requests / blocks))
  const ms: {base: number[]; cand: number[]} = {base: [], cand: []}
  for (let b = 0; b < blocks; b++) {
    for (const [key, scorer] of [['base', base], ['cand', cand]] as const) {
      const r = await measureLatencyWithSamples({scorer, numUsers: args.numUsers, k: args.k, requests: per, warmup: b === 0 ? args.warmup : Math.min(2, args.warmup), batch: 1, seed: args.seed + b, throughputBatches: 1})
      ms[key].push(...r.samples.ms)
    }
  }
  const p50 = (xs: number[]) => percentileNearestRank(Float64Array.from(xs).sort(), 50)
  return {base: p50(ms.base), cand: p50(ms.cand)}
}

const clock = () => {
  const t = performance.now()
  return () => (performance.now() - t) / 1000
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
/** a relative drop as a signed change of the metric: 0.012 → −1.2%, −0.001 → +0.1% */
const change = (drop: number) => `${drop > 0 ? '−' : '+'}${(Math.abs(drop) * 100).toFixed(2)}%`

/** run the search (training the experiment's models first when they are not trained yet) */
export async function runSearch(loaded: LoadedConfig, options: SearchOptions): Promise<SearchResult> {
  const progress = options.progress ?? silentProgress
  const cfg = loaded.config
  const m = pickModel(cfg, options.model)
  const label = modelLabel(m)
  const metric = parseMetricName(options.metric)
  if (!metric.info.higherIsBetter || metric.k === undefined) {
    throw usageError('search.bad_metric', `the search keeps the highest ${options.metric}, so it needs a top-K metric where higher is better`, {hint: 'e.g. ndcg@10, recall@10, mrr@10'})
  }
  const space = searchSpace(m, {studentEpochs: 1, distill: options.distill}) // fails fast on a model the search cannot compress

  const trained = await runExperiment(loaded, {progress, outDir: options.outDir, runId: options.runId, until: 'train', signal: options.signal, command: options.command})
  const runDir = trained.runDir
  const searchDir = join(runDir, SEARCH_DIR, label)
  const emptyResult = (message: string): SearchResult => ({
    runDir,
    searchDir,
    model: label,
    metric: metric.key,
    maxDrop: options.maxDrop,
    budget: {text: describeBudget(options.budget)},
    base: {valid: Number.NaN, p50Ms: Number.NaN, sizeBytes: Number.NaN},
    trajectory: [],
    chosen: null,
    verdict: 'none',
    message,
    test: null,
    seconds: {search: 0, makeTotal: 0, validateTotal: 0, latencyTotal: 0, test: 0},
    space: space.length,
    tried: 0,
    skipped: 0,
    loadAverage: {before: loadavg(), after: loadavg()},
    interrupted: true,
  })
  if (trained.interrupted) return emptyResult('interrupted while training the base model')

  const split = loadSplit(join(runDir, 'data', 'split'))
  const baseDir = join(runDir, 'models', label, 'base')
  const base = loadModel(baseDir).weights
  const trainRecord = readRunFile<{bestEpoch: number; epochs: number; seconds: number}>(join(runDir, 'models', label, 'train.json'), 'training record')
  const studentEpochs = Math.max(1, trainRecord.bestEpoch || trainRecord.epochs)
  const candidates = searchSpace(m, {studentEpochs, distill: options.distill})
  const backend = readManifest(runDir).backend?.name ?? cfg.backend

  rmSync(searchDir, {recursive: true, force: true})
  mkdirSync(searchDir, {recursive: true})
  const loadBefore = loadavg()
  const searchClock = clock()

  // validation: the run's protocol on the validation part (never the test part), in ONNX Runtime
  const evalCfg = {...cfg.eval, k: [...new Set([...cfg.eval.k, metric.k])]}
  const histories = isSequential(base.kind) ? userSequences([split.train], split.train.numUsers) : undefined
  const openScorer = (file: string) => createOnnxScorer(file, base.numItems, {probabilities: modelRegistry[base.kind].probabilities, batchUsers: 256, intraOpThreads: 1, histories})
  const validate = async (scorer: OnnxScorer): Promise<number> => {
    const r = await evaluate({scorer, split, part: 'valid', cfg: evalCfg, seed: cfg.seed, negatives: cfg.negatives, pointwise: false})
    return r.metrics[metric.key]
  }
  const latencyArgs = {numUsers: split.train.numUsers, k: Math.max(...cfg.eval.k), requests: cfg.eval.latency.requests, warmup: cfg.eval.latency.warmup, seed: cfg.seed}

  progress.stage(`search ${label}: base`)
  const baseScorer = await openScorer(join(baseDir, ONNX_FILE))
  const trajectory: Try[] = []
  let result: SearchResult
  try {
    const baseValid = await validate(baseScorer)
    const baseSize = statSync(join(baseDir, ONNX_FILE)).size
    const baseLatency = await measurePair(baseScorer, baseScorer, latencyArgs)
    const baseP50 = baseLatency.base
    progress.done(`validation ${metric.key} ${baseValid.toFixed(4)}, p50 ${formatMs(baseP50)} ms, ${formatBytes(baseSize)}`)
    const sizeBound = options.budget.size ? absoluteBound(options.budget.size, baseSize) : undefined

    const byName = new Map<string, Try>()
    const feasible = (t: Try | undefined) => t !== undefined && (t.decision === 'best-so-far' || t.decision === 'feasible')
    let best: Try | undefined
    let interrupted = false

    for (const [j, c] of candidates.entries()) {
      const entry: Try = {step: j + 1, name: c.spec.name, family: c.family, steps: c.spec.steps.map((s) => ({[s.method]: s.params})), decision: 'skipped', reason: '', seconds: {compress: 0, validate: 0, latency: 0, total: 0}}
      trajectory.push(entry)
      byName.set(c.spec.name, entry)
      const skip = whySkip(c, byName, best, baseValid, options.maxDrop, feasible)
      if (skip) {
        entry.reason = skip
        progress.info(`${c.spec.name}: skipped (${skip})`)
        continue
      }
      if (options.signal?.aborted) {
        entry.reason = 'not tried: interrupted'
        interrupted = true
        continue
      }
      progress.stage(`search ${label}: ${c.spec.name} (${j + 1}/${candidates.length})`)
      const total = clock()
      const dir = join(searchDir, c.spec.name)
      let made
      try {
        const t = clock()
        made = await makeVariant({cfg, model: m, base, spec: c.spec, split, progress, signal: options.signal})
        if (!made.interrupted) {
          const rec = saveVariant(dir, made.model, made.record, made.calibration)
          entry.sizeBytes = rec.sizeBytesOnnx
          entry.execution = rec.execution
        }
        entry.seconds.compress = t()
      } catch (err) {
        if (!(err instanceof RecError) || err.kind !== 'config') throw err
        entry.decision = 'failed'
        entry.reason = err.message
        entry.seconds.total = total()
        progress.warn(`${c.spec.name}: ${err.message}`)
        continue
      }
      if (made.interrupted) {
        entry.reason = 'not finished: interrupted'
        interrupted = true
        continue
      }
      const scorer = await openScorer(join(dir, ONNX_FILE))
      try {
        let t = clock()
        entry.valid = await validate(scorer)
        entry.seconds.validate = t()
        t = clock()
        const lat = await measurePair(baseScorer, scorer, latencyArgs)
        entry.seconds.latency = t()
        entry.p50Ms = lat.cand
        entry.baseP50Ms = lat.base
        entry.p50Ratio = lat.cand / lat.base
      } finally {
        scorer.dispose()
      }
      entry.drop = baseValid === 0 ? 0 : (baseValid - entry.valid) / Math.abs(baseValid)
      entry.sizeRatio = entry.sizeBytes! / baseSize
      const p50Ok = !options.budget.p50 || (options.budget.p50.relative ? entry.p50Ratio! <= options.budget.p50.value : entry.p50Ms! <= options.budget.p50.value)
      const sizeOk = sizeBound === undefined || entry.sizeBytes! <= sizeBound
      entry.meetsBudget = p50Ok && sizeOk
      const within = entry.drop <= options.maxDrop + 1e-12
      const misses = [
        ...(p50Ok ? [] : [`p50 ${formatMs(entry.p50Ms)} ms = ${entry.p50Ratio!.toFixed(2)}× base`]),
        ...(sizeOk ? [] : [`size ${formatBytes(entry.sizeBytes)} = ${entry.sizeRatio.toFixed(2)}× base`]),
      ]
      if (!within) {
        entry.decision = 'too-lossy'
        entry.reason = `${metric.key} drops ${pct(entry.drop)} > ${pct(options.maxDrop)} on validation${misses.length ? `; also over budget (${misses.join(', ')})` : ''}`
      } else if (!entry.meetsBudget) {
        entry.decision = 'over-budget'
        entry.reason = `over budget: ${misses.join(', ')} (${metric.key} ${change(entry.drop)}: stronger forms may fit)`
      } else if (!best || entry.valid > best.valid! || (entry.valid === best.valid && entry.p50Ms! < best.p50Ms!)) {
        if (best) {
          best.decision = 'feasible'
          best.reason = `${best.reason}; then beaten by ${entry.name}`
        }
        entry.decision = 'best-so-far'
        entry.reason = `meets the budget, ${metric.key} ${change(entry.drop)}: the best so far`
        best = entry
      } else {
        entry.decision = 'feasible'
        entry.reason = `meets the budget (${metric.key} ${change(entry.drop)}) but ${best.name} scores higher (${best.valid!.toFixed(4)})`
      }
      entry.seconds.total = total()
      progress.done(`${metric.key} ${entry.valid.toFixed(4)} (${change(entry.drop)}), p50 ${entry.p50Ratio!.toFixed(2)}× base, ${formatBytes(entry.sizeBytes)}: ${entry.decision}`)
    }
    const searchSeconds = searchClock()
    const loadAfter = loadavg()
    const tried = trajectory.filter((t) => t.decision !== 'skipped')
    const sum = (f: (t: Try) => number) => tried.reduce((a, t) => a + f(t), 0)

    // the decision is made; the test part is looked at now, for the report only
    let test: SearchResult['test'] = null
    const testClock = clock()
    if (best && !interrupted) {
      progress.stage(`search ${label}: test metrics of base and ${best.name}`)
      const copy = join(searchDir, 'base')
      cpSync(baseDir, copy, {recursive: true, filter: (src) => !/(result|eval|per-user)\.json$|draws/.test(src)})
      const row = (r: VariantResult): TestRow => ({variant: r.name, metrics: r.metrics, p50Ms: r.latency.p50Ms, sizeBytes: r.sizeBytes, execution: r.execution})
      const b = await evaluateVariant(cfg, split, {model: label, variant: 'base', dir: copy}, backend, progress)
      const c = await evaluateVariant(cfg, split, {model: label, variant: best.name, dir: join(searchDir, best.name)}, backend, progress)
      test = {base: row(b.result), chosen: row(c.result)}
    }
    const testSeconds = test ? testClock() : 0
    const message = best
      ? `${best.name}: validation ${metric.key} ${best.valid!.toFixed(4)} (${change(best.drop!)} vs base), p50 ${best.p50Ratio!.toFixed(2)}× base, ${formatBytes(best.sizeBytes)} (${best.sizeRatio!.toFixed(2)}× base)`
      : interrupted
        ? 'interrupted before a variant met the budget'
        : `no candidate meets ${describeBudget(options.budget)} within a ${pct(options.maxDrop)} drop of validation ${metric.key} (${tried.length} tried, ${trajectory.length - tried.length} skipped)`
    result = {
      runDir,
      searchDir,
      model: label,
      metric: metric.key,
      maxDrop: options.maxDrop,
      budget: {
        text: describeBudget(options.budget),
        ...(options.budget.p50 ? (options.budget.p50.relative ? {p50Relative: options.budget.p50.value} : {p50Ms: options.budget.p50.value}) : {}),
        ...(options.budget.size ? (options.budget.size.relative ? {sizeRelative: options.budget.size.value, sizeBytes: sizeBound} : {sizeBytes: sizeBound}) : {}),
      },
      base: {valid: baseValid, p50Ms: baseP50, sizeBytes: baseSize},
      trajectory,
      chosen: best ?? null,
      verdict: best ? 'found' : 'none',
      message,
      test,
      seconds: {search: searchSeconds, makeTotal: sum((t) => t.seconds.compress), validateTotal: sum((t) => t.seconds.validate), latencyTotal: sum((t) => t.seconds.latency), test: testSeconds},
      space: trajectory.length,
      tried: tried.length,
      skipped: trajectory.length - tried.length,
      loadAverage: {before: loadBefore, after: loadAfter},
      ...(interrupted ? {interrupted: true} : {}),
    }
  } finally {
    baseScorer.dispose()
  }
  writeJsonAtomic(join(searchDir, SEARCH_JSON), result)
  return result
}

/** why a candidate is not worth making, given what was measured so far (undefined: make it) */
export function whySkip(c: Candidate, tries: Map<string, Try>, best: Try | undefined, baseValid: number, maxDrop: number, feasible: (t: Try | undefined) => boolean): string | undefined {
  const parents = c.parents.map((p) => tries.get(p)).filter((t): t is Try => t !== undefined)
  for (const p of parents) {
    if (p.decision === 'skipped') return `its milder form ${p.name} was skipped`
    if (p.decision === 'failed') return `its milder form ${p.name} failed`
    if (p.decision === 'too-lossy') return `its milder form ${p.name} already drops ${pct(p.drop!)} > ${pct(maxDrop)}`
  }
  for (const p of parents) {
    if (feasible(p)) return `its milder form ${p.name} already meets the budget within the drop; a stronger form can only lose metric`
  }
  if (best) {
    const measured = parents.filter((p) => p.valid !== undefined)
    const bound = Math.min(baseValid, ...measured.map((p) => p.valid!))
    if (best.valid! >= bound) {
      const from = measured.find((p) => p.valid === bound)
      return `cannot beat ${best.name} (${best.valid!.toFixed(4)}): expected at most ${bound.toFixed(4)}, ${from ? `its milder form ${from.name}'s` : "the base's"}`
    }
    if (c.trains) return `a feasible variant (${best.name}) is known and a student costs a full training`
  }
  return undefined
}
