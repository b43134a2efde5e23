import type {ModelConfig, VariantConfig} from '../config/schema.js'
import {configError} from '../errors.js'
import type {ModelDims} from '../models/registry.js'
import type {ModelKind, ModelWeights} from '../models/types.js'
import {executionOf, flopsPerPair, paramCounts} from './accounting.js'
import {distillStepName, type DistillParams, studentShapes, validateDistill} from './distill.js'
import {lowrank, type LowrankOneParams} from './lowrank.js'
import {isBlockTarget, pruneMagnitude, pruneStructured, type PruneOneParams} from './prune.js'
import {quantize, type QuantizeParams} from './quantize.js'
import {fromWeights, isTarget, shapesOf, tensorRole} from './tensors.js'
import type {CompressedModel, VariantReport} from './types.js'
import {shortNumber} from '../report/format.js'

/** a model's kind and tensor shapes: all validation needs, so it can run before any work starts */
export interface ModelShape {
  kind: ModelKind
  shapes: Record<string, number[]>
  /** the model's config, when known (distillation reads the teacher's max_len) */
  config?: ModelConfig
}

export type Step =
  | {method: 'distill'; params: DistillParams}
  | {method: 'quantize'; params: QuantizeParams}
  | {method: 'prune'; params: PruneOneParams}
  | {method: 'lowrank'; params: LowrankOneParams}

/** one variant to produce: list-valued sparsity / rank already expanded */
export interface VariantSpec {
  name: string
  steps: Step[]
  finetune?: {epochs: number}
}

/** what a method may use besides the weights */
export interface CompressContext {
  /**
   * sequential models: histories (B×max_len shifted ids, e.g. the training histories) for data-driven
   * choices (sasrec head / block importance); without them, seeded random histories
   */
  calibration?: Int32Array
}

export interface CompressMethod<P> {
  name: Step['method']
  /** throws a config error (exit 2) for values that cannot work on this model; `where` prefixes messages */
  validate(params: P, model: ModelShape, where: string): void
  apply(model: CompressedModel, params: P, context?: CompressContext): {model: CompressedModel; notes: string[]}
}

const names = (m: ModelShape, role: 'embedding' | 'dense') => Object.keys(m.shapes).filter((n) => tensorRole(m.kind, n) === role)

function notOnPop(method: string, m: ModelShape, where: string) {
  if (m.kind === 'pop') throw configError('compress.not_applicable', `${where}: ${method} does not apply to model pop (it has no weights to compress)`)
  if (m.kind === 'gmf' || m.kind === 'mlp') throw configError('compress.not_applicable', `${where}: ${method} is not implemented for ${m.kind} in rec yet (neumf, which holds both towers, is compressed)`)
  if (m.kind === 'gru4rec') throw configError('compress.not_applicable', `${where}: ${method} is not implemented for gru4rec in rec yet (sasrec, mf, neumf and two_tower are compressed)`)
}

function needsDense(method: string, target: string, m: ModelShape, where: string) {
  if (names(m, 'dense').length === 0 && (target === 'dense' || target === 'mlp'))
    throw configError('compress.not_applicable', `${where}: ${method} with target ${target} does not apply to model ${m.kind} (it has no dense layers)`, {
      hint: 'use target: embeddings (or all)',
    })
}

export const quantizeMethod: CompressMethod<QuantizeParams> = {
  name: 'quantize',
  validate(p, m, where) {
    notOnPop('quantize', m, where)
    needsDense('quantize', p.target, m, where)
    if (p.dtype === 'int4' && p.target === 'dense')
      throw configError('compress.bad_value', `${where}: int4 is for embedding tables (row-wise scales), not dense kernels`, {hint: 'use target: embeddings'})
  },
  apply: quantize,
}

export const pruneMethod: CompressMethod<PruneOneParams> = {
  name: 'prune',
  validate(p, m, where) {
    notOnPop('prune', m, where)
    if (!(p.sparsity >= 0 && p.sparsity < 1))
      throw configError('compress.bad_value', `${where}: sparsity must be in [0, 1) (got ${p.sparsity}; 1.0 would remove everything)`)
    if (isBlockTarget(p.target)) {
      if (p.method !== 'structured')
        throw configError('compress.bad_value', `${where}: target ${p.target} removes whole ${p.target === 'ffn' ? 'feed-forward units' : p.target}: it is a structured-pruning target (magnitude pruning takes all, mlp or embeddings)`, {
          hint: `use method: structured, or target: all`,
        })
      if (m.kind !== 'sasrec')
        throw configError('compress.not_applicable', `${where}: structured pruning target ${p.target} applies to sasrec (transformer blocks); model ${m.kind} has no ${p.target === 'ffn' ? 'feed-forward blocks' : p.target}`, {
          hint: 'use target: all, mlp or embeddings',
        })
    } else if (m.kind === 'sasrec' && p.method === 'structured') {
      throw configError('compress.not_applicable', `${where}: structured pruning of sasrec removes attention heads, feed-forward units or whole blocks; target ${p.target} does not apply`, {
        hint: 'use target: heads, ffn or layers (or method: magnitude for target all / mlp / embeddings)',
      })
    }
    needsDense(`${p.method} pruning`, p.target, m, where)
    if (p.method === 'structured' && p.scope === 'global')
      throw configError('compress.bad_value', `${where}: structured pruning removes the same fraction of units in each layer; scope global is not supported`, {hint: 'use scope: layer'})
  },
  apply: (model, p, context) => (p.method === 'magnitude' ? pruneMagnitude(model, p) : pruneStructured(model, p, context)),
}

export const lowrankMethod: CompressMethod<LowrankOneParams> = {
  name: 'lowrank',
  validate(p, m, where) {
    notOnPop('lowrank', m, where)
    needsDense('lowrank', p.target, m, where)
    const targets = Object.keys(m.shapes).filter((n) => isTarget(m.kind, n, p.target))
    const maxRank = Math.max(...targets.map((n) => Math.min(...m.shapes[n])))
    if (p.rank !== undefined && (p.rank < 1 || p.rank > maxRank))
      throw configError('compress.bad_value', `${where}: rank ${p.rank} is above the smaller dimension of every targeted matrix (at most ${maxRank} here)`)
    if (p.energy !== undefined && !(p.energy > 0 && p.energy <= 1)) throw configError('compress.bad_value', `${where}: energy must be in (0, 1]`)
    if ((p.rank === undefined) === (p.energy === undefined)) throw configError('compress.bad_value', `${where}: lowrank takes exactly one of rank or energy`)
  },
  apply: lowrank,
}

/**
 * Distillation trains a new model (the student) from the teacher: validation happens here with the
 * others', the training in the compress stage (src/run/compress-stage.ts makeVariant, through
 * src/compress/distill.ts trainStudent), since it needs the data and takes epochs.
 */
export const distillMethod: CompressMethod<DistillParams> = {
  name: 'distill',
  validate(p, m, where) {
    validateDistill(p, {kind: m.kind, config: m.config}, where)
  },
  apply() {
    throw new Error('distill trains a student on the data: it runs in the compress stage (makeVariant), not as a weight transform')
  },
}

/** the compression methods by name; unknown names fail with the list of known ones */
export const compressMethods: Record<Step['method'], CompressMethod<any>> = {distill: distillMethod, quantize: quantizeMethod, prune: pruneMethod, lowrank: lowrankMethod}

export function getMethod(name: string): CompressMethod<any> {
  const m = (compressMethods as Record<string, CompressMethod<any> | undefined>)[name]
  if (!m) throw configError('compress.unknown_method', `unknown compression method "${name}"`, {hint: `known methods: ${Object.keys(compressMethods).join(', ')}`})
  return m
}


/** the generated name of one step: int8, int8-asym-per_tensor, int4-emb, magnitude-0.9, structured-0.5, lowrank-r8, lowrank-e0.9 */
export function stepName(s: Step): string {
  if (s.method === 'distill') return distillStepName(s.params)
  if (s.method === 'quantize') {
    const p = s.params
    const parts: string[] = [p.dtype]
    if (p.dtype === 'int8' && !p.symmetric) parts.push('asym')
    if (p.dtype === 'int8' && p.granularity === 'per_tensor') parts.push('per_tensor')
    if (p.target === 'embeddings') parts.push('emb')
    if (p.target === 'dense') parts.push('dense')
    return parts.join('-')
  }
  if (s.method === 'prune') return `${s.params.method}-${shortNumber(s.params.sparsity)}${s.params.target === 'all' ? '' : `-${s.params.target}`}`
  return s.params.rank !== undefined ? `lowrank-r${s.params.rank}` : `lowrank-e${shortNumber(s.params.energy ?? 1)}`
}

type StepConfig = Pick<VariantConfig, 'distill' | 'quantize' | 'prune' | 'lowrank'>

/** the one or several steps a variant (or pipeline step) config describes, one per list value */
function expandStep(v: StepConfig, where: string, allowLists: boolean): Step[] {
  const given = (['distill', 'quantize', 'prune', 'lowrank'] as const).filter((k) => v[k] !== undefined)
  if (given.length !== 1)
    throw configError('compress.bad_variant', `${where}: give exactly one of distill, quantize, prune, lowrank${allowLists ? ', pipeline' : ''} (got ${given.length === 0 ? 'none' : given.join(', ')})`)
  if (v.distill) return [{method: 'distill', params: {...v.distill}}]
  const list = (x: number | number[] | undefined) => {
    if (Array.isArray(x) && !allowLists) throw configError('compress.bad_variant', `${where}: a pipeline step takes one value, not a list`)
    return Array.isArray(x) ? x : [x]
  }
  if (v.quantize) return [{method: 'quantize', params: v.quantize}]
  if (v.prune) return list(v.prune.sparsity).map((sparsity) => ({method: 'prune', params: {...v.prune!, sparsity: sparsity as number}}))
  const l = v.lowrank!
  return list(l.rank).map((rank) => ({method: 'lowrank', params: rank === undefined ? {target: l.target, energy: l.energy} : {target: l.target, rank}}))
}

/**
 * The scratch baseline of a distillation variant: the same steps with the distill step training the
 * same student from scratch (alpha 1, no teacher; temperature 1, unused), named `<name>-scratch`
 */
export function scratchBaseline(spec: VariantSpec): VariantSpec | undefined {
  const first = spec.steps[0]
  if (first?.method !== 'distill' || first.params.scratch || !first.params.baseline) return undefined
  // alpha 1 and T 1 whatever the distilled variant's: the baseline does not depend on them, so trying
  // another T or alpha keeps its stage key (it is not retrained)
  const scratch: Step = {method: 'distill', params: {...first.params, temperature: 1, alpha: 1, baseline: false, scratch: true}}
  return {...spec, name: `${spec.name}-scratch`, steps: [scratch, ...spec.steps.slice(1)]}
}

/**
 * Expand variant configs: a list-valued sparsity or rank gives one variant per value, named after the
 * value (`magnitude-0.9`, `lowrank-r8`; a given name gets the value appended); a pipeline is one
 * variant whose steps run in order (named `structured-0.5+int8` unless named). A distillation
 * variant (alone or first in a pipeline) is followed by its scratch baseline `<name>-scratch`
 * unless `baseline: false`. Duplicate names are a config error.
 */
export function expandVariants(variants: VariantConfig[]): VariantSpec[] {
  const out: VariantSpec[] = []
  const push = (spec: VariantSpec) => {
    out.push(spec)
    const scratch = scratchBaseline(spec)
    if (scratch) out.push(scratch)
  }
  for (const [i, v] of variants.entries()) {
    const where = `compress.variants[${i}]`
    const extra = v.finetune ? {finetune: v.finetune} : {}
    if (v.pipeline) {
      if (v.distill || v.quantize || v.prune || v.lowrank) throw configError('compress.bad_variant', `${where}: a pipeline variant takes its methods inside pipeline:, not beside it`)
      const steps = v.pipeline.flatMap((s, j) => expandStep(s, `${where}.pipeline[${j}]`, false))
      push({name: v.name ?? steps.map(stepName).join('+'), steps, ...extra})
      continue
    }
    const steps = expandStep(v, where, true)
    for (const s of steps) {
      const value = s.method === 'prune' ? shortNumber(s.params.sparsity) : s.method === 'lowrank' && s.params.rank !== undefined ? `r${s.params.rank}` : ''
      const name = v.name === undefined ? stepName(s) : steps.length > 1 ? `${v.name}-${value}` : v.name
      push({name, steps: [s], ...extra})
    }
  }
  const seen = new Set<string>()
  for (const s of out) {
    if (seen.has(s.name)) throw configError('compress.duplicate_variant', `two compression variants are named "${s.name}"`, {hint: 'give the variants distinct names (name: ...)'})
    seen.add(s.name)
  }
  return out
}

/** check pipeline order: distill first; quantize last; structured pruning before any quantize / lowrank */
function validateOrder(steps: Step[], where: string) {
  for (const [j, s] of steps.entries()) {
    if (s.method === 'distill' && j > 0)
      throw configError('compress.pipeline_order', `${where}: distill must be the first step of a pipeline (it trains the student; the steps after it compress the student)`)
    if (s.method === 'quantize' && j < steps.length - 1)
      throw configError('compress.pipeline_order', `${where}: quantize must be the last step of a pipeline`)
    if (s.method === 'prune' && s.params.method === 'structured' && steps.slice(0, j).some((p) => p.method !== 'prune' && p.method !== 'distill'))
      throw configError('compress.pipeline_order', `${where}: structured pruning must come before lowrank / quantize`)
  }
}

/** dims for validating shapes before the data is read (the numbers only size the embedding tables) */
const SHAPE_DIMS: ModelDims = {numUsers: 100, numItems: 100}

/**
 * Validate every variant against one model before any work starts: expands lists, checks names,
 * values and applicability (throws a config error, exit 2). Returns the expanded variants. The
 * steps after a distill step are checked against the student (its shapes at `context.dims`).
 */
export function validateVariants(variants: VariantConfig[], kind: ModelKind, shapes: Record<string, number[]>, context: {config?: ModelConfig; dims?: ModelDims} = {}): VariantSpec[] {
  const specs = expandVariants(variants)
  for (const spec of specs) {
    const where = `compress variant "${spec.name}"`
    validateOrder(spec.steps, where)
    let model: ModelShape = {kind, shapes, ...(context.config ? {config: context.config} : {})}
    for (const s of spec.steps) {
      getMethod(s.method).validate(s.params, model, where)
      if (s.method === 'distill') model = studentShapes(s.params, {kind, config: context.config}, context.dims ?? SHAPE_DIMS)
    }
  }
  return specs
}

export function methodLabel(spec: VariantSpec): string {
  if (spec.steps.length > 1) return 'pipeline'
  const s = spec.steps[0]
  if (s.method === 'distill') return s.params.scratch ? 'distill.scratch' : 'distill'
  return s.method === 'quantize' ? `quantize.${s.params.dtype}` : s.method === 'prune' ? `prune.${s.params.method}` : 'lowrank'
}

/** apply a variant's steps in order (each validated against the model as it is then) and account for the result honestly (see VariantReport) */
export function compressVariant(weights: ModelWeights | CompressedModel, spec: VariantSpec, context: CompressContext = {}): {model: CompressedModel; report: VariantReport} {
  const started = performance.now()
  let model = fromWeights(weights)
  const notes: string[] = []
  validateOrder(spec.steps, `compress variant "${spec.name}"`)
  for (const s of spec.steps) {
    if (s.method === 'distill') throw new Error(`compressVariant: variant "${spec.name}" trains a student (distill): make it with makeVariant`)
    const method = getMethod(s.method)
    method.validate(s.params, {kind: model.kind, shapes: shapesOf(model)}, `compress variant "${spec.name}"`)
    const r = method.apply(model, s.params, context)
    model = r.model
    notes.push(...(spec.steps.length > 1 ? r.notes.map((n) => `${stepName(s)}: ${n}`) : r.notes))
  }
  return {model, report: variantReport(model, spec, notes, (performance.now() - started) / 1000)}
}

/** the honest account of a compressed model made by `spec`: how it executes, its params and FLOPs */
export function variantReport(model: CompressedModel, spec: VariantSpec, notes: string[], compressSeconds: number): VariantReport {
  const exec = executionOf(model)
  const counts = paramCounts(model)
  return {
    name: spec.name,
    method: methodLabel(spec),
    params: spec.steps.length > 1 ? {steps: spec.steps.map((s) => ({[s.method]: s.params}))} : {...spec.steps[0].params},
    execution: exec.execution,
    paramsTotal: counts.total,
    paramsNonZero: counts.nonZero,
    flopsPerPair: flopsPerPair(model),
    compressSeconds,
    notes: [...new Set([...notes, ...exec.notes])],
  }
}

/** the report of the uncompressed base model (execution float32) */
export function baseReport(weights: ModelWeights, name = 'base'): VariantReport {
  const model = fromWeights(weights)
  const counts = paramCounts(model)
  return {name, method: 'none', params: {}, execution: 'float32', paramsTotal: counts.total, paramsNonZero: counts.nonZero, flopsPerPair: flopsPerPair(model), compressSeconds: 0, notes: []}
}
