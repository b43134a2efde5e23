import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join, relative, resolve, dirname} from 'node:path'
import {parse, stringify} from 'yaml'

import type {LoadedConfig} from '../config/load.js'
import {configHash} from '../config/load.js'
import type {ModelConfig, RecConfig, TrainConfig} from '../config/schema.js'
import {datasetFingerprint} from '../data/fingerprint.js'
import {preprocess} from '../data/preprocess.js'
import {readInteractions} from '../data/read.js'
import {splitInteractions} from '../data/split.js'
import {datasetStats} from '../data/stats.js'
import type {Split} from '../data/types.js'
import {dataError, usageError} from '../errors.js'
import {evaluate, pickThreshold} from '../eval/evaluate.js'
import {measureLatency, type Latency} from '../eval/latency.js'
import {describeProtocol, type Protocol} from '../eval/evaluate.js'
import {initBackend} from '../backend/index.js'
import {flopsPerPair, loadModel, modelBytes, paramCount, saveModel} from '../models/io.js'
import {createTfjsScorer} from '../models/scorer.js'
import type {ModelWeights, Scorer} from '../models/types.js'
import {silentProgress, type Progress} from '../progress.js'
import {trainModel} from '../train/train.js'
import {writeJsonAtomic} from './atomic.js'
import {createRunDir, newManifest, readJson, writeManifest, writeText, type Manifest} from './rundir.js'
import {loadSplit, saveSplit} from './split-io.js'

/** One row of results: a model variant as measured (the `--json` contract of run / eval). */
export interface VariantResult {
  /** variant name: `base` for the trained model, else the compression variant's name */
  name: string
  /** the model's label (config `name`, default its registry name) */
  model: string
  /** registry name of the architecture */
  architecture: string
  backend: string
  runtime: string
  execution: string
  metrics: Record<string, number>
  latency: Latency
  sizeBytes: number
  params: number
  paramsNonZero: number
  flopsPerPair: number
  evalSeconds: number
  trainSeconds?: number
  epochs?: number
  bestEpoch?: number
}

export interface RunResult {
  runDir: string
  experiment: string
  variants: VariantResult[]
  protocol: ProtocolInfo
  timings: Record<string, number>
  stoppedAfter?: 'data' | 'train'
  interrupted?: boolean
}

export interface RunOptions {
  progress?: Progress
  /** override output.dir */
  outDir?: string
  /** stop after this stage */
  until?: 'data' | 'train' | 'eval'
  signal?: AbortSignal
  command?: string[]
}

const modelLabel = (m: ModelConfig) => m.name ?? m.model

/** data → split: read, preprocess, split, persist stats and split in the run dir */
export async function stageData(cfg: RecConfig, runDir: string, progress: Progress) {
  const t0 = performance.now()
  progress.stage('data')
  const read = await readInteractions(cfg.data, {progress})
  const pre = preprocess(read.interactions, cfg.preprocess)
  const split = splitInteractions(pre.interactions, cfg.split, cfg.seed)
  const stats = datasetStats(pre.interactions)
  const fingerprint = datasetFingerprint(read.bytesSha256, cfg.data, cfg.preprocess)
  writeJsonAtomic(join(runDir, 'data', 'stats.json'), {stats, preprocess: pre.report, skippedRows: read.skippedRows, fingerprint, split: {train: split.train.length, valid: split.valid.length, test: split.test.length}})
  saveSplit(join(runDir, 'data', 'split'), split)
  const seconds = (performance.now() - t0) / 1000
  progress.done(`${stats.users} users, ${stats.items} items, ${stats.interactions} interactions; split ${split.train.length}/${split.valid.length}/${split.test.length} (${seconds.toFixed(1)}s)`)
  return {split, stats, fingerprint, seconds}
}

function mergedTrain(cfg: RecConfig, m: ModelConfig): TrainConfig {
  return {...cfg.train, ...(m.train ?? {})} as TrainConfig
}

/** the k that a metric name such as `mrr@10` needs in the eval config used for validation */
function validationEvalConfig(cfg: RecConfig, metric: string) {
  const k = Number(metric.split('@')[1])
  const ks = Number.isFinite(k) && k > 0 ? [k] : cfg.eval.k
  return {...cfg.eval, k: ks}
}

/** train every model of the experiment, saving each under models/<label>/base */
export async function stageTrain(cfg: RecConfig, runDir: string, split: Split, progress: Progress, signal?: AbortSignal) {
  const results: Record<string, {seconds: number; epochs: number; bestEpoch: number; interrupted: boolean}> = {}
  for (const m of cfg.models) {
    const label = modelLabel(m)
    const train = mergedTrain(cfg, m)
    progress.stage(`train ${label}`)
    const es = train.early_stopping
    const validate = es
      ? async (weights: ModelWeights) => {
          const scorer = createTfjsScorer(weights)
          try {
            const r = await evaluate({scorer, split, part: 'valid', cfg: validationEvalConfig(cfg, es.metric), seed: cfg.seed, negatives: cfg.negatives})
            const v = r.metrics[es.metric]
            if (v === undefined) throw usageError('config.bad_metric', `early_stopping.metric ${es.metric} is not computed by evaluation (known: ${Object.keys(r.metrics).join(', ')})`)
            return v
          } finally {
            scorer.dispose()
          }
        }
      : undefined
    const dir = join(runDir, 'models', label, 'base')
    const r = await trainModel({model: m, train, negatives: cfg.negatives, split, seed: cfg.seed, progress, validate, signal, checkpoint: {dir: join(runDir, 'models', label, 'checkpoint')}})
    saveModel(dir, r.weights, {userIds: split.train.userIds, itemIds: split.train.itemIds})
    writeJsonAtomic(join(runDir, 'models', label, 'train.json'), {model: m, train, ...r, weights: undefined})
    results[label] = {seconds: r.seconds, epochs: r.epochs, bestEpoch: r.bestEpoch, interrupted: r.interrupted}
    progress.done(`${r.epochs} epochs in ${r.seconds.toFixed(1)}s, best epoch ${r.bestEpoch}${r.stoppedEarly ? ' (early stop)' : ''}`)
    if (r.interrupted) return {results, interrupted: true}
  }
  return {results, interrupted: false}
}

/** every <model>/<variant> folder of a run that holds a model */
export function listVariants(runDir: string): {model: string; variant: string; dir: string}[] {
  const root = join(runDir, 'models')
  if (!existsSync(root)) return []
  const out: {model: string; variant: string; dir: string}[] = []
  for (const model of readdirSync(root).sort()) {
    const mdir = join(root, model)
    if (!existsSync(mdir) || !existsSync(join(mdir, 'base'))) continue
    const variants = readdirSync(mdir).filter((v) => v !== 'checkpoint' && existsSync(join(mdir, v, 'model.json')))
    variants.sort((a, b) => (a === 'base' ? -1 : b === 'base' ? 1 : a.localeCompare(b)))
    for (const variant of variants) out.push({model, variant, dir: join(mdir, variant)})
  }
  return out
}

/** evaluate one saved variant: test metrics, latency, size, params, FLOPs */
export async function evaluateVariant(cfg: RecConfig, split: Split, v: {model: string; variant: string; dir: string}, backend: string, progress: Progress): Promise<{result: VariantResult; protocol: Protocol}> {
  const {weights} = loadModel(v.dir)
  const scorer: Scorer = createTfjsScorer(weights)
  try {
    progress.stage(`eval ${v.model}/${v.variant}`)
    let threshold: number | undefined
    if (cfg.eval.threshold === 'validation') threshold = await pickThreshold({scorer, split, cfg: cfg.eval, seed: cfg.seed, negatives: cfg.negatives})
    const r = await evaluate({scorer, split, part: 'test', cfg: cfg.eval, seed: cfg.seed, negatives: cfg.negatives, threshold, progress})
    writeJsonAtomic(join(v.dir, 'eval.json'), {metrics: r.metrics, usersEvaluated: r.usersEvaluated, seconds: r.seconds, protocol: r.protocol})
    writeJsonAtomic(join(v.dir, 'per-user.json'), {users: Array.from(r.perUser.users), values: Object.fromEntries(Object.entries(r.perUser.values).map(([k, a]) => [k, Array.from(a)]))})
    progress.update('latency')
    const lat = cfg.eval.latency
    const latency = await measureLatency({scorer, numUsers: split.train.numUsers, k: Math.max(...cfg.eval.k), requests: lat.requests, warmup: lat.warmup, batch: lat.batch, seed: cfg.seed})
    const counts = paramCount(weights)
    const train = readJsonIfExists<{seconds?: number; epochs?: number; bestEpoch?: number}>(join(dirname(v.dir), 'train.json'))
    const result: VariantResult = {
      name: v.variant,
      model: v.model,
      architecture: weights.kind,
      backend,
      runtime: scorer.runtime,
      execution: 'float32',
      metrics: r.metrics,
      latency,
      sizeBytes: modelBytes(v.dir),
      params: counts.total,
      paramsNonZero: counts.nonZero,
      flopsPerPair: flopsPerPair(weights),
      evalSeconds: r.seconds,
      ...(v.variant === 'base' && train ? {trainSeconds: train.seconds, epochs: train.epochs, bestEpoch: train.bestEpoch} : {}),
    }
    progress.done(`ndcg@10 ${fmt(r.metrics['ndcg@10'])}, p50 ${latency.p50Ms.toFixed(3)} ms (${r.seconds.toFixed(1)}s)`)
    return {result, protocol: r.protocol}
  } finally {
    scorer.dispose()
  }
}

function fmt(x: number | undefined): string {
  return x === undefined ? '-' : x.toFixed(4)
}

function readJsonIfExists<T>(path: string): T | undefined {
  return existsSync(path) ? readJson<T>(path) : undefined
}

export async function stageEval(cfg: RecConfig, runDir: string, split: Split, backend: string, progress: Progress) {
  const t0 = performance.now()
  const variants: VariantResult[] = []
  let protocol: ProtocolInfo = protocolOf(cfg)
  for (const v of listVariants(runDir)) {
    const r = await evaluateVariant(cfg, split, v, backend, progress)
    variants.push(r.result)
    protocol = {...r.protocol, split: cfg.split, description: describeProtocol(r.protocol)}
  }
  writeJsonAtomic(join(runDir, 'results.json'), {runDir, experiment: cfg.name, variants, protocol})
  return {variants, protocol, seconds: (performance.now() - t0) / 1000}
}

export type ProtocolInfo = Record<string, unknown> & {description: string}

/** the protocol a config asks for, before any evaluation ran (evaluation reports the exact one) */
export function protocolOf(cfg: RecConfig): ProtocolInfo {
  const p = {
    mode: cfg.eval.mode,
    candidates: cfg.eval.mode === 'full' ? 'all items' : `1 positive + ${cfg.eval.negatives} sampled negatives`,
    excluded: 'train + validation items',
    users: 'test users with at least one test item',
    k: cfg.eval.k,
    threshold: cfg.eval.threshold,
    negatives: cfg.eval.negatives,
    split: cfg.split,
  }
  return {...p, description: describeProtocol(p as never)}
}

/** config → data → split → train → eval, in a new run directory */
export async function runExperiment(loaded: LoadedConfig, options: RunOptions = {}): Promise<RunResult> {
  const progress = options.progress ?? silentProgress
  const cfg = loaded.config
  const outRoot = options.outDir ? resolve(options.outDir) : resolve(cfg.output.dir)
  const runDir = createRunDir(outRoot, cfg.name)
  const manifest: Manifest = newManifest({experiment: cfg.name, configFile: loaded.file, configHash: configHash(cfg), seed: cfg.seed, command: options.command ?? process.argv.slice(2)})
  writeText(runDir, 'config.resolved.yaml', stringify(cfg))
  writeManifest(runDir, manifest)
  const timings: Record<string, number> = {}
  const finish = (result: Omit<RunResult, 'runDir' | 'experiment'>): RunResult => {
    manifest.endedAt = new Date().toISOString()
    writeManifest(runDir, manifest)
    return {runDir, experiment: cfg.name, ...result}
  }

  const data = await stageData(cfg, runDir, progress)
  manifest.datasetFingerprint = data.fingerprint
  manifest.stages.data = {status: 'done', seconds: data.seconds}
  timings.dataSeconds = data.seconds
  writeManifest(runDir, manifest)
  if (options.until === 'data' || cfg.models.length === 0) {
    return finish({variants: [], protocol: protocolOf(cfg), timings, stoppedAfter: 'data'})
  }

  const backend = await initBackend(cfg.backend, progress)
  manifest.backend = backend
  const t1 = performance.now()
  const trained = await stageTrain(cfg, runDir, data.split, progress, options.signal)
  timings.trainSeconds = (performance.now() - t1) / 1000
  manifest.stages.train = {status: 'done', seconds: timings.trainSeconds}
  writeManifest(runDir, manifest)
  if (trained.interrupted) {
    progress.warn(`interrupted: the last completed checkpoint is in ${relative(process.cwd(), runDir)}/models/*/checkpoint`)
    return finish({variants: [], protocol: protocolOf(cfg), timings, stoppedAfter: 'train', interrupted: true})
  }
  if (options.until === 'train') return finish({variants: [], protocol: protocolOf(cfg), timings, stoppedAfter: 'train'})

  const ev = await stageEval(cfg, runDir, data.split, backend.name, progress)
  timings.evalSeconds = ev.seconds
  manifest.stages.eval = {status: 'done', seconds: ev.seconds}
  return finish({variants: ev.variants, protocol: ev.protocol, timings})
}

/** re-evaluate every variant of an existing run */
export async function evalRun(runDir: string, options: {progress?: Progress; set?: Partial<RecConfig>} = {}): Promise<RunResult> {
  const progress = options.progress ?? silentProgress
  const cfg = readResolvedConfig(runDir)
  const manifest = readJson<Manifest>(join(runDir, 'manifest.json'))
  const split = loadSplit(join(runDir, 'data', 'split'))
  const backend = await initBackend(cfg.backend, progress)
  const ev = await stageEval(cfg, runDir, split, backend.name, progress)
  manifest.stages.eval = {status: 'done', seconds: ev.seconds}
  manifest.backend = backend
  writeManifest(runDir, manifest)
  return {runDir, experiment: cfg.name, variants: ev.variants, protocol: ev.protocol, timings: {evalSeconds: ev.seconds}}
}

export function readResolvedConfig(runDir: string): RecConfig {
  // config.resolved.yaml is what the run used; results depend on it, not on the experiment file now
  const file = join(runDir, 'config.resolved.yaml')
  if (!existsSync(file)) throw dataError('run.missing_file', `missing ${file}`, {hint: 'is this a run directory made by rec run / rec train?'})
  try {
    return parse(readFileSync(file, 'utf8')) as RecConfig
  } catch (err) {
    throw dataError('run.corrupt_file', `corrupt ${file}: ${(err as Error).message}`)
  }
}
