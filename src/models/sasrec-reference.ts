/**
 * SASRec's plain-JS reference forward: the oracle the tfjs model and the ONNX export are checked
 * against. A straightforward transcription of the shared spec (RecBole's SASRec, post-LayerNorm,
 * inference mode), float64 accumulation, clarity over speed.
 *
 * Input of one user: the last L items of their history as ids shifted by one (item j → j+1),
 * LEFT-padded with 0, so position L-1 is the latest item. Tensors ("kernel" is [in, out]):
 * - item_emb [I+1, h] (row 0 = padding), pos_emb [L, h], emb_ln.gamma/beta [h]
 * - layer_k.{q,k,v}.kernel [h, a_k·d] / .bias [a_k·d], layer_k.attn_out.kernel [a_k·d, h] / .bias [h],
 *   layer_k.ln1.gamma/beta [h], layer_k.ffn1.kernel [h, f_k] / .bias [f_k], layer_k.ffn2.kernel [f_k, h] / .bias [h],
 *   layer_k.ln2.gamma/beta [h]
 * Forward: x = LN(item_emb[seq] + pos_emb); per layer: masked multi-head self-attention (causal, padded
 * keys masked with −10000), x = LN1(attn_out(ctx) + x), x = LN2(ffn2(GELU(ffn1(x))) + x);
 * scores = x[L-1] · item_emb[1..I]ᵀ.
 *
 * Shapes are authoritative (structured pruning shrinks them): the head width d = params.hidden /
 * params.heads is the base model's; block k has a_k = (width of its Q kernel) / d heads and f_k =
 * (width of ffn1) inner units; the blocks are the layer_0, layer_1, ... present (`sasrecGeometry`).
 * `params` are the ModelWeights params ({hidden, layers, heads, inner, max_len, ...}), taken as they are.
 */
import {Rng} from '../rng.js'
import type {Tensor32} from './types.js'

/** the hyper-parameters of a (base) SASRec, in the ModelWeights names */
export interface SasrecParams {
  hidden: number
  layers: number
  heads: number
  inner: number
  max_len: number
}

export interface SasrecWeights {
  numItems: number
  /** ModelWeights params: {hidden, layers, heads, inner, max_len} of the base model (dropout, loss... ignored) */
  params: SasrecParams | Record<string, unknown>
  tensors: Record<string, Tensor32>
}

/** one transformer block as its tensors shape it */
export interface SasrecBlock {
  /** attention heads a_k */
  heads: number
  /** a_k · headDim: the width of Q, K, V and the rows of attn_out */
  width: number
  /** feed-forward units f_k */
  inner: number
}

/** what the forward needs to know, read from the params (base model) and the tensor shapes (pruned blocks) */
export interface SasrecGeometry {
  hidden: number
  /** d = params.hidden / params.heads: the base model's head width, kept by head pruning */
  headDim: number
  maxLen: number
  blocks: SasrecBlock[]
}

/** RecBole's layer_norm_eps */
export const SASREC_LN_EPS = 1e-12
/** the additive attention mask of a masked (future or padding) key, finite as in RecBole */
export const SASREC_MASK = -10000

function numParam(p: Record<string, unknown>, key: string): number {
  const v = p[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`SASRec params: ${key} must be a positive integer, got ${String(v)}`)
  return v
}

/** the base hyper-parameters, checked (positive integers, heads dividing hidden) */
export function sasrecParamsOf(params: SasrecParams | Record<string, unknown>): SasrecParams {
  const p = params as Record<string, unknown>
  const out = {hidden: numParam(p, 'hidden'), layers: numParam(p, 'layers'), heads: numParam(p, 'heads'), inner: numParam(p, 'inner'), max_len: numParam(p, 'max_len')}
  if (out.hidden % out.heads !== 0) throw new Error(`SASRec: hidden ${out.hidden} is not a multiple of heads ${out.heads}`)
  return out
}

/** the number of blocks layer_0, layer_1, ... whose Q kernel is present */
export function countSasrecBlocks(names: Record<string, unknown>): number {
  let n = 0
  while (`layer_${n}.q.kernel` in names) n++
  return n
}

/** the geometry of an unpruned model */
export function baseGeometry(params: SasrecParams | Record<string, unknown>): SasrecGeometry {
  const p = sasrecParamsOf(params)
  const headDim = p.hidden / p.heads
  return {hidden: p.hidden, headDim, maxLen: p.max_len, blocks: Array.from({length: p.layers}, () => ({heads: p.heads, width: p.hidden, inner: p.inner}))}
}

/**
 * The geometry of a model from its params and tensor shapes: blocks are the layer_k present, heads of
 * block k = width of its Q kernel / headDim, inner = width of its ffn1 kernel. Throws when the shapes
 * do not make a SASRec (see `checkSasrecShapes` for the full check).
 */
export function sasrecGeometry(params: SasrecParams | Record<string, unknown>, shapes: Record<string, readonly number[]>): SasrecGeometry {
  const p = sasrecParamsOf(params)
  const headDim = p.hidden / p.heads
  const n = countSasrecBlocks(shapes)
  if (n === 0) throw new Error('SASRec: no transformer block (layer_0.q.kernel is missing)')
  const blocks: SasrecBlock[] = []
  for (let k = 0; k < n; k++) {
    const width = shapes[`layer_${k}.q.kernel`][1]
    const inner = shapes[`layer_${k}.ffn1.kernel`]?.[1]
    if (!(width > 0) || width % headDim !== 0) throw new Error(`SASRec: layer_${k}.q.kernel is ${width} wide, not a whole number of heads of ${headDim}`)
    if (!(inner > 0)) throw new Error(`SASRec: layer_${k}.ffn1.kernel is missing or empty`)
    blocks.push({heads: width / headDim, width, inner})
  }
  return {hidden: p.hidden, headDim, maxLen: p.max_len, blocks}
}

/** name → expected shape of every SASRec tensor of this geometry */
export function sasrecTensorShapes(numItems: number, g: SasrecGeometry): Record<string, number[]> {
  const {hidden: h, maxLen: L} = g
  const shapes: Record<string, number[]> = {item_emb: [numItems + 1, h], pos_emb: [L, h], 'emb_ln.gamma': [h], 'emb_ln.beta': [h]}
  for (const [k, b] of g.blocks.entries()) {
    for (const d of ['q', 'k', 'v']) {
      shapes[`layer_${k}.${d}.kernel`] = [h, b.width]
      shapes[`layer_${k}.${d}.bias`] = [b.width]
    }
    shapes[`layer_${k}.attn_out.kernel`] = [b.width, h]
    shapes[`layer_${k}.attn_out.bias`] = [h]
    shapes[`layer_${k}.ln1.gamma`] = [h]
    shapes[`layer_${k}.ln1.beta`] = [h]
    shapes[`layer_${k}.ffn1.kernel`] = [h, b.inner]
    shapes[`layer_${k}.ffn1.bias`] = [b.inner]
    shapes[`layer_${k}.ffn2.kernel`] = [b.inner, h]
    shapes[`layer_${k}.ffn2.bias`] = [h]
    shapes[`layer_${k}.ln2.gamma`] = [h]
    shapes[`layer_${k}.ln2.beta`] = [h]
  }
  return shapes
}

/** throws unless the shapes make a SASRec of `numItems` items (every tensor of its geometry, with its shape, and nothing else); returns the geometry */
export function checkSasrecShapes(numItems: number, params: SasrecParams | Record<string, unknown>, shapes: Record<string, readonly number[]>): SasrecGeometry {
  const g = sasrecGeometry(params, shapes)
  const want = sasrecTensorShapes(numItems, g)
  for (const [name, shape] of Object.entries(want)) {
    const got = shapes[name]
    if (!got) throw new Error(`SASRec: missing tensor ${name}`)
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) throw new Error(`SASRec: tensor ${name} has shape [${got}], expected [${shape}]`)
  }
  for (const name of Object.keys(shapes)) if (!(name in want)) throw new Error(`SASRec: unexpected tensor ${name} (blocks are layer_0..layer_${g.blocks.length - 1})`)
  return g
}

/** throws unless every tensor of the layout is present with its shape and its values; returns the geometry */
export function checkSasrecWeights(w: SasrecWeights): SasrecGeometry {
  const shapes = Object.fromEntries(Object.entries(w.tensors).map(([n, t]) => [n, t.shape]))
  const g = checkSasrecShapes(w.numItems, w.params, shapes)
  for (const [name, t] of Object.entries(w.tensors)) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`SASRec: tensor ${name} holds ${t.data.length} values for shape [${t.shape}]`)
  }
  return g
}

/** a row-major matrix of float64 values */
export type Mat = {rows: number; cols: number; data: Float64Array}

function mat(rows: number, cols: number): Mat {
  return {rows, cols, data: new Float64Array(rows * cols)}
}

/** y = x · kernel + bias (kernel [in, out]) */
function dense(x: Mat, kernel: Tensor32, bias: Tensor32): Mat {
  const [n, m] = kernel.shape
  if (x.cols !== n) throw new Error(`dense: input has ${x.cols} columns, kernel [${kernel.shape}]`)
  const y = mat(x.rows, m)
  const acc = new Float64Array(m)
  for (let r = 0; r < x.rows; r++) {
    for (let j = 0; j < m; j++) acc[j] = bias.data[j]
    for (let i = 0; i < n; i++) {
      const v = x.data[r * n + i]
      if (v === 0) continue
      const off = i * m
      for (let j = 0; j < m; j++) acc[j] += v * kernel.data[off + j]
    }
    y.data.set(acc, r * m)
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

/** rows `idx` of x */
function pickRows(x: Mat, idx: ArrayLike<number>): Mat {
  const y = mat(idx.length, x.cols)
  for (let r = 0; r < idx.length; r++) y.data.set(x.data.subarray(idx[r] * x.cols, (idx[r] + 1) * x.cols), r * x.cols)
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

/**
 * Where the forward reads an activation that feeds a weight matrix (the inputs of the int8 kernels of
 * the export): `layer_k.qkv.kernel` (x into Q, K and V; in the last block into K and V, its query reading
 * row L-1 of x at `layer_k.q.kernel`), `layer_k.attn_out.kernel` (the heads' context),
 * `layer_k.ffn1.kernel`, `layer_k.ffn2.kernel` (GELU output), `item_emb` (the final state scored
 * against the item table). `real[r]` = 1 when row r is a position holding an item (not padding).
 */
export interface ActivationSite {
  point: string
  block?: number
  x: Mat
  real: Uint8Array
}

export interface SasrecForwardOptions {
  /**
   * Called at every activation site in forward order over the whole batch; the values it returns (same
   * shape) are used instead: calibration observes, static int8 simulation quantizes, head importance measures.
   */
  activation?: (site: ActivationSite) => Mat | void
  /** blocks left out (identity): layer importance */
  skipBlocks?: ReadonlySet<number>
}

/**
 * The final hidden states x[L-1] [B, h] of B sequences (seqs B×L, ids shifted by one, left-padded with 0),
 * float64, batched over the sequences. As the export computes it, the last block computes its queries,
 * attention output and feed-forward at position L-1 only (keys and values over all L): the same states.
 */
export function sasrecStates(w: SasrecWeights, seqs: ArrayLike<number>, options: SasrecForwardOptions = {}): Mat {
  const g = checkSasrecWeights(w)
  const {hidden: h, headDim: dh, maxLen: L} = g
  const t = (name: string) => w.tensors[name]
  if (seqs.length % L !== 0) throw new Error(`SASRec: ${seqs.length} ids are not a whole number of sequences of ${L}`)
  const B = seqs.length / L
  for (let s = 0; s < seqs.length; s++) {
    if (!Number.isInteger(seqs[s]) || seqs[s] < 0 || seqs[s] > w.numItems) throw new Error(`SASRec: id ${seqs[s]} at position ${s % L} is outside 0..${w.numItems}`)
  }
  const hook = (point: string, block: number | undefined, x: Mat, real: Uint8Array): Mat => options.activation?.({point, block, x, real}) ?? x

  // 1. embeddings + positions, LayerNorm
  const item = t('item_emb').data
  const pos = t('pos_emb').data
  let x = mat(B * L, h)
  const real = new Uint8Array(B * L)
  for (let r = 0; r < B * L; r++) {
    const s = r % L
    real[r] = seqs[r] !== 0 ? 1 : 0
    for (let i = 0; i < h; i++) x.data[r * h + i] = item[seqs[r] * h + i] + pos[s * h + i]
  }
  x = layerNorm(x, t('emb_ln.gamma'), t('emb_ln.beta'))
  const lastRows = Int32Array.from({length: B}, (_, b) => b * L + L - 1)
  const lastReal = Uint8Array.from(lastRows, (r) => real[r])

  const blocks = g.blocks.map((b, k) => ({...b, k})).filter((b) => !options.skipBlocks?.has(b.k))
  const scale = 1 / Math.sqrt(dh)
  const probs = new Float64Array(L)
  for (const [n, {k, heads: a, width}] of blocks.entries()) {
    const p = `layer_${k}`
    // the last block: queries, output and feed-forward at position L-1 only
    const onlyLast = n === blocks.length - 1
    // 2a. multi-head self-attention
    const xin = hook(`${p}.qkv.kernel`, k, x, real)
    // the last block's query reads row L-1 of x: its own site
    const xq = onlyLast ? hook(`${p}.q.kernel`, k, pickRows(x, lastRows), lastReal) : xin
    const Q = dense(xq, t(`${p}.q.kernel`), t(`${p}.q.bias`))
    const K = dense(xin, t(`${p}.k.kernel`), t(`${p}.k.bias`))
    const V = dense(xin, t(`${p}.v.kernel`), t(`${p}.v.bias`))
    const Lq = onlyLast ? 1 : L
    const ctx = mat(B * Lq, width)
    for (let b = 0; b < B; b++) {
      // a query row with no allowed key (padding, or all of an empty history) attends to all keys evenly
      // shifted: the same softmax as −10000 on every key, as the export and tfjs write it
      for (let qi = 0; qi < Lq; qi++) {
        const q = onlyLast ? L - 1 : qi
        let live = false
        for (let s = 0; s <= q; s++) if (seqs[b * L + s] !== 0) live = true
        for (let head = 0; head < a; head++) {
          const off = head * dh
          let max = -Infinity
          for (let s = 0; s < L; s++) {
            let dot = 0
            for (let i = 0; i < dh; i++) dot += Q.data[(b * Lq + qi) * width + off + i] * K.data[(b * L + s) * width + off + i]
            const allowed = s <= q && seqs[b * L + s] !== 0
            probs[s] = dot * scale + (allowed || !live ? 0 : SASREC_MASK)
            max = Math.max(max, probs[s])
          }
          let sum = 0
          for (let s = 0; s < L; s++) sum += probs[s] = Math.exp(probs[s] - max)
          for (let s = 0; s < L; s++) probs[s] /= sum
          for (let i = 0; i < dh; i++) {
            let c = 0
            for (let s = 0; s < L; s++) c += probs[s] * V.data[(b * L + s) * width + off + i]
            ctx.data[(b * Lq + qi) * width + off + i] = c
          }
        }
      }
    }
    const rowsReal = onlyLast ? lastReal : real
    const residual = onlyLast ? pickRows(x, lastRows) : x
    const attn = dense(hook(`${p}.attn_out.kernel`, k, ctx, rowsReal), t(`${p}.attn_out.kernel`), t(`${p}.attn_out.bias`))
    x = layerNorm(add(attn, residual), t(`${p}.ln1.gamma`), t(`${p}.ln1.beta`))
    // 2b. feed-forward, exact GELU
    const z = dense(hook(`${p}.ffn1.kernel`, k, x, rowsReal), t(`${p}.ffn1.kernel`), t(`${p}.ffn1.bias`))
    for (let i = 0; i < z.data.length; i++) z.data[i] = gelu(z.data[i])
    x = layerNorm(add(dense(hook(`${p}.ffn2.kernel`, k, z, rowsReal), t(`${p}.ffn2.kernel`), t(`${p}.ffn2.bias`)), x), t(`${p}.ln2.gamma`), t(`${p}.ln2.beta`))
  }
  // 3. the user state: the last position (already the only row when a block ran)
  return blocks.length > 0 ? x : pickRows(x, lastRows)
}

/** the final hidden state x[L-1] of one sequence (ids shifted by one, left-padded with 0), float64 */
export function sasrecState(w: SasrecWeights, seq: ArrayLike<number>): Float64Array {
  return sasrecStates(w, seq).data
}

/** scores of every item for each sequence: seqs [B×L] (ids shifted by one, left-padded) → [B×I], item j's score at j */
export function sasrecReferenceScores(w: SasrecWeights, seqs: Int32Array, options: SasrecForwardOptions = {}): Float32Array {
  const states = sasrecStates(w, seqs, options)
  const h = states.cols
  const B = states.rows
  const last = Uint8Array.from({length: B}, (_, b) => (seqs[b * (seqs.length / B) + seqs.length / B - 1] !== 0 ? 1 : 0))
  const q = options.activation?.({point: 'item_emb', x: states, real: last}) ?? states
  const I = w.numItems
  const item = w.tensors.item_emb.data
  const out = new Float32Array(B * I)
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < I; j++) {
      let s = 0
      for (let i = 0; i < h; i++) s += q.data[b * h + i] * item[(j + 1) * h + i]
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
  for (const [name, shape] of Object.entries(sasrecTensorShapes(numItems, baseGeometry(params)))) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    const gamma = name.endsWith('.gamma')
    const drawn = name.endsWith('.kernel') || name.endsWith('_emb')
    for (let i = 0; i < data.length; i++) data[i] = drawn ? std * rng.normal() : (gamma ? 1 : 0) + (perturb ? perturb * rng.normal() : 0)
    if (name === 'item_emb') data.fill(0, 0, params.hidden)
    tensors[name] = {shape, data}
  }
  return {numItems, params: {...params}, tensors}
}
