/**
 * SASRec (self-attentive sequential recommendation) in tfjs, following the shared tensor layout of
 * SASREC-SPEC.md (RecBole's SASRec: post-LayerNorm transformer blocks, learned absolute positions,
 * exact GELU, LayerNorm eps 1e-12, additive −10000 mask, scores = last state · item_emb[1..I]ᵀ).
 *
 * Sequences are ids shifted by one (item j → j+1), left-padded with 0, `maxLen` wide, so position
 * L−1 always holds the latest item. Everything is batched: heads are a reshape/transpose, the
 * causal + padding mask is one additive [B,1,L,L] tensor; no JS loops over positions or heads.
 */
import {tf} from '../backend/index.js'
import {GELU, GELU_GRAD, registerGeluKernels} from '../backend/gelu.js'
import {LAYER_NORM, LAYER_NORM_GRAD, registerLayerNormKernels} from '../backend/layernorm.js'
import {Rng} from '../rng.js'
import {baseGeometry, countSasrecBlocks, SASREC_LN_EPS, SASREC_MASK, sasrecTensorShapes} from './sasrec-reference.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor2D = import('@tensorflow/tfjs').Tensor2D
type Scalar = import('@tensorflow/tfjs').Scalar
type Variable = import('@tensorflow/tfjs').Variable

export interface SasrecConfig {
  /** h: embedding and hidden width (divisible by heads) */
  hidden: number
  /** n: transformer blocks */
  layers: number
  /** a: attention heads */
  heads: number
  /** f: width of the feed-forward layer */
  inner: number
  /** L: sequence length (the last L items of a history) */
  maxLen: number
  /** dropout rate for embeddings, attention probabilities and both residual branches (training only) */
  dropout: number
}

export interface SasrecTensor {
  shape: number[]
  data: Float32Array
}

/** the framework-neutral weights (joins the ModelWeights union at integration) */
export interface SasrecWeights {
  kind: 'sasrec'
  numItems: number
  /** {hidden, layers, heads, inner, max_len, dropout}, the spec's names */
  params: Record<string, unknown>
  tensors: Record<string, SasrecTensor>
}

/** tensors (tf.Variables when training) plus the hyper-parameters the forward pass needs */
export interface SasrecVars {
  cfg: SasrecConfig
  tensors: Record<string, Tensor>
}

export type SasrecLoss = 'ce' | 'bce'

// one layout, one set of constants: the plain-JS reference (the oracle of the tfjs model and the export) holds them
export {SASREC_LN_EPS, SASREC_MASK} from './sasrec-reference.js'

const INIT_STD = 0.02

/** the spec's hyper-parameter names in `params` */
export function sasrecParams(cfg: SasrecConfig): Record<string, unknown> {
  return {hidden: cfg.hidden, layers: cfg.layers, heads: cfg.heads, inner: cfg.inner, max_len: cfg.maxLen, dropout: cfg.dropout}
}

export function sasrecConfigOf(w: Pick<SasrecWeights, 'params'>): SasrecConfig {
  const p = w.params
  const num = (k: string): number => {
    const v = p[k]
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`sasrec params: ${k} is missing or not a number`)
    return v
  }
  return {hidden: num('hidden'), layers: num('layers'), heads: num('heads'), inner: num('inner'), maxLen: num('max_len'), dropout: num('dropout')}
}

export function checkSasrecConfig(cfg: SasrecConfig): void {
  for (const k of ['hidden', 'layers', 'heads', 'inner', 'maxLen'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`sasrec: ${k} must be a positive integer, got ${cfg[k]}`)
  }
  if (cfg.hidden % cfg.heads !== 0) throw new Error(`sasrec: hidden (${cfg.hidden}) must be divisible by heads (${cfg.heads})`)
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`sasrec: dropout must be in [0, 1), got ${cfg.dropout}`)
}

/** every tensor's shape by name, in the spec's order */
export function sasrecShapes(numItems: number, cfg: SasrecConfig): Record<string, number[]> {
  return sasrecTensorShapes(numItems, baseGeometry({hidden: cfg.hidden, layers: cfg.layers, heads: cfg.heads, inner: cfg.inner, max_len: cfg.maxLen}))
}

/**
 * RecBole's initialisation: kernels and embeddings ~ Normal(0, 0.02), biases 0, LayerNorm gamma 1
 * and beta 0, the padding row of item_emb 0. Each tensor draws from its own fork of the seed, so a
 * tensor's values do not depend on the shapes of the others.
 */
export function initSasrec(numItems: number, cfg: SasrecConfig, seed: number): SasrecWeights {
  checkSasrecConfig(cfg)
  if (!Number.isInteger(numItems) || numItems < 1) throw new Error(`sasrec: numItems must be a positive integer, got ${numItems}`)
  const rng = new Rng(seed)
  const tensors: Record<string, SasrecTensor> = {}
  let salt = 0
  for (const [name, shape] of Object.entries(sasrecShapes(numItems, cfg))) {
    const r = rng.fork(++salt)
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
    if (name.endsWith('.gamma')) data.fill(1)
    else if (name.endsWith('_emb') || name.endsWith('.kernel')) for (let k = 0; k < data.length; k++) data[k] = r.normal() * INIT_STD
    // biases and betas stay 0
    if (name === 'item_emb') data.fill(0, 0, cfg.hidden)
    tensors[name] = {shape, data}
  }
  return {kind: 'sasrec', numItems, params: sasrecParams(cfg), tensors}
}

/**
 * LayerNorm over the last axis of [N, h]: on cpu and wasm the row-loop kernels of
 * backend/layernorm.ts (the composed version costs ~20 broadcast kernels forward + backward), on
 * other backends (native TensorFlow) composed from tfjs ops.
 */
export function sasrecLayerNorm(x: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  const backend = tf.getBackend()
  if (backend === 'wasm' || backend === 'cpu') {
    registerLayerNormKernels(tf, backend)
    return fastLayerNorm(x, gamma, beta)
  }
  return composedLayerNorm(x, gamma, beta)
}

const fastLayerNorm = tf.customGrad((x, gamma, beta, save) => {
  const keep = save as (tensors: Tensor[]) => void
  const inputs = {x: x as Tensor, gamma: gamma as Tensor, beta: beta as Tensor}
  const [y, mean, rstd] = tf.engine().runKernel(LAYER_NORM, inputs, {eps: SASREC_LN_EPS}) as Tensor[]
  keep([inputs.x, inputs.gamma, mean, rstd])
  return {
    value: y,
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.engine().runKernel(LAYER_NORM_GRAD, {dy, x: saved[0], gamma: saved[1], mean: saved[2], rstd: saved[3]}) as Tensor[],
  }
}) as (x: Tensor, gamma: Tensor, beta: Tensor) => Tensor

/** the same LayerNorm from tfjs ops (biased variance) */
export function composedLayerNorm(x: Tensor, gamma: Tensor, beta: Tensor): Tensor {
  const mean = tf.mean(x, -1, true)
  const d = tf.sub(x, mean)
  const variance = tf.mean(tf.square(d), -1, true)
  return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(variance, SASREC_LN_EPS))), gamma), beta)
}

function dense(x: Tensor, kernel: Tensor, bias: Tensor): Tensor {
  return tf.add(tf.matMul(x as Tensor2D, kernel as Tensor2D), bias)
}

/** exact GELU, 0.5·z·(1 + erf(z/√2)): the kernels of backend/gelu.ts on cpu and wasm, else composed */
export function sasrecGelu(z: Tensor): Tensor {
  const backend = tf.getBackend()
  if (backend === 'wasm' || backend === 'cpu') {
    registerGeluKernels(tf, backend)
    return fastGelu(z)
  }
  return composedGelu(z)
}

const fastGelu = tf.customGrad((z, save) => {
  const keep = save as (tensors: Tensor[]) => void
  const x = z as Tensor
  keep([x])
  return {
    value: tf.engine().runKernel(GELU, {x}) as Tensor,
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.engine().runKernel(GELU_GRAD, {dy, x: saved[0]}) as Tensor,
  }
}) as (z: Tensor) => Tensor

export function composedGelu(z: Tensor): Tensor {
  return tf.mul(tf.mul(z, 0.5), tf.add(tf.erf(tf.mul(z, Math.SQRT1_2)), 1))
}

/**
 * additive mask [B,1,L,L]: 0 where key s ≤ query t and seq[s] ≠ 0, else −10000; a query row with no
 * allowed key (a padding position) gets 0 everywhere instead, the same softmax in exact arithmetic
 * (a constant shift), but float32 loses ~1e-4 on "score − 10000", and that row is the state of an
 * empty history, which is read (the ONNX export does the same)
 */
function attentionMask(seqs: Tensor2D, L: number): Tensor {
  const causal = new Float32Array(L * L)
  for (let t = 0; t < L; t++) causal.fill(1, t * L, t * L + t + 1)
  const valid = tf.reshape(tf.cast(tf.notEqual(seqs, 0), 'float32'), [-1, 1, 1, L])
  const allowed = tf.mul(valid, tf.tensor(causal, [1, 1, L, L], 'float32'))
  // 1 where the query row has an allowed key: [B,1,L,1]
  const liveRow = tf.max(allowed, 3, true)
  // (allowed − 1) · 10000 · live: 0 or −10000 exactly
  return tf.mul(tf.sub(allowed, 1), tf.mul(liveRow, -SASREC_MASK))
}

/**
 * An inverted-dropout mask (0 or 1/(1−rate)) drawn from our seeded Rng in JS: tf.dropout costs
 * ~3× more on wasm (seedrandom numbers, then floor/add/div kernels over the whole tensor).
 */
function dropoutMask(shape: number[], rate: number, rng: Rng): Tensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = new Float32Array(n)
  const scale = 1 / (1 - rate)
  // an element is kept when a 16-bit uniform is ≥ rate·65536: two elements per 32-bit draw of an
  // inlined mulberry32 seeded from `rng` (Rng.next per element costs ~5× more)
  const cut = Math.round(rate * 65536)
  let state = rng.int(0x7fffffff) >>> 0
  for (let k = 0; k < n; k += 2) {
    let t = (state = (state + 0x6d2b79f5) | 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    t = (t ^ (t >>> 14)) >>> 0
    if ((t & 0xffff) >= cut) data[k] = scale
    if (k + 1 < n && t >>> 16 >= cut) data[k + 1] = scale
  }
  return tf.tensor(data, shape, 'float32')
}

/**
 * Hidden states [B, L, h] of left-padded shifted-id sequences [B, L] (int32). Training mode applies
 * dropout with seeds drawn from `rng` (required then, so that training is reproducible). Call inside
 * tf.tidy or a gradient closure.
 *
 * The tensor shapes are authoritative (structured pruning shrinks them, and shrunk weights train): the
 * blocks are the layer_k present, block k has (width of its Q kernel) / d heads of the base model's
 * head width d = cfg.hidden / cfg.heads, and its feed-forward is as wide as its ffn1 kernel.
 */
export function sasrecForward(vars: SasrecVars, seqs: Tensor2D, training: boolean, rng?: Rng): Tensor {
  const {cfg, tensors: w} = vars
  const [B, L] = seqs.shape
  if (L !== cfg.maxLen) throw new Error(`sasrecForward: sequences are ${L} wide, the model takes ${cfg.maxLen}`)
  const h = cfg.hidden
  const dh = h / cfg.heads
  const N = B * L
  const rate = training ? cfg.dropout : 0
  if (rate > 0 && !rng) throw new Error('sasrecForward: training with dropout needs an rng')
  const drop = (x: Tensor): Tensor => (rate > 0 ? tf.mul(x, dropoutMask(x.shape, rate, rng!)) : x)
  const t = (name: string): Tensor => {
    const v = w[name]
    if (!v) throw new Error(`sasrec: missing tensor ${name}`)
    return v
  }

  const mask = attentionMask(seqs, L)
  const emb = tf.add(tf.reshape(tf.gather(t('item_emb'), tf.reshape(seqs, [N])), [B, L, h]), t('pos_emb'))
  let x = drop(sasrecLayerNorm(tf.reshape(emb, [N, h]), t('emb_ln.gamma'), t('emb_ln.beta')))
  const scale = 1 / Math.sqrt(dh)
  const layers = countSasrecBlocks(w)
  for (let k = 0; k < layers; k++) {
    const p = `layer_${k}.`
    // heads of this block (fewer after head pruning), each dh wide
    const width = t(p + 'q.kernel').shape[1]!
    const a = width / dh
    if (!Number.isInteger(a) || a < 1) throw new Error(`sasrec: layer_${k}.q.kernel is ${width} wide, not a whole number of ${dh}-wide heads`)
    // the scale folded into Q: [N,h] instead of [B,a,L,L] multiplications
    const q = tf.reshape(tf.transpose(tf.reshape(tf.mul(dense(x, t(p + 'q.kernel'), t(p + 'q.bias')), scale), [B, L, a, dh]), [0, 2, 1, 3]), [B * a, L, dh])
    // K straight to [B·a, dh, L]: Q·Kᵀ without a transposed matMul
    const kt = tf.reshape(tf.transpose(tf.reshape(dense(x, t(p + 'k.kernel'), t(p + 'k.bias')), [B, L, a, dh]), [0, 2, 3, 1]), [B * a, dh, L])
    const v = tf.reshape(tf.transpose(tf.reshape(dense(x, t(p + 'v.kernel'), t(p + 'v.bias')), [B, L, a, dh]), [0, 2, 1, 3]), [B * a, L, dh])
    const scores = tf.add(tf.reshape(tf.matMul(q, kt), [B, a, L, L]), mask)
    const probs = drop(tf.softmax(scores))
    const ctx = tf.reshape(tf.transpose(tf.reshape(tf.matMul(tf.reshape(probs, [B * a, L, L]), v), [B, a, L, dh]), [0, 2, 1, 3]), [N, width])
    x = sasrecLayerNorm(tf.add(drop(dense(ctx, t(p + 'attn_out.kernel'), t(p + 'attn_out.bias'))), x), t(p + 'ln1.gamma'), t(p + 'ln1.beta'))
    const ffn = dense(sasrecGelu(dense(x, t(p + 'ffn1.kernel'), t(p + 'ffn1.bias'))), t(p + 'ffn2.kernel'), t(p + 'ffn2.bias'))
    x = sasrecLayerNorm(tf.add(drop(ffn), x), t(p + 'ln2.gamma'), t(p + 'ln2.beta'))
  }
  return tf.reshape(x, [B, L, h])
}

/** item_emb[1..I]ᵀ as [h, I] (an explicit transpose: its gradient is a small transpose too) */
function itemMatrixT(itemEmb: Tensor, numItems: number): Tensor2D {
  const h = itemEmb.shape[1]!
  return tf.transpose(tf.slice(itemEmb, [1, 0], [numItems, h])) as Tensor2D
}

function tensorsOf(weights: SasrecWeights): Record<string, Tensor> {
  const out: Record<string, Tensor> = {}
  for (const [name, t] of Object.entries(weights.tensors)) out[name] = tf.tensor(t.data, t.shape, 'float32')
  return out
}

/**
 * Scores of every item for each sequence: `seqs` is B×L left-padded shifted ids (row-major), the
 * result B×I (item j's score at column j) = last hidden state · item_emb[1..I]ᵀ. Inference mode.
 */
export function scoreSequences(weights: SasrecWeights, seqs: Int32Array): Float32Array {
  const cfg = sasrecConfigOf(weights)
  const L = cfg.maxLen
  if (seqs.length % L !== 0) throw new Error(`scoreSequences: ${seqs.length} ids is not a whole number of ${L}-wide sequences`)
  const B = seqs.length / L
  if (B === 0) return new Float32Array(0)
  const tensors = tensorsOf(weights)
  try {
    const out = tf.tidy(() => {
      const hidden = sasrecForward({cfg, tensors}, tf.tensor2d(seqs, [B, L], 'int32'), false)
      const last = tf.reshape(tf.slice(hidden, [0, L - 1, 0], [B, 1, cfg.hidden]), [B, cfg.hidden])
      return tf.matMul(last as Tensor2D, itemMatrixT(tensors.item_emb, weights.numItems))
    })
    const data = out.dataSync() as Float32Array
    out.dispose()
    return new Float32Array(data)
  } finally {
    for (const t of Object.values(tensors)) t.dispose()
  }
}

/**
 * mean over rows of log Σ exp over the last axis of [N, I], with the gradient softmax(x) · dy / N.
 * Built on the Softmax kernel (XNNPACK on wasm, ~4× faster than the Exp kernel over the same
 * elements), without exp: lse = max(x) − log(max(p)), exact and stable because max(p) ≥ 1/I.
 * The stock logSumExp also differentiates through its max shift, another [N, I] pass.
 */
const meanLogSumExpRows = tf.customGrad((x, save) => {
  const xt = x as Tensor2D
  const keep = save as (tensors: Tensor[]) => void
  const p = tf.softmax(xt)
  keep([p])
  const lse = tf.sub(tf.max(xt, 1), tf.log(tf.max(p, 1)))
  return {
    value: tf.mean(lse),
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(saved[0], tf.div(dy, xt.shape[0])),
  }
}) as (x: Tensor2D) => Scalar

export interface SasrecTrainerOptions {
  lr: number
  loss: SasrecLoss
  seed: number
  /** default adam */
  optimizer?: 'adam' | 'sgd'
}

export interface SasrecTrainer {
  /**
   * One Adam step on B sequences: `inputs` and `targets` are B×L (row-major, shifted ids), the
   * target at a position is the next item (0 = none). Returns the mean loss over the positions
   * that have a target and a (non-padding) input. With `distill` (loss ce only) the loss at those
   * positions is the distillation loss it gives (src/models/distill-loss.ts) instead of plain CE.
   */
  step(inputs: Int32Array, targets: Int32Array, distill?: import('./distill-loss.js').PositionDistill): number
  /** restart the dropout and negative streams from `seed` (each epoch does, so that a resumed run repeats an uninterrupted one) */
  reseed(seed: number): void
  /** the trained variables by tensor name (pruning masks are applied to them) */
  readonly vars: Record<string, Variable>
  /** the optimizer: its state is saved and restored with checkpoints */
  readonly optimizer: import('@tensorflow/tfjs').Optimizer
  /** a copy of the current weights */
  weights(): SasrecWeights
  dispose(): void
}

/**
 * A trainer over tf.Variables copied from `weights`. Losses: `ce` (RecBole's default) = softmax
 * cross-entropy over all I items at every position; `bce` (the SASRec paper) = −log σ(s⁺) −
 * log(1 − σ(s⁻)) with one negative per position drawn uniformly from the items other than the
 * positive. Dropout masks and negatives come from streams seeded by `seed`.
 *
 * A position whose input is padding has no meaningful state (its attention row is all masked), so
 * it is left out of the loss even if it has a target.
 */
export function createSasrecTrainer(weights: SasrecWeights, opts: SasrecTrainerOptions): SasrecTrainer {
  const cfg = sasrecConfigOf(weights)
  checkSasrecConfig(cfg)
  const I = weights.numItems
  const L = cfg.maxLen
  const h = cfg.hidden
  const vars: Record<string, Variable> = {}
  for (const [name, t] of Object.entries(weights.tensors)) vars[name] = tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), true))
  const varList = Object.values(vars)
  const model: SasrecVars = {cfg, tensors: vars}
  const optimizer = opts.optimizer === 'sgd' ? tf.train.sgd(opts.lr) : tf.train.adam(opts.lr)
  let dropoutRng = new Rng(opts.seed).fork(1)
  let negativeRng = new Rng(opts.seed).fork(2)
  let disposed = false

  const step = (inputs: Int32Array, targets: Int32Array, distill?: import('./distill-loss.js').PositionDistill): number => {
    if (disposed) throw new Error('sasrec trainer: disposed')
    if (distill && opts.loss !== 'ce') throw new Error('sasrec trainer: distillation needs loss ce (softmax over all items)')
    if (inputs.length !== targets.length || inputs.length % L !== 0) throw new Error(`sasrec step: inputs and targets must both be B×${L}`)
    const B = inputs.length / L
    let n = 0
    for (let k = 0; k < inputs.length; k++) if (targets[k] !== 0 && inputs[k] !== 0) n++
    if (n === 0) return 0
    const pos = new Int32Array(n)
    const tgt = new Int32Array(n)
    for (let k = 0, m = 0; k < inputs.length; k++) {
      if (targets[k] === 0 || inputs[k] === 0) continue
      const y = targets[k]
      if (!(y >= 1 && y <= I)) throw new Error(`sasrec step: target ${y} is not a shifted item id in [1, ${I}]`)
      pos[m] = k
      tgt[m++] = y
    }
    let neg: Int32Array | undefined
    if (opts.loss === 'bce') {
      neg = new Int32Array(n)
      for (let m = 0; m < n; m++) {
        let j = 1 + negativeRng.int(I)
        // uniform over the other items (I = 1 has none: the positive then doubles as its negative)
        while (j === tgt[m] && I > 1) j = 1 + negativeRng.int(I)
        neg[m] = j
      }
    }
    const seqT = tf.tensor2d(inputs, [B, L], 'int32')
    const posT = tf.tensor1d(pos, 'int32')
    const tgtT = tf.tensor1d(tgt, 'int32')
    const negT = neg ? tf.tensor1d(neg, 'int32') : undefined
    // distillation: the teacher's side at these positions, outside the gradient
    const kd = distill?.at(pos, Int32Array.from(tgt, (y) => y - 1))
    try {
      const cost = optimizer.minimize(
        () => {
          const hidden = tf.gather(tf.reshape(sasrecForward(model, seqT, true, dropoutRng), [B * L, h]), posT)
          const posScore = tf.sum(tf.mul(hidden, tf.gather(vars.item_emb, tgtT)), 1)
          if (opts.loss === 'ce') {
            const logits = tf.matMul(hidden as Tensor2D, itemMatrixT(vars.item_emb, I)) as Tensor2D
            if (kd) return kd.loss(logits)
            return tf.sub(meanLogSumExpRows(logits), tf.mean(posScore)) as Scalar
          }
          const negScore = tf.sum(tf.mul(hidden, tf.gather(vars.item_emb, negT!)), 1)
          // −log σ(s⁺) − log(1 − σ(s⁻)) = softplus(−s⁺) + softplus(s⁻)
          return tf.mean(tf.add(tf.softplus(tf.neg(posScore)), tf.softplus(negScore))) as Scalar
        },
        true,
        varList,
      )
      const v = cost!.dataSync()[0]
      cost!.dispose()
      return v
    } finally {
      seqT.dispose()
      posT.dispose()
      tgtT.dispose()
      negT?.dispose()
      kd?.dispose()
    }
  }

  return {
    step,
    reseed(seed: number) {
      dropoutRng = new Rng(seed).fork(1)
      negativeRng = new Rng(seed).fork(2)
    },
    vars,
    optimizer,
    weights() {
      const tensors: Record<string, SasrecTensor> = {}
      for (const [name, v] of Object.entries(vars)) tensors[name] = {shape: [...v.shape], data: new Float32Array(v.dataSync() as Float32Array)}
      return {kind: 'sasrec', numItems: I, params: structuredClone(weights.params), tensors}
    },
    dispose() {
      if (disposed) return
      disposed = true
      optimizer.dispose()
      for (const v of varList) v.dispose()
    },
  }
}
