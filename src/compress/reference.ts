import type {ModelWeights, Tensor32} from '../models/types.js'
import {layerNames} from './tensors.js'
import {modelRegistry} from '../models/registry.js'
import {roundHalfEven} from './quantize.js'

/**
 * A plain-JS forward pass of every architecture (float64 accumulation), to check the ONNX export and
 * the error of compressed variants on a few users. Not fast; O(users · items · params).
 */
export interface ReferenceOptions {
  /**
   * Simulate the static activation quantization of src/onnx/export.ts (`int8MatMul`: QuantizeLinear with
   * the constant scale and zero point calibrated by `calibrateActivations`) on the input of these
   * int8-kernel tensors (names from `int8KernelTensors`), exactly where the exporter puts it.
   */
  staticInt8?: Record<string, ActivationQuant>
}

/**
 * A static uint8 activation quantization, one scale and zero point for the whole tensor, fixed at export:
 * q = saturate(round(x / scale) + zeroPoint) in [0, 255], x ≈ (q − zeroPoint)·scale. Constants, so a
 * row's quantization depends on that row only (never on the other users of the call).
 */
export interface ActivationQuant {
  /** a float32 value */
  scale: number
  /** 0..255 */
  zeroPoint: number
  /** the calibrated range (lo <= 0 <= hi); values outside it saturate */
  lo: number
  hi: number
  /** 'all': the range is exact over every input the model can be asked for; 'sample': over a deterministic sample */
  coverage: 'all' | 'sample'
}

/**
 * The uint8 quantization covering [lo, hi] (widened to include 0, so that 0, and a ReLU's zeros, stay
 * exact): scale = (hi − lo) / 255, zeroPoint = round(−lo / scale); an input out of a ReLU (lo = 0) gets
 * zero point 0 and all 256 levels. Range rule: the full calibrated min / max, no percentile clipping: the
 * largest activations are those of the top-scored items, the ones a top-K ranking is about.
 */
export function activationQuant(lo: number, hi: number, coverage: ActivationQuant['coverage']): ActivationQuant {
  lo = Math.min(lo, 0)
  hi = Math.max(hi, 0)
  if (!(hi > lo)) return {scale: 1, zeroPoint: 0, lo, hi, coverage}
  const scale = Math.fround((hi - lo) / 255)
  return {scale, zeroPoint: Math.max(0, Math.min(255, roundHalfEven(-lo / scale))), lo, hi, coverage}
}

/** x quantized with `a` and dequantized, computed in float32 like ORT's QuantizeLinear (round half to even, saturating); error <= scale/2 inside [lo, hi] */
export function fakeQuantStatic(x: ArrayLike<number>, a: ActivationQuant): Float32Array {
  const out = new Float32Array(x.length)
  for (let j = 0; j < x.length; j++) {
    const q = Math.max(0, Math.min(255, roundHalfEven(Math.fround(Math.fround(x[j]) / a.scale)) + a.zeroPoint))
    out[j] = (q - a.zeroPoint) * a.scale
  }
  return out
}

/**
 * NeuMF's first MLP layer output relu(userHalf[b] + itemHalf[i]) for every pair, [B·I, h1]: in float, or,
 * when mlp_1 is an int8 kernel (`<mlp_0>.user_half` / `<mlp_0>.item_half` calibrated), as the exporter's
 * QLinearAdd computes it: both halves quantized with their own static scales, their dequantized sum
 * quantized with mlp_1's input quantization (zero point 0: the saturation at 0 is the ReLU), dequantized.
 */
export function firstLayerPairs(userHalf: Float64Array, itemHalf: Float64Array, h1: number, act: Record<string, ActivationQuant>, l0: string, l1: string): Float64Array {
  const B = userHalf.length / h1
  const I = itemHalf.length / h1
  const h = new Float64Array(B * I * h1)
  const [au, ai, ac] = [act[`${l0}.user_half`], act[`${l0}.item_half`], act[`${l1}.kernel`]]
  if (!au || !ai || !ac) {
    for (let b = 0; b < B; b++)
      for (let i = 0; i < I; i++)
        for (let j = 0; j < h1; j++) h[(b * I + i) * h1 + j] = Math.max(0, userHalf[b * h1 + j] + itemHalf[i * h1 + j])
    return h
  }
  const uq = fakeQuantStatic(userHalf, au)
  const iq = fakeQuantStatic(itemHalf, ai)
  for (let b = 0; b < B; b++)
    for (let i = 0; i < I; i++)
      for (let j = 0; j < h1; j++) {
        const q = Math.max(0, Math.min(255, roundHalfEven(Math.fround((uq[b * h1 + j] + iq[i * h1 + j]) / ac.scale)) + ac.zeroPoint))
        h[(b * I + i) * h1 + j] = (q - ac.zeroPoint) * ac.scale
      }
  return h
}

/** rows · W (+ bias): rows [n, in] flattened, W [in, out] */
/** NeuMF's sizes: GMF factors f, MLP embedding e, the MLP layers, the first kernel and its width */
function neumfShape(t: ModelWeights['tensors']): {f: number; e: number; layers: string[]; w0: Tensor32; h1: number} {
  const layers = layerNames(t, 'mlp_')
  const w0 = t[`${layers[0]}.kernel`]
  return {f: t.gmf_user.shape[1], e: t.mlp_user.shape[1], layers, w0, h1: w0.shape[1]}
}

function dense(rows: ArrayLike<number>, n: number, w: Tensor32, bias?: Tensor32, relu = false): Float64Array {
  const [inDim, out] = w.shape
  const y = new Float64Array(n * out)
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < inDim; k++) {
      const x = rows[r * inDim + k]
      if (x === 0) continue
      for (let j = 0; j < out; j++) y[r * out + j] += x * w.data[k * out + j]
    }
    for (let j = 0; j < out; j++) {
      let v = y[r * out + j] + (bias ? bias.data[j] : 0)
      if (relu && v < 0) v = 0
      y[r * out + j] = v
    }
  }
  return y
}

function gather(t: Tensor32, ids: ArrayLike<number>): Float64Array {
  const d = t.shape[1]
  const out = new Float64Array(ids.length * d)
  for (let i = 0; i < ids.length; i++) for (let j = 0; j < d; j++) out[i * d + j] = t.data[ids[i] * d + j]
  return out
}

function rowsOf(w: Tensor32, from: number, to: number): Tensor32 {
  const cols = w.shape[1]
  return {shape: [to - from, cols], data: w.data.subarray(from * cols, to * cols)}
}

/** scores of every item for each user: row-major [users.length × numItems] */
export function referenceScores(w: ModelWeights, users: ArrayLike<number>, options: ReferenceOptions = {}): Float32Array {
  const act = options.staticInt8 ?? {}
  const maybeQ = (name: string, x: Float64Array): ArrayLike<number> => (act[name] ? fakeQuantStatic(x, act[name]) : x)
  const B = users.length
  const I = w.numItems
  const t = w.tensors
  const out = new Float32Array(B * I)
  const dot = (a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number) => {
    let s = 0
    for (let j = 0; j < d; j++) s += a[ao + j] * b[bo + j]
    return s
  }
  const allItems = Int32Array.from({length: I}, (_, i) => i)
  switch (w.kind) {
    case 'pop':
      for (let b = 0; b < B; b++) out.set(t.item_pop.data, b * I)
      return out
    case 'mf':
    case 'itemknn':
    case 'ease': {
      const d = t.user_emb.shape[1]
      const u = maybeQ('item_emb', gather(t.user_emb, users))
      for (let b = 0; b < B; b++) for (let i = 0; i < I; i++) out[b * I + i] = dot(u, b * d, t.item_emb.data, i * d, d)
      return out
    }
    case 'two_tower': {
      const tower = (side: 'user' | 'item', ids: ArrayLike<number>) => {
        let x: Float64Array = gather(t[`${side}_emb`], ids)
        const layers = layerNames(t, `${side}_tower_`)
        for (const [k, l] of layers.entries()) x = dense(side === 'user' ? maybeQ(`${l}.kernel`, x) : x, ids.length, t[`${l}.kernel`], t[`${l}.bias`], k < layers.length - 1)
        return x
      }
      const uo = tower('user', users)
      const io = tower('item', allItems)
      const d = uo.length / B
      for (let b = 0; b < B; b++) for (let i = 0; i < I; i++) out[b * I + i] = dot(uo, b * d, io, i * d, d)
      return out
    }
    case 'neumf': {
      const {f, e, layers, w0, h1} = neumfShape(t)
      const outK = t['out.kernel'].data
      // GMF: (gu ⊙ w_g) · gi
      const gu = gather(t.gmf_user, users)
      for (let b = 0; b < B; b++) for (let j = 0; j < f; j++) gu[b * f + j] *= outK[j]
      const guq = maybeQ('gmf_item', gu)
      // MLP first layer split: [mu, mi]·W0 = mu·W0[:e] + mi·W0[e:]
      const userHalf = dense(maybeQ(`${layers[0]}.kernel`, gather(t.mlp_user, users)), B, rowsOf(w0, 0, e))
      const itemHalf = dense(t.mlp_item.data, I, rowsOf(w0, e, w0.shape[0]), t[`${layers[0]}.bias`])
      let h = layers.length > 1 ? firstLayerPairs(userHalf, itemHalf, h1, act, layers[0], layers[1]) : firstLayerPairs(userHalf, itemHalf, h1, {}, '', '')
      for (const [k, l] of layers.slice(1).entries()) h = dense(k === 0 && act[`${layers[0]}.user_half`] ? h : maybeQ(`${l}.kernel`, h), B * I, t[`${l}.kernel`], t[`${l}.bias`], true)
      const last = h.length / (B * I)
      const bias = t['out.bias'].data[0]
      for (let b = 0; b < B; b++)
        for (let i = 0; i < I; i++) {
          const z = dot(guq, b * f, t.gmf_item.data, i * f, f) + dot(h, (b * I + i) * last, outK, f, last) + bias
          out[b * I + i] = 1 / (1 + Math.exp(-z))
        }
      return out
    }
    default:
      throw new Error(`referenceScores: ${w.kind} scores histories, not user ids (see src/models/sasrec-reference.ts)`)
  }
}

/** multiply-adds the deep-layer calibration of neumf may spend (a deterministic sample of users × every item) */
export const CALIBRATION_BUDGET = 5e7

/**
 * Static activation ranges for the int8 kernels `kernels` (names from `int8KernelTensors`), computed
 * from the weights alone (no data split needed): `w` the float weights the graph computes with
 * (toFloatWeights of the compressed model), each layer's input computed with the earlier layers'
 * activation quantization applied, as the graph does.
 * - inputs drawn from the user tables (mf item_emb, neumf gmf_item and the user half of mlp_0, every
 *   two_tower user-tower layer): over every user, exact
 * - neumf mlp_1 input relu(userHalf[u] + itemHalf[i]): exact over all users × all items, since a column's
 *   largest value is max_u userHalf[u, j] + max_i itemHalf[i, j]; and the two halves, which the graph
 *   quantizes before adding them (QLinearAdd), as `<mlp_0>.user_half` (every user) and `<mlp_0>.item_half`
 *   (every item)
 * - deeper neumf layers: over every item × a deterministic sample of users (those with the largest
 *   first-layer activation per column, then evenly spaced ones) within `budget` multiply-adds; other
 *   pairs can exceed the range and saturate
 */
export function calibrateActivations(w: ModelWeights, kernels: Iterable<string>, budget = CALIBRATION_BUDGET): Record<string, ActivationQuant> {
  const want = new Set(kernels)
  const out: Record<string, ActivationQuant> = {}
  const t = w.tensors
  const U = w.numUsers
  const I = w.numItems
  const put = (name: string, x: ArrayLike<number>, coverage: ActivationQuant['coverage']) => {
    if (!want.has(name)) return
    let lo = 0
    let hi = 0
    for (let j = 0; j < x.length; j++) {
      const v = Math.fround(x[j])
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    out[name] = activationQuant(lo, hi, coverage)
  }
  const q = (name: string, x: Float64Array): ArrayLike<number> => (out[name] ? fakeQuantStatic(x, out[name]) : x)
  const allUsers = Int32Array.from({length: U}, (_, u) => u)
  switch (w.kind) {
    case 'pop':
      return out
    case 'mf':
    case 'itemknn':
    case 'ease':
      put('item_emb', t.user_emb.data, 'all')
      return out
    case 'two_tower': {
      let x: Float64Array = gather(t.user_emb, allUsers)
      const layers = layerNames(t, 'user_tower_')
      for (const [k, l] of layers.entries()) {
        put(`${l}.kernel`, x, 'all')
        x = dense(q(`${l}.kernel`, x), U, t[`${l}.kernel`], t[`${l}.bias`], k < layers.length - 1)
      }
      return out
    }
    case 'neumf': {
      const {f, e, layers, w0, h1} = neumfShape(t)
      const gu = gather(t.gmf_user, allUsers)
      for (let j = 0; j < gu.length; j++) gu[j] *= t['out.kernel'].data[j % f]
      put('gmf_item', gu, 'all')
      put(`${layers[0]}.kernel`, t.mlp_user.data, 'all')
      if (layers.length < 2) return out
      const userHalf = dense(q(`${layers[0]}.kernel`, gather(t.mlp_user, allUsers)), U, rowsOf(w0, 0, e))
      const itemHalf = dense(t.mlp_item.data, I, rowsOf(w0, e, w0.shape[0]), t[`${layers[0]}.bias`])
      const colMax = (x: Float64Array, n: number) => {
        const m = new Float64Array(h1).fill(-Infinity)
        const arg = new Int32Array(h1)
        for (let r = 0; r < n; r++)
          for (let j = 0; j < h1; j++)
            if (x[r * h1 + j] > m[j]) {
              m[j] = x[r * h1 + j]
              arg[j] = r
            }
        return {m, arg}
      }
      // mlp_1 int8: the halves are quantized (each over all its rows: exact) and added by QLinearAdd; the
      // sum's range from the dequantized halves, the values the graph adds
      const l1 = `${layers[1]}.kernel`
      const quantizedAdd = want.has(l1)
      if (quantizedAdd) {
        want.add(`${layers[0]}.user_half`).add(`${layers[0]}.item_half`)
        put(`${layers[0]}.user_half`, userHalf, 'all')
        put(`${layers[0]}.item_half`, itemHalf, 'all')
      }
      const mu = colMax(quantizedAdd ? Float64Array.from(fakeQuantStatic(userHalf, out[`${layers[0]}.user_half`])) : userHalf, U)
      const mi = colMax(quantizedAdd ? Float64Array.from(fakeQuantStatic(itemHalf, out[`${layers[0]}.item_half`])) : itemHalf, I)
      put(l1, Float64Array.from(mu.m, (v, j) => Math.max(0, v + mi.m[j])), 'all')
      const deep = layers.slice(2)
      if (!deep.some((l) => want.has(`${l}.kernel`))) return out
      // every item × a sample of users: first those holding a column's largest first-layer value, then evenly spaced
      let perPair = 0
      for (const l of layers.slice(1, -1)) perPair += t[`${l}.kernel`].shape[0] * t[`${l}.kernel`].shape[1]
      const S = Math.max(1, Math.min(U, Math.floor(budget / (I * perPair))))
      const sample = new Set<number>()
      for (const u of mu.arg) if (sample.size < S) sample.add(u)
      for (let k = 0; sample.size < S; k++) sample.add(Math.floor((k * U) / S) % U)
      const users = [...sample]
      const sampled = new Float64Array(users.length * h1)
      for (const [b, u] of users.entries()) sampled.set(userHalf.subarray(u * h1, (u + 1) * h1), b * h1)
      let h = firstLayerPairs(sampled, itemHalf, h1, out, layers[0], layers[1]) // already quantized for mlp_1
      const coverage = users.length === U ? 'all' : 'sample'
      for (const [k, l] of layers.slice(1, -1).entries()) {
        h = dense(k === 0 ? h : q(`${l}.kernel`, h), users.length * I, t[`${l}.kernel`], t[`${l}.bias`], true)
        put(`${layers[k + 2]}.kernel`, h, coverage)
      }
      return out
    }
    default:
      throw new Error(`calibrateActivations: no calibration for ${w.kind} here`)
  }
}

/** largest |a − b| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** the reference forward as a Scorer (runtime "reference-js"), e.g. for `compareWithReference` */
export function referenceScorer(w: ModelWeights, options: ReferenceOptions = {}): import('../models/types.js').Scorer {
  return {
    numItems: w.numItems,
    runtime: 'reference-js',
    probabilities: modelRegistry[w.kind].probabilities,
    scoreUsers: async (users) => referenceScores(w, users, options),
    async scorePairs(users, items) {
      const out = new Float32Array(users.length)
      for (let j = 0; j < users.length; j++) out[j] = referenceScores(w, [users[j]], options)[items[j]]
      return out
    },
    dispose() {},
  }
}
