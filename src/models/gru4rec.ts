import {tf} from '../backend/index.js'
import {DEFAULT_MAX_LEN} from '../data/sequences.js'
import {Rng} from '../rng.js'
import type {PositionDistill} from './distill-loss.js'
import type {Tensor32} from './types.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor2D = import('@tensorflow/tfjs').Tensor2D
type Variable = import('@tensorflow/tfjs').Variable

/**
 * GRU4Rec (Hidasi et al.; the layout of RecBole's GRU4Rec), standalone: not in the model registry yet.
 *
 * Input: LEFT-padded shifted item ids [B, L] (src/data/sequences.ts: j + 1 = item j, 0 = padding,
 * column L − 1 = latest item). Tensors (float32), GRU weights in the ONNX GRU op's layout:
 * - `item_emb` [I+1, e]: row 0 = padding (zero, and it stays zero: it never gets a gradient),
 *   row j+1 = item j; the input embedding and the output item table
 * - layer k: `gru_k.w` [3h, in], `gru_k.r` [3h, h], `gru_k.b` [6h] = Wb (z, r, n) then Rb (z, r, n)
 *     z = σ(W_z x + Wb_z + R_z h + Rb_z), r = σ(W_r x + Wb_r + R_r h + Rb_r),
 *     n = tanh(W_n x + Wb_n + r ⊙ (R_n h + Rb_n))   (linear_before_reset = 1, as PyTorch),
 *     h' = (1 − z) ⊙ n + z ⊙ h, h₀ = 0; a padding step (id 0) leaves h unchanged
 * - `dense.kernel` [h, e], `dense.bias` [e]: state = h_L · kernel + bias
 * - scores = state · item_emb[1..I]ᵀ → [I]
 * An empty history (all padding) has h_L = 0, so it scores dense.bias · item_emb[j + 1].
 * Training applies dropout to the input embeddings (RecBole's emb_dropout).
 */
export interface Gru4recConfig {
  embedding: number
  hidden: number
  layers: number
  maxLen: number
  /** embedding dropout, training only */
  dropout: number
}

export const DEFAULT_GRU4REC: Gru4recConfig = {embedding: 64, hidden: 64, layers: 1, maxLen: DEFAULT_MAX_LEN, dropout: 0.3}

export interface Gru4recWeights {
  kind: 'gru4rec'
  numItems: number
  params: Gru4recConfig
  tensors: Record<string, Tensor32>
}

function normal(rng: Rng, shape: number[], std: number): Tensor32 {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
  for (let k = 0; k < data.length; k++) data[k] = rng.normal() * std
  return {shape, data}
}

/** U(−a, a), a = sqrt(6 / (fanIn + fanOut)) (PyTorch's xavier_uniform_ on a [fanOut, fanIn] weight) */
function uniform(rng: Rng, shape: number[], fanIn: number, fanOut: number): Tensor32 {
  const a = Math.sqrt(6 / (fanIn + fanOut))
  const data = new Float32Array(shape.reduce((x, y) => x * y, 1))
  for (let k = 0; k < data.length; k++) data[k] = (rng.next() * 2 - 1) * a
  return {shape, data}
}

/**
 * RecBole's initialisation: xavier_normal for the embedding and the dense layer, xavier_uniform for
 * the GRU weight matrices (fans of PyTorch's [3h, in] weight_ih / [3h, h] weight_hh), biases 0;
 * the padding row of item_emb is zero. Deterministic for a seed.
 */
export function initGru4rec(numItems: number, cfg: Partial<Gru4recConfig> = {}, seed = 0): Gru4recWeights {
  const p: Gru4recConfig = {...DEFAULT_GRU4REC, ...cfg}
  for (const k of ['embedding', 'hidden', 'layers', 'maxLen'] as const) {
    if (!(Number.isInteger(p[k]) && p[k] >= 1)) throw new Error(`gru4rec: ${k} must be a positive integer, got ${p[k]}`)
  }
  if (!(p.dropout >= 0 && p.dropout < 1)) throw new Error(`gru4rec: dropout must be in [0, 1), got ${p.dropout}`)
  if (!(Number.isInteger(numItems) && numItems >= 1)) throw new Error(`gru4rec: numItems must be a positive integer, got ${numItems}`)
  const {embedding: e, hidden: h} = p
  const rng = new Rng(seed)
  const emb = normal(rng.fork(1), [numItems + 1, e], Math.sqrt(2 / (numItems + 1 + e)))
  emb.data.fill(0, 0, e)
  const tensors: Record<string, Tensor32> = {item_emb: emb}
  for (let k = 0; k < p.layers; k++) {
    const inp = k === 0 ? e : h
    tensors[`gru_${k}.w`] = uniform(rng.fork(10 + k), [3 * h, inp], inp, 3 * h)
    tensors[`gru_${k}.r`] = uniform(rng.fork(100 + k), [3 * h, h], h, 3 * h)
    tensors[`gru_${k}.b`] = {shape: [6 * h], data: new Float32Array(6 * h)}
  }
  tensors['dense.kernel'] = normal(rng.fork(2), [h, e], Math.sqrt(2 / (h + e)))
  tensors['dense.bias'] = {shape: [e], data: new Float32Array(e)}
  return {kind: 'gru4rec', numItems, params: p, tensors}
}

type Vars = Record<string, Tensor>

/**
 * The GRU stack over a batch: seqs [B × L] shifted ids (row-major). Returns the last layer's hidden
 * state after every step (L tensors [B, h]; `all` false: only the last one). Call inside tf.tidy or
 * a gradient closure.
 *
 * Per step and layer: a gather of the step's embeddings (layer 0), one fused matMul (+ bias) for
 * the three gates of x, one for the three gates of h, and a few elementwise ops, none broadcasting
 * (a broadcasting maximum is 6× slower on wasm). The inputs of every step are NOT computed by one
 * matMul up front and sliced per step: tfjs-wasm's Slice reads the whole source tensor out of the
 * wasm heap (readSync copies it) for every slice, which made 50 slices of a [B, L, 3h] tensor cost
 * more than the whole GRU (0.4 s of 0.7 s at B = 256, L = 50, h = 64). Per-step id and padding
 * tensors come from JS instead. Masking: z is raised to 1 at padding steps (max(z, pad)), which
 * makes h' = h exactly.
 */
export function gru4recForward(v: Vars, p: Gru4recConfig, seqs: Int32Array, B: number, opts: {all: boolean; dropout?: {rate: number; seed: number}}): Tensor[] {
  const L = seqs.length / B
  const {hidden: h, embedding: e} = p
  const ids: Tensor[] = []
  const pad: Tensor[] = []
  for (let t = 0; t < L; t++) {
    const col = new Int32Array(B)
    const mask = new Float32Array(B * h)
    for (let b = 0; b < B; b++) {
      col[b] = seqs[b * L + t]
      if (col[b] === 0) mask.fill(1, b * h, (b + 1) * h)
    }
    ids.push(tf.tensor1d(col, 'int32'))
    pad.push(tf.tensor2d(mask, [B, h]))
  }
  const keep = opts.dropout ? 1 - opts.dropout.rate : 1
  let inputs: (t: number) => Tensor = (t) => {
    const x = tf.gather(v.item_emb, ids[t]) // [B, e]
    if (keep === 1) return x
    const u = tf.randomUniform([B, e], 0, 1, 'float32', opts.dropout!.seed + t)
    return tf.mul(x, tf.mul(tf.cast(tf.less(u, keep), 'float32'), 1 / keep))
  }
  let outs: Tensor[] = []
  for (let k = 0; k < p.layers; k++) {
    const [wb, rb] = tf.split(v[`gru_${k}.b`], 2)
    // explicit transposes: tfjs-wasm 4.22's fused matMul with transposeB and a bias gives wrong results
    const wT = tf.transpose(v[`gru_${k}.w`]) as Tensor2D // [in, 3h]
    const rT = tf.transpose(v[`gru_${k}.r`]) as Tensor2D // [h, 3h]
    let state: Tensor = tf.zeros([B, h])
    const last = k === p.layers - 1
    const input = inputs
    outs = []
    for (let t = 0; t < L; t++) {
      const xr = tf.fused.matMul({a: input(t) as Tensor2D, b: wT, bias: wb}) // [B, 3h]
      const hr = tf.fused.matMul({a: state as Tensor2D, b: rT, bias: rb}) // [B, 3h]
      const [xzr, xn] = tf.split(xr, [2 * h, h], 1)
      const [hzr, hn] = tf.split(hr, [2 * h, h], 1)
      const [z, r] = tf.split(tf.sigmoid(tf.add(xzr, hzr)), 2, 1)
      const n = tf.tanh(tf.add(xn, tf.mul(r, hn)))
      const zm = tf.maximum(z, pad[t])
      state = tf.add(n, tf.mul(zm, tf.sub(state, n)))
      if (!last || opts.all || t === L - 1) outs.push(state)
    }
    const below = outs
    inputs = (t) => below[t]
  }
  return outs
}

/** user states [N, h] → scores of every item [N, I] */
function itemLogits(v: Vars, states: Tensor, numItems: number): Tensor2D {
  const e = v.item_emb.shape[1]!
  const q = tf.add(tf.matMul(states, v['dense.kernel']), v['dense.bias'])
  return tf.matMul(q, tf.slice(v.item_emb, [1, 0], [numItems, e]), false, true) as Tensor2D
}

function checkSeqs(seqs: Int32Array, L: number, numItems: number): number {
  if (seqs.length % L !== 0) throw new Error(`gru4rec: ${seqs.length} ids are not rows of maxLen ${L}`)
  for (let j = 0; j < seqs.length; j++) {
    if (!(seqs[j] >= 0 && seqs[j] <= numItems)) throw new Error(`gru4rec: id ${seqs[j]} outside 0..${numItems} (shifted ids, 0 = padding)`)
  }
  return seqs.length / L
}

/**
 * Scores of every item after each history: seqs [B × maxLen] left-padded shifted ids (row-major)
 * → [B × I] row-major. Inference (no dropout), in chunks of `batch` rows.
 */
export function scoreSequences(w: Gru4recWeights, seqs: Int32Array, batch = 512): Float32Array {
  const L = w.params.maxLen
  const B = checkSeqs(seqs, L, w.numItems)
  const I = w.numItems
  const out = new Float32Array(B * I)
  const vars = tf.tidy(() => Object.fromEntries(Object.entries(w.tensors).map(([k, t]) => [k, tf.tensor(t.data, t.shape, 'float32')])))
  try {
    for (let s = 0; s < B; s += batch) {
      const n = Math.min(batch, B - s)
      const scores = tf.tidy(() => {
        const [last] = gru4recForward(vars, w.params, seqs.subarray(s * L, (s + n) * L), n, {all: false})
        return itemLogits(vars, last, I)
      })
      out.set(scores.dataSync() as Float32Array, s * I)
      scores.dispose()
    }
  } finally {
    for (const t of Object.values(vars)) t.dispose()
  }
  return out
}

/**
 * mean over rows of −log softmax(q · itemsᵀ)[label], with a hand-written gradient: the autograd
 * of logSumExp and a gather makes five passes over the [N, I] logits and a dense scatter (4.6 s for
 * a 256-window batch at ml-100k sizes), this one takes the softmax kernel, one subtraction of the scattered one-hot
 * and the two gradient matMuls, scaling their small outputs ([N, e], [I, e]) instead of [N, I]
 * (about 4× faster). `pick` = row · I + label, flat indexes of the labels. A label probability below 1e-30 (a loss above 69) is clamped there.
 */
export function softmaxCrossEntropy(q: Tensor, items: Tensor, pick: Tensor): import('@tensorflow/tfjs').Scalar {
  const f = tf.customGrad((...args: Array<Tensor | import('@tensorflow/tfjs').GradSaveFunc>) => {
    const [qq, it, save] = args as [Tensor, Tensor, import('@tensorflow/tfjs').GradSaveFunc]
    const probs = tf.softmax(tf.matMul(qq as Tensor2D, it as Tensor2D, false, true)) // [N, I]
    save([qq, it, probs])
    const picked = tf.gather(tf.reshape(probs, [-1]), pick)
    const value = tf.neg(tf.mean(tf.log(tf.maximum(picked, 1e-30))))
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sq, sit, sp] = saved
        const [N, I] = sp.shape as [number, number]
        // not oneHot(…, 'float32'): tfjs-wasm 4.22 writes the integer 1 into the float buffer (1.4e-45)
        const hot = tf.reshape(tf.scatterND(tf.reshape(pick, [N, 1]), tf.ones([N]), [N * I]), [N, I])
        const g = tf.sub(sp, hot) // d(sum of losses)/d logits
        const scale = tf.div(dy, N)
        return [tf.mul(tf.matMul(g, sit), scale), tf.mul(tf.matMul(g, sq, true, false), scale)]
      },
    }
  })
  return f(q, items) as import('@tensorflow/tfjs').Scalar
}

export interface Gru4recTrainer {
  /**
   * One Adam step on a batch of windows: inputs and targets [B × maxLen] shifted ids (targets:
   * the next item at each position, 0 = no target). Returns the mean softmax cross-entropy (over
   * all I items) of the non-padding target positions; 0 (and no step) when there is none. With
   * `distill`, the loss at those positions is the distillation loss it gives (src/models/distill-loss.ts).
   */
  step(inputs: Int32Array, targets: Int32Array, distill?: PositionDistill): number
  /** restart the dropout stream from `seed` (each epoch does, so that a resumed run repeats an uninterrupted one) */
  reseed(seed: number): void
  /** the trained variables by tensor name */
  readonly vars: Record<string, Variable>
  /** the optimizer: its state is saved and restored with checkpoints */
  readonly optimizer: import('@tensorflow/tfjs').Optimizer
  /** a copy of the current weights */
  weights(): Gru4recWeights
  dispose(): void
}

/**
 * Adam on the full softmax cross-entropy at EVERY non-padding target position of each window (not
 * RecBole's last position only): the windows of trainingWindows cover each training position
 * exactly once, and one pass of the GRU over a window yields all its states, so every position
 * costs one row of the output matmul instead of a whole window's GRU pass.
 */
export function createGru4recTrainer(init: Gru4recWeights, opts: {lr: number; seed?: number; optimizer?: 'adam' | 'sgd'}): Gru4recTrainer {
  const p = init.params
  const I = init.numItems
  const L = p.maxLen
  const vars: Record<string, Variable> = {}
  for (const [k, t] of Object.entries(init.tensors)) vars[k] = tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), true))
  const varList = Object.values(vars)
  const optimizer = opts.optimizer === 'sgd' ? tf.train.sgd(opts.lr) : tf.train.adam(opts.lr)
  let rng = new Rng(opts.seed ?? 0)
  let disposed = false
  return {
    reseed(seed: number) {
      rng = new Rng(seed)
    },
    vars,
    optimizer,
    step(inputs, targets, distill) {
      if (disposed) throw new Error('gru4rec trainer used after dispose()')
      const B = checkSeqs(inputs, L, I)
      if (targets.length !== inputs.length) throw new Error('gru4rec: inputs and targets differ in length')
      let N = 0
      for (let j = 0; j < targets.length; j++) if (targets[j] !== 0) N++
      if (N === 0) return 0
      // rows in the [B·L] state matrix (b·L + t) and their labels (plain item ids)
      const rows = new Int32Array(N)
      const labels = new Int32Array(N)
      for (let j = 0, k = 0; j < targets.length; j++) {
        const y = targets[j]
        if (y === 0) continue
        if (!(y >= 1 && y <= I)) throw new Error(`gru4rec: target ${y} outside 1..${I}`)
        rows[k] = j
        labels[k++] = y - 1
      }
      const dropoutSeed = rng.int(0x7fffffff)
      // distillation: the teacher's side at these positions, outside the gradient
      const kd = distill?.at(rows, labels)
      try {
        const loss = tf.tidy(() => {
          const rowT = tf.tensor1d(rows, 'int32')
          const pick = tf.tensor1d(Int32Array.from(labels, (y, k) => k * I + y), 'int32')
          return optimizer.minimize(
            () => {
              const states = gru4recForward(vars, p, inputs, B, {all: true, dropout: {rate: p.dropout, seed: dropoutSeed}})
              const all = tf.reshape(tf.stack(states, 1), [B * L, p.hidden])
              const q = tf.add(tf.matMul(tf.gather(all, rowT), vars['dense.kernel']), vars['dense.bias']) // [N, e]
              const items = tf.slice(vars.item_emb, [1, 0], [I, p.embedding])
              if (kd) return kd.loss(tf.matMul(q, items, false, true) as Tensor2D)
              return softmaxCrossEntropy(q, items, pick)
            },
            true,
            varList,
          )!
        })
        const value = loss.dataSync()[0]
        loss.dispose()
        return value
      } finally {
        kd?.dispose()
      }
    },
    weights() {
      const tensors: Record<string, Tensor32> = {}
      for (const [k, v] of Object.entries(vars)) tensors[k] = {shape: [...v.shape], data: new Float32Array(v.dataSync() as Float32Array)}
      return {kind: 'gru4rec', numItems: I, params: {...p}, tensors}
    },
    dispose() {
      if (disposed) return
      disposed = true
      optimizer.dispose()
      for (const v of varList) v.dispose()
    },
  }
}
