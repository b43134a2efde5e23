import {join} from 'node:path'

import {modelLabel, modelTrainConfig, type ModelConfig, type RecConfig, type TrainConfig} from '../config/schema.js'
import {compressedBytes, saveCompressed} from '../compress/io.js'
import {distillNote, trainStudent, type DistillParams} from '../compress/distill.js'
import {compressVariant, expandVariants, variantReport, type Step, type VariantSpec} from '../compress/registry.js'
import {fromWeights, pruningMasks, toFloatWeights} from '../compress/tensors.js'
import {pruneMagnitude, sparsityAt} from '../compress/prune.js'
import type {CompressedModel, VariantReport} from '../compress/types.js'
import {historyMatrix, userSequences} from '../data/sequences.js'
import type {Split} from '../data/types.js'
import {isSequential, maxLenOf} from '../models/sequential.js'
import type {ModelWeights} from '../models/types.js'
import {exportOnnx} from '../onnx/export.js'
import type {Progress} from '../progress.js'
import {trainModel} from '../train/train.js'
import {writeFileAtomic, writeJsonAtomic} from './atomic.js'

export const COMPRESS_JSON = 'compress.json'
export const ONNX_FILE = 'model.onnx'

/** what compress.json holds beside a variant: the honest account plus fine-tuning (and distillation) */
export interface VariantRecord extends VariantReport {
  finetune: {epochs: number; seconds: number; skipped?: string}
  /** a distilled student (or its scratch baseline): how it was trained */
  distill?: DistillRecord
  sizeBytesTfjs: number
  sizeBytesOnnx: number
}

/** the training of a distill step's student, as compress.json and result.json record it */
export interface DistillRecord {
  /** label of the teacher model (the trained base) */
  teacher: string
  /** the student's architecture (its registry name) */
  student: string
  /** true for the baseline trained without the teacher */
  scratch: boolean
  temperature: number
  alpha: number
  /** epochs trained and their wall seconds */
  epochs: number
  seconds: number
  /** the distilled variant: the name of its scratch baseline, when one is made */
  scratchVariant?: string
  /** the scratch baseline: the name of the distilled variant it is the baseline of */
  distilledVariant?: string
}

/** fine-tuning changes weights only for methods that change them: pruning and low-rank (the steps after a distill step: the student's) */
function finetuneEpochs(cfg: RecConfig, spec: VariantSpec, steps: Step[]): number {
  const changesWeights = steps.some((s) => s.method !== 'quantize')
  if (!changesWeights) return 0
  return spec.finetune?.epochs ?? cfg.compress.finetune.epochs
}

function polynomialPrune(spec: VariantSpec): (Step & {method: 'prune'}) | undefined {
  return spec.steps.find((s): s is Step & {method: 'prune'} => s.method === 'prune' && s.params.method === 'magnitude' && s.params.schedule === 'polynomial')
}

/** a finished variant, or `interrupted` (Ctrl-C during fine-tuning): nothing to save, the checkpoint is kept */
export type MadeVariant =
  | {interrupted?: false; model: CompressedModel; record: Omit<VariantRecord, 'sizeBytesTfjs' | 'sizeBytesOnnx'>; calibration?: Int32Array}
  | {interrupted: true}

/** users whose training histories calibrate a sequential model's compression (int8 scales, head / block importance) */
export const CALIBRATION_USERS = 256

/**
 * A sequential model's calibration histories: the training histories (never validation or test
 * items) of CALIBRATION_USERS users spread evenly over the user ids, as B×max_len shifted ids;
 * undefined for other models (they calibrate from their weights).
 */
export function calibrationHistories(split: Split, model: Pick<ModelWeights, 'kind' | 'params'>): Int32Array | undefined {
  if (!isSequential(model.kind)) return undefined
  const U = split.train.numUsers
  const n = Math.min(U, CALIBRATION_USERS)
  const users = Int32Array.from({length: n}, (_, k) => Math.floor((k * U) / n))
  return historyMatrix(userSequences([split.train], U), users, maxLenOf(model))
}

/**
 * Make one variant: a distill step first trains the student (src/compress/distill.ts; checkpoints
 * in the checkpoint folder, the later fine-tuning's in its finetune/ subfolder), and the steps
 * after it compress the student; then the steps before quantization, fine-tuning (pruned weights
 * held at zero; a polynomial schedule raises sparsity epoch by epoch as TF-MOT's PolynomialDecay),
 * then the quantization steps on the fine-tuned weights. Returns the compressed model and its record.
 */
export async function makeVariant(args: {
  cfg: RecConfig
  model: ModelConfig
  base: ModelWeights
  spec: VariantSpec
  split: Split
  progress: Progress
  signal?: AbortSignal
  /**
   * fine-tuning's checkpoint folder (trainModel's checkpoint option); `resume` continues an
   * interrupted fine-tuning from it, so the variant equals an uninterrupted one bit for bit
   */
  checkpoint?: {dir: string; resume: boolean}
}): Promise<MadeVariant> {
  const {cfg, spec, progress} = args
  const t0 = performance.now()
  const notes: string[] = []
  // distillation: the student replaces the teacher as the model the other steps compress
  let base = args.base
  let model = args.model
  let distill: DistillRecord | undefined
  const first = spec.steps[0]
  if (first?.method === 'distill') {
    const p: DistillParams = first.params
    const st = await trainStudent({cfg, teacherModel: args.model, teacher: args.base, params: p, split: args.split, progress, signal: args.signal, ...(args.checkpoint ? {checkpoint: args.checkpoint} : {})})
    if (st.interrupted) return {interrupted: true}
    base = st.weights
    model = st.model
    notes.push(distillNote(p, modelLabel(args.model), st.epochs))
    distill = {
      teacher: modelLabel(args.model),
      student: st.model.model,
      scratch: p.scratch === true,
      temperature: p.temperature,
      alpha: p.alpha,
      epochs: st.epochs,
      seconds: st.seconds,
      ...(p.scratch ? {distilledVariant: spec.name.replace(/-scratch$/, '')} : p.baseline ? {scratchVariant: `${spec.name}-scratch`} : {}),
    }
  }
  const steps = distill ? spec.steps.slice(1) : spec.steps
  // the fine-tuning after a distill step checkpoints beside the student's training
  const finetuneCheckpoint = args.checkpoint && distill ? {...args.checkpoint, dir: join(args.checkpoint.dir, 'finetune')} : args.checkpoint
  const firstQuant = steps.findIndex((s) => s.method === 'quantize')
  const pre = firstQuant === -1 ? steps : steps.slice(0, firstQuant)
  const post = firstQuant === -1 ? [] : steps.slice(firstQuant)
  let current: CompressedModel = fromWeights(base)
  let compressSeconds = 0
  const calibration = calibrationHistories(args.split, base)
  if (pre.length > 0) {
    const a = compressVariant(base, {...spec, steps: pre}, {calibration})
    current = a.model
    notes.push(...a.report.notes)
    compressSeconds += a.report.compressSeconds
  }

  const epochs = finetuneEpochs(cfg, spec, steps)
  let finetune: VariantRecord['finetune'] = {epochs: 0, seconds: 0}
  if (epochs > 0) {
    const hasFactors = Object.values(current.tensors).some((s) => s.kind === 'lowrank')
    // a tensor the compression removed (a dropped SASRec block) is a change too
    const sameNames = Object.keys(current.tensors).length === Object.keys(base.tensors).length
    const unchanged = sameNames && Object.entries(current.tensors).every(([name, s]) => {
      const b = base.tensors[name]
      return s.kind === 'float32' && !s.pruned && b !== undefined && s.tensor.data.length === b.data.length && s.tensor.data.every((x, j) => x === b.data[j])
    })
    if (unchanged) {
      // e.g. a rank at or above every matrix's size: nothing was compressed, so nothing to recover
      finetune = {epochs: 0, seconds: 0, skipped: 'the compression left every weight as it was'}
      notes.push(`fine-tuning skipped: ${finetune.skipped}`)
    } else if (hasFactors) {
      finetune = {epochs: 0, seconds: 0, skipped: 'factorized layers are not trainable in rec yet; evaluated without fine-tuning'}
      notes.push(`fine-tuning skipped: ${finetune.skipped}`)
    } else {
      const tf0 = performance.now()
      progress.update(`fine-tuning ${spec.name} for ${epochs} epochs`)
      // a distilled student fine-tunes with the teacher model's settings, as it was trained
      const train: TrainConfig = {...modelTrainConfig(cfg, args.model), epochs, early_stopping: null}
      const fixed = pruningMasks(current)
      const poly = polynomialPrune(spec)
      const masks = poly
        ? (() => {
            // masks by the base weights' magnitudes at each epoch's sparsity: nested, ending at the target
            const cache = new Map<number, Record<string, Uint8Array>>()
            return (epoch: number) => {
              const s = sparsityAt(epoch, {initial: 0, final: poly.params.sparsity, begin: 0, end: epochs})
              const key = Math.round(s * 1e6)
              if (!cache.has(key)) cache.set(key, pruningMasks(pruneMagnitude(fromWeights(base), {...poly.params, sparsity: s}).model))
              return cache.get(key)!
            }
          })()
        : Object.keys(fixed).length > 0
          ? () => fixed
          : undefined
      const r = await trainModel({
        model,
        train,
        negatives: cfg.negatives,
        split: args.split,
        seed: cfg.seed + 1,
        // a gradual schedule starts from the unpruned weights (its first masks keep more of them);
        // otherwise fine-tuning starts from the compressed model
        init: poly && pre.length === 1 ? base : toFloatWeights(current),
        masks,
        signal: args.signal,
        progress,
        ...(finetuneCheckpoint ? {checkpoint: finetuneCheckpoint} : {}),
      })
      // a half-tuned variant must never be saved as finished: stop, keep the checkpoint
      if (r.interrupted) return {interrupted: true}
      // keep each tensor's stored form (and pruning mask), with the fine-tuned values
      const tensors = {...current.tensors}
      for (const [name, s] of Object.entries(tensors)) {
        if (s.kind === 'float32') tensors[name] = {...s, tensor: r.weights.tensors[name]}
      }
      current = {...current, tensors}
      finetune = {epochs: r.epochs, seconds: (performance.now() - tf0) / 1000}
    }
  }

  if (post.length > 0) {
    const b = compressVariant(current, {...spec, steps: post}, {calibration})
    current = b.model
    notes.push(...b.report.notes)
    compressSeconds += b.report.compressSeconds
  }
  // the account of what the variant is now (after fine-tuning and quantization); training (the
  // student's, fine-tuning) is not compression time
  const seconds = compressSeconds || Math.max(0, (performance.now() - t0) / 1000 - finetune.seconds - (distill?.seconds ?? 0))
  return {model: current, record: {...variantReport(current, spec, notes, seconds), finetune, ...(distill ? {distill} : {})}, calibration}
}

/** write a variant: stored form (variant.json + variant.bin), model.onnx, compress.json */
export function saveVariant(dir: string, model: CompressedModel, record: Omit<VariantRecord, 'sizeBytesTfjs' | 'sizeBytesOnnx'>, calibration?: Int32Array): VariantRecord {
  saveCompressed(dir, model)
  // int8 activation scales of a sequential model come from its calibration histories (calibrationHistories)
  const onnx = exportOnnx(model, {calibration})
  writeFileAtomic(join(dir, ONNX_FILE), onnx)
  const full: VariantRecord = {...record, sizeBytesTfjs: compressedBytes(dir), sizeBytesOnnx: onnx.byteLength}
  writeJsonAtomic(join(dir, COMPRESS_JSON), full)
  return full
}

/** the ONNX file of a trained base model, written beside it by the train stage */
export function saveBaseOnnx(dir: string, weights: ModelWeights): void {
  writeFileAtomic(join(dir, ONNX_FILE), exportOnnx(fromWeights(weights)))
}

/** every variant of every trained model: `[{model, spec}]` in config order (the grid that shards slice) */
export function variantGrid(cfg: RecConfig): {model: ModelConfig; label: string; spec: VariantSpec}[] {
  if (cfg.compress.variants.length === 0) return []
  const specs = expandVariants(cfg.compress.variants)
  const out: {model: ModelConfig; label: string; spec: VariantSpec}[] = []
  for (const m of cfg.models) {
    for (const spec of specs) {
      out.push({model: m, label: modelLabel(m), spec})
    }
  }
  return out
}
