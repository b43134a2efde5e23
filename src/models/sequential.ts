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
 * A sequential model's weights resident as tfjs tensors (uploaded once), in inference mode (no
 * dropout): the hidden states of B windows (B × max_len shifted ids) at every position ([B·L, h])
 * or at the last one only ([B, h]), the query they make (gru4rec: through its dense layer) and the
 * item table item_emb[1..I]ᵀ the queries score against. The scorer and the distillation teacher
 * are both made of it. Call `states` / `query` inside tf.tidy.
 */
interface ResidentSequenceModel {
  readonly maxLen: number
  states(inputs: Int32Array, B: number, at: 'all' | 'last'): Tensor2D
  query(h: Tensor2D): Tensor2D
  readonly itemsT: Tensor2D
  dispose(): void
}

function residentSequenceModel(w: ModelWeights): ResidentSequenceModel {
  const T: Record<string, Tensor> = {}
  for (const [name, t] of Object.entries(w.tensors)) T[name] = tf.tensor(t.data, t.shape, 'float32')
  const I = w.numItems
  const dispose = () => {
    for (const t of Object.values(T)) t.dispose()
  }
  const itemsT = () => tf.keep(tf.tidy(() => tf.transpose(tf.slice(T.item_emb, [1, 0], [I, T.item_emb.shape[1]!])))) as Tensor2D
  if (w.kind === 'sasrec') {
    const cfg = sasrecConfigOf(w)
    const L = cfg.maxLen
    T['@items.T'] = itemsT()
    return {
      maxLen: L,
      states(inputs, B, at) {
        const hidden = sasrecForward({cfg, tensors: T}, tf.tensor2d(inputs, [B, L], 'int32'), false)
        const h = hidden.shape[2]!
        return (at === 'all' ? tf.reshape(hidden, [B * L, h]) : tf.reshape(tf.slice(hidden, [0, L - 1, 0], [B, 1, h]), [B, h])) as Tensor2D
      },
      query: (h) => h,
      itemsT: T['@items.T'] as Tensor2D,
      dispose,
    }
  }
  if (w.kind === 'gru4rec') {
    const cfg = gru4recConfigOf(w)
    T['@items.T'] = itemsT()
    return {
      maxLen: cfg.maxLen,
      states(inputs, B, at) {
        const out = gru4recForward(T, cfg, inputs, B, {all: at === 'all'})
        return (at === 'all' ? tf.reshape(tf.stack(out, 1), [B * cfg.maxLen, cfg.hidden]) : out[out.length - 1]) as Tensor2D
      },
      query: (h) => tf.add(tf.matMul(h, T['dense.kernel'] as Tensor2D), T['dense.bias']) as Tensor2D,
      itemsT: T['@items.T'] as Tensor2D,
      dispose,
    }
  }
  dispose()
  throw new Error(`${w.kind} is not a sequential model`)
}

/** B = rows / max_len, or an error naming the bad length */
function windowsOf(ids: Int32Array, L: number, what: string): number {
  if (ids.length % L !== 0) throw new Error(`${what}: ${ids.length} ids are not rows of max_len ${L}`)
  return ids.length / L
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
  const m = residentSequenceModel(w)
  let disposed = false
  return {
    maxLen: m.maxLen,
    logits(inputs, rows) {
      if (disposed) throw new Error('sequence teacher used after dispose()')
      const B = windowsOf(inputs, m.maxLen, 'teacher')
      return tf.tidy(() => tf.matMul(m.query(tf.gather(m.states(inputs, B, 'all'), tf.tensor1d(rows, 'int32')) as Tensor2D), m.itemsT))
    },
    dispose() {
      if (disposed) return
      disposed = true
      m.dispose()
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
  const m = residentSequenceModel(w)
  let disposed = false
  return {
    maxLen: m.maxLen,
    score(seqs) {
      if (disposed) throw new Error('sequence scoring used after dispose()')
      const B = windowsOf(seqs, m.maxLen, 'score')
      if (B === 0) return new Float32Array(0)
      const s = tf.tidy(() => tf.matMul(m.query(m.states(seqs, B, 'last')), m.itemsT))
      const data = new Float32Array(s.dataSync() as Float32Array)
      s.dispose()
      return data
    },
    dispose() {
      if (disposed) return
      disposed = true
      m.dispose()
    },
  }
}

/** the input rows of `users` for a sequential model: their last max_len items (shifted, left-padded) */
export function historyRows(histories: Sequences | undefined, users: Int32Array, maxLen: number, kind: ModelKind): Int32Array {
  if (!histories) throw new Error(`${kind} is a sequential model: its scorer needs the users' histories`)
  return historyMatrix(histories, users, maxLen)
}
