/**
 * Knowledge distillation as a compression method: a smaller student, a model of its own
 * architecture, is trained on the teacher's (the trained base model's) softened scores plus the
 * true labels (the losses: src/models/distill-loss.ts). The student is a variant of the teacher:
 * saved, exported, evaluated and accounted for as any variant (its own kind: its params, FLOPs and
 * size), and may be compressed further by the steps after it in a pipeline.
 *
 * What distillation bought is measured against the same student trained from scratch: same
 * architecture, initialisation, batches, epochs and settings, α = 1 (no teacher term). By default
 * every distillation variant `<name>` has that baseline beside it as variant `<name>-scratch`
 * (method `distill.scratch`); `baseline: false` leaves it out.
 *
 * Protocols: the teacher and the student must score the same way. A sequential teacher (sasrec,
 * gru4rec) teaches a sequential student over all items at every training position (the student
 * must train with a softmax: sasrec loss ce, gru4rec); a pair teacher (mf, neumf, two_tower)
 * teaches a pair student on the batch's sampled rows (bpr or bce, the student's loss).
 */
import {modelLabel, modelSchema, modelTrainConfig, type ModelConfig, type RecConfig, type StudentConfig, type TrainConfig} from '../config/schema.js'
import {DEFAULT_MAX_LEN} from '../data/sequences.js'
import type {Split} from '../data/types.js'
import {configError} from '../errors.js'
import {getModelSpec, type ModelDims, resolveLoss} from '../models/registry.js'
import {isSequential} from '../models/sequential.js'
import type {ModelKind, ModelWeights} from '../models/types.js'
import type {Progress} from '../progress.js'
import {shortNumber} from '../report/format.js'
import {trainModel, type EpochRecord} from '../train/train.js'

/** a distill step as the registry holds it: the config's values, plus `scratch` for the baseline */
export interface DistillParams {
  student: StudentConfig
  temperature: number
  alpha: number
  epochs?: number
  baseline: boolean
  /** the baseline variant: the same student trained from scratch (alpha 1, no teacher) */
  scratch?: boolean
}

const PAIR_KINDS: readonly ModelKind[] = ['mf', 'neumf', 'two_tower']
const SEQUENTIAL_STUDENTS: readonly ModelKind[] = ['sasrec', 'gru4rec']

/**
 * The student's model config: its own keys over the model defaults (no name, no train section),
 * max_len the teacher's (both read the same histories).
 */
export function studentModelConfig(p: Pick<DistillParams, 'student'>, teacher: Pick<ModelConfig, 'max_len'> | undefined): ModelConfig {
  const s = modelSchema.parse({...p.student})
  const maxLen = s.max_len ?? teacher?.max_len
  return isSequential(s.model) && maxLen !== undefined ? {...s, max_len: maxLen} : s
}

/** the student's training settings: the teacher model's train section, epochs from distill.epochs, no early stopping */
export function studentTrainConfig(cfg: RecConfig, teacher: ModelConfig, p: Pick<DistillParams, 'epochs'>): TrainConfig {
  const t = modelTrainConfig(cfg, teacher)
  return {...t, epochs: p.epochs ?? t.epochs, early_stopping: null}
}

/** short name of a distill step: distill-sasrec-h32-l1, distill-mf-f16, distill-gru4rec (the architecture keys that are set) */
export function distillStepName(p: DistillParams): string {
  const s = p.student
  const parts = [`distill-${s.model}`]
  if (isSequential(s.model)) {
    if (s.hidden !== undefined) parts.push(`h${s.hidden}`)
    if (s.layers !== undefined) parts.push(`l${s.layers}`)
    if (s.model === 'gru4rec') parts.push(`f${s.factors}`)
  } else if (s.model !== 'pop') {
    parts.push(`f${s.factors}`)
  }
  return parts.join('-')
}

/** what the teacher is, as validation knows it before any weights exist */
export interface TeacherShape {
  kind: ModelKind
  /** the teacher's model config (its max_len, its label), when known */
  config?: ModelConfig
}

/**
 * Config errors (exit 2) for a distillation that cannot work: a teacher and student of different
 * protocols, a student that cannot be trained (pop) or not with a softmax (sasrec loss bce), a
 * student max_len other than the teacher's, an architecture the student's model rejects.
 */
export function validateDistill(p: DistillParams, teacher: TeacherShape, where: string): void {
  const t = teacher.kind
  const s = p.student.model
  const works = 'a sequential teacher (sasrec, gru4rec) teaches a sequential student (sasrec with loss ce, gru4rec); a pair teacher (mf, neumf, two_tower) teaches a pair student (mf, neumf, two_tower)'
  if (t === 'pop') throw configError('compress.not_applicable', `${where}: distill needs a trained teacher; pop has no scores to learn from`, {hint: works})
  if (s === 'pop') throw configError('compress.bad_value', `${where}: a pop student is not trained, so it cannot learn from a teacher`, {hint: works})
  const tSeq = isSequential(t)
  if (tSeq !== isSequential(s)) {
    throw configError(
      'compress.bad_value',
      `${where}: a ${t} teacher (${tSeq ? 'sequential: it scores a user\'s history' : 'pair: it scores (user, item) pairs'}) cannot teach a ${s} student (${tSeq ? 'a pair model' : 'sequential'})`,
      {hint: works},
    )
  }
  if (tSeq && !SEQUENTIAL_STUDENTS.includes(s)) throw configError('compress.bad_value', `${where}: ${s} cannot be a sequential student`, {hint: works})
  if (!tSeq && !PAIR_KINDS.includes(s)) throw configError('compress.bad_value', `${where}: ${s} cannot be a pair student`, {hint: works})
  const student = studentModelConfig(p, teacher.config)
  const spec = getModelSpec(s)
  if (tSeq && resolveLoss(spec, student) !== 'ce')
    throw configError('compress.bad_value', `${where}: a sequential student learns the teacher's softmax over all items, so it trains with loss ce (got ${student.loss})`, {hint: 'set student.loss: ce (or leave it unset)'})
  if (tSeq) {
    const teacherLen = teacher.config?.max_len ?? DEFAULT_MAX_LEN
    if (p.student.max_len !== undefined && p.student.max_len !== teacherLen)
      throw configError('compress.bad_value', `${where}: the student reads the same histories as the teacher: max_len must be the teacher's ${teacherLen} (got ${p.student.max_len})`, {hint: 'leave student.max_len unset'})
  }
  try {
    spec.check?.(student)
  } catch (err) {
    const e = err as Error & {code?: string; hint?: string}
    throw configError(e.code ?? 'compress.bad_value', `${where}: student: ${e.message}`, {hint: e.hint})
  }
  if (!(p.temperature > 0)) throw configError('compress.bad_value', `${where}: temperature must be > 0`)
  if (!(p.alpha >= 0 && p.alpha <= 1)) throw configError('compress.bad_value', `${where}: alpha must be in [0, 1]`)
}

/** the shapes of the student's tensors (validation of the steps after distill, before any weights exist) */
export function studentShapes(p: DistillParams, teacher: TeacherShape, dims: ModelDims): {kind: ModelKind; shapes: Record<string, number[]>} {
  const student = studentModelConfig(p, teacher.config)
  return {kind: student.model, shapes: getModelSpec(student.model).shapes(student, dims)}
}

/** the note of a distilled (or scratch) variant */
export function distillNote(p: DistillParams, teacherLabel: string, epochs: number): string {
  if (p.scratch) return `trained from scratch: the same ${p.student.model} student, initialisation, batches and ${epochs} epochs as its distilled twin, no teacher (alpha 1): the baseline of distillation`
  return `distilled from ${teacherLabel} (T ${shortNumber(p.temperature)}, alpha ${shortNumber(p.alpha)}, ${epochs} epoch${epochs === 1 ? '' : 's'})`
}

export interface DistilledStudent {
  weights: ModelWeights
  model: ModelConfig
  epochs: number
  seconds: number
  history: EpochRecord[]
  interrupted: boolean
}

/**
 * Train the student of a distill step (or its scratch baseline) on split.train with the teacher
 * model's training settings (studentTrainConfig). The student is initialised from the run's seed + 1
 * (as fine-tuning is), so a distilled student and its scratch baseline start from the same weights and
 * see the same batches: the loss is the only difference. Checkpoints and resume as trainModel's.
 */
export async function trainStudent(args: {
  cfg: RecConfig
  teacherModel: ModelConfig
  teacher: ModelWeights
  params: DistillParams
  split: Split
  progress?: Progress
  signal?: AbortSignal
  checkpoint?: {dir: string; resume?: boolean}
}): Promise<DistilledStudent> {
  const p = args.params
  validateDistill(p, {kind: args.teacher.kind, config: args.teacherModel}, `distill from ${modelLabel(args.teacherModel)}`)
  const model = studentModelConfig(p, args.teacherModel)
  const train = studentTrainConfig(args.cfg, args.teacherModel, p)
  const t0 = performance.now()
  args.progress?.update(`${p.scratch ? 'training the scratch baseline' : 'distilling'} ${model.model} for ${train.epochs} epochs`)
  const r = await trainModel({
    model,
    train,
    negatives: args.cfg.negatives,
    split: args.split,
    seed: args.cfg.seed + 1,
    progress: args.progress,
    signal: args.signal,
    ...(args.checkpoint ? {checkpoint: args.checkpoint} : {}),
    ...(p.scratch ? {} : {distill: {teacher: args.teacher, temperature: p.temperature, alpha: p.alpha}}),
  })
  return {weights: r.weights, model, epochs: r.epochs, seconds: (performance.now() - t0) / 1000, history: r.history, interrupted: r.interrupted}
}
