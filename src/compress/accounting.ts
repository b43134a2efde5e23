import {SASREC_CALIBRATION_MAX_ROWS, SASREC_RANDOM_HISTORIES} from './sasrec-calibrate.js'
import {layerNames, storedShape, toFloatWeights} from './tensors.js'
import {flopsBreakdown} from '../models/io.js'
import {isDotModel} from '../models/itemitem.js'
import type {CompressedModel, Execution, StoredTensor} from './types.js'

/**
 * Parameter counts of the stored model. total = stored scalars (weights, biases, both low-rank factors;
 * an int4 table counts rows·cols); quantization scales and zero points are metadata, not counted.
 * nonZero = stored scalars whose dequantized value is not 0 (int8: q ≠ zero point; int4: q ≠ 0).
 */
export function paramCounts(c: CompressedModel): {total: number; nonZero: number} {
  let total = 0
  let nonZero = 0
  const countFloat = (d: Float32Array) => {
    total += d.length
    for (const v of d) if (v !== 0) nonZero++
  }
  for (const s of Object.values(c.tensors)) {
    switch (s.kind) {
      case 'float32':
        countFloat(s.tensor.data)
        break
      case 'lowrank':
        countFloat(s.a.data)
        countFloat(s.b.data)
        break
      case 'float16':
        total += s.data.length
        for (const h of s.data) if ((h & 0x7fff) !== 0) nonZero++
        break
      case 'int8': {
        total += s.data.length
        const cols = s.shape.length === 2 ? s.shape[1] : s.shape[0]
        for (let i = 0; i < s.data.length; i++) {
          const ch = s.axis === 0 ? Math.floor(i / cols) : s.axis === 1 ? i % cols : 0
          if (s.data[i] !== (s.zeroPoint ? s.zeroPoint[ch] : 0)) nonZero++
        }
        break
      }
      case 'int4': {
        const [rows, cols] = s.shape
        const bpr = Math.ceil(cols / 2)
        total += rows * cols
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < cols; j++) {
            const b = s.data[i * bpr + (j >> 1)]
            if (((j & 1) === 0 ? b & 0x0f : b >> 4) !== 8) nonZero++
          }
        break
      }
    }
  }
  return {total, nonZero}
}

/** FLOPs of x·W (+ bias) for one row of x: 2·in·out, or 2·r·(in + out) when W = A·B is factorized */
function denseFlops(s: StoredTensor, withBias: boolean): number {
  const [m, n] = storedShape(s)
  const mm = s.kind === 'lowrank' ? 2 * s.a.shape[1] * (m + n) : 2 * m * n
  return mm + (withBias ? n : 0)
}

/** FLOPs to produce one gathered row of a table (0, or 2·r·d for A[u]·B) */
const gatherFlops = (s: StoredTensor) => (s.kind === 'lowrank' ? 2 * s.a.shape[1] * s.b.shape[1] : 0)

/** FLOPs per pair of q·Tᵀ against a scored item table T [I, d] (2·d, or 2·r when T = A·B is run as (q·Bᵀ)·Aᵀ), plus the per-user part */
function scoredTable(s: StoredTensor): {perPair: number; perUser: number} {
  if (s.kind === 'lowrank') {
    const r = s.a.shape[1]
    return {perPair: 2 * r, perUser: 2 * s.b.shape[1] * r}
  }
  return {perPair: 2 * storedShape(s)[1], perUser: 0}
}

/**
 * FLOPs per scored (user, item) pair when one request scores a user against every item (the serving
 * request of the ONNX graph), i.e. (FLOPs the graph executes per user) / numItems.
 * Convention: one multiply-add = 2 FLOPs; an elementwise add or multiply = 1; activations, gathers,
 * (de)quantization and casts = 0. int8 kernels count the same FLOPs as float ones (integer operations).
 * Work that depends on the items only (item towers, the item half of neumf's first MLP layer, tables
 * reconstructed or dequantized at load) is computed once at session load by ORT's constant folding and
 * is not counted; work for the user (gather, user tower, first-layer user half) is spread over the items.
 * Magnitude-pruned zeros cost the same as any weight (dense execution).
 */
export function flopsPerPair(c: CompressedModel): number {
  const t = c.tensors
  const items = c.numItems
  switch (c.kind) {
    case 'pop':
      return 0
    case 'mf':
    case 'itemknn':
    case 'ease': {
      const s = scoredTable(t.item_emb)
      return s.perPair + (s.perUser + gatherFlops(t.user_emb)) / items
    }
    case 'two_tower': {
      const layers = layerNames(t, 'user_tower_')
      let perUser = gatherFlops(t.user_emb)
      for (const l of layers) perUser += denseFlops(t[`${l}.kernel`], true)
      const last = layers.length > 0 ? storedShape(t[`${layers.at(-1)}.kernel`])[1] : storedShape(t.user_emb)[1]
      return 2 * last + perUser / items
    }
    case 'neumf': {
      const f = storedShape(t.gmf_user)[1]
      const gmf = scoredTable(t.gmf_item)
      let perUser = gatherFlops(t.gmf_user) + gatherFlops(t.mlp_user) + f + gmf.perUser
      let perPair = gmf.perPair
      const layers = layerNames(t, 'mlp_')
      // first layer: user half per user ((u·A_u)·B when factorized), item half at load, one add per pair
      const w0 = t[`${layers[0]}.kernel`]
      const eu = storedShape(t.mlp_user)[1]
      const h1 = storedShape(w0)[1]
      perUser += w0.kind === 'lowrank' ? 2 * w0.a.shape[1] * (eu + h1) : 2 * eu * h1
      perPair += h1
      for (const l of layers.slice(1)) perPair += denseFlops(t[`${l}.kernel`], true)
      const last = storedShape(t[`${layers.at(-1)}.kernel`])[1]
      perPair += 2 * last + 2 // mlp part of the out layer, + gmf part, + bias
      return perPair + perUser / items
    }
    case 'sasrec': {
      const s = scoredTable(t.item_emb)
      return s.perPair + (sasrecRequestFlops(c) + s.perUser) / items
    }
    case 'gmf':
    case 'mlp':
      // float32 only (not compressed yet): the model's own count
      return flopsBreakdown(toFloatWeights(c)).perPair
    case 'gru4rec': {
      const s = scoredTable(t.item_emb)
      return s.perPair + (gru4recRequestFlops(c) + s.perUser) / items
    }
  }
}

/**
 * SASRec's FLOPs for one request (one history of max_len L), as the exported graph runs it: the
 * item rows of the history (0, or L·2·r·h for a factorized table: A[seq]·B), the positional add; per
 * block Q, K, V, attention output and the two feed-forward layers (their stored widths, so pruned heads,
 * units and blocks count as removed; factorized kernels as two MatMuls; int8 ones the same as float),
 * Q·Kᵀ and probabilities·V (2·L·width each per query row), two residual adds; the last block computes
 * its queries, output and feed-forward at the last position only (K and V over all L). LayerNorm,
 * softmax, GELU, the mask and (de)quantization are activations (0).
 */
export function sasrecRequestFlops(c: CompressedModel): number {
  const t = c.tensors
  const L = Number(c.params.max_len)
  const h = storedShape(t.pos_emb)[1]
  const layers = countBlocks(t)
  let f = L * gatherFlops(t.item_emb) + L * h
  for (let k = 0; k < layers; k++) {
    const p = `layer_${k}.`
    const rows = k === layers - 1 ? 1 : L
    const width = storedShape(t[p + 'q.kernel'])[1]
    f += L * (denseFlops(t[p + 'k.kernel'], true) + denseFlops(t[p + 'v.kernel'], true))
    f += rows * (denseFlops(t[p + 'q.kernel'], true) + 2 * 2 * L * width + denseFlops(t[p + 'attn_out.kernel'], true) + denseFlops(t[p + 'ffn1.kernel'], true) + denseFlops(t[p + 'ffn2.kernel'], true) + 2 * h)
  }
  return f
}

const tensorRoleIsKernel = (name: string) => name.endsWith('.kernel')

/** the weight the SASRec graph multiplies a projection kernel as: Q, K, V fused (layer_k.qkv.kernel; the last block: layer_k.kv.kernel and its own q) */
function sasrecFusedName(name: string, blocks: number): string {
  const m = /^layer_(\d+)\.([qkv])\.kernel$/.exec(name)
  if (!m) return name
  if (Number(m[1]) < blocks - 1) return `layer_${m[1]}.qkv.kernel`
  return m[2] === 'q' ? name : `layer_${m[1]}.kv.kernel`
}

/** SASRec's dense projections per block */
const SASREC_KERNELS = ['q', 'k', 'v', 'attn_out', 'ffn1', 'ffn2'] as const

/** transformer blocks layer_0, layer_1, ... present */
function countBlocks(t: Record<string, unknown>): number {
  let n = 0
  while (`layer_${n}.q.kernel` in t) n++
  return n
}

/** GRU4Rec's FLOPs for one request: per step and layer the input and recurrent gate MatMuls (3 gates) and ~6h elementwise; the dense output layer once */
export function gru4recRequestFlops(c: CompressedModel): number {
  const t = c.tensors
  const L = Number(c.params.max_len)
  let f = 0
  for (let k = 0; `gru_${k}.w` in t; k++) {
    const [g3, inp] = storedShape(t[`gru_${k}.w`])
    const h = g3 / 3
    f += L * (2 * g3 * inp + 2 * g3 * h + 6 * h + 2 * g3)
  }
  return f + denseFlops(t['dense.kernel'], true)
}

/** which int8 tensors run in an integer kernel (MatMulIntegerToFloat) in the ONNX graph */
export function int8KernelTensors(c: CompressedModel): string[] {
  const out: string[] = []
  const isInt8 = (n: string) => c.tensors[n]?.kind === 'int8'
  if (isDotModel(c.kind) && isInt8('item_emb')) out.push('item_emb')
  if (c.kind === 'neumf') {
    if (isInt8('gmf_item')) out.push('gmf_item')
    for (const l of layerNames(c.tensors, 'mlp_')) if (isInt8(`${l}.kernel`)) out.push(`${l}.kernel`)
  }
  if (c.kind === 'two_tower') for (const l of layerNames(c.tensors, 'user_tower_')) if (isInt8(`${l}.kernel`)) out.push(`${l}.kernel`)
  if (c.kind === 'sasrec') {
    // every dense projection of every block but the last block's single-row ones (its query, attention output and
    // feed-forward, computed at position L-1 only: float32 from weights dequantized at load), and the item table
    // on the scoring side (src/onnx/export-sasrec.ts)
    const n = countBlocks(c.tensors)
    for (let k = 0; k < n; k++) for (const d of k === n - 1 ? (['k', 'v'] as const) : SASREC_KERNELS) if (isInt8(`layer_${k}.${d}.kernel`)) out.push(`layer_${k}.${d}.kernel`)
    if (isInt8('item_emb')) out.push('item_emb')
  }
  return out
}

/**
 * User tables whose gathered rows are the input of an int8 kernel (table → kernel): the exporter
 * quantizes the whole table (neumf gmf_user: times the GMF output weights) with that kernel's static
 * activation scale once, at session load, and gathers uint8 rows per request. Low-rank tables keep
 * their per-request A[u]·B.
 */
export function activationTables(c: CompressedModel): Record<string, string> {
  const kernels = new Set(int8KernelTensors(c))
  const pairs: [string, string][] =
    isDotModel(c.kind) ? [['user_emb', 'item_emb']]
    : c.kind === 'neumf' ? [['gmf_user', 'gmf_item'], ['mlp_user', `${layerNames(c.tensors, 'mlp_')[0]}.kernel`]]
    : c.kind === 'two_tower' ? [['user_emb', `${layerNames(c.tensors, 'user_tower_')[0]}.kernel`]]
    : []
  return Object.fromEntries(pairs.filter(([t, k]) => kernels.has(k) && c.tensors[t] && c.tensors[t].kind !== 'lowrank'))
}

/** the note of a user table turned into the uint8 activations of an int8 kernel at session load */
export const activationTableNote = (name: string, form: string) =>
  `${name}: ${form} in the file, quantized at session load to the uint8 activations of an integer matmul (calibrated static scale); the requested rows are gathered`

/** embedding tables gathered per request (user side) */
export const isUserTable = (name: string) => name === 'user_emb' || name === 'gmf_user' || name === 'mlp_user'

/** tensors that depend on the items only: computed once at session load (constant folding) */
export function itemOnlyTensors(c: CompressedModel): string[] {
  const names = Object.keys(c.tensors)
  if (c.kind === 'neumf') return ['mlp_item', 'out.kernel']
  if (c.kind === 'two_tower') return names.filter((n) => n === 'item_emb' || n.startsWith('item_tower_'))
  return []
}

/**
 * What the ONNX graph of this model really does (see `Execution`), with one note per tensor that is
 * not plain float32. Must stay in step with src/onnx/export.ts.
 */
export function executionOf(c: CompressedModel): {execution: Execution; notes: string[]} {
  const notes: string[] = []
  const kernels = new Set(int8KernelTensors(c))
  const atLoad = new Set(itemOnlyTensors(c))
  const tables = activationTables(c)
  const seen = new Set<Execution>()
  const blocks = c.kind === 'sasrec' ? countBlocks(c.tensors) : 0
  for (const [tensorName, s] of Object.entries(c.tensors)) {
    if (s.kind === 'float32') {
      if (s.pruned) seen.add('sparse-zeros')
      continue
    }
    // sasrec's Q, K, V run as one fused weight when they share a form (the graph's name, so measured notes replace these)
    const name = c.kind === 'sasrec' && ((s.kind === 'int8' && kernels.has(tensorName)) || s.kind === 'float16') ? sasrecFusedName(tensorName, blocks) : tensorName
    if (tables[tensorName]) {
      // part of the int8-kernel path (no float compute of its own)
      notes.push(activationTableNote(name, s.kind))
    } else if (s.kind === 'int8' && kernels.has(tensorName)) {
      seen.add('int8-kernel')
      if (c.kind === 'sasrec' && name === 'item_emb')
        notes.push(
          'item_emb: int8, stored once (transposed, one scale per item); scoring is an integer matmul of the final state, quantized by a constant scale calibrated at export, against the int8 table; the input side gathers the history\'s rows from a float32 copy dequantized at session load',
        )
      else notes.push(`${name}: int8 weights in an integer matmul with uint8 activations quantized by a constant scale calibrated at export (independent of the batch; inputs beyond the calibrated range saturate)`)
    } else if (s.kind === 'int8' || s.kind === 'int4') {
      seen.add('dequantized-at-load')
      const why = c.kind === 'sasrec' && tensorRoleIsKernel(name) ? ' (the last block runs it on one row per history: float32 beats quantizing that row for an integer kernel)' : ''
      notes.push(`${name}: ${s.kind} in the file, dequantized to float32 ${isUserTable(name) ? 'after the gather (the requested rows only)' : 'at session load'}${why}`)
    } else if (s.kind === 'float16') {
      seen.add('fp16-storage')
      notes.push(`${name}: float16 in the file, cast to float32 ${isUserTable(name) ? 'after the gather' : 'at session load'}; float32 compute`)
    } else if (s.kind === 'lowrank') {
      const r = s.a.shape[1]
      if (c.kind === 'sasrec' && name === 'pos_emb') {
        notes.push(`${name}: rank ${r} factors in the file, A·B rebuilt at session load`)
        continue
      }
      seen.add('factorized')
      notes.push(
        atLoad.has(tensorName) ? `${name}: rank ${r} factors in the file, A·B rebuilt at session load (item side)`
        : c.kind === 'sasrec' && name === 'item_emb' ? `${name}: rank ${r}, executed as two MatMuls on both sides (input A[history]·B, scores (state·Bᵀ)·Aᵀ)`
        : `${name}: rank ${r}, executed as two MatMuls`,
      )
    }
  }
  if (c.kind === 'sasrec' && kernels.size > 0) {
    notes.push(
      `int8 activation scales are static, calibrated at export: min / max of each int8 kernel's input over calibration histories (those handed to the export, at most ${SASREC_CALIBRATION_MAX_ROWS}, else ${SASREC_RANDOM_HISTORIES} seeded random histories), every position; ranges in the model metadata (rec.int8_activations); inputs beyond a range saturate`,
    )
    notes.push('attention scores Q·Kᵀ and probabilities·V multiply activations: float32')
  }
  if (c.steps.some((s) => s.method === 'prune.structured')) seen.add('shrunk')
  if (seen.has('sparse-zeros')) notes.push('magnitude-pruned zeros are stored and multiplied densely (no sparse kernel)')
  const order: Execution[] = ['int8-kernel', 'factorized', 'shrunk', 'dequantized-at-load', 'fp16-storage', 'sparse-zeros']
  return {execution: order.find((e) => seen.has(e)) ?? 'float32', notes}
}
