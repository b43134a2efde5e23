/**
 * SASRec's plain-JS reference forward: the oracle the tfjs model and the ONNX export are checked
 * against. A straightforward transcription of the shared spec (RecBole's SASRec, post-LayerNorm,
 * inference mode), float64 accumulation, clarity over speed.
 *
 * Input of one user: the last L items of their history as ids shifted by one (item j → j+1),
 * LEFT-padded with 0, so position L-1 is the latest item. Tensors ("kernel" is [in, out]):
 * - item_emb [I+1, h] (row 0 = padding), pos_emb [L, h], emb_ln.gamma/beta [h]
 * - layer_k.{q,k,v,attn_out}.kernel [h,h] / .bias [h], layer_k.ln1.gamma/beta [h],
 *   layer_k.ffn1.kernel [h,f] / .bias [f], layer_k.ffn2.kernel [f,h] / .bias [h], layer_k.ln2.gamma/beta [h]
 * Forward: x = LN(item_emb[seq] + pos_emb); per layer: masked multi-head self-attention (causal, padded
 * keys masked with −10000), x = LN1(attn_out(ctx) + x), x = LN2(ffn2(GELU(ffn1(x))) + x);
 * scores = x[L-1] · item_emb[1..I]ᵀ.
 */
import {Rng} from '../rng.js'
import type {Tensor32} from './types.js'

export interface SasrecParams {
  hidden: number
  layers: number
  heads: number
  inner: number
  maxLen: number
}

export interface SasrecWeights {
  numItems: number
  params: SasrecParams
  tensors: Record<string, Tensor32>
}

/** RecBole's layer_norm_eps */
export const SASREC_LN_EPS = 1e-12
/** the additive attention mask of a masked (future or padding) key, finite as in RecBole */
export const SASREC_MASK = -10000

/** name → expected shape of every SASRec tensor */
export function sasrecTensorShapes(numItems: number, p: SasrecParams): Record<string, number[]> {
  const {hidden: h, inner: f, maxLen: L} = p
  const shapes: Record<string, number[]> = {item_emb: [numItems + 1, h], pos_emb: [L, h], 'emb_ln.gamma': [h], 'emb_ln.beta': [h]}
  for (let k = 0; k < p.layers; k++) {
    for (const d of ['q', 'k', 'v', 'attn_out']) {
      shapes[`layer_${k}.${d}.kernel`] = [h, h]
      shapes[`layer_${k}.${d}.bias`] = [h]
    }
    shapes[`layer_${k}.ln1.gamma`] = [h]
    shapes[`layer_${k}.ln1.beta`] = [h]
    shapes[`layer_${k}.ffn1.kernel`] = [h, f]
    shapes[`layer_${k}.ffn1.bias`] = [f]
    shapes[`layer_${k}.ffn2.kernel`] = [f, h]
    shapes[`layer_${k}.ffn2.bias`] = [h]
    shapes[`layer_${k}.ln2.gamma`] = [h]
    shapes[`layer_${k}.ln2.beta`] = [h]
  }
  return shapes
}

/** throws unless every tensor of the layout is present with its shape, and heads divide hidden */
export function checkSasrecWeights(w: SasrecWeights): void {
  const p = w.params
  if (p.hidden % p.heads !== 0) throw new Error(`SASRec: hidden ${p.hidden} is not a multiple of heads ${p.heads}`)
  for (const [name, shape] of Object.entries(sasrecTensorShapes(w.numItems, p))) {
    const t = w.tensors[name]
    if (!t) throw new Error(`SASRec: missing tensor ${name}`)
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`SASRec: tensor ${name} has shape [${t.shape}], expected [${shape}]`)
    if (t.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`SASRec: tensor ${name} holds ${t.data.length} values for shape [${shape}]`)
  }
}

/** a row-major matrix of float64 values */
type Mat = {rows: number; cols: number; data: Float64Array}

function mat(rows: number, cols: number): Mat {
  return {rows, cols, data: new Float64Array(rows * cols)}
}

/** y = x · kernel + bias (kernel [in, out]) */
function dense(x: Mat, kernel: Tensor32, bias: Tensor32): Mat {
  const [n, m] = kernel.shape
  if (x.cols !== n) throw new Error(`dense: input has ${x.cols} columns, kernel [${kernel.shape}]`)
  const y = mat(x.rows, m)
  for (let r = 0; r < x.rows; r++) {
    for (let j = 0; j < m; j++) {
      let s = bias.data[j]
      for (let i = 0; i < n; i++) s += x.data[r * n + i] * kernel.data[i * m + j]
      y.data[r * m + j] = s
    }
  }
  return y
}

/** LayerNorm over each row: biased variance, eps 1e-12 */
function layerNorm(x: Mat, gamma: Tensor32, beta: Tensor32): Mat {
  const y = mat(x.rows, x.cols)
  const d = x.cols
  for (let r = 0; r < x.rows; r++) {
    let mean = 0
    for (let i = 0; i < d; i++) mean += x.data[r * d + i]
    mean /= d
    let v = 0
    for (let i = 0; i < d; i++) v += (x.data[r * d + i] - mean) ** 2
    v /= d
    const inv = 1 / Math.sqrt(v + SASREC_LN_EPS)
    for (let i = 0; i < d; i++) y.data[r * d + i] = (x.data[r * d + i] - mean) * inv * gamma.data[i] + beta.data[i]
  }
  return y
}

function add(a: Mat, b: Mat): Mat {
  const y = mat(a.rows, a.cols)
  for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i] + b.data[i]
  return y
}

/** erf to float64 precision (W. J. Cody's rational approximations, as in most libm implementations, ~1e-16 relative) */
export function erf(x: number): number {
  const ax = Math.abs(x)
  if (ax < 0.5) {
    // erf(x) = x · P(x²)/Q(x²)
    const t = x * x
    const p = [3.1611237438705656, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315]
    const q = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.2368334391704]
    let num = p[4] * t
    let den = t
    for (let i = 0; i < 3; i++) {
      num = (num + p[i]) * t
      den = (den + q[i]) * t
    }
    return (x * (num + p[3])) / (den + q[3])
  }
  return x < 0 ? -(1 - erfcPositive(ax)) : 1 - erfcPositive(ax)
}

/** erfc(x) for x ≥ 0.5 */
function erfcPositive(x: number): number {
  if (x >= 27) return 0
  let r: number
  if (x <= 4) {
    const c = [0.5641884969886701, 8.883149794388376, 66.11919063714163, 298.6351381974001, 881.952221241769, 1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-8]
    const d = [15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597, 4362.619090143247, 3439.3676741437216, 1230.3393548037495]
    let num = c[8] * x
    let den = x
    for (let i = 0; i < 7; i++) {
      num = (num + c[i]) * x
      den = (den + d[i]) * x
    }
    r = (num + c[7]) / (den + d[7])
  } else {
    const p = [0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 6.587491615298378e-4, 0.016315387137302097]
    const q = [2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918]
    const z = 1 / (x * x)
    let num = p[5] * z
    let den = z
    for (let i = 0; i < 4; i++) {
      num = (num + p[i]) * z
      den = (den + q[i]) * z
    }
    r = (z * (num + p[4])) / (den + q[4])
    r = (1 / Math.sqrt(Math.PI) - r) / x
  }
  // exp(−x²) split to keep precision
  const xs = Math.trunc(x * 16) / 16
  const del = (x - xs) * (x + xs)
  return Math.exp(-xs * xs) * Math.exp(-del) * r
}

/** exact GELU: 0.5·z·(1 + erf(z/√2)) */
export function gelu(z: number): number {
  return 0.5 * z * (1 + erf(z / Math.SQRT2))
}

/** the final hidden state x[L-1] of one sequence (ids shifted by one, left-padded with 0), float64 */
export function sasrecState(w: SasrecWeights, seq: ArrayLike<number>): Float64Array {
  const {hidden: h, heads: a, layers, maxLen: L} = w.params
  const t = (name: string) => w.tensors[name]
  if (seq.length !== L) throw new Error(`SASRec: a sequence has ${seq.length} positions, expected ${L}`)
  for (let s = 0; s < L; s++) if (!Number.isInteger(seq[s]) || seq[s] < 0 || seq[s] > w.numItems) throw new Error(`SASRec: id ${seq[s]} at position ${s} is outside 0..${w.numItems}`)

  // 1. embeddings + positions, LayerNorm
  const item = t('item_emb').data
  const pos = t('pos_emb').data
  let x = mat(L, h)
  for (let s = 0; s < L; s++) for (let i = 0; i < h; i++) x.data[s * h + i] = item[seq[s] * h + i] + pos[s * h + i]
  x = layerNorm(x, t('emb_ln.gamma'), t('emb_ln.beta'))

  // additive mask [t, s]: 0 if s ≤ t and seq[s] ≠ 0, else −10000
  const mask = new Float64Array(L * L)
  for (let q = 0; q < L; q++) for (let s = 0; s < L; s++) mask[q * L + s] = s <= q && seq[s] !== 0 ? 0 : SASREC_MASK

  const dh = h / a
  const scale = 1 / Math.sqrt(dh)
  for (let k = 0; k < layers; k++) {
    const p = `layer_${k}`
    // 2a. multi-head self-attention
    const Q = dense(x, t(`${p}.q.kernel`), t(`${p}.q.bias`))
    const K = dense(x, t(`${p}.k.kernel`), t(`${p}.k.bias`))
    const V = dense(x, t(`${p}.v.kernel`), t(`${p}.v.bias`))
    const ctx = mat(L, h)
    const probs = new Float64Array(L)
    for (let head = 0; head < a; head++) {
      const off = head * dh
      for (let q = 0; q < L; q++) {
        let max = -Infinity
        for (let s = 0; s < L; s++) {
          let dot = 0
          for (let i = 0; i < dh; i++) dot += Q.data[q * h + off + i] * K.data[s * h + off + i]
          probs[s] = dot * scale + mask[q * L + s]
          max = Math.max(max, probs[s])
        }
        let sum = 0
        for (let s = 0; s < L; s++) sum += probs[s] = Math.exp(probs[s] - max)
        for (let s = 0; s < L; s++) probs[s] /= sum
        for (let i = 0; i < dh; i++) {
          let c = 0
          for (let s = 0; s < L; s++) c += probs[s] * V.data[s * h + off + i]
          ctx.data[q * h + off + i] = c
        }
      }
    }
    x = layerNorm(add(dense(ctx, t(`${p}.attn_out.kernel`), t(`${p}.attn_out.bias`)), x), t(`${p}.ln1.gamma`), t(`${p}.ln1.beta`))
    // 2b. feed-forward, exact GELU
    const hidden = dense(x, t(`${p}.ffn1.kernel`), t(`${p}.ffn1.bias`))
    for (let i = 0; i < hidden.data.length; i++) hidden.data[i] = gelu(hidden.data[i])
    x = layerNorm(add(dense(hidden, t(`${p}.ffn2.kernel`), t(`${p}.ffn2.bias`)), x), t(`${p}.ln2.gamma`), t(`${p}.ln2.beta`))
  }
  // 3. the user state: the last position
  return x.data.slice((L - 1) * h, L * h)
}

/** scores of every item for each sequence: seqs [B×L] (ids shifted by one, left-padded) → [B×I], item j's score at j */
export function sasrecReferenceScores(w: SasrecWeights, seqs: Int32Array): Float32Array {
  checkSasrecWeights(w)
  const {hidden: h, maxLen: L} = w.params
  const I = w.numItems
  if (seqs.length % L !== 0) throw new Error(`SASRec: ${seqs.length} ids are not a whole number of sequences of ${L}`)
  const B = seqs.length / L
  const item = w.tensors.item_emb.data
  const out = new Float32Array(B * I)
  for (let b = 0; b < B; b++) {
    const state = sasrecState(w, seqs.subarray(b * L, (b + 1) * L))
    for (let j = 0; j < I; j++) {
      let s = 0
      for (let i = 0; i < h; i++) s += state[i] * item[(j + 1) * h + i]
      out[b * I + j] = s
    }
  }
  return out
}

export interface RandomSasrecOptions {
  /** std of the Normal init of kernels and embeddings (RecBole: 0.02) */
  std?: number
  /** also draw biases and LayerNorm gamma/beta (gamma around 1) with this std instead of RecBole's 0 / 1 / 0: exercises every tensor in tests */
  perturb?: number
}

/**
 * Seeded SASRec weights in RecBole's initialisation: kernels and embeddings ~ Normal(0, std), biases 0,
 * LayerNorm gamma 1 / beta 0, padding row of item_emb 0 (`perturb` draws the others too, for tests).
 */
export function randomSasrecWeights(numItems: number, params: SasrecParams, seed: number, opts: RandomSasrecOptions = {}): SasrecWeights {
  const std = opts.std ?? 0.02
  const perturb = opts.perturb ?? 0
  const rng = new Rng(seed)
  const tensors: Record<string, Tensor32> = {}
  for (const [name, shape] of Object.entries(sasrecTensorShapes(numItems, params))) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    const gamma = name.endsWith('.gamma')
    const drawn = name.endsWith('.kernel') || name.endsWith('_emb')
    for (let i = 0; i < data.length; i++) data[i] = drawn ? std * rng.normal() : (gamma ? 1 : 0) + (perturb ? perturb * rng.normal() : 0)
    if (name === 'item_emb') data.fill(0, 0, params.hidden)
    tensors[name] = {shape, data}
  }
  return {numItems, params: {...params}, tensors}
}
