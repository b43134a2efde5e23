import {checkSasrecWeights, SASREC_LN_EPS, SASREC_MASK, type SasrecWeights} from '../models/sasrec-reference.js'
import type {Tensor32} from '../models/types.js'
import {ONNX_OPSET} from './export.js'
import {DataType, GraphBuilder, valueInfo} from './graph.js'

export interface SasrecExportOptions {
  /**
   * In the last layer, compute the query, attention output and feed-forward for position L-1 only (keys
   * and values still over all positions): the only row the scores read, so the same function at about
   * half the per-request work. Default true; false builds the literal all-positions forward.
   */
  lastPositionOnly?: boolean
}

/**
 * SASRec's serving graph (opset 17, standard ops only): `seqs` int64 [B, L] (the last L items of each
 * history, ids shifted by one, left-padded with 0) → `scores` float32 [B, I] (item j's score at j).
 * The forward of src/models/sasrec-reference.ts:
 * - Gather(item_emb) + pos_emb, LayerNormalization (epsilon 1e-12, last axis)
 * - per layer: Q/K/V MatMul + Add, Reshape [B, L, a, h/a] + Transpose to heads, Q·Kᵀ (K transposed to
 *   [B, a, h/a, L] directly) · 1/√(h/a) + mask, Softmax(−1), ·V, heads back to [B, L, h], attn_out + residual,
 *   LayerNormalization; FFN with exact GELU as Div(√2) → Erf → Add(1) → Mul(z) → Mul(0.5) (the pattern ORT
 *   fuses to Gelu), residual, LayerNormalization
 * - mask [B, 1, L, L] built in-graph: (allowed − 1)·10000 with allowed = Not(Equal(seqs, 0)) [B, 1, 1, L] × causal [L, L]
 *   (0 / 1 constant), rows with no allowed key zeroed (ReduceMax): see the comment there
 * - the last position (Gather axis 1, index L-1), then MatMul with item_emb[1..I]ᵀ stored as a [h, I] constant
 */
export function exportSasrecOnnx(w: SasrecWeights, options: SasrecExportOptions = {}): Uint8Array {
  checkSasrecWeights(w)
  const lastOnly = options.lastPositionOnly ?? true
  const {hidden: h, heads: a, layers, inner, maxLen: L} = w.params
  const I = w.numItems
  const dh = h / a
  const g = new GraphBuilder()
  const t = (name: string): string => g.init(name, w.tensors[name].shape, w.tensors[name].data)
  const linear = (x: string, name: string) => g.op('Add', [g.op('MatMul', [x, t(`${name}.kernel`)]), t(`${name}.bias`)])
  const layerNorm = (x: string, name: string) => g.op('LayerNormalization', [x, t(`${name}.gamma`), t(`${name}.beta`)], {axis: -1, epsilon: {float: SASREC_LN_EPS}})

  const seqs = 'seqs'
  // 1. embeddings
  let x = layerNorm(g.op('Add', [g.op('Gather', [t('item_emb'), seqs], {axis: 0}), t('pos_emb')]), 'emb_ln') // [B, L, h]

  // additive mask [B, 1, L, L]: −10000 where the key is padding or in the future, else 0. A query row with no
  // allowed key (a padding position of a left-padded sequence: all of an empty history) gets 0 everywhere
  // instead of −10000 everywhere: the same softmax (shift-invariant per row: RecBole's row attends to all L
  // keys with weights softmax(Q·Kᵀ/√d)), without float32 rounding Q·Kᵀ/√d − 10000 to a step of ~1e-3.
  // That row is the user state of an empty history, so it is read; elsewhere exp(−10000 + …) is 0 either way.
  const causal = new Float32Array(L * L)
  for (let q = 0; q < L; q++) for (let s = 0; s < L; s++) causal[q * L + s] = s <= q ? 1 : 0
  const realKey = g.op('Cast', [g.op('Not', [g.op('Equal', [seqs, g.init('zero_id', [], BigInt64Array.of(0n))])])], {to: DataType.FLOAT})
  const allowed = g.op('Mul', [g.op('Unsqueeze', [realKey, g.int64([1, 2])]), g.init('causal', [L, L], causal)]) // [B, 1, L, L] of 1 / 0
  const liveRow = g.op('ReduceMax', [allowed], {axes: [3], keepdims: 1}) // [B, 1, L, 1]: 1 if the query row has an allowed key
  const mask = g.op('Mul', [g.op('Sub', [allowed, g.float(1)]), g.op('Mul', [liveRow, g.float(-SASREC_MASK)])])
  // the last query row of the mask [B, 1, 1, L], for the last layer computed at position L-1 only
  const lastMask = lastOnly ? g.op('Slice', [mask, g.int64([L - 1]), g.int64([L]), g.int64([2])]) : mask

  const heads = (y: string) => g.op('Transpose', [g.op('Reshape', [y, g.int64([0, 0, a, dh])])], {perm: [0, 2, 1, 3]}) // [B, a, L, dh]
  const invScale = g.float(1 / Math.sqrt(dh))
  for (let k = 0; k < layers; k++) {
    const p = `layer_${k}`
    const onlyLast = lastOnly && k === layers - 1
    // the rows this layer computes: all positions, or (last layer) [B, 1, h] at L-1; keys / values always over all L
    const xq = onlyLast ? g.op('Slice', [x, g.int64([L - 1]), g.int64([L]), g.int64([1])]) : x
    const q = heads(linear(xq, `${p}.q`))
    const kT = g.op('Transpose', [g.op('Reshape', [linear(x, `${p}.k`), g.int64([0, 0, a, dh])])], {perm: [0, 2, 3, 1]}) // [B, a, dh, L]
    const v = heads(linear(x, `${p}.v`))
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), invScale]), onlyLast ? lastMask : mask])
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], {axis: -1}), v]) // [B, a, Lq, dh]
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], {perm: [0, 2, 1, 3]}), g.int64([0, 0, h])])
    x = layerNorm(g.op('Add', [linear(merged, `${p}.attn_out`), xq]), `${p}.ln1`)
    const z = linear(x, `${p}.ffn1`)
    const geluZ = g.op('Mul', [g.op('Mul', [z, g.op('Add', [g.op('Erf', [g.op('Div', [z, g.float(Math.SQRT2)])]), g.float(1)])]), g.float(0.5)])
    x = layerNorm(g.op('Add', [linear(geluZ, `${p}.ffn2`), x]), `${p}.ln2`)
  }
  // 3. the user state and the scores against item_emb[1..I]ᵀ
  const state = lastOnly ? g.op('Squeeze', [x, g.int64([1])]) : g.op('Gather', [x, g.init('last_position', [], BigInt64Array.of(BigInt(L - 1)))], {axis: 1}) // [B, h]
  const itemT = itemTableTransposed(w.tensors.item_emb, I, h)
  const scores = g.op('MatMul', [state, g.init('item_emb.T', [h, I], itemT)])
  g.renameOutput(scores, 'scores')
  return g.model({
    name: 'rec-sasrec',
    opset: ONNX_OPSET,
    inputs: [valueInfo(seqs, DataType.INT64, ['batch', L])],
    outputs: [valueInfo('scores', DataType.FLOAT, ['batch', I])],
    metadata: {
      'rec.kind': 'sasrec',
      'rec.num_items': String(I),
      'rec.probabilities': 'false',
      'rec.input': 'seqs',
      'rec.max_len': String(L),
      // how a scorer builds `seqs`: the last max_len items, item j as id j+1, left-padded with 0
      'rec.seq_encoding': 'item+1,left-pad-0',
      'rec.params': JSON.stringify({hidden: h, layers, heads: a, inner, maxLen: L}),
    },
    doc: 'rec SASRec scoring graph: seqs int64 [B, max_len] (item ids + 1, left-padded with 0) → scores float32 [B, numItems]',
  })
}

/** item_emb rows 1..I (the items, without the padding row) transposed: [h, I] */
function itemTableTransposed(itemEmb: Tensor32, I: number, h: number): Float32Array {
  const out = new Float32Array(h * I)
  for (let j = 0; j < I; j++) for (let i = 0; i < h; i++) out[i * I + j] = itemEmb.data[(j + 1) * h + i]
  return out
}
