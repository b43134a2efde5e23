import {existsSync, mkdirSync, readFileSync, rmSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {parse, stringify} from 'yaml'

import {initBackend, type BackendInfo} from '../backend/index.js'
import type {VariantSpec} from '../compress/registry.js'
import type {LoadedConfig} from '../config/load.js'
import {canonicalJson, configHash, sha256Hex} from '../config/hash.js'
import {parseSetArgs, resolveConfigFromObject} from '../config/load.js'
import {evalSchema, modelLabel, modelTrainConfig, type EvalConfig, type ModelConfig, type RecConfig, type TrainConfig} from '../config/schema.js'
import {datasetFingerprint, fingerprintedDataConfig} from '../data/fingerprint.js'
import {initFromPretrained} from '../models/ncf.js'
import {dataInputSha256} from '../data/files-split.js'
import type {SplitOrder} from '../data/split.js'
import {datasetStats} from '../data/stats.js'
import type {Split} from '../data/types.js'
import {dataError, RecError, usageError} from '../errors.js'
import {parseMetricName} from '../eval/metrics.js'
import {loadModel, saveModel} from '../models/io.js'
import {getModelSpec} from '../models/registry.js'
import {userSequences} from '../data/sequences.js'
import type {ModelWeights} from '../models/types.js'
import type {EpochRecord} from '../train/train.js'
import {silentProgress, type Progress} from '../progress.js'
import {trainModel} from '../train/train.js'
import {writeJsonAtomic} from './atomic.js'
import {COMPRESS_JSON, makeVariant, saveBaseOnnx, ONNX_FILE, saveVariant, variantGrid} from './compress-stage.js'
import {lockRunDir} from './lock.js'
import {FileDigests, rebuildHint} from './digests.js'
import {assertInside} from '../config/paths.js'
import {checkSampledProtocol} from '../eval/sampled.js'
import {OPTIMIZED_ONNX_FILE} from '../onnx/execution.js'
import {newManifest, readManifest, readRunFile, writeManifest, writeText, type Manifest} from './rundir.js'
import {DRAWS_DIR, evaluateVariant, protocolOf, withDeltasAndGate, type ProtocolInfo, type VariantResult} from './evaluate-stage.js'
import {shardSlice, type Shard} from './shard.js'
import {prepareData, type PreparedData} from './data-stage.js'
import {applySignificantGate} from './check.js'
import {measureMetricsInWorkers, workerCount} from './workers.js'
import {createValidation, validationShare, type ValidationShare} from './validation.js'
import {loadSplit, saveSplit} from './split-io.js'
import {streamStage, type StreamStageResult} from '../stream/stage.js'

export type {ProtocolInfo, VariantResult} from './evaluate-stage.js'

export interface RunResult {
  runDir: string
  experiment: string
  variants: VariantResult[]
  protocol: ProtocolInfo
  /** seconds per stage of this invocation (cached stages cost ~0) */
  timings: Record<string, number>
  /** stage keys: what decides each result; shards merge only when data and train keys agree */
  keys: {data?: string; train: Record<string, string>}
  /** stages reused from an earlier invocation */
  cached: string[]
  shard?: Shard
  stoppedAfter?: Stage
  interrupted?: boolean
  /** eval.metrics: the metric columns the config asks the table to show */
  columns?: string[]
  /** the stream stage (experiments with a stream section): the replay's summary */
  stream?: StreamStageResult
  /** per model with early stopping: what validation cost against training (from its train.json) */
  validation?: Record<string, ValidationReport>
}

/** early stopping's cost in one model's training: seconds, share of the epoch loop, users validated */
export type ValidationReport = ValidationShare & {users?: number; usersTotal?: number}


export type Stage = 'data' | 'train' | 'compress' | 'eval'
export const STAGES: Stage[] = ['data', 'train', 'compress', 'eval']

export interface RunOptions {
  progress?: Progress
  /** override output.dir */
  outDir?: string
  /** run directory name under <output.dir>/<experiment>/ (default: derived from what decides training) */
  runId?: string
  /** stop after this stage */
  until?: Stage
  /** re-run this stage and every later one, reusing earlier ones */
  from?: Stage
  /** re-run every stage */
  force?: boolean
  shard?: Shard
  signal?: AbortSignal
  command?: string[]
  /** the data stage's read → preprocess → split (repeated seeds pass a memo that shares the seed-free parts) */
  prepareData?: (cfg: RecConfig, progress: Progress) => Promise<PreparedData>
  /** worker threads for the metrics of several variants (overrides eval.workers; src/run/workers.ts) */
  workers?: number | 'auto'
}

const hash = (...parts: unknown[]) => sha256Hex(canonicalJson(parts)).slice(0, 16)


/**
 * what decides the data stage: input bytes, how they are read and cleaned (the dataset
 * fingerprint's view of the data config: no path, no options the format ignores), the split and
 * the seed
 */
function dataKey(cfg: RecConfig, sha: string): string {
  return hash('data', sha, fingerprintedDataConfig(cfg.data), cfg.preprocess, cfg.split, cfg.seed)
}

/** what decides a trained model: the data, the model, its training config, negatives, seed, backend */
function trainKey(cfg: RecConfig, m: ModelConfig, dKey: string, backend: string): string {
  const train = modelTrainConfig(cfg, m)
  // early stopping validates with its own protocol (train.early_stopping.mode / negatives, part of
  // `train`): eval.* is not part of this key, so re-evaluating never retrains
  return hash('train', dKey, {...m, name: undefined}, train, cfg.negatives, cfg.seed, backend)
}

function variantKey(cfg: RecConfig, m: ModelConfig, tKey: string, spec: VariantSpec): string {
  const finetuneTrain = {...modelTrainConfig(cfg, m), early_stopping: null}
  return hash('compress', tKey, spec, cfg.compress.finetune, finetuneTrain, cfg.negatives, cfg.seed)
}

function evalKey(cfg: RecConfig, upstream: string, backend: string): string {
  // eval.workers decides how many variants are measured at once, never a number
  return hash('eval', upstream, {...cfg.eval, workers: undefined}, cfg.negatives, cfg.seed, backend)
}

/**
 * The protocol early stopping validates with: its own mode and negatives (a training setting) on
 * the defaults of eval.*, never the run's eval section, so that changing eval.* cannot change
 * which epoch is kept (and trainKey need not include it). Only batch_users, which does not move a
 * number, is taken from eval.
 */
function validationEvalConfig(cfg: RecConfig, es: NonNullable<TrainConfig['early_stopping']>, k: number | undefined): EvalConfig {
  const defaults = evalSchema.parse({})
  // eval.negatives is limited to the published 99 / 999; validation may use any count
  const negatives = es.negatives as EvalConfig['negatives']
  return {...defaults, mode: es.mode, negatives, k: k ? [k] : defaults.k, batch_users: cfg.eval.batch_users}
}

/**
 * What an interrupted stage left: its name, and the checkpoint the same command resumes from —
 * only when one exists (an interruption in the first epoch has none yet).
 */
function interruptedMessage(stage: string, ckptDir: string): string {
  return existsSync(join(ckptDir, 'state.json'))
    ? `interrupted in ${stage}: the last completed checkpoint is in ${ckptDir}; run the same command again to resume`
    : `interrupted in ${stage} before its first checkpoint: run the same command again to start ${stage} over (finished stages are kept)`
}

/**
 * The run directory of an experiment: <output.dir>/<name>/<id>. The id is derived from what
 * decides training (data, preprocessing, split, models, training, seed, backend request), so re-running
 * the same experiment lands in the same directory and reuses its finished stages, while changing
 * e.g. the learning rate starts a new directory. Shards get their own directory.
 */
export function defaultRunId(cfg: RecConfig, shard?: Shard): string {
  const id = hash('run', fingerprintedDataConfig(cfg.data), cfg.preprocess, cfg.split, cfg.models, cfg.train, cfg.negatives, cfg.seed, cfg.backend).slice(0, 10)
  return shard ? `${id}-shard${shard.index}of${shard.count}` : id
}

/** the files each stage writes (relative to the run directory): their digests are recorded and verified */
const stageFiles = {
  data: () => ['data/split/train.bin', 'data/split/valid.bin', 'data/split/test.bin', 'data/split/idmap.json', 'data/stats.json'],
  train: (label: string) => ['weights.bin', 'model.json', 'idmap.json', ONNX_FILE].map((f) => `models/${label}/base/${f}`).concat(`models/${label}/train.json`),
  compress: (rel: string) => ['variant.json', 'variant.bin', ONNX_FILE, COMPRESS_JSON].map((f) => `${rel}/${f}`),
  eval: (rel: string, r: VariantResult) =>
    ['result.json', 'eval.json', 'per-user.json', ...(r.runtime === 'onnxruntime-cpu' ? [OPTIMIZED_ONNX_FILE] : []), ...r.measurement.drawFiles.map((f) => `${DRAWS_DIR}/${f}`)].map((f) => `${rel}/${f}`),
}

/**
 * Finished stages are recorded in the manifest with their key and the sha256 of the files they
 * wrote; a stage is reused when its key matches, its outputs exist, and neither --force nor --from
 * says otherwise — and then its files must still be the ones it wrote (else a data error, exit 3).
 */
class Stages {
  readonly cached: string[] = []
  private readonly digests: FileDigests
  constructor(
    private readonly manifest: Manifest,
    private readonly dir: string,
    private readonly force: boolean,
    private readonly from: Stage | undefined,
  ) {
    this.digests = new FileDigests(dir)
  }

  reusable(name: string, stage: Stage, key: string, outputs: string[]): boolean {
    if (this.force) return false
    if (this.from && STAGES.indexOf(stage) >= STAGES.indexOf(this.from)) return false
    const s = this.manifest.stages[name]
    if (!s || s.status !== 'done' || s.key !== key) return false
    if (!outputs.every((o) => existsSync(join(this.dir, o)))) return false
    this.digests.verify(stage, s.files)
    this.cached.push(name)
    return true
  }

  /** before a later stage reads what `name` wrote (base weights, a variant, the files evaluation reads) */
  verify(name: string, stage: Stage): void {
    this.digests.verify(stage, this.manifest.stages[name]?.files)
  }

  /** an earlier invocation started this stage with the same key and did not finish it (killed) */
  interrupted(name: string, key: string): boolean {
    const s = this.manifest.stages[name]
    return !this.force && s?.status === 'running' && s.key === key
  }

  start(name: string, key: string): void {
    this.manifest.stages[name] = {status: 'running', key}
    writeManifest(this.dir, this.manifest)
  }

  /** the stage finished: its key, and the digests of the files it wrote */
  done(name: string, key: string, seconds: number, files: string[]): void {
    this.manifest.stages[name] = {status: 'done', key, seconds, files: this.digests.record(files)}
    writeManifest(this.dir, this.manifest)
  }
}

/**
 * What evaluateVariant (evaluate-stage.ts) will read must be what its stage wrote: the model files
 * by their digests (it reads train.json / compress.json itself, through their schemas)
 */
function checkEvaluationInputs(stages: Stages, label: string, variant: string): void {
  if (variant === 'base') stages.verify(`train:${label}`, 'train')
  else stages.verify(`compress:${label}/${variant}`, 'compress')
}

/** the resolved config a run used */
export function readResolvedConfig(runDir: string, expectedHash?: string): RecConfig {
  const file = join(runDir, 'config.resolved.yaml')
  if (!existsSync(file)) throw dataError('run.missing_file', `missing ${file}`, {hint: 'is this a run directory made by rec run / rec train?'})
  let value: unknown
  try {
    value = parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw dataError('run.corrupt_file', `corrupt ${file}: ${(err as Error).message}`)
  }
  // through the config loader, as any config: a file of the wrong shape is named, not a crash later
  let cfg: RecConfig
  try {
    cfg = resolveConfigFromObject(value, {baseDir: runDir, file}).config
  } catch (err) {
    if (!(err instanceof RecError) || err.kind !== 'config') throw err
    throw dataError('run.bad_file', `${file} is not a valid resolved config: ${err.message}`, {
      details: err.details,
      hint: 'it is not what rec wrote; run the experiment again with rec run (the run directory is rebuilt from the experiment file)',
    })
  }
  // the manifest records the hash of the config it was written with: an edited or damaged copy
  // (even one that still parses: an emptied file is the default config) is not what the run used
  if (expectedHash !== undefined && (value === null || typeof value !== 'object' || configHash(value) !== expectedHash)) {
    throw dataError('run.file_changed', `${file} is not the config this run was made with (its hash differs from the manifest's configHash)`, {
      hint: 'it changed after rec wrote it; change the experiment file and use rec run instead (the run directory is rebuilt from it)',
    })
  }
  return cfg
}

/** config → data → split → train → compress → eval, reusing what an earlier invocation finished */
export async function runExperiment(loaded: LoadedConfig, options: RunOptions = {}): Promise<RunResult> {
  const cfg = loaded.config
  const outRoot = options.outDir ? resolve(options.outDir) : resolve(cfg.output.dir)
  const runDir = join(outRoot, cfg.name, options.runId ?? defaultRunId(cfg, options.shard))
  assertInside(outRoot, runDir)
  return runPipeline(cfg, runDir, loaded.file, options)
}

/** run the stages of a config in a run directory (new or existing) */
export async function runPipeline(cfg: RecConfig, runDir: string, configFile: string, options: RunOptions = {}): Promise<RunResult> {
  const progress = options.progress ?? silentProgress
  try {
    mkdirSync(runDir, {recursive: true})
  } catch (err) {
    throw usageError('run.dir_unwritable', `cannot create the run directory ${runDir}: ${(err as Error).message}`, {hint: 'set output.dir (or --out) to a writable folder', cause: err})
  }
  const lock = lockRunDir(runDir, (m) => progress.info(m))
  try {
    return await runLocked(cfg, runDir, configFile, options, progress)
  } finally {
    lock.release()
  }
}

async function runLocked(cfg: RecConfig, runDir: string, configFile: string, options: RunOptions, progress: Progress): Promise<RunResult> {
  const previous = existsSync(join(runDir, 'manifest.json')) ? readManifest(runDir) : undefined
  const manifest: Manifest = {
    ...newManifest({experiment: cfg.name, configFile, configHash: configHash(cfg), seed: cfg.seed, command: options.command ?? process.argv.slice(2)}),
    stages: previous?.stages ?? {},
    datasetFingerprint: previous?.datasetFingerprint,
  }
  writeText(runDir, 'config.resolved.yaml', stringify(cfg))
  writeManifest(runDir, manifest)
  const stages = new Stages(manifest, runDir, options.force ?? false, options.from)
  const timings: Record<string, number> = {}
  const keys: RunResult['keys'] = {train: {}}
  /** early stopping's cost per model (RunResult.validation) */
  const validationReports: Record<string, ValidationReport> = {}
  const finish = (result: Omit<RunResult, 'runDir' | 'experiment' | 'timings' | 'keys' | 'cached'>): RunResult => {
    manifest.endedAt = new Date().toISOString()
    writeManifest(runDir, manifest)
    return {runDir, experiment: cfg.name, timings, keys, cached: stages.cached, ...(options.shard ? {shard: options.shard} : {}), ...(cfg.eval.metrics ? {columns: cfg.eval.metrics} : {}), ...(Object.keys(validationReports).length > 0 ? {validation: validationReports} : {}), ...result}
  }
  const clock = () => {
    const t = performance.now()
    return () => (performance.now() - t) / 1000
  }

  // data
  let elapsed = clock()
  // the input is hashed before reading (to know whether the cached split is still valid); on a miss
  // the reader streams it again
  const dKey = dataKey(cfg, await dataInputSha256(cfg))
  keys.data = dKey
  let split: Split
  /** what ordered events for the split (null: not ordered by time); older runs did not record it */
  let splitOrder: SplitOrder | undefined
  if (stages.reusable('data', 'data', dKey, ['data/split/train.bin', 'data/split/idmap.json', 'data/stats.json'])) {
    split = loadSplit(join(runDir, 'data', 'split'))
    splitOrder = readRunFile<{split?: {order?: SplitOrder}}>(join(runDir, 'data', 'stats.json'), 'dataset statistics', rebuildHint('data')).split?.order
    progress.info(`data: reusing the split of an earlier run (key ${dKey})`)
  } else {
    stages.start('data', dKey)
    progress.stage('data')
    // repeated seeds (src/run/seeds.ts) read the data once and share what does not depend on the seed
    const {read, pre, split: s} = await (options.prepareData ?? prepareData)(cfg, progress)
    const stats = datasetStats(pre.interactions)
    manifest.datasetFingerprint = datasetFingerprint(read.bytesSha256, cfg.data, cfg.preprocess)
    writeJsonAtomic(join(runDir, 'data', 'stats.json'), {stats, preprocess: pre.report, skippedRows: read.skippedRows, fingerprint: manifest.datasetFingerprint, split: s.stats})
    saveSplit(join(runDir, 'data', 'split'), s)
    split = {train: s.train, valid: s.valid, test: s.test}
    splitOrder = s.stats.order
    stages.done('data', dKey, elapsed(), stageFiles.data())
    progress.done(`${stats.users} users, ${stats.items} items, ${stats.interactions} interactions; split ${s.train.length}/${s.valid.length}/${s.test.length}`)
  }
  timings.dataSeconds = elapsed()
  // the protocol states the order the split really used (row order only for data without timestamps)
  cfg = {...cfg, split: {...cfg.split, row_order: splitOrder === 'row'}}
  if (options.until === 'data' || cfg.models.length === 0) return finish({variants: [], protocol: protocolOf(cfg), stoppedAfter: 'data'})
  checkSampledProtocols(cfg, split)

  /** Ctrl-C between two steps: say which step was next, so the message names where the run stopped */
  const stopped = (next: string, after: Stage) => {
    progress.warn(`interrupted before ${next}: finished stages are kept; run the same command again to continue`)
    return finish({variants: [], protocol: protocolOf(cfg), stoppedAfter: after, interrupted: true})
  }

  // train
  const backend: BackendInfo = await initBackend(cfg.backend, progress)
  manifest.backend = backend
  elapsed = clock()
  for (const m of cfg.models) {
    const label = modelLabel(m)
    if (options.signal?.aborted) return stopped(`train ${label}`, 'data')
    // a neumf initialised from trained gmf / mlp models (init_from) depends on their training too
    const key = m.init_from ? hash('train-init', trainKey(cfg, m, dKey, backend.name), keys.train[m.init_from.gmf], keys.train[m.init_from.mlp], m.init_from.alpha) : trainKey(cfg, m, dKey, backend.name)
    keys.train[label] = key
    const name = `train:${label}`
    const dir = join(runDir, 'models', label, 'base')
    if (stages.reusable(name, 'train', key, [`models/${label}/base/model.json`, `models/${label}/base/${ONNX_FILE}`, `models/${label}/train.json`])) {
      progress.info(`train ${label}: reusing the model of an earlier run`)
      const earlier = readRunFile<{history: EpochRecord[]; validation?: {users: number; usersTotal: number}}>(join(runDir, 'models', label, 'train.json'), 'training record', rebuildHint('train'))
      const share = validationShare(earlier.history)
      if (share.checks > 0) (validationReports[label] = {...share, ...earlier.validation})
      continue
    }
    const ckptDir = join(runDir, 'models', label, 'checkpoint')
    const resume = stages.interrupted(name, key) && existsSync(join(ckptDir, 'state.json'))
    if (!resume) rmSync(ckptDir, {recursive: true, force: true})
    stages.start(name, key)
    progress.stage(`train ${label}`)
    const train = modelTrainConfig(cfg, m)
    const es = train.early_stopping
    const metric = es ? parseMetricName(es.metric) : undefined
    // a sequential model predicts a validation item from the user's train items in time order
    const histories = getModelSpec(m.model).sequential ? userSequences([split.train], split.train.numUsers) : undefined
    // early stopping validates a fixed sample of validation users (train.early_stopping.users)
    const validation = es && metric ? createValidation({split, es, metric, cfg: validationEvalConfig(cfg, es, metric.k), seed: cfg.seed, negatives: cfg.negatives, histories}) : undefined
    if (validation && validation.users < validation.usersTotal) progress.info(`train ${label}: early stopping validates ${validation.users} of ${validation.usersTotal} validation users (train.early_stopping.users)`)
    const validate = validation?.validate
    const t = clock()
    const init = initFromPretrained(m, (from) => loadModel(join(runDir, 'models', from, 'base')).weights)
    const r = await trainModel({model: m, train, negatives: cfg.negatives, split, seed: cfg.seed, progress, validate, signal: options.signal, checkpoint: {dir: ckptDir, resume}, init})
    if (r.interrupted) {
      progress.warn(interruptedMessage(`train ${label}`, ckptDir))
      timings.trainSeconds = elapsed()
      return finish({variants: [], protocol: protocolOf(cfg), stoppedAfter: 'train', interrupted: true})
    }
    saveModel(dir, r.weights, {userIds: split.train.userIds, itemIds: split.train.itemIds})
    // exported with the weights, so that a retrained model never sits beside an older ONNX file
    saveBaseOnnx(dir, r.weights)
    const validationUsers = validation ? {users: validation.users, usersTotal: validation.usersTotal} : undefined
    writeJsonAtomic(join(runDir, 'models', label, 'train.json'), {model: m, train, epochs: r.epochs, bestEpoch: r.bestEpoch, stoppedEarly: r.stoppedEarly, seconds: t(), history: r.history, ...(r.engine ? {engine: r.engine} : {}), ...(r.checkpoints ? {checkpoints: r.checkpoints} : {}), ...(validationUsers ? {validation: validationUsers} : {})})
    const share = validationShare(r.history)
    if (share.checks > 0) validationReports[label] = {...share, ...validationUsers}
    stages.done(name, key, t(), stageFiles.train(label))
    rmSync(ckptDir, {recursive: true, force: true})
    progress.done(`${r.epochs} epochs in ${r.seconds.toFixed(1)}s, best epoch ${r.bestEpoch}${r.stoppedEarly ? ' (early stop)' : ''}${share.checks > 0 ? `; validation ${share.validSeconds.toFixed(1)}s (${(100 * share.share).toFixed(0)}%)` : ''}`)
  }
  timings.trainSeconds = elapsed()
  if (options.until === 'train') return finish({variants: [], protocol: protocolOf(cfg), stoppedAfter: 'train'})

  // compress: this shard's slice of the variant grid
  elapsed = clock()
  const grid = shardSlice(variantGrid(cfg), options.shard)
  const variantKeys = new Map<string, string>()
  const baseWeights = new Map<string, ModelWeights>() // each trained model read once for all its variants
  for (const {model: m, label, spec} of grid) {
    if (options.signal?.aborted) return stopped(`compress ${label}/${spec.name}`, 'train')
    const key = variantKey(cfg, m, keys.train[label], spec)
    variantKeys.set(`${label}/${spec.name}`, key)
    const name = `compress:${label}/${spec.name}`
    const rel = `models/${label}/${spec.name}`
    if (stages.reusable(name, 'compress', key, [`${rel}/${COMPRESS_JSON}`, `${rel}/${ONNX_FILE}`, `${rel}/variant.bin`])) continue
    // fine-tuning checkpoints as training does: an interrupted variant resumes, a new one starts clean
    const ckptDir = join(runDir, rel, 'checkpoint')
    const resume = stages.interrupted(name, key) && existsSync(join(ckptDir, 'state.json'))
    if (!resume) rmSync(ckptDir, {recursive: true, force: true})
    stages.start(name, key)
    progress.stage(`compress ${label}/${spec.name}`)
    const t = clock()
    let base = baseWeights.get(label)
    if (!base) {
      stages.verify(`train:${label}`, 'train')
      base = loadModel(join(runDir, 'models', label, 'base')).weights
      baseWeights.set(label, base)
    }
    const v = await makeVariant({cfg, model: m, base, spec, split, progress, signal: options.signal, checkpoint: {dir: ckptDir, resume}})
    if (v.interrupted) {
      progress.warn(interruptedMessage(`compress ${label}/${spec.name}`, ckptDir))
      timings.compressSeconds = elapsed()
      return finish({variants: [], protocol: protocolOf(cfg), stoppedAfter: 'train', interrupted: true})
    }
    const rec = saveVariant(join(runDir, rel), v.model, v.record, v.calibration)
    stages.done(name, key, t(), stageFiles.compress(rel))
    rmSync(ckptDir, {recursive: true, force: true})
    progress.done(`${rec.execution}, ${rec.paramsNonZero}/${rec.paramsTotal} non-zero params, ONNX ${rec.sizeBytesOnnx} bytes (${t().toFixed(1)}s)`)
  }
  timings.compressSeconds = elapsed()
  if (options.until === 'compress') return finish({variants: [], protocol: protocolOf(cfg), stoppedAfter: 'compress'})

  // eval: every base model and this shard's variants
  elapsed = clock()
  // per model: its base, then its variants in config order
  const entries = cfg.models.flatMap((m) => [
    {label: modelLabel(m), variant: 'base', upstream: keys.train[modelLabel(m)]},
    ...grid.filter((g) => g.label === modelLabel(m)).map((g) => ({label: g.label, variant: g.spec.name, upstream: variantKeys.get(`${g.label}/${g.spec.name}`)!})),
  ])
  const results: VariantResult[] = []
  let protocol: ProtocolInfo = protocolOf(cfg)
  const reusable = new Map(
    entries.map((e) => {
      const rel = `models/${e.label}/${e.variant}`
      return [e, stages.reusable(`eval:${e.label}/${e.variant}`, 'eval', evalKey(cfg, e.upstream, backend.name), [`${rel}/result.json`, `${rel}/eval.json`, `${rel}/${DRAWS_DIR}/latency.bin`])]
    }),
  )
  // the metrics of the variants to evaluate, in worker threads when several (src/run/workers.ts);
  // latency is measured below, on this thread, one variant at a time, once the workers are gone
  const pending = entries.filter((e) => !reusable.get(e))
  pending.forEach((e) => checkEvaluationInputs(stages, e.label, e.variant))
  const nWorkers = workerCount(options.workers ?? cfg.eval.workers, pending.length, split, backend.name)
  const metricsOf = nWorkers > 1
    ? await measureMetricsInWorkers({cfg, split, backend: backend.name, variants: pending.map((e) => ({model: e.label, variant: e.variant, dir: join(runDir, 'models', e.label, e.variant)})), workers: nWorkers, progress, signal: options.signal})
    : undefined
  for (const e of entries) {
    if (options.signal?.aborted) return stopped(`eval ${e.label}/${e.variant}`, 'compress')
    const key = evalKey(cfg, e.upstream, backend.name)
    const name = `eval:${e.label}/${e.variant}`
    const rel = `models/${e.label}/${e.variant}`
    if (reusable.get(e)) {
      results.push(readRunFile<VariantResult>(join(runDir, rel, 'result.json'), 'result file', rebuildHint('eval')))
      protocol = readRunFile<{protocol: ProtocolInfo}>(join(runDir, rel, 'eval.json'), 'evaluation record', rebuildHint('eval')).protocol
      continue
    }
    checkEvaluationInputs(stages, e.label, e.variant)
    stages.start(name, key)
    const t = clock()
    const r = await evaluateVariant(cfg, split, {model: e.label, variant: e.variant, dir: join(runDir, rel)}, backend.name, progress, metricsOf?.get(join(runDir, rel)))
    results.push(r.result)
    protocol = r.protocol
    stages.done(name, key, t(), stageFiles.eval(rel, r.result))
  }
  // compress.gate.significant: a drop beyond the bound counts only when it is significant
  const variants = applySignificantGate(cfg, withDeltasAndGate(cfg, results), runDir)
  timings.evalSeconds = elapsed()
  // stream: the prequential replay (src/stream), when the experiment has a stream section
  let stream: StreamStageResult | undefined
  if (streamStage.wanted(cfg)) {
    elapsed = clock()
    stream = await streamStage.run(cfg, runDir, {progress, signal: options.signal})
    timings.streamSeconds = elapsed()
    if (stream.interrupted) return finish({variants, protocol, stream, interrupted: true})
  }
  const result = finish({variants, protocol, ...(stream ? {stream} : {})})
  writeJsonAtomic(join(runDir, 'results.json'), {...result, timings: undefined, validation: undefined})
  return result
}

/**
 * Sampled protocols the catalogue cannot honour (more distinct negatives than some user has left)
 * are data errors before any training: the test protocol (eval.*) and each model's early-stopping
 * validation (its own mode and negatives).
 */
function checkSampledProtocols(cfg: RecConfig, split: Split): void {
  if (cfg.eval.mode === 'sampled' && !cfg.eval.negatives_file) checkSampledProtocol(split, cfg.negatives, cfg.eval.negatives, {part: 'test', setting: 'eval.negatives'})
  if (cfg.eval.mode === 'full' && cfg.eval.also_sampled) checkSampledProtocol(split, cfg.negatives, cfg.eval.also_sampled, {part: 'test', setting: 'eval.also_sampled'})
  cfg.models.forEach((m, i) => {
    const es = modelTrainConfig(cfg, m).early_stopping
    if (es?.mode !== 'sampled') return
    const setting = m.train?.early_stopping ? `models[${i}].train.early_stopping.negatives` : 'train.early_stopping.negatives'
    checkSampledProtocol(split, cfg.negatives, es.negatives, {part: 'valid', setting})
  })
}

/**
 * `rec compress` / `rec eval` on an existing run: its resolved config, optionally with `--set` on
 * the compress and eval sections (anything else would change what the run's models are).
 */
export async function continueRun(runDir: string, options: RunOptions & {set?: string[]}): Promise<RunResult> {
  const manifest = readManifest(runDir)
  let cfg = readResolvedConfig(runDir, manifest.configHash)
  const sets = options.set ?? []
  const outside = parseSetArgs(sets).filter((s) => s.path[0] !== 'compress' && s.path[0] !== 'eval')
  if (outside.length > 0) {
    throw usageError('usage.bad_set', `on an existing run only compress.* and eval.* can be changed (got ${outside.map((s) => s.arg).join(', ')})`, {
      hint: 'change the experiment file and use rec run for anything else',
    })
  }
  if (sets.length > 0) cfg = resolveConfigFromObject(cfg, {set: sets, baseDir: runDir}).config
  announceTraining(cfg, runDir, manifest, options.progress ?? silentProgress)
  return runPipeline(cfg, runDir, manifest.configFile, options)
}

/**
 * `rec eval` / `rec compress` on a run that stopped before its models were trained (`--until
 * data`, or interrupted) finish it as rec run would, with the same stage keys; training may take
 * long, so say so before it starts rather than surprise a user who asked for an evaluation.
 */
function announceTraining(cfg: RecConfig, runDir: string, manifest: Manifest, progress: Progress): void {
  const untrained = cfg.models.map(modelLabel).filter((label) => manifest.stages[`train:${label}`]?.status !== 'done')
  if (untrained.length === 0) return
  const n = untrained.length
  progress.info(
    `${runDir} has ${n} model${n === 1 ? ' that is' : 's that are'} not trained yet (${untrained.join(', ')}): training ${n === 1 ? 'it' : 'them'} first, as rec run would (Ctrl-C stops and keeps what finished)`,
  )
}
