import {existsSync, readFileSync, readdirSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {tf} from '../backend/index.js'
import type {ModelConfig, NegativesConfig, TrainConfig} from '../config/schema.js'
import {trainingWindows, userSequences, windowBatches} from '../data/sequences.js'
import type {Split} from '../data/types.js'
import {dataError} from '../errors.js'
import {loadModel, saveModel} from '../models/io.js'
import {modelFromWeights, type TrainableModel} from '../models/model.js'
import {getModelSpec, initWeights, type Loss, resolveLoss} from '../models/registry.js'
import {distillPairLoss, positionDistill} from '../models/distill-loss.js'
import {pairScores, type TensorMap} from '../models/forward.js'
import {createSequenceTeacher, createSequenceTrainer, isSequential, maxLenOf} from '../models/sequential.js'
import type {ModelWeights} from '../models/types.js'
import type {Progress} from '../progress.js'
import {writeJsonAtomic} from '../run/atomic.js'
import {type Engine, epochRng, pairBatches} from './engine.js'
import {kernelIneligible, kernelPairEngine} from './kernel-pair.js'
import {type OptimizerState, readOptimizerFiles, writeOptimizerState} from './optimizer-files.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor1D = import('@tensorflow/tfjs').Tensor1D
type Scalar = import('@tensorflow/tfjs').Scalar
type Optimizer = import('@tensorflow/tfjs').Optimizer
type Variable = import('@tensorflow/tfjs').Variable

export interface EpochRecord {
  epoch: number
  /** mean training objective over the epoch's rows (loss + L2 term) */
  loss: number
  /** training seconds of the epoch (validation not included) */
  seconds: number
  /** training rows per second: (u, i, label) pairs for BCE, (u, i⁺, i⁻) triples for BPR */
  rowsPerSec: number
  /** validation metric, when validated after this epoch */
  valid?: number
  validSeconds?: number
}

export interface TrainResult {
  weights: ModelWeights
  /** completed epochs (an interrupted epoch does not count) */
  epochs: number
  /** epoch whose weights are returned */
  bestEpoch: number
  history: EpochRecord[]
  stoppedEarly: boolean
  interrupted: boolean
  seconds: number
  /** which step trained it: 'kernels' (the hand-written mf / neumf step) or 'tfjs' */
  engine?: 'tfjs' | 'kernels'
  /** checkpoints written by this call, and their bytes on disk (weights, optimizer state, best weights) */
  checkpoints?: {count: number; bytes: number}
}

export interface TrainArgs {
  model: ModelConfig
  train: TrainConfig
  negatives: NegativesConfig
  split: Split
  seed: number
  progress?: Progress
  /** validation metric of these weights, higher is better (used when train.early_stopping is set) */
  validate?: (weights: ModelWeights) => Promise<number>
  /** abort (Ctrl-C): the current batch finishes, then training stops with interrupted: true */
  signal?: AbortSignal
  /**
   * save weights + optimizer state after the last epoch, and before it every `every` epochs when
   * given, else at the end of the first epoch that finishes `seconds` (default 30) after the last
   * checkpoint (so short epochs do not rewrite the model hundreds of times); `resume` continues
   * from what is there
   */
  checkpoint?: {dir: string; every?: number; seconds?: number; resume?: boolean}
  /**
   * which step trains pair models: 'auto' (default) the hand-written one (src/train/kernel-pair.ts)
   * for mf and neumf on the wasm and cpu backends, tfjs otherwise; 'tfjs' always the tfjs step.
   * REC_TRAIN_ENGINE=tfjs in the environment does the same as 'tfjs'.
   */
  engine?: 'auto' | 'tfjs'
  /** start from these weights instead of a fresh initialisation (fine-tuning a compressed model) */
  init?: ModelWeights
  /**
   * weights held at zero: after every optimizer step, tensor `name` is multiplied by `mask(epoch)`
   * (1 keeps a weight, 0 prunes it). A function of the epoch allows a gradual schedule.
   */
  masks?: (epoch: number) => Record<string, Uint8Array>
  /**
   * knowledge distillation: train `model` (the student) on α · its own loss + (1 − α) · T² · the
   * teacher term (src/models/distill-loss.ts) against these trained weights' scores on the same
   * batches. A sequential teacher for a sequential student (logits over all items at every
   * training position), a pair teacher for a pair student (logits of the batch's sampled rows).
   * α = 1 gives the teacher no weight: plain training, without running the teacher.
   */
  distill?: {teacher: ModelWeights; temperature: number; alpha: number}
}

/**
 * What checkpoint/state.json holds. Each checkpoint is written whole into its own folder
 * (`epoch-0007/`: weights and optimizer state; `best-0005/`: the best weights so far), and only
 * then is state.json replaced atomically to point at it: a kill at any moment leaves either the
 * previous checkpoint or the new one, never a mix. Older folders are removed afterwards.
 */
export interface CheckpointState {
  version: 2
  /** folder (under the checkpoint dir) of this epoch's weights and optimizer state */
  dir: string
  /** folder of the best weights so far, when early stopping has found any */
  bestDir?: string
  kind: string
  numUsers: number
  numItems: number
  seed: number
  epoch: number
  bestEpoch: number
  bestMetric: number | null
  evalsWithoutImprovement: number
  history: EpochRecord[]
}

function fmtRate(r: number): string {
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)}M` : r >= 1e3 ? `${Math.round(r / 1e3)}k` : `${Math.round(r)}`
}

function fmtSeconds(s: number): string {
  if (s < 90) return `${Math.round(s)}s`
  if (s < 5400) return `${Math.round(s / 60)}m`
  return `${(s / 3600).toFixed(1)}h`
}

/** default seconds of training between two checkpoints (TrainArgs.checkpoint.seconds) */
export const DEFAULT_CHECKPOINT_SECONDS = 30

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** softplus(x) − x·y: binary cross-entropy on logits, stable for large |x| */
function bceWithLogits(logits: Tensor, labels: Tensor): Tensor {
  return tf.sub(tf.softplus(logits), tf.mul(logits, labels))
}

function readState(dir: string): CheckpointState | undefined {
  const path = join(dir, 'state.json')
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as CheckpointState
  } catch (error) {
    throw dataError('model.corrupt', `${path} is corrupt: ${(error as Error).message}`, {hint: 'delete the checkpoint directory to start over'})
  }
}

/**
 * Train one model on split.train.
 *
 * Rows: BPR trains on (u, i⁺, i⁻) triples, `negatives` per positive; BCE on the positive (label 1)
 * plus `negatives` sampled items (label 0). A batch holds ⌊batch_size / rows per positive⌋
 * positives with all their rows, so batch_size counts rows, as in the NCF reference code. Each
 * epoch shuffles the positives and samples fresh negatives from a stream derived from (seed, epoch).
 * L2 (when > 0) adds l2 · Σ‖batch embedding rows‖² / rows to the objective.
 * Early stopping (train.early_stopping and `validate`): validate every eval_every epochs, keep a
 * copy of the best weights, stop after `patience` validations without improvement, return the best.
 * All tensors (variables, optimizer slots, batch tensors) are disposed before returning.
 */
export async function trainModel(args: TrainArgs): Promise<TrainResult> {
  const t0 = performance.now()
  const {split, seed, train: tc, signal} = args
  const progress = args.progress
  const spec = getModelSpec(args.model.model)
  const dims = {numUsers: split.train.numUsers, numItems: split.train.numItems}

  if (!spec.trainable) {
    const weights = initWeights(args.model, dims, seed, split.train)
    progress?.update(`${spec.name}: counted ${split.train.length} interactions`)
    return {weights, epochs: 0, bestEpoch: 0, history: [], stoppedEarly: false, interrupted: false, seconds: (performance.now() - t0) / 1000}
  }

  const es = tc.early_stopping && args.validate ? tc.early_stopping : null
  if (tc.early_stopping && !args.validate) progress?.warn('early_stopping is set but no validation function was given; training all epochs')
  const ckpt = args.checkpoint
  // checkpoint cadence: every `every` epochs when given, else at most one per `seconds` of training
  const every = ckpt?.every === undefined ? undefined : Math.max(1, ckpt.every)
  const minSeconds = ckpt?.seconds ?? DEFAULT_CHECKPOINT_SECONDS
  let lastCheckpoint = performance.now()

  // state (possibly resumed)
  let startEpoch = 1
  let history: EpochRecord[] = []
  let bestMetric = -Infinity
  let bestEpoch = 0
  let bestWeights: ModelWeights | undefined
  let evalsWithoutImprovement = 0
  let initial: ModelWeights | undefined
  let resumeOptimizer = false
  let resumeDir: string | undefined
  const resumeState = ckpt?.resume ? readState(ckpt.dir) : undefined
  if (ckpt && resumeState) {
    const state = resumeState
    if (state.version === 2 && existsSync(join(ckpt.dir, state.dir, 'model.json'))) {
      resumeDir = join(ckpt.dir, state.dir)
      const {weights} = loadModel(resumeDir)
      if (weights.kind !== args.model.model || weights.numUsers !== dims.numUsers || weights.numItems !== dims.numItems) {
        throw dataError('checkpoint.mismatch', `checkpoint in ${ckpt.dir} is a ${weights.kind} for ${weights.numUsers}×${weights.numItems}, not this ${args.model.model} for ${dims.numUsers}×${dims.numItems}`)
      }
      initial = weights
      startEpoch = state.epoch + 1
      history = state.history
      bestEpoch = state.bestEpoch
      bestMetric = state.bestMetric ?? -Infinity
      evalsWithoutImprovement = state.evalsWithoutImprovement
      if (state.bestDir) bestWeights = loadModel(join(ckpt.dir, state.bestDir)).weights
      resumeOptimizer = true
      progress?.info(`resuming ${args.model.model} from epoch ${state.epoch} (${ckpt.dir})`)
    }
  }
  initial ??= args.init ?? initWeights(args.model, dims, seed, split.train)

  if (args.distill) checkTeacher(args.distill.teacher, spec.sequential, dims, args.model.model)
  const engine: Engine = spec.sequential ? sequenceEngine(initial, args) : choosePairEngine(initial, args, spec)
  // Adam's moments and step count are part of the state: without them a resumed run would not
  // reproduce an uninterrupted one
  if (resumeOptimizer && resumeDir) await engine.loadOptimizer(resumeDir)

  let interrupted = false
  let stoppedEarly = false
  let epoch = startEpoch - 1

  // pruning masks, handed to the engine only when the schedule hands out new arrays
  let maskArrays: Record<string, Uint8Array> | undefined
  const setMasks = (ep: number) => {
    const next = args.masks?.(ep)
    if (!next || next === maskArrays) return
    maskArrays = next
    engine.setMasks(next)
  }
  const applyMasks = () => engine.applyMasks()

  let bestDir = resumeState?.bestDir
  const written = {count: 0, bytes: 0}
  const folderBytes = (d: string) => readdirSync(d).reduce((a, f) => a + statSync(join(d, f)).size, 0)
  /**
   * What a checkpoint of the epoch just finished holds, copied: taken at every epoch's end, written
   * when due, kept in memory otherwise so that Ctrl-C mid-epoch still leaves the last completed
   * epoch on disk (a SIGKILL leaves the last written one).
   */
  interface Snapshot {
    epoch: number
    weights: ModelWeights
    optimizer: OptimizerState
    best?: {epoch: number; weights: ModelWeights}
    bestChanged: boolean
    bestMetric: number
    evalsWithoutImprovement: number
    history: EpochRecord[]
  }
  const snapshot = async (ep: number, bestChanged: boolean): Promise<Snapshot> => ({
    epoch: ep,
    weights: engine.toWeights(),
    optimizer: await engine.optimizerState(),
    ...(bestWeights ? {best: {epoch: bestEpoch, weights: bestWeights}} : {}),
    bestChanged,
    bestMetric,
    evalsWithoutImprovement,
    history: history.map((h) => ({...h})),
  })
  const writeCheckpoint = (snap: Snapshot) => {
    if (!ckpt) return
    const ep = snap.epoch
    const dir = `epoch-${String(ep).padStart(4, '0')}`
    rmSync(join(ckpt.dir, dir), {recursive: true, force: true})
    saveModel(join(ckpt.dir, dir), snap.weights)
    writeOptimizerState(join(ckpt.dir, dir), snap.optimizer)
    written.bytes += folderBytes(join(ckpt.dir, dir))
    if (snap.bestChanged && snap.best) {
      if (snap.best.epoch === ep) {
        // the best weights are this epoch's: the checkpoint folder holds them already
        bestDir = dir
      } else {
        bestDir = `best-${String(snap.best.epoch).padStart(4, '0')}`
        rmSync(join(ckpt.dir, bestDir), {recursive: true, force: true})
        saveModel(join(ckpt.dir, bestDir), snap.best.weights)
        written.bytes += folderBytes(join(ckpt.dir, bestDir))
      }
    }
    written.count++
    const state: CheckpointState = {
      version: 2,
      dir,
      ...(bestDir ? {bestDir} : {}),
      kind: args.model.model,
      numUsers: dims.numUsers,
      numItems: dims.numItems,
      seed,
      epoch: ep,
      bestEpoch: snap.best?.epoch ?? bestEpoch,
      bestMetric: Number.isFinite(snap.bestMetric) ? snap.bestMetric : null,
      evalsWithoutImprovement: snap.evalsWithoutImprovement,
      history: snap.history,
    }
    writeJsonAtomic(join(ckpt.dir, 'state.json'), state)
    // the new checkpoint is the one state.json names: the others can go
    for (const d of readdirSync(ckpt.dir)) {
      if ((d.startsWith('epoch-') || d.startsWith('best-')) && d !== dir && d !== bestDir) rmSync(join(ckpt.dir, d), {recursive: true, force: true})
    }
  }

  // hand control to the event loop every 50 ms of training (Ctrl-C handlers, progress), counted
  // across epochs so that short epochs cannot starve it
  let lastYield = performance.now()
  // the last completed epoch's checkpoint when it was not due yet (written on Ctrl-C)
  let pending: Snapshot | undefined
  try {
    let bestSinceCheckpoint = false
    for (epoch = startEpoch; epoch <= tc.epochs; epoch++) {
      const te = performance.now()
      setMasks(epoch)
      let lossSum = 0
      let rows = 0
      let lastUpdate = performance.now()
      const stream = epochRng(seed, epoch)
      for (const stepped of engine.epoch(stream, stream.int(0x7fffffff))) {
        const m = stepped.rows
        lossSum += stepped.loss * m
        applyMasks()
        rows += m
        const now = performance.now()
        if (now - lastYield > 50) {
          // let signal handlers (Ctrl-C) and progress rendering run
          await yieldToEventLoop()
          lastYield = performance.now()
        }
        if (signal?.aborted) {
          interrupted = true
          break
        }
        if (progress && now - lastUpdate > 2000) {
          lastUpdate = now
          progress.update(`epoch ${epoch}/${tc.epochs} ${Math.round(stepped.fraction * 100)}% loss ${(lossSum / rows).toFixed(4)} ${fmtRate(rows / ((now - te) / 1000))} ${engine.rowName}/s`)
        }
      }
      if (interrupted) break
      const seconds = (performance.now() - te) / 1000
      const rec: EpochRecord = {epoch, loss: rows > 0 ? lossSum / rows : 0, seconds, rowsPerSec: seconds > 0 ? rows / seconds : 0}
      history.push(rec)

      let improved = false
      if (es && epoch % tc.eval_every === 0) {
        const tv = performance.now()
        const snapshot = engine.toWeights()
        const v = await args.validate!(snapshot)
        rec.valid = v
        rec.validSeconds = (performance.now() - tv) / 1000
        if (v > bestMetric) {
          bestMetric = v
          bestEpoch = epoch
          bestWeights = snapshot
          evalsWithoutImprovement = 0
          improved = true
          bestSinceCheckpoint = true
        } else {
          evalsWithoutImprovement++
        }
      }
      const done = epoch - startEpoch + 1
      const eta = ((performance.now() - t0) / 1000 / done) * (tc.epochs - epoch)
      progress?.update(
        `epoch ${epoch}/${tc.epochs} loss ${rec.loss.toFixed(4)} ${fmtRate(rec.rowsPerSec)} ${engine.rowName}/s` +
          (rec.valid !== undefined ? ` ${es!.metric} ${rec.valid.toFixed(4)}${improved ? ' *' : ''}` : '') +
          ` ETA ${fmtSeconds(eta)}`,
      )
      if (es && evalsWithoutImprovement >= es.patience) stoppedEarly = true
      const due = every === undefined ? (performance.now() - lastCheckpoint) / 1000 >= minSeconds : epoch % every === 0
      if (ckpt) {
        const snap = await snapshot(epoch, bestSinceCheckpoint)
        if (due || stoppedEarly || epoch === tc.epochs || signal?.aborted) {
          writeCheckpoint(snap)
          pending = undefined
          bestSinceCheckpoint = false
          lastCheckpoint = performance.now()
        } else {
          pending = snap
        }
      }
      if (stoppedEarly) break
      if (signal?.aborted) {
        interrupted = true
        break
      }
    }

    // interrupted mid-epoch: the last completed epoch goes to disk, as if it had been due
    if (interrupted && pending) writeCheckpoint(pending)
    const completed = history.length > 0 ? history[history.length - 1].epoch : 0
    let weights: ModelWeights
    if (bestWeights) {
      weights = bestWeights
    } else {
      weights = engine.toWeights()
      bestEpoch = completed
    }
    return {
      weights,
      epochs: completed,
      bestEpoch,
      history,
      stoppedEarly,
      interrupted,
      seconds: (performance.now() - t0) / 1000,
      engine: engine.implementation,
      ...(ckpt ? {checkpoints: written} : {}),
    }
  } finally {
    engine.dispose()
  }
}

/** a teacher the student can learn from: the same protocol (sequential or pair) over the same users and items */
function checkTeacher(teacher: ModelWeights, sequential: boolean, dims: {numUsers: number; numItems: number}, student: string): void {
  if (isSequential(teacher.kind) !== sequential || teacher.kind === 'pop')
    throw new Error(`distillation: a ${teacher.kind} teacher cannot teach a ${student} student (sequential teaches sequential, pair models teach pair models)`)
  if (teacher.numItems !== dims.numItems || (!sequential && teacher.numUsers !== dims.numUsers))
    throw new Error(`distillation: the teacher is for ${teacher.numUsers}×${teacher.numItems}, the student for ${dims.numUsers}×${dims.numItems}`)
}

/** the teacher's tensors, resident for the whole training (pair teachers) */
function teacherTensors(w: ModelWeights): TensorMap {
  const out: TensorMap = {}
  for (const [name, t] of Object.entries(w.tensors)) out[name] = tf.tensor(t.data, t.shape, 'float32')
  return out
}

/** the pair engine for these arguments: the hand-written step where it applies, else tfjs */
function choosePairEngine(initial: ModelWeights, args: TrainArgs, spec: ReturnType<typeof getModelSpec>): Engine {
  const loss: Loss = resolveLoss(spec, args.model)
  const backend = tf.getBackend()
  const wanted = args.engine !== 'tfjs' && process.env.REC_TRAIN_ENGINE !== 'tfjs'
  // a native backend (tfjs-node, tfjs-node-gpu) trains through tfjs: its kernels are not per-op bound
  if (wanted && (backend === 'wasm' || backend === 'cpu') && !kernelIneligible(args, loss)) return kernelPairEngine(initial, args, loss)
  return pairEngine(initial, args, loss)
}

/**
 * Pair models in tfjs (any pair model, any backend, distillation): the batches of pairBatches
 * (src/train/engine.ts), one optimizer.minimize per batch. L2 (when > 0) adds
 * l2 · Σ‖batch embedding rows‖² / rows to the objective.
 */
function pairEngine(initial: ModelWeights, args: TrainArgs, loss: Loss): Engine {
  const {train: tc} = args
  const model: TrainableModel = modelFromWeights(initial, true)
  const varList = Object.values(model.vars)
  const optimizer: Optimizer = tc.optimizer === 'sgd' ? tf.train.sgd(tc.lr) : tf.train.adam(tc.lr)
  const batches = pairBatches(args, tc, loss)
  const l2 = tc.l2
  // distillation: the teacher scores the same rows (bpr: the difference t⁺ − t⁻ of each triple)
  const distill = args.distill && args.distill.alpha < 1 ? args.distill : undefined
  const teacher = distill ? teacherTensors(distill.teacher) : undefined
  const teacherLogits = (u: Tensor1D, i: Tensor1D, j: Tensor1D | undefined): Tensor1D =>
    tf.tidy(() => {
      const kind = distill!.teacher.kind
      const t = pairScores(kind, teacher!, u, i)
      return j ? tf.sub(t, pairScores(kind, teacher!, u, j)) : t
    })

  const step = (bu: Int32Array, bi: Int32Array, bj: Int32Array, by: Float32Array, m: number): number => {
    const u = tf.tensor1d(bu.subarray(0, m), 'int32')
    const i = tf.tensor1d(bi.subarray(0, m), 'int32')
    const j = loss === 'bpr' ? tf.tensor1d(bj.subarray(0, m), 'int32') : undefined
    const y = loss === 'bce' ? tf.tensor1d(by.subarray(0, m), 'float32') : undefined
    const t = distill ? teacherLogits(u, i, j) : undefined
    try {
      const cost = optimizer.minimize(
        () => {
          const collect = l2 > 0 ? {out: [] as Tensor[], users: true, items: true} : undefined
          let objective: Tensor
          if (loss === 'bpr') {
            const sp = model.scorePairs(u, i, collect)
            const sn = model.scorePairs(u, j!, collect ? {out: collect.out, users: false, items: true} : undefined)
            // −log σ(s⁺ − s⁻) = softplus(s⁻ − s⁺)
            objective = distill ? distillPairLoss(tf.sub(sp, sn), t!, undefined, distill) : tf.mean(tf.softplus(tf.sub(sn, sp)))
          } else {
            const s = model.scorePairs(u, i, collect)
            objective = distill ? distillPairLoss(s, t!, y!, distill) : tf.mean(bceWithLogits(s, y!))
          }
          if (collect && collect.out.length > 0) {
            const sq = tf.addN(collect.out.map((e) => tf.sum(tf.square(e))))
            objective = tf.add(objective, tf.mul(sq, l2 / m))
          }
          return objective as Scalar
        },
        true,
        varList,
      )
      const v = cost!.dataSync()[0]
      cost!.dispose()
      return v
    } finally {
      u.dispose()
      i.dispose()
      j?.dispose()
      y?.dispose()
      t?.dispose()
    }
  }

  const parts = tfjsParts(model.vars, optimizer)
  return {
    ...parts,
    rowName: 'rows',
    *epoch(stream) {
      for (const b of batches.epoch(stream)) yield {loss: step(b.users, b.items, b.negItems, b.labels, b.m), rows: b.m, fraction: b.fraction}
    },
    toWeights: () => model.toWeights(),
    dispose() {
      parts.dispose()
      optimizer.dispose()
      model.dispose()
      for (const x of Object.values(teacher ?? {})) x.dispose()
    },
  }
}

/** what the tfjs engines share: masks as tensors over the variables, the optimizer's checkpoint files */
function tfjsParts(vars: Record<string, Variable>, optimizer: Optimizer): Pick<Engine, 'implementation' | 'shapes' | 'setMasks' | 'applyMasks' | 'optimizerState' | 'loadOptimizer' | 'dispose'> {
  let maskTensors: Record<string, Tensor> = {}
  const applyMasks = () => {
    for (const [name, mask] of Object.entries(maskTensors)) {
      const v = vars[name]
      tf.tidy(() => v.assign(tf.mul(v, mask)))
    }
  }
  const disposeMasks = () => {
    for (const t of Object.values(maskTensors)) t.dispose()
    maskTensors = {}
  }
  return {
    implementation: 'tfjs',
    shapes: () => Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, [...v.shape]])),
    setMasks(next) {
      disposeMasks()
      for (const [name, m] of Object.entries(next)) {
        const v = vars[name]
        if (!v) throw new Error(`mask for unknown tensor ${name}`)
        maskTensors[name] = tf.tensor(Float32Array.from(m), v.shape, 'float32')
      }
      applyMasks()
    },
    applyMasks,
    optimizerState: () => tfjsOptimizerState(optimizer),
    loadOptimizer: (dir) => loadOptimizerState(dir, optimizer),
    dispose: disposeMasks,
  }
}

/**
 * Sequential models: every training position once per epoch as a next-item target (the windows of
 * src/data/sequences.ts trainingWindows over each user's train items in time order). A batch holds
 * ⌊batch_size / max_len⌋ windows (at least 1), so batch_size counts positions, padding included; a
 * row of the history is one predicted position. The windows are shuffled by the epoch's stream, and
 * the trainer's dropout and negative streams restart from the epoch's seed.
 */
function sequenceEngine(initial: ModelWeights, args: TrainArgs): Engine {
  const {split, train: tc} = args
  const maxLen = maxLenOf(initial)
  const windows = trainingWindows(userSequences([split.train], split.train.numUsers), maxLen)
  const perBatch = Math.max(1, Math.floor(tc.batch_size / maxLen))
  if (tc.l2 > 0) args.progress?.warn(`train.l2 is not applied to ${initial.kind} (sequential models regularise with dropout)`)
  const trainer = createSequenceTrainer(initial, {lr: tc.lr, seed: args.seed, optimizer: tc.optimizer})
  // distillation: the teacher's logits over all items at the trainer's positions of each batch
  const distill = args.distill && args.distill.alpha < 1 ? args.distill : undefined
  let teacher: ReturnType<typeof createSequenceTeacher> | undefined
  try {
    teacher = distill ? createSequenceTeacher(distill.teacher) : undefined
    if (teacher && teacher.maxLen !== maxLen) throw new Error(`distillation: the teacher reads ${teacher.maxLen} items, the student ${maxLen}`)
  } catch (error) {
    teacher?.dispose()
    trainer.dispose()
    throw error
  }
  const parts = tfjsParts(trainer.vars, trainer.optimizer)
  return {
    ...parts,
    rowName: 'positions',
    *epoch(stream, epochSeed) {
      trainer.reseed(epochSeed)
      let done = 0
      for (const b of windowBatches(windows, perBatch, stream)) {
        let n = 0
        for (let k = 0; k < b.targets.length; k++) if (b.targets[k] !== 0 && b.inputs[k] !== 0) n++
        const kd = teacher ? positionDistill((rows) => teacher.logits(b.inputs, rows), distill!) : undefined
        const loss = trainer.step(b.inputs, b.targets, kd)
        done += b.size
        yield {loss, rows: n, fraction: done / windows.count}
      }
    },
    toWeights: () => trainer.weights(),
    dispose: () => {
      parts.dispose()
      trainer.dispose()
      teacher?.dispose()
    },
  }
}

/** the optimizer's slots (Adam: step count, first and second moments) next to the checkpoint */
async function tfjsOptimizerState(optimizer: Optimizer): Promise<OptimizerState> {
  const named = await optimizer.getWeights()
  const parts = named.map(({tensor}) => (tensor.dataSync() as Float32Array).slice())
  const entries = named.map(({name, tensor}, k) => ({name, shape: [...tensor.shape], length: parts[k].length}))
  // getWeights makes the step count's tensor anew each call; the moments are the optimizer's own
  for (const n of named) if (n.name === 'iter') n.tensor.dispose()
  // Adam recomputes beta^t with pow() in setWeights, which rounds differently from the running
  // product it keeps while training; save the running products so a resume is bit-exact
  const adam = optimizer as unknown as {accBeta1?: Tensor; accBeta2?: Tensor}
  const acc: [number, number] | undefined = adam.accBeta1 && adam.accBeta2 ? [adam.accBeta1.dataSync()[0], adam.accBeta2.dataSync()[0]] : undefined
  return {entries, parts, ...(acc ? {acc} : {})}
}

async function loadOptimizerState(dir: string, optimizer: Optimizer): Promise<void> {
  const saved = readOptimizerFiles(dir)
  if (!saved) return
  const {entries, arrays, acc} = saved
  const named = entries.map((e, k) => ({name: e.name, tensor: tf.tensor(arrays[k], e.shape, 'float32')}))
  // setWeights keeps its own variables; the tensors we made are ours to free
  await optimizer.setWeights(named)
  for (const n of named) n.tensor.dispose()
  const adam = optimizer as unknown as {accBeta1?: Tensor & {assign(t: Tensor): void}; accBeta2?: Tensor & {assign(t: Tensor): void}}
  if (acc && adam.accBeta1 && adam.accBeta2) {
    const [b1, b2] = acc
    tf.tidy(() => {
      adam.accBeta1!.assign(tf.scalar(b1))
      adam.accBeta2!.assign(tf.scalar(b2))
    })
  }
}
