/**
 * Knowledge-distillation losses (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
 * Network"): the student learns from the true labels and from the teacher's scores softened by a
 * temperature T. Teacher scores are constants here (no gradient reaches the teacher).
 *
 * Softmax students (sasrec ce, gru4rec), over ALL items I at every training position:
 *   loss = α · CE(s, y) + (1 − α) · T² · KL(softmax(t/T) ‖ softmax(s/T))
 *   CE(s, y) = logΣexp(s) − s_y
 *   KL(p ‖ q) = Σ_i p_i (log p_i − log q_i)
 * Pair students (mf, neumf, two_tower), over the rows of the batch:
 *   bce (label y ∈ {0, 1}, logit s):       α · BCE(s, y) + (1 − α) · T² · KL(σ(t/T) ‖ σ(s/T))
 *   bpr (difference d = s⁺ − s⁻):          α · softplus(−d) + (1 − α) · T² · KL(σ(d_t/T) ‖ σ(d/T))
 *   with the Bernoulli KL(q ‖ p) = q log(q/p) + (1 − q) log((1 − q)/(1 − p))
 *       = BCE(z, q) − BCE(a, q) for p = σ(z), q = σ(a): the BCE of the student against the teacher's
 *   probability minus that of the teacher against itself (its entropy), so the teacher term is 0
 *   when the student matches the teacher, and its gradient is BCE's.
 * Every loss is the mean over rows (positions, pairs or triples). The T² factor keeps the teacher
 * term's gradient, (1 − α) · T · (σ or softmax(s/T) − teacher's), on the scale of the label term's
 * as T changes. α = 1 is plain training (the label term alone); α = 0 the teacher term alone.
 */
import {tf} from '../backend/index.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor1D = import('@tensorflow/tfjs').Tensor1D
type Tensor2D = import('@tensorflow/tfjs').Tensor2D
type Scalar = import('@tensorflow/tfjs').Scalar

/** what a student trains against besides its labels: the teacher and the mix */
export interface DistillMix {
  /** T > 0 */
  temperature: number
  /** weight of the label loss, in [0, 1] */
  alpha: number
}

/**
 * The teacher's side of the softmax loss, computed once per batch outside the gradient: its
 * probabilities at temperature T [n, I] and Σ_i p log p averaged over the rows (the constant that
 * makes the KL term a KL).
 */
export interface SoftTargets {
  probs: Tensor2D
  /** mean over rows of Σ_i p_i log p_i (minus the teacher's entropy) */
  negEntropy: Scalar
}

/** the teacher's softened probabilities from its logits [n, I]; the caller disposes both tensors */
export function softTargets(teacherLogits: Tensor2D, temperature: number): SoftTargets {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(tf.mul(teacherLogits, 1 / temperature)) as Tensor2D
    const probs = tf.exp(logp) as Tensor2D
    const negEntropy = tf.div(tf.sum(tf.mul(probs, logp)), teacherLogits.shape[0]) as Scalar
    return {probs, negEntropy}
  })
}

/** mean over rows of logΣexp of [n, I] rows through the Softmax kernel: max(x) − log(max(softmax(x))), exact since max(p) ≥ 1/I */
function logSumExpRows(x: Tensor2D, p: Tensor2D): Tensor1D {
  return tf.sub(tf.max(x, 1), tf.log(tf.max(p, 1))) as Tensor1D
}

/**
 * α · mean CE(s, y) + (1 − α) · T² · mean KL(softmax(t/T) ‖ softmax(s/T)) of student logits [n, I];
 * `columns` [n] (int32) holds each row's true item (its column), `teacher` the teacher's side
 * (softTargets). A hand-written gradient, (α · (softmax(s) − onehot(y)) + (1 − α) · T ·
 * (softmax(s/T) − p_t)) / n, costs two softmax passes over [n, I] instead of autograd's many.
 * A term whose weight is 0 is not computed (α = 1 needs no teacher).
 */
export function distillSoftmaxLoss(logits: Tensor2D, columns: Tensor1D, teacher: SoftTargets | undefined, mix: DistillMix): Scalar {
  const {alpha, temperature: T} = mix
  if (alpha < 1 && !teacher) throw new Error('distillSoftmaxLoss: alpha < 1 needs the teacher\'s soft targets')
  const f = tf.customGrad((x, save) => {
    const s = x as Tensor2D
    const [n, I] = s.shape
    const keep = save as (t: Tensor[]) => void
    // flat indexes row · I + column of the true items
    const pick = tf.add(tf.mul(tf.range(0, n, 1, 'int32'), tf.scalar(I, 'int32')), columns) as Tensor1D
    const saved: Tensor[] = []
    let value: Tensor = tf.scalar(0)
    if (alpha > 0) {
      const p = tf.softmax(s) as Tensor2D
      const ce = tf.sub(tf.mean(logSumExpRows(s, p)), tf.mean(tf.gather(tf.reshape(s, [-1]), pick)))
      value = tf.add(value, tf.mul(ce, alpha))
      // tensors the gradient reads must be saved (the others are freed after the forward pass)
      saved.push(p, pick)
    }
    if (alpha < 1) {
      const sT = tf.mul(s, 1 / T) as Tensor2D
      const pT = tf.softmax(sT) as Tensor2D
      // KL(p_t ‖ q) = Σ p_t log p_t − Σ p_t (s/T − logΣexp(s/T)), Σ p_t = 1
      const kl = tf.add(tf.sub(tf.mean(logSumExpRows(sT, pT)), tf.div(tf.sum(tf.mul(teacher!.probs, sT)), n)), teacher!.negEntropy)
      value = tf.add(value, tf.mul(kl, (1 - alpha) * T * T))
      saved.push(pT)
    }
    keep(saved)
    return {
      value: value as Scalar,
      gradFunc: (dy: Tensor, kept: Tensor[]) => {
        let k = 0
        let g: Tensor | undefined
        if (alpha > 0) {
          // not oneHot(…, 'float32'): tfjs-wasm 4.22 writes the integer 1 into the float buffer
          const [p, picked] = [kept[k++], kept[k++]]
          const hot = tf.reshape(tf.scatterND(tf.reshape(picked, [n, 1]), tf.ones([n]), [n * I]), [n, I])
          g = tf.mul(tf.sub(p, hot), alpha)
        }
        if (alpha < 1) {
          const t = tf.mul(tf.sub(kept[k++], teacher!.probs), (1 - alpha) * T)
          g = g ? tf.add(g, t) : t
        }
        return tf.mul(g!, tf.div(dy, n))
      },
    }
  })
  return f(logits) as Scalar
}

/** softplus(z) − z·q: binary cross-entropy of logits z against probabilities (or labels) q, stable for large |z| */
function bce(z: Tensor, q: Tensor): Tensor {
  return tf.sub(tf.softplus(z), tf.mul(z, q))
}

/**
 * The pair losses with a teacher, mean over rows. `student` and `teacher` are logits of the same
 * rows (bce: s and t of each (u, i); bpr: the differences s⁺ − s⁻ and t⁺ − t⁻ of each (u, i⁺, i⁻)).
 * bce: α · BCE(s, y) + (1 − α) · T² · KL(σ(t/T) ‖ σ(s/T)); bpr: the same with y = 1 (−log σ(d)).
 * Autograd differentiates it (elementwise over the rows: cheap).
 */
export function distillPairLoss(student: Tensor1D, teacher: Tensor1D, labels: Tensor1D | undefined, mix: DistillMix): Scalar {
  const {alpha, temperature: T} = mix
  let loss: Tensor = tf.scalar(0)
  if (alpha > 0) {
    // bpr: −log σ(d) = softplus(−d) = BCE(d, 1)
    const hard = labels ? bce(student, labels) : tf.softplus(tf.neg(student))
    loss = tf.add(loss, tf.mul(tf.mean(hard), alpha))
  }
  if (alpha < 1) {
    const a = tf.mul(teacher, 1 / T)
    const q = tf.sigmoid(a)
    const kl = tf.sub(bce(tf.mul(student, 1 / T), q), bce(a, q))
    loss = tf.add(loss, tf.mul(tf.mean(kl), (1 - alpha) * T * T))
  }
  return loss as Scalar
}

/**
 * Distillation plugged into a sequential trainer's step (sasrec ce, gru4rec): the trainer picks its
 * training positions and asks, outside the gradient, for the loss there; inside the gradient it
 * hands over its logits over all items at those positions, in the same order.
 */
export interface PositionDistill {
  /**
   * `rows`: flat positions b·L + t of the step's B × L inputs; `columns`: the true next item of each
   * as a column of the logits (item index 0..I−1). The caller disposes the result after the step.
   */
  at(rows: Int32Array, columns: Int32Array): {loss(logits: Tensor2D): Scalar; dispose(): void}
}

/**
 * distillSoftmaxLoss at the trainer's positions, the teacher's logits there from `teacher(rows)`
 * (a tensor this function disposes; not called when α = 1).
 */
export function positionDistill(teacher: (rows: Int32Array) => Tensor2D, mix: DistillMix): PositionDistill {
  return {
    at(rows, columns) {
      const cols = tf.tensor1d(columns, 'int32')
      let soft: SoftTargets | undefined
      if (mix.alpha < 1) {
        const t = teacher(rows)
        soft = softTargets(t, mix.temperature)
        t.dispose()
      }
      return {
        loss: (logits) => distillSoftmaxLoss(logits, cols, soft, mix),
        dispose() {
          cols.dispose()
          soft?.probs.dispose()
          soft?.negEntropy.dispose()
        },
      }
    },
  }
}
