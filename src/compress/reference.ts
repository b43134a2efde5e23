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
   * Simulate the per-row activation quantization of src/onnx/export.ts (`quantizeRows`: symmetric
   * uint8 around 128, one scale per row) on the input of these int8-kernel tensors, exactly where the
   * exporter puts it (names from `int8KernelTensors`).
   */
  dynamicInt8?: Iterable<string>
}

/**
 * Per-row activation quantization then dequantization, computed in float32 like ORT (export.ts
 * `quantizeRows`): for each row of `cols` values, s = max(max|row| / 127, 2^-126) around the zero point
 * 128, or for rows out of a ReLU (`nonNegative`) s = max(max(row) / 255, 2^-126) from 0; x ↦ q·s with
 * q = round(x / s) half to even, saturated. 0 stays exact; the error is at most s/2 per value.
 */
export function fakeQuantRows(x: Float32Array | Float64Array, cols: number, nonNegative = false): Float32Array {
  const out = new Float32Array(x.length)
  const [lo, hi] = nonNegative ? [0, 255] : [-127, 127]
  for (let r = 0; r < x.length / cols; r++) {
    let m = 0
    for (let j = r * cols; j < (r + 1) * cols; j++) m = Math.max(m, Math.abs(Math.fround(x[j])))
    const scale = Math.max(Math.fround(m / hi), 2 ** -126)
    for (let j = r * cols; j < (r + 1) * cols; j++) out[j] = Math.max(lo, Math.min(hi, roundHalfEven(Math.fround(Math.fround(x[j]) / scale)))) * scale
  }
  return out
}

/** rows · W (+ bias): rows [n, in] flattened, W [in, out] */
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
  const q = new Set(options.dynamicInt8 ?? [])
  const maybeQ = (name: string, x: Float64Array, cols: number, nonNegative = false): ArrayLike<number> => (q.has(name) ? fakeQuantRows(x, cols, nonNegative) : x)
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
    case 'mf': {
      const d = t.user_emb.shape[1]
      const u = maybeQ('item_emb', gather(t.user_emb, users), d)
      for (let b = 0; b < B; b++) for (let i = 0; i < I; i++) out[b * I + i] = dot(u, b * d, t.item_emb.data, i * d, d)
      return out
    }
    case 'two_tower': {
      const tower = (side: 'user' | 'item', ids: ArrayLike<number>) => {
        let x: Float64Array = gather(t[`${side}_emb`], ids)
        const layers = layerNames(t, `${side}_tower_`)
        for (const [k, l] of layers.entries()) x = dense(side === 'user' ? maybeQ(`${l}.kernel`, x, x.length / ids.length, k > 0) : x, ids.length, t[`${l}.kernel`], t[`${l}.bias`], k < layers.length - 1)
        return x
      }
      const uo = tower('user', users)
      const io = tower('item', allItems)
      const d = uo.length / B
      for (let b = 0; b < B; b++) for (let i = 0; i < I; i++) out[b * I + i] = dot(uo, b * d, io, i * d, d)
      return out
    }
    case 'neumf': {
      const f = t.gmf_user.shape[1]
      const e = t.mlp_user.shape[1]
      const layers = layerNames(t, 'mlp_')
      const w0 = t[`${layers[0]}.kernel`]
      const h1 = w0.shape[1]
      const outK = t['out.kernel'].data
      // GMF: (gu ⊙ w_g) · gi
      const gu = gather(t.gmf_user, users)
      for (let b = 0; b < B; b++) for (let j = 0; j < f; j++) gu[b * f + j] *= outK[j]
      const guq = maybeQ('gmf_item', gu, f)
      // MLP first layer split: [mu, mi]·W0 = mu·W0[:e] + mi·W0[e:]
      const userHalf = dense(maybeQ(`${layers[0]}.kernel`, gather(t.mlp_user, users), e), B, rowsOf(w0, 0, e))
      const itemHalf = dense(t.mlp_item.data, I, rowsOf(w0, e, w0.shape[0]), t[`${layers[0]}.bias`])
      let h: Float64Array = new Float64Array(B * I * h1)
      for (let b = 0; b < B; b++)
        for (let i = 0; i < I; i++)
          for (let j = 0; j < h1; j++) h[(b * I + i) * h1 + j] = Math.max(0, userHalf[b * h1 + j] + itemHalf[i * h1 + j])
      for (const l of layers.slice(1)) h = dense(maybeQ(`${l}.kernel`, h, h.length / (B * I), true), B * I, t[`${l}.kernel`], t[`${l}.bias`], true)
      const last = h.length / (B * I)
      const bias = t['out.bias'].data[0]
      for (let b = 0; b < B; b++)
        for (let i = 0; i < I; i++) {
          const z = dot(guq, b * f, t.gmf_item.data, i * f, f) + dot(h, (b * I + i) * last, outK, f, last) + bias
          out[b * I + i] = 1 / (1 + Math.exp(-z))
        }
      return out
    }
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
