import {tf} from '../backend/index.js'
import {historyMatrix, type Sequences} from '../data/sequences.js'
import type {PositionDistill} from './distill-loss.js'
import {createGru4recTrainer, gru4recForward, type Gru4recConfig, type Gru4recWeights} from './gru4rec.js'
import {createSasrecTrainer, sasrecConfigOf, sasrecForward, type SasrecLoss} from './sasrec.js'
import type {SasrecWeights as ReferenceSasrecWeights} from './sasrec-reference.js'
import type {ModelKind, ModelWeights} from './types.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor2D = import('@tensorflow/tfjs').Tensor2D
type Variable = import('@tensorflow/tfjs').Variable
type Optimizer = import('@tensorflow/tfjs').Optimizer

/**
 * The sequential models (SASRec, GRU4Rec) seen through the same `ModelWeights` as every other model:
 * params use the config's names (`hidden`, `layers`, `heads`, `inner`, `embedding`, `max_len`,
 * `dropout`, `loss`), and this module adapts them to the model modules' own forms. A sequential
 * model scores a user's history (the last `max_len` items, src/data/sequences.ts's convention), so
 * its scorers are built with the histories of the part being predicted (train for validation,
 * train + validation for test).
 */

export const SEQUENTIAL_KINDS: readonly ModelKind[] = ['sasrec', 'gru4rec']

export function isSequential(kind: ModelKind): boolean {
  return SEQUENTIAL_KINDS.includes(kind)
}

function num(w: Pick<ModelWeights, 'kind' | 'params'>, key: string): number {
  const v = w.params[key]
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${w.kind} params: ${key} is missing or not a number`)
  return v
}

/** the history length a sequential model reads */
export function maxLenOf(w: Pick<ModelWeights, 'kind' | 'params'>): number {
  return num(w, 'max_len')
}

/** the plain-JS reference's view of SASRec weights: the same params (hidden, heads, max_len...) and tensors, no copy */
export function sasrecReferenceOf(w: ModelWeights): ReferenceSasrecWeights {
  return {numItems: w.numItems, params: w.params, tensors: w.tensors}
}

export function gru4recConfigOf(w: Pick<ModelWeights, 'kind' | 'params'>): Gru4recConfig {
  return {embedding: num(w, 'embedding'), hidden: num(w, 'hidden'), layers: num(w, 'layers'), maxLen: num(w, 'max_len'), dropout: num(w, 'dropout')}
}

/** GRU4Rec's module form of ModelWeights */
export function gru4recWeightsOf(w: ModelWeights): Gru4recWeights {
  return {kind: 'gru4rec', numItems: w.numItems, params: gru4recConfigOf(w), tensors: w.tensors}
}

/** GRU4Rec's module form back to ModelWeights (params in the config's names) */
export function fromGru4recWeights(g: Gru4recWeights, numUsers: number, loss = 'ce'): ModelWeights {
  const p = g.params
  return {
    kind: 'gru4rec',
    numUsers,
    numItems: g.numItems,
    params: {embedding: p.embedding, hidden: p.hidden, layers: p.layers, max_len: p.maxLen, dropout: p.dropout, loss},
    tensors: g.tensors,
  }
}

/** one optimizer step at a time on windows of next-item targets (src/data/sequences.ts trainingWindows) */
export interface SequenceTrainer {
  /**
   * one step on B windows (inputs and targets B × max_len, shifted ids); the mean loss of its target
   * positions (with `distill`: the distillation loss at those positions, src/models/distill-loss.ts)
   */
  step(inputs: Int32Array, targets: Int32Array, distill?: PositionDistill): number
  /** restart the trainer's random streams (dropout, negatives) */
  reseed(seed: number): void
  readonly vars: Record<string, Variable>
  readonly optimizer: Optimizer
  weights(): ModelWeights
  dispose(): void
}

export function createSequenceTrainer(w: ModelWeights, opts: {lr: number; seed: number; optimizer: 'adam' | 'sgd'}): SequenceTrainer {
  if (w.kind === 'sasrec') {
    const loss = (w.params.loss === 'bce' ? 'bce' : 'ce') as SasrecLoss
    const t = createSasrecTrainer({kind: 'sasrec', numItems: w.numItems, params: w.params, tensors: w.tensors}, {lr: opts.lr, loss, seed: opts.seed, optimizer: opts.optimizer})
    return {
      step: t.step,
      reseed: t.reseed,
      vars: t.vars,
      optimizer: t.optimizer,
      weights: () => ({...t.weights(), numUsers: w.numUsers}),
      dispose: t.dispose,
    }
  }
  if (w.kind === 'gru4rec') {
    const t = createGru4recTrainer(gru4recWeightsOf(w), {lr: opts.lr, seed: opts.seed, optimizer: opts.optimizer})
    return {
      step: t.step,
      reseed: t.reseed,
      vars: t.vars,
      optimizer: t.optimizer,
      weights: () => fromGru4recWeights(t.weights(), w.numUsers, String(w.params.loss ?? 'ce')),
      dispose: t.dispose,
    }
  }
  throw new Error(`createSequenceTrainer: ${w.kind} is not a sequential model`)
}

/**
 * A trained sequential model as a distillation teacher: its logits over all items at chosen
 * positions of B windows, in inference mode (no dropout), weights resident as tfjs tensors.
 */
export interface SequenceTeacher {
  readonly maxLen: number
  /** logits [rows.length, I] at flat positions rows (b·L + t) of inputs (B × max_len shifted ids); the caller disposes them */
  logits(inputs: Int32Array, rows: Int32Array): Tensor2D
  dispose(): void
}

export function createSequenceTeacher(w: ModelWeights): SequenceTeacher {
  const T: Record<string, Tensor> = {}
  for (const [name, t] of Object.entries(w.tensors)) T[name] = tf.tensor(t.data, t.shape, 'float32')
  const I = w.numItems
  /** hidden states [B·L, h] of B windows; the query (h → the item table's width) of chosen ones */
  let states: (inputs: Int32Array, B: number) => Tensor2D
  let query: (h: Tensor2D) => Tensor2D = (h) => h
  let L: number
  let itemsT: Tensor
  if (w.kind === 'sasrec') {
    const cfg = sasrecConfigOf(w)
    L = cfg.maxLen
    itemsT = tf.keep(tf.tidy(() => tf.transpose(tf.slice(T.item_emb, [1, 0], [I, T.item_emb.shape[1]!]))))
    states = (inputs, B) => tf.reshape(sasrecForward({cfg, tensors: T}, tf.tensor2d(inputs, [B, L], 'int32'), false), [B * L, cfg.hidden]) as Tensor2D
  } else if (w.kind === 'gru4rec') {
    const cfg = gru4recConfigOf(w)
    L = cfg.maxLen
    itemsT = tf.keep(tf.tidy(() => tf.transpose(tf.slice(T.item_emb, [1, 0], [I, T.item_emb.shape[1]!]))))
    states = (inputs, B) => tf.reshape(tf.stack(gru4recForward(T, cfg, inputs, B, {all: true}), 1), [B * L, cfg.hidden]) as Tensor2D
    query = (h) => tf.add(tf.matMul(h, T['dense.kernel'] as Tensor2D), T['dense.bias']) as Tensor2D
  } else {
    for (const t of Object.values(T)) t.dispose()
    throw new Error(`createSequenceTeacher: ${w.kind} is not a sequential model`)
  }
  let disposed = false
  return {
    maxLen: L,
    logits(inputs, rows) {
      if (disposed) throw new Error('sequence teacher used after dispose()')
      if (inputs.length % L !== 0) throw new Error(`teacher: ${inputs.length} ids are not rows of max_len ${L}`)
      const B = inputs.length / L
      return tf.tidy(() => tf.matMul(query(tf.gather(states(inputs, B), tf.tensor1d(rows, 'int32')) as Tensor2D), itemsT as Tensor2D))
    },
    dispose() {
      if (disposed) return
      disposed = true
      itemsT.dispose()
      for (const t of Object.values(T)) t.dispose()
    },
  }
}

/**
 * Scores of every item after each of B histories, with the weights resident as tfjs tensors
 * (uploaded once, not per request): `score(seqs)` takes B × max_len shifted ids, returns B × I.
 */
export interface SequenceScoring {
  readonly maxLen: number
  score(seqs: Int32Array): Float32Array
  dispose(): void
}

export function createSequenceScoring(w: ModelWeights): SequenceScoring {
  const T: Record<string, Tensor> = {}
  for (const [name, t] of Object.entries(w.tensors)) T[name] = tf.tensor(t.data, t.shape, 'float32')
  const I = w.numItems
  let forward: (seqs: Int32Array, B: number) => Tensor
  let L: number
  if (w.kind === 'sasrec') {
    const cfg = sasrecConfigOf(w)
    L = cfg.maxLen
    const itemsT = tf.keep(tf.tidy(() => tf.transpose(tf.slice(T.item_emb, [1, 0], [I, T.item_emb.shape[1]!]))))
    T['@items.T'] = itemsT
    forward = (seqs, B) => {
      const hidden = sasrecForward({cfg, tensors: T}, tf.tensor2d(seqs, [B, L], 'int32'), false)
      const h = hidden.shape[2]!
      const last = tf.reshape(tf.slice(hidden, [0, L - 1, 0], [B, 1, h]), [B, h]) as Tensor2D
      return tf.matMul(last, itemsT as Tensor2D)
    }
  } else if (w.kind === 'gru4rec') {
    const cfg = gru4recConfigOf(w)
    L = cfg.maxLen
    const e = T.item_emb.shape[1]!
    const itemsT = tf.keep(tf.tidy(() => tf.transpose(tf.slice(T.item_emb, [1, 0], [I, e]))))
    T['@items.T'] = itemsT
    forward = (seqs, B) => {
      const [last] = gru4recForward(T, cfg, seqs, B, {all: false})
      const q = tf.add(tf.matMul(last as Tensor2D, T['dense.kernel'] as Tensor2D), T['dense.bias']) as Tensor2D
      return tf.matMul(q, itemsT as Tensor2D)
    }
  } else {
    for (const t of Object.values(T)) t.dispose()
    throw new Error(`createSequenceScoring: ${w.kind} is not a sequential model`)
  }
  let disposed = false
  return {
    maxLen: L,
    score(seqs) {
      if (disposed) throw new Error('sequence scoring used after dispose()')
      if (seqs.length % L !== 0) throw new Error(`score: ${seqs.length} ids are not rows of max_len ${L}`)
      const B = seqs.length / L
      if (B === 0) return new Float32Array(0)
      const s = tf.tidy(() => forward(seqs, B))
      const data = new Float32Array(s.dataSync() as Float32Array)
      s.dispose()
      return data
    },
    dispose() {
      if (disposed) return
      disposed = true
      for (const t of Object.values(T)) t.dispose()
    },
  }
}

/** the input rows of `users` for a sequential model: their last max_len items (shifted, left-padded) */
export function historyRows(histories: Sequences | undefined, users: Int32Array, maxLen: number, kind: ModelKind): Int32Array {
  if (!histories) throw new Error(`${kind} is a sequential model: its scorer needs the users' histories`)
  return historyMatrix(histories, users, maxLen)
}
