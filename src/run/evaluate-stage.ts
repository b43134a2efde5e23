import {existsSync, rmSync, statSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join} from 'node:path'

import {baseReport} from '../compress/registry.js'
import {loadCompressed} from '../compress/io.js'
import {flopsPerPair as compressedFlops} from '../compress/accounting.js'
import {fromWeights, toFloatWeights} from '../compress/tensors.js'
import {modelLabel, type RecConfig} from '../config/schema.js'
import {readNegativesFile} from '../data/negatives-file.js'
import type {Split} from '../data/types.js'
import {dataError} from '../errors.js'
import {PAIR_CHUNK, describeProtocol, evaluate, type EvalResult, type Protocol} from '../eval/evaluate.js'
import {describeHistories} from '../eval/protocol.js'
import {DRAW_FILES, encodeEvalDraws, encodeLatency, encodeUsers} from '../eval/draws-io.js'
import {measureLatencyWithSamples, type Latency} from '../eval/latency.js'
import {parseMetricName} from '../eval/metrics.js'
import {loadModel, modelBytes} from '../models/io.js'
import {getModelSpec, modelRegistry} from '../models/registry.js'
import {createTfjsScorer} from '../models/scorer.js'
import {isSequential} from '../models/sequential.js'
import {DEFAULT_MAX_LEN, userSequences} from '../data/sequences.js'
import type {ModelWeights, Scorer} from '../models/types.js'
import {measuredExecution, OPTIMIZED_ONNX_FILE} from '../onnx/execution.js'
import {compareWithReference, createOnnxScorer, type OnnxScorer} from '../onnx/scorer.js'
import type {Progress} from '../progress.js'
import {formatMetric, formatMs} from '../report/format.js'
import {writeFileAtomic, writeJsonAtomic} from './atomic.js'
import {COMPRESS_JSON, ONNX_FILE, type DistillRecord, type VariantRecord} from './compress-stage.js'
import {rebuildHint} from './digests.js'
import {readRunFile} from './rundir.js'

/** One row of results: a model variant as measured (the `--json` contract of run / eval). */
export interface VariantResult {
  /** variant name: `base` for the trained model, else the compression variant's name */
  name: string
  /** the model's label (config `name`, default its registry name) */
  model: string
  /** registry name of the architecture */
  architecture: string
  /** compression method (`none` for base) and its parameters */
  method: string
  methodParams: Record<string, unknown>
  /**
   * eval.also_sampled: the top-K metrics of the same test items ranked against `negatives` sampled
   * negatives each (`description`: the candidates), beside the full-ranking `metrics`
   */
  sampled?: {negatives: number; metrics: Record<string, number>; description: string}
  /** tfjs backend of the run (training, tfjs scoring) */
  backend: string
  /** where metrics and latency were measured: `onnxruntime-cpu` or the tfjs backend */
  runtime: string
  /** how the variant really executes in that runtime (see README, compression) */
  execution: string
  metrics: Record<string, number>
  latency: Latency
  /** with eval.runtime both: latency in tfjs as well */
  latencyTfjs?: Latency
  /** bytes of the file whose latency is reported */
  sizeBytes: number
  sizeBytesTfjs: number
  sizeBytesOnnx: number
  params: number
  paramsNonZero: number
  flopsPerPair: number
  /** the conditions of the measurement (README, "Auditing a run") */
  measurement: Measurement
  /** max |ONNX − tfjs| over the scores of a fixed batch of users (when the ONNX runtime is used) */
  onnxMaxAbsDiff?: number
  /** against the model's base variant: metrics, p50Ms, sizeBytes */
  deltas?: Record<string, {abs: number; rel: number | null}>
  /** a distilled student (or its scratch baseline): how it was trained */
  distill?: DistillRecord
  /** a distilled student: metrics, p50Ms and sizeBytes against its scratch baseline (what distillation bought) */
  versusScratch?: {variant: string; deltas: Record<string, {abs: number; rel: number | null}>}
  gate?: {
    metric: string
    maxRelativeDrop: number
    relativeDrop: number
    passed: boolean
    /** compress.gate.significant: the test that decides whether a drop beyond the bound counts (src/run/check.ts) */
    significance?: {test: string; alpha: number; n: number; pValue: number; pHolm: number; significant: boolean}
  }
  evalSeconds: number
  trainSeconds?: number
  epochs?: number
  bestEpoch?: number
  compressSeconds?: number
  finetuneSeconds?: number
  notes: string[]
}

export type ProtocolInfo = Record<string, unknown> & {description: string}

/** under what conditions a variant was measured: what a latency figure means depends on it */
export interface Measurement {
  /** os.loadavg() (1, 5, 15 minutes) right before and right after the latency measurement */
  loadAverageBefore: number[]
  loadAverageAfter: number[]
  /** where metrics and latency ran (= the variant's runtime) */
  runtime: string
  /** threads the scoring may use: ONNX Runtime intra-op threads, 1 for tfjs wasm / cpu, null for native tfjs (its own pool) */
  threads: number | null
  /** eval.latency: timed requests, untimed warm-up requests, users per throughput batch */
  latencyRequests: number
  latencyWarmup: number
  latencyBatch: number
  /** users per scoreUsers call of the full-ranking metrics (eval.batch_users) */
  metricsBatchUsers: number
  /** ONNX Runtime: users per session run inside a scoreUsers / scorePairs call; null under tfjs */
  onnxBatchUsers: number | null
  /** pairs per scorePairs call of the pointwise metrics */
  pointwisePairChunk: number
  /** the draw files of this variant (in draws/, README "Auditing a run") */
  drawFiles: string[]
}

/** users per ONNX Runtime session run (the scorer's default, passed explicitly so that it is recorded) */
const ONNX_BATCH_USERS = 256
/** ONNX Runtime intra-op threads (the scorer's default: latency comparable with single-threaded tfjs-wasm) */
const ONNX_THREADS = 1
/** the draws folder of a variant */
export const DRAWS_DIR = 'draws'

/** tfjs has no int8 / fp16 kernels and rebuilds A·B at load: what a variant's float weights do there */
function tfjsExecution(execution: string): string {
  if (execution === 'int8-kernel' || execution === 'fp16-storage' || execution === 'dequantized-at-load') return 'dequantized-at-load'
  if (execution === 'factorized') return 'float32'
  return execution
}

/**
 * How far a float32 ONNX export may stray from its weights: max |ONNX − tfjs| over the scores of
 * the check users. Both compute the same float32 function; only the order of float32 operations
 * differs (~1e-6 on scores of order 10), so anything beyond 1e-4 is a stale or broken export,
 * never a number to print.
 */
export const ONNX_FLOAT32_TOLERANCE = 1e-4

/**
 * Executions that compute in float32 in ONNX Runtime (dense, low-rank, shrunk, zeros stored
 * densely): their export must agree with the weights within ONNX_FLOAT32_TOLERANCE. Quantized
 * executions (int8-kernel, fp16-storage, dequantized-at-load) have no tolerance: for int8-kernel
 * ONNX Runtime also quantizes the activations (with scales fixed at export), so |ONNX − tfjs| *is* the method's error,
 * which the accuracy metrics, their deltas and the gate measure; the figure is reported, not gated.
 */
const FLOAT32_EXECUTIONS = new Set(['float32', 'factorized', 'shrunk', 'sparse-zeros'])

/** users whose full score rows are compared between ONNX Runtime and tfjs (the first 64) */
export function onnxCheckUsers(numUsers: number): Int32Array {
  return Int32Array.from({length: Math.min(64, numUsers)}, (_, u) => u)
}

/** a float32 export that disagrees with its weights stops the evaluation (exit 3) */
function checkOnnxAgreement(file: string, execution: string, diff: number): void {
  if (!FLOAT32_EXECUTIONS.has(execution) || diff <= ONNX_FLOAT32_TOLERANCE) return
  throw dataError(
    'model.onnx_mismatch',
    `${file} disagrees with its weights: max |ONNX − tfjs| = ${diff.toExponential(3)} over the scores of the check users, but a float32 export (${execution}) must agree within ${ONNX_FLOAT32_TOLERANCE}`,
    {hint: 're-export it: rec run --from compress for a compression variant, rec run --from train for a base model'},
  )
}

/** a saved variant opened for evaluation: its record, weights and scorers (dispose them) */
interface OpenedVariant {
  isBase: boolean
  train?: {seconds?: number; epochs?: number; bestEpoch?: number}
  weights: ModelWeights
  record: Pick<VariantRecord, 'method' | 'params' | 'execution' | 'paramsTotal' | 'paramsNonZero' | 'flopsPerPair' | 'notes' | 'sizeBytesTfjs' | 'sizeBytesOnnx'> & Partial<VariantRecord>
  tfjsScorer: Scorer
  onnxScorer?: OnnxScorer
  /** how the variant really executes: measured from ORT's optimized graph when it runs there */
  graph?: ReturnType<typeof measuredExecution>
  dispose(): void
}

/** read a saved variant and build its scorers; `optimizedModelPath`: where ORT saves the graph it runs (default beside model.onnx) */
async function openVariant(cfg: RecConfig, split: Split, v: {model: string; variant: string; dir: string}, optimizedModelPath = join(v.dir, OPTIMIZED_ONNX_FILE)): Promise<OpenedVariant> {
  const isBase = v.variant === 'base'
  // the training record is read (and checked against its schema) before anything is measured
  const trainFile = join(v.dir, '..', 'train.json')
  const train = isBase && existsSync(trainFile) ? readRunFile<{seconds?: number; epochs?: number; bestEpoch?: number}>(trainFile, 'training record', rebuildHint('train')) : undefined
  let weights: ModelWeights
  let record: OpenedVariant['record']
  if (isBase) {
    weights = loadModel(v.dir).weights
    record = {...baseReport(weights), sizeBytesTfjs: modelBytes(v.dir), sizeBytesOnnx: statSync(join(v.dir, ONNX_FILE)).size}
  } else {
    weights = toFloatWeights(loadCompressed(v.dir))
    record = readRunFile<VariantRecord>(join(v.dir, COMPRESS_JSON), 'compression record', rebuildHint('compress'))
  }
  const runtime = cfg.eval.runtime
  // a sequential model predicts the test item from the user's train and validation items in time order
  const histories = isSequential(weights.kind) ? userSequences([split.train, split.valid], split.train.numUsers) : undefined
  const tfjsScorer: Scorer = createTfjsScorer(weights, {histories})
  let onnxScorer: OnnxScorer | undefined
  try {
    if (runtime !== 'tfjs') {
      try {
        onnxScorer = await createOnnxScorer(join(v.dir, ONNX_FILE), weights.numItems, {
          probabilities: modelRegistry[weights.kind].probabilities,
          batchUsers: ONNX_BATCH_USERS,
          intraOpThreads: ONNX_THREADS,
          // the graph ORT really runs after its optimisations: `execution` and the notes are read from it
          optimizedModelPath,
          histories,
        })
      } catch (err) {
        throw dataError('model.corrupt', `cannot load ${join(v.dir, ONNX_FILE)} in ONNX Runtime: ${(err as Error).message}`, {hint: 're-run the compress stage (rec run --from compress)'})
      }
    }
  } catch (err) {
    tfjsScorer.dispose()
    throw err
  }
  const graph = onnxScorer?.graph ? measuredExecution(record, onnxScorer.graph) : undefined
  return {
    isBase,
    train,
    weights,
    record,
    tfjsScorer,
    onnxScorer,
    graph,
    dispose() {
      tfjsScorer.dispose()
      onnxScorer?.dispose()
    },
  }
}

/**
 * The metrics part of a variant's evaluation, which writes nothing and can run beside another
 * variant's (src/run/workers.ts): the ONNX check against the weights, the test metrics with their
 * draws, and eval.also_sampled's metrics.
 */
export interface VariantMetrics {
  eval: EvalResult
  sampled?: {negatives: number; metrics: Record<string, number>; description: string}
  onnxMaxAbsDiff?: number
}

async function measureMetrics(cfg: RecConfig, split: Split, o: OpenedVariant, v: {model: string; variant: string; dir: string}, progress: Progress): Promise<VariantMetrics> {
  const {tfjsScorer, onnxScorer} = o
  // the ONNX file is checked against its weights before anything is measured with it
  let onnxMaxAbsDiff: number | undefined
  if (onnxScorer) {
    onnxMaxAbsDiff = await compareWithReference(onnxScorer, tfjsScorer, onnxCheckUsers(split.train.numUsers))
    checkOnnxAgreement(join(v.dir, ONNX_FILE), o.graph?.execution ?? o.record.execution, onnxMaxAbsDiff)
  }
  const primary = onnxScorer ?? tfjsScorer
  progress.stage(`eval ${v.model}/${v.variant} (${primary.runtime})`)
  // with eval.threshold 'validation', evaluate picks the F1-best threshold on validation itself
  // eval.negatives_file: the test positives' negatives as published (NCF format), not drawn
  const fixedNegatives = cfg.eval.mode === 'sampled' && cfg.eval.negatives_file ? readNegativesFile(cfg.eval.negatives_file, split) : undefined
  const r = await evaluate({scorer: primary, split, part: 'test', cfg: cfg.eval, seed: cfg.seed, negatives: cfg.negatives, progress, record: true, fixedNegatives})
  // the secondary protocol (eval.also_sampled): the same scorer, each test item against N sampled negatives
  const also = cfg.eval.mode === 'full' && cfg.eval.also_sampled ? cfg.eval.also_sampled : undefined
  const sampled = also
    ? await evaluate({scorer: primary, split, part: 'test', cfg: {...cfg.eval, mode: 'sampled', negatives: also}, seed: cfg.seed, negatives: cfg.negatives, progress, pointwise: false, negativesSetting: 'eval.also_sampled'})
    : undefined
  return {eval: r, ...(sampled ? {sampled: {negatives: also!, metrics: sampled.metrics, description: sampled.protocol.candidates}} : {}), ...(onnxMaxAbsDiff === undefined ? {} : {onnxMaxAbsDiff})}
}

/**
 * The metrics part of evaluateVariant on its own (the ONNX check, test metrics, also_sampled),
 * for a worker thread: its optimized ONNX graph goes to `optimizedModelPath` (not the run dir).
 */
export async function evaluateVariantMetrics(cfg: RecConfig, split: Split, v: {model: string; variant: string; dir: string}, progress: Progress, optimizedModelPath: string): Promise<VariantMetrics> {
  const o = await openVariant(cfg, split, v, optimizedModelPath)
  try {
    return await measureMetrics(cfg, split, o, v, progress)
  } finally {
    o.dispose()
  }
}

/**
 * evaluate one saved variant: test metrics, latency, size, params, FLOPs, in the configured
 * runtime; `metrics`: its metrics part measured already (in a worker: evaluateVariantMetrics),
 * so that only the latency is measured here
 */
export async function evaluateVariant(
  cfg: RecConfig,
  split: Split,
  v: {model: string; variant: string; dir: string},
  backend: string,
  progress: Progress,
  metrics?: VariantMetrics,
): Promise<{result: VariantResult; protocol: ProtocolInfo}> {
  const o = await openVariant(cfg, split, v)
  const {isBase, train, weights, record, tfjsScorer, onnxScorer, graph} = o
  const runtime = cfg.eval.runtime
  try {
    const m = metrics ?? (await measureMetrics(cfg, split, o, v, progress))
    if (metrics) progress.stage(`eval ${v.model}/${v.variant} (${(onnxScorer ?? tfjsScorer).runtime})`)
    const primary = onnxScorer ?? tfjsScorer
    const r = m.eval
    const onnxMaxAbsDiff = m.onnxMaxAbsDiff
    const sampledResult = m.sampled
    const seen = historiesOf(cfg)
    const full = {...r.protocol, split: cfg.split, ...(seen ? {histories: seen} : {})}
    const protocol: ProtocolInfo = {...full, description: describeProtocol(full)}
    writeJsonAtomic(join(v.dir, 'eval.json'), {metrics: r.metrics, usersEvaluated: r.usersEvaluated, seconds: r.seconds, protocol, ...(sampledResult ? {sampled: sampledResult} : {})})
    writeJsonAtomic(join(v.dir, 'per-user.json'), {users: Array.from(r.perUser.users), values: Object.fromEntries(Object.entries(r.perUser.values).map(([k, a]) => [k, Array.from(a)]))})
    progress.update('latency')
    const lat = cfg.eval.latency
    const latencyArgs = {numUsers: split.train.numUsers, k: Math.max(...cfg.eval.k), requests: lat.requests, warmup: lat.warmup, batch: lat.batch, seed: cfg.seed}
    const loadAverageBefore = loadavg()
    const measured = await measureLatencyWithSamples({scorer: primary, ...latencyArgs})
    const measuredTfjs = runtime === 'both' ? await measureLatencyWithSamples({scorer: tfjsScorer, ...latencyArgs}) : undefined
    const loadAverageAfter = loadavg()
    const latency = measured.latency
    const latencyTfjs = measuredTfjs?.latency
    const files: Record<string, Uint8Array> = {
      ...encodeEvalDraws(r.perUser.users, r.draws ?? {}),
      [DRAW_FILES.latency]: encodeLatency(measured.samples),
      ...(measuredTfjs ? {[DRAW_FILES.latencyTfjs]: encodeLatency(measuredTfjs.samples)} : {}),
      ...(onnxScorer ? {[DRAW_FILES.onnxCheck]: encodeUsers(onnxCheckUsers(split.train.numUsers))} : {}),
    }
    // a re-evaluation replaces every draw file (an earlier mode's files must not linger)
    rmSync(join(v.dir, DRAWS_DIR), {recursive: true, force: true})
    for (const [name, bytes] of Object.entries(files)) writeFileAtomic(join(v.dir, DRAWS_DIR, name), bytes)
    const measurement: Measurement = {
      loadAverageBefore,
      loadAverageAfter,
      runtime: primary.runtime,
      threads: onnxScorer ? ONNX_THREADS : backend === 'wasm' || backend === 'cpu' ? 1 : null,
      latencyRequests: lat.requests,
      latencyWarmup: lat.warmup,
      latencyBatch: lat.batch,
      metricsBatchUsers: cfg.eval.batch_users,
      onnxBatchUsers: onnxScorer ? ONNX_BATCH_USERS : null,
      pointwisePairChunk: PAIR_CHUNK,
      drawFiles: Object.keys(files).sort(),
    }
    const onOnnx = onnxScorer !== undefined
    const result: VariantResult = {
      name: v.variant,
      model: v.model,
      architecture: weights.kind,
      method: record.method,
      methodParams: record.params,
      backend,
      runtime: primary.runtime,
      execution: graph ? graph.execution : tfjsExecution(record.execution),
      metrics: r.metrics,
      ...(sampledResult ? {sampled: sampledResult} : {}),
      latency,
      ...(latencyTfjs ? {latencyTfjs} : {}),
      sizeBytes: onOnnx ? record.sizeBytesOnnx : record.sizeBytesTfjs,
      sizeBytesTfjs: record.sizeBytesTfjs,
      sizeBytesOnnx: record.sizeBytesOnnx,
      params: record.paramsTotal,
      paramsNonZero: record.paramsNonZero,
      flopsPerPair: onOnnx ? record.flopsPerPair : compressedFlops(fromWeights(weights)),
      measurement,
      ...(onnxMaxAbsDiff === undefined ? {} : {onnxMaxAbsDiff}),
      evalSeconds: r.seconds,
      ...(train ? {trainSeconds: train.seconds, epochs: train.epochs, bestEpoch: train.bestEpoch} : {}),
      ...(isBase ? {} : {compressSeconds: record.compressSeconds, finetuneSeconds: record.finetune?.seconds}),
      // a student's training is its own: its epochs and seconds, with how it was taught
      ...(record.distill ? {distill: record.distill, trainSeconds: record.distill.seconds, epochs: record.distill.epochs} : {}),
      notes: graph ? graph.notes : record.notes,
    }
    writeJsonAtomic(join(v.dir, 'result.json'), result)
    progress.done(`ndcg@10 ${formatMetric(r.metrics['ndcg@10'])}, p50 ${formatMs(latency.p50Ms)} ms, ${result.execution}`)
    return {result, protocol}
  } finally {
    o.dispose()
  }
}

/** every metric, p50Ms and sizeBytes of `r` against `base`: absolute and relative differences */
function deltasAgainst(r: VariantResult, base: VariantResult): Record<string, {abs: number; rel: number | null}> {
  const deltas: Record<string, {abs: number; rel: number | null}> = {}
  const add = (key: string, v: number | undefined, b: number | undefined) => {
    if (v === undefined || b === undefined) return
    deltas[key] = {abs: v - b, rel: b === 0 ? null : (v - b) / Math.abs(b)}
  }
  for (const [k, v] of Object.entries(r.metrics)) add(k, v, base.metrics[k])
  add('p50Ms', r.latency.p50Ms, base.latency.p50Ms)
  add('sizeBytes', r.sizeBytes, base.sizeBytes)
  return deltas
}

/**
 * deltas of every metric (and p50, size) against the model's base variant, and the gate verdict;
 * a distilled student also against its scratch baseline (versusScratch), when that was measured
 */
export function withDeltasAndGate(cfg: RecConfig, results: VariantResult[]): VariantResult[] {
  const bases = new Map(results.filter((r) => r.name === 'base').map((r) => [r.model, r]))
  const gate = cfg.compress.gate
  return results.map((r) => {
    const base = bases.get(r.model)
    if (!base || r.name === 'base') return r
    const deltas = deltasAgainst(r, base)
    const scratchName = r.distill?.scratchVariant
    const scratch = scratchName === undefined ? undefined : results.find((x) => x.model === r.model && x.name === scratchName)
    const versus = scratch ? {versusScratch: {variant: scratch.name, deltas: deltasAgainst(r, scratch)}} : {}
    let g: VariantResult['gate']
    if (gate && r.metrics[gate.metric] !== undefined && base.metrics[gate.metric] !== undefined) {
      const b = base.metrics[gate.metric]
      const v = r.metrics[gate.metric]
      const higher = parseMetricName(gate.metric).info.higherIsBetter
      const drop = b === 0 ? 0 : (higher ? b - v : v - b) / Math.abs(b)
      g = {metric: gate.metric, maxRelativeDrop: gate.max_relative_drop, relativeDrop: drop, passed: drop <= gate.max_relative_drop + 1e-12}
    }
    return {...r, deltas, ...versus, ...(g ? {gate: g} : {})}
  })
}

/** the protocol a config asks for, before any evaluation ran (evaluation reports the exact one) */
export function protocolOf(cfg: RecConfig): ProtocolInfo {
  const p = {
    mode: cfg.eval.mode,
    part: 'test',
    candidates: cfg.eval.mode === 'full' ? 'all items' : `1 positive + ${cfg.eval.negatives} sampled negatives`,
    excluded: 'train + validation items',
    users: 'test users with at least one test item',
    k: cfg.eval.k,
    threshold: cfg.eval.threshold,
    negatives: {...cfg.negatives, perPositive: cfg.eval.mode === 'full' ? null : cfg.eval.negatives},
    seed: cfg.seed,
  }
  const histories = historiesOf(cfg)
  const full = {...p, split: cfg.split, ...(histories ? {histories} : {})}
  return {...full, description: describeProtocol(full as unknown as Protocol)}
}

/** the protocol's statement on sequential models' histories (their max_len), or undefined */
export function historiesOf(cfg: RecConfig): string | undefined {
  return describeHistories(cfg.models.filter((m) => getModelSpec(m.model).sequential).map((m) => ({label: modelLabel(m), maxLen: m.max_len ?? DEFAULT_MAX_LEN})))
}

