import {toFloatWeights} from '../compress/tensors.js'
import type {CompressedModel} from '../compress/types.js'
import {checkSasrecWeights, SASREC_LN_EPS, SASREC_MASK, type SasrecWeights} from '../models/sasrec-reference.js'
import {sasrecReferenceOf} from '../models/sequential.js'
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
 * - Gather(item_emb) + pos_emb, LayerNormalization (epsilon 1e-12, last axis), then activations as 2-D [B·L, h]
 * - per layer: Q, K, V as one MatMul + Add against the kernels concatenated at export ([h, 3h]), Reshape
 *   [B, L, 3, a, h/a] + Transpose + Gather to heads [B, a, L, h/a]; Q·Kᵀ · 1/√(h/a) + mask, Softmax(−1), ·V,
 *   heads back to [B·L, h]; attn_out + residual, LayerNormalization; FFN with exact GELU as
 *   Div(√2) → Erf → Add(1) → Mul(z) → Mul(0.5) (the pattern ORT fuses to Gelu), residual, LayerNormalization
 * - last layer (default, `lastPositionOnly`): K, V over all L ([h, 2h] kernel), Q, attention output and FFN at
 *   position L-1 only
 * - mask [B, 1, L, L] built in-graph: (allowed − 1)·10000 with allowed = Not(Equal(seqs, 0)) [B, 1, 1, L] × causal [L, L]
 *   (0 / 1 constant), rows with no allowed key zeroed (ReduceMax): see the comment there
 * - the state at the last position [B, h] (Gather axis 1, index L-1, or the last-position-only layer's rows),
 *   then MatMul with item_emb[1..I]ᵀ stored as a [h, I] constant
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

  // activations as 2-D [rows, h] between the attention cores (rows = B·L, or B in a last-position-only layer):
  // ORT then fuses each MatMul + bias into one Gemm (and ffn1's Gemm + GELU's Erf pattern into Gelu). On 3-D
  // [B, L, h] it fuses bias + residual + LayerNorm into SkipLayerNormalization and bias + GELU into BiasGelu
  // instead: measured 10-15% slower per request at ml-100k sizes, also with the fused QKV projection
  x = g.op('Reshape', [x, g.int64([-1, h])])
  // the projections that read the same rows run as one MatMul against the kernels concatenated at export
  const fusedLinear = (y: string, names: string[]) => {
    if (names.length === 1) return linear(y, names[0])
    const kernel = concatColumns(names.map((n) => w.tensors[`${n}.kernel`]))
    const bias = Float32Array.from(names.flatMap((n) => Array.from(w.tensors[`${n}.bias`].data)))
    const id = names.join('+')
    return g.op('Add', [g.op('MatMul', [y, g.init(`${id}.kernel`, kernel.shape, kernel.data)]), g.init(`${id}.bias`, [bias.length], bias)])
  }
  // [rows, n·h] of n projections → [n, B, a, L, dh]
  const splitHeads = (y: string, n: number) => g.op('Transpose', [g.op('Reshape', [y, g.int64([-1, L, n, a, dh])])], {perm: [2, 0, 3, 1, 4]})
  const index: string[] = []
  const part = (y: string, i: number) => g.op('Gather', [y, (index[i] ??= g.init(`index_${i}`, [], BigInt64Array.of(BigInt(i))))], {axis: 0})
  const invScale = g.float(1 / Math.sqrt(dh))
  for (let k = 0; k < layers; k++) {
    const p = `layer_${k}`
    const onlyLast = lastOnly && k === layers - 1
    let q: string, kh: string, vh: string, xq: string
    if (!onlyLast) {
      const qkv = splitHeads(fusedLinear(x, [`${p}.q`, `${p}.k`, `${p}.v`]), 3)
      ;[q, kh, vh, xq] = [part(qkv, 0), part(qkv, 1), part(qkv, 2), x] // [B, a, L, dh] each
    } else {
      // the query of position L-1 only ([B, h] → [B, a, 1, dh] with no transpose); keys / values over all L
      const kv = splitHeads(fusedLinear(x, [`${p}.k`, `${p}.v`]), 2)
      ;[kh, vh] = [part(kv, 0), part(kv, 1)]
      xq = g.op('Gather', [g.op('Reshape', [x, g.int64([-1, L, h])]), g.init('last_position', [], BigInt64Array.of(BigInt(L - 1)))], {axis: 1}) // [B, h]
      q = g.op('Reshape', [linear(xq, `${p}.q`), g.int64([-1, a, 1, dh])])
    }
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [kh], {perm: [0, 1, 3, 2]})]), invScale]), onlyLast ? lastMask : mask])
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], {axis: -1}), vh]) // [B, a, Lq, dh]
    // heads concatenated back: [B·Lq, h] (Lq = 1: a plain reshape)
    const merged = g.op('Reshape', [onlyLast ? ctx : g.op('Transpose', [ctx], {perm: [0, 2, 1, 3]}), g.int64([-1, h])])
    x = layerNorm(g.op('Add', [linear(merged, `${p}.attn_out`), xq]), `${p}.ln1`)
    const z = linear(x, `${p}.ffn1`)
    const geluZ = g.op('Mul', [g.op('Mul', [z, g.op('Add', [g.op('Erf', [g.op('Div', [z, g.float(Math.SQRT2)])]), g.float(1)])]), g.float(0.5)])
    x = layerNorm(g.op('Add', [linear(geluZ, `${p}.ffn2`), x]), `${p}.ln2`)
  }
  // 3. the user state [B, h] (already the only row per sequence when the last layer ran at L-1 only), scores against item_emb[1..I]ᵀ
  const state = lastOnly ? x : g.op('Gather', [g.op('Reshape', [x, g.int64([-1, L, h])]), g.init('last_position', [], BigInt64Array.of(BigInt(L - 1)))], {axis: 1})
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

/** the kernels [in, out_k] side by side: [in, Σ out_k] */
function concatColumns(ts: Tensor32[]): Tensor32 {
  const rows = ts[0].shape[0]
  const cols = ts.reduce((c, t) => c + t.shape[1], 0)
  const out = new Float32Array(rows * cols)
  let off = 0
  for (const t of ts) {
    const n = t.shape[1]
    for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * n, (r + 1) * n), r * cols + off)
    off += n
  }
  return {shape: [rows, cols], data: out}
}

/** item_emb rows 1..I (the items, without the padding row) transposed: [h, I] */
function itemTableTransposed(itemEmb: Tensor32, I: number, h: number): Float32Array {
  const out = new Float32Array(h * I)
  for (let j = 0; j < I; j++) for (let i = 0; i < h; i++) out[i * I + j] = itemEmb.data[(j + 1) * h + i]
  return out
}

/** a (compressed) SASRec as its serving graph; every tensor is exported as float32 */
export function exportSasrecModel(c: CompressedModel): Uint8Array {
  return exportSasrecOnnx(sasrecReferenceOf(toFloatWeights(c)))
}
