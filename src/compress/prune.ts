import type {VariantConfig} from '../config/schema.js'
import {configError} from '../errors.js'
import type {Tensor32} from '../models/types.js'
import {pruneSasrecStructured, type PruneContext} from './sasrec-prune.js'
import {isTarget, layerNames} from './tensors.js'
import {isDotModel} from '../models/itemitem.js'
import type {CompressedModel, StoredTensor} from './types.js'

export type PruneParams = NonNullable<VariantConfig['prune']>
/** one sparsity value (list-valued configs are expanded into one variant per value first) */
export type PruneOneParams = Omit<PruneParams, 'sparsity'> & {sparsity: number}

/**
 * TF-MOT PolynomialDecay: the target sparsity at a training step, for gradual pruning while fine-tuning.
 *   p = clamp((step - begin) / (end - begin), 0, 1)
 *   sparsity = final + (initial - final) · (1 - p)^power
 */
export function sparsityAt(step: number, s: {initial: number; final: number; begin: number; end: number; power?: number}): number {
  const power = s.power ?? 3
  const span = Math.max(1, s.end - s.begin)
  const p = Math.min(1, Math.max(0, (step - s.begin) / span))
  return s.final + (s.initial - s.final) * (1 - p) ** power
}

/** structured-pruning targets of a transformer (sasrec): attention heads, feed-forward units, whole blocks */
export const BLOCK_TARGETS: readonly PruneParams['target'][] = ['heads', 'ffn', 'layers']
export const isBlockTarget = (target: PruneParams['target']): target is 'heads' | 'ffn' | 'layers' => BLOCK_TARGETS.includes(target)

/** the tensors magnitude pruning touches: embedding tables and/or dense kernels (never biases) */
export function magnitudeTargets(c: CompressedModel, target: PruneParams['target']): string[] {
  if (isBlockTarget(target)) throw configError('compress.bad_value', `target ${target} is for structured pruning; magnitude pruning takes all, mlp or embeddings`)
  return Object.keys(c.tensors).filter((name) => isTarget(c.kind, name, target))
}

/** zero the k smallest |values| (ties broken by position); returns the mask (1 = kept) */
function zeroSmallest(values: Float32Array[], k: number): Uint8Array[] {
  const masks = values.map((v) => new Uint8Array(v.length).fill(1))
  if (k <= 0) return masks
  const total = values.reduce((a, v) => a + v.length, 0)
  const abs = new Float32Array(total)
  let off = 0
  for (const v of values) {
    for (let i = 0; i < v.length; i++) abs[off + i] = Math.abs(v[i])
    off += v.length
  }
  const sorted = new Float32Array(abs).sort()
  const threshold = sorted[k - 1]
  let removed = 0
  for (const [t, v] of values.entries()) for (let i = 0; i < v.length; i++) if (Math.abs(v[i]) < threshold) {
    masks[t][i] = 0
    removed++
  }
  for (const [t, v] of values.entries()) for (let i = 0; i < v.length && removed < k; i++) if (masks[t][i] === 1 && Math.abs(v[i]) === threshold) {
    masks[t][i] = 0
    removed++
  }
  return masks
}

/**
 * Unstructured magnitude pruning: the smallest |w| become exactly zero, round(sparsity · n) of them per
 * tensor (scope layer) or over all targeted tensors together (scope global). The zeros stay in a dense
 * tensor (execution sparse-zeros: same FLOPs); the mask is kept for fine-tuning.
 */
export function pruneMagnitude(model: CompressedModel, p: PruneOneParams): {model: CompressedModel; notes: string[]} {
  const notes: string[] = []
  const names: string[] = []
  for (const name of magnitudeTargets(model, p.target)) {
    if (model.tensors[name].kind === 'float32') names.push(name)
    else notes.push(`${name} is ${model.tensors[name].kind}: not pruned`)
  }
  const tensors = {...model.tensors}
  const apply = (group: string[]) => {
    const values = group.map((n) => (model.tensors[n] as Extract<StoredTensor, {kind: 'float32'}>).tensor.data)
    const total = values.reduce((a, v) => a + v.length, 0)
    const masks = zeroSmallest(values, Math.round(p.sparsity * total))
    for (const [t, name] of group.entries()) {
      const old = model.tensors[name] as Extract<StoredTensor, {kind: 'float32'}>
      const data = new Float32Array(values[t])
      const mask = masks[t]
      if (old.pruned) for (let i = 0; i < mask.length; i++) mask[i] &= old.pruned.mask[i]
      let zeros = 0
      for (let i = 0; i < data.length; i++) if (mask[i] === 0) {
        data[i] = 0
        zeros++
      }
      tensors[name] = {kind: 'float32', tensor: {shape: [...old.tensor.shape], data}, pruned: {mask, sparsity: zeros / data.length}}
    }
  }
  if (p.scope === 'global') apply(names)
  else for (const n of names) apply([n])
  if (p.schedule === 'polynomial') notes.push('one-shot masks here; the polynomial schedule (sparsityAt) applies while fine-tuning')
  notes.push('zeros are stored densely and multiplied like any weight: no speed-up claimed')
  return {model: {...model, tensors, steps: [...model.steps, {method: 'prune.magnitude', params: {...p}}]}, notes}
}

function vecNorm(values: number[], norm: 'l1' | 'l2'): number {
  let s = 0
  for (const v of values) s += norm === 'l1' ? Math.abs(v) : v * v
  return norm === 'l1' ? s : Math.sqrt(s)
}

function column(t: Tensor32, j: number): number[] {
  const [rows, cols] = t.shape
  const out: number[] = []
  for (let i = 0; i < rows; i++) out.push(t.data[i * cols + j])
  return out
}

function row(t: Tensor32, i: number): number[] {
  const cols = t.shape[1]
  return Array.from(t.data.subarray(i * cols, (i + 1) * cols))
}

/** indices of the `keep` highest scores, in ascending index order (ties: the lower index wins) */
function topIndices(scores: number[], keep: number): number[] {
  return scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, keep)
    .map(([, i]) => i)
    .sort((a, b) => a - b)
}

export function keepColumns(t: Tensor32, keep: number[]): Tensor32 {
  if (t.shape.length === 1) return {shape: [keep.length], data: Float32Array.from(keep, (j) => t.data[j])}
  const [rows, cols] = t.shape
  const out = new Float32Array(rows * keep.length)
  for (let i = 0; i < rows; i++) for (const [jj, j] of keep.entries()) out[i * keep.length + jj] = t.data[i * cols + j]
  return {shape: [rows, keep.length], data: out}
}

export function keepRows(t: Tensor32, keep: number[]): Tensor32 {
  const cols = t.shape[1]
  const out = new Float32Array(keep.length * cols)
  for (const [ii, i] of keep.entries()) out.set(t.data.subarray(i * cols, (i + 1) * cols), ii * cols)
  return {shape: [keep.length, cols], data: out}
}

const kept = (n: number, sparsity: number) => Math.max(1, Math.round(n * (1 - sparsity)))

/**
 * Structured pruning: whole units / dimensions are removed, so every matrix that touches them shrinks
 * (execution shrunk, fewer FLOPs for real).
 * - target mlp (or all): neumf MLP units and two_tower tower units (not the last tower layer: user and item
 *   outputs must keep the same width). A unit's score is the L1/L2 norm of its incoming weights and its bias
 *   (a unit with all of them zero outputs ReLU(0) = 0 and is removed first, changing nothing). Removing unit j
 *   of layer k removes column j of its kernel and bias and row j of the next kernel (for the last neumf MLP
 *   layer: row f + j of out.kernel).
 * - target embeddings (or all): embedding dimensions. mf: dimension j of user_emb and item_emb together, scored
 *   by ‖U[:,j]‖·‖I[:,j]‖; neumf GMF: also row j of out.kernel, scored ‖Gu[:,j]‖·‖Gi[:,j]‖·|w_j|; neumf MLP /
 *   two_tower embeddings: column j of the table and row j of the first layer, scored ‖E[:,j]‖·‖W0[j,:]‖.
 * Per layer: round(n · (1 - sparsity)) units are kept (at least 1).
 * sasrec: target heads, ffn or layers, see src/compress/sasrec-prune.ts (`ctx.calibration`: histories for its importance scores).
 */
export function pruneStructured(model: CompressedModel, p: PruneOneParams, ctx: PruneContext = {}): {model: CompressedModel; notes: string[]} {
  if (model.kind === 'sasrec') return pruneSasrecStructured(model, p, ctx)
  if (isBlockTarget(p.target)) throw configError('compress.not_applicable', `structured pruning target ${p.target} applies to sasrec only (model ${model.kind} has no transformer blocks)`)
  const notes: string[] = []
  const t: Record<string, Tensor32> = {}
  const get = (name: string): Tensor32 => {
    if (t[name]) return t[name]
    const s = model.tensors[name]
    if (s === undefined) throw new Error(`structured pruning: missing tensor ${name}`)
    if (s.kind !== 'float32')
      throw configError('compress.pipeline_order', `structured pruning needs float32 weights but ${name} is stored as ${s.kind}`, {
        hint: 'put structured pruning before quantize / lowrank in the pipeline',
      })
    return s.tensor
  }
  const set = (name: string, v: Tensor32) => (t[name] = v)
  const norm = p.norm

  const pruneUnits = (layers: string[], next: (k: number) => {name: string; offset: number} | undefined) => {
    for (const [k, layer] of layers.entries()) {
      const kernel = get(`${layer}.kernel`)
      const bias = get(`${layer}.bias`)
      const units = kernel.shape[1]
      const scores = Array.from({length: units}, (_, j) => vecNorm([...column(kernel, j), bias.data[j]], norm))
      const keep = topIndices(scores, kept(units, p.sparsity))
      set(`${layer}.kernel`, keepColumns(kernel, keep))
      set(`${layer}.bias`, keepColumns(bias, keep))
      const consumer = next(k)
      if (consumer) {
        const w = get(consumer.name)
        const rows = [...Array(consumer.offset).keys(), ...keep.map((j) => consumer.offset + j), ...Array.from({length: w.shape[0] - consumer.offset - units}, (_, i) => consumer.offset + units + i)]
        set(consumer.name, keepRows(w, rows))
      }
      notes.push(`${layer}: ${units} → ${keep.length} units`)
    }
  }

  const pruneDims = (tables: string[], firstLayer: {name: string; offset: number} | undefined, weightRows?: {name: string; offset: number}) => {
    const ts = tables.map(get)
    const d = ts[0].shape[1]
    const scores = Array.from({length: d}, (_, j) => {
      let s = 1
      for (const x of ts) s *= vecNorm(column(x, j), norm)
      if (firstLayer) s *= vecNorm(row(get(firstLayer.name), firstLayer.offset + j), norm)
      if (weightRows) s *= vecNorm(row(get(weightRows.name), weightRows.offset + j), norm)
      return s
    })
    const keep = topIndices(scores, kept(d, p.sparsity))
    for (const [i, name] of tables.entries()) set(name, keepColumns(ts[i], keep))
    for (const consumer of [firstLayer, weightRows]) {
      if (!consumer) continue
      const w = get(consumer.name)
      const rows = [...Array(consumer.offset).keys(), ...keep.map((j) => consumer.offset + j), ...Array.from({length: w.shape[0] - consumer.offset - d}, (_, i) => consumer.offset + d + i)]
      set(consumer.name, keepRows(w, rows))
    }
    notes.push(`${tables.join(' + ')}: ${d} → ${keep.length} dimensions`)
  }

  const units = p.target !== 'embeddings'
  const dims = p.target !== 'mlp'
  if (model.kind === 'neumf') {
    if (units) {
      const layers = layerNames(model.tensors, 'mlp_')
      pruneUnits(layers, (k) => (k + 1 < layers.length ? {name: `${layers[k + 1]}.kernel`, offset: 0} : {name: 'out.kernel', offset: get('gmf_user').shape[1]}))
    }
    if (dims) {
      pruneDims(['gmf_user', 'gmf_item'], undefined, {name: 'out.kernel', offset: 0})
      pruneDims(['mlp_user'], {name: 'mlp_0.kernel', offset: 0})
      pruneDims(['mlp_item'], {name: 'mlp_0.kernel', offset: get('mlp_user').shape[1]})
    }
  } else if (model.kind === 'two_tower') {
    for (const side of ['user', 'item']) {
      const layers = layerNames(model.tensors, `${side}_tower_`)
      if (units) pruneUnits(layers.slice(0, -1), (k) => ({name: `${layers[k + 1]}.kernel`, offset: 0}))
      if (dims && layers.length > 0) pruneDims([`${side}_emb`], {name: `${layers[0]}.kernel`, offset: 0})
    }
    if (dims && layerNames(model.tensors, 'user_tower_').length === 0) pruneDims(['user_emb', 'item_emb'], undefined)
    if (units) notes.push('the last tower layer keeps its width (user and item outputs must match)')
  } else if (isDotModel(model.kind)) {
    if (dims) pruneDims(['user_emb', 'item_emb'], undefined)
  }
  const tensors = {...model.tensors}
  for (const [name, v] of Object.entries(t)) tensors[name] = {kind: 'float32', tensor: v}
  return {model: {...model, tensors, steps: [...model.steps, {method: 'prune.structured', params: {...p}}]}, notes}
}
