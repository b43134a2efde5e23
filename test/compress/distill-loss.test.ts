/**
 * The distillation losses (src/models/distill-loss.ts) against hand computations in plain JS, their
 * gradients against finite differences, and the trainers' distillation steps: α = 1 is plain
 * training (same loss, same update), and at α < 1 the trainer's loss is the hand computation on the
 * student's and the teacher's logits at the trainer's positions.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {distillPairLoss, distillSoftmaxLoss, positionDistill, softTargets} from '../../src/models/distill-loss.js'
import {createGru4recTrainer, initGru4rec} from '../../src/models/gru4rec.js'
import {createSasrecTrainer, initSasrec, type SasrecConfig} from '../../src/models/sasrec.js'
import {createSequenceTeacher, fromGru4recWeights} from '../../src/models/sequential.js'
import type {ModelWeights} from '../../src/models/types.js'
import {Rng} from '../../src/rng.js'

type Tensor2D = import('@tensorflow/tfjs').Tensor2D

beforeAll(async () => {
  await initBackend('wasm')
})

const softmax = (x: number[]): number[] => {
  const m = Math.max(...x)
  const e = x.map((v) => Math.exp(v - m))
  const z = e.reduce((a, b) => a + b, 0)
  return e.map((v) => v / z)
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

/** α · CE + (1 − α) · T² · KL(softmax(t/T) ‖ softmax(s/T)), mean over rows, by the definitions */
function handSoftmax(s: number[][], t: number[][], y: number[], alpha: number, T: number): number {
  let sum = 0
  for (let r = 0; r < s.length; r++) {
    const ce = -Math.log(softmax(s[r])[y[r]])
    const p = softmax(t[r].map((v) => v / T))
    const q = softmax(s[r].map((v) => v / T))
    const kl = p.reduce((a, pi, i) => a + pi * Math.log(pi / q[i]), 0)
    sum += alpha * ce + (1 - alpha) * T * T * kl
  }
  return sum / s.length
}

/** Bernoulli KL(q ‖ p) */
const bernoulliKl = (q: number, p: number) => q * Math.log(q / p) + (1 - q) * Math.log((1 - q) / (1 - p))

const randn = (rng: Rng, rows: number, cols: number, scale = 1.5) => Array.from({length: rows}, () => Array.from({length: cols}, () => rng.normal() * scale))

function softmaxLoss(s: number[][], t: number[][], y: number[], alpha: number, T: number): number {
  return tf.tidy(() => {
    const soft = softTargets(tf.tensor2d(t), T)
    return distillSoftmaxLoss(tf.tensor2d(s), tf.tensor1d(y, 'int32'), soft, {alpha, temperature: T}).dataSync()[0]
  })
}

describe('distillSoftmaxLoss', () => {
  const rng = new Rng(11)
  const s = randn(rng, 3, 5)
  const t = randn(rng, 3, 5)
  const y = [4, 0, 2]

  it('equals α · CE + (1 − α) · T² · KL computed by hand', () => {
    for (const [alpha, T] of [
      [0.5, 2],
      [0.3, 1],
      [0, 4],
      [1, 2],
      [0.8, 0.5],
    ]) {
      expect(softmaxLoss(s, t, y, alpha, T), `alpha ${alpha} T ${T}`).toBeCloseTo(handSoftmax(s, t, y, alpha, T), 5)
    }
  })

  it('α = 1 is the plain softmax cross-entropy; the teacher term is 0 when the student is the teacher', () => {
    const ce = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), 5).toFloat(), tf.tensor2d(s)).dataSync()[0])
    const noTeacher = tf.tidy(() => distillSoftmaxLoss(tf.tensor2d(s), tf.tensor1d(y, 'int32'), undefined, {alpha: 1, temperature: 2}).dataSync()[0])
    expect(noTeacher).toBeCloseTo(ce, 5)
    expect(Math.abs(softmaxLoss(t, t, y, 0, 3))).toBeLessThan(1e-5)
  })

  it('has the gradient of the definition (finite differences)', () => {
    const alpha = 0.4
    const T = 2.5
    const grad = tf.tidy(() => {
      const soft = softTargets(tf.tensor2d(t), T)
      const g = tf.grad((x) => distillSoftmaxLoss(x as Tensor2D, tf.tensor1d(y, 'int32'), soft, {alpha, temperature: T}))(tf.tensor2d(s))
      return g.arraySync() as number[][]
    })
    const h = 1e-4
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < 5; i++) {
        const up = s.map((row) => [...row])
        const down = s.map((row) => [...row])
        up[r][i] += h
        down[r][i] -= h
        const numeric = (handSoftmax(up, t, y, alpha, T) - handSoftmax(down, t, y, alpha, T)) / (2 * h)
        expect(grad[r][i], `[${r}, ${i}]`).toBeCloseTo(numeric, 4)
      }
    }
  })
})

describe('distillPairLoss', () => {
  const s = [1.2, -0.4, 2.5, 0.1]
  const t = [0.7, -2.0, 3.1, 1.4]
  const labels = [1, 0, 1, 0]

  it('bce: α · BCE(s, y) + (1 − α) · T² · KL(σ(t/T) ‖ σ(s/T)) by hand', () => {
    const alpha = 0.3
    const T = 2
    const hand =
      s.reduce((a, si, k) => {
        const bce = -(labels[k] * Math.log(sigmoid(si)) + (1 - labels[k]) * Math.log(1 - sigmoid(si)))
        return a + alpha * bce + (1 - alpha) * T * T * bernoulliKl(sigmoid(t[k] / T), sigmoid(si / T))
      }, 0) / s.length
    const got = tf.tidy(() => distillPairLoss(tf.tensor1d(s), tf.tensor1d(t), tf.tensor1d(labels), {alpha, temperature: T}).dataSync()[0])
    expect(got).toBeCloseTo(hand, 5)
  })

  it('bpr: α · −log σ(d) + (1 − α) · T² · KL(σ(d_t/T) ‖ σ(d/T)) of the differences by hand; α = 1 is BPR', () => {
    const alpha = 0.6
    const T = 3
    const hand = s.reduce((a, d, k) => a + alpha * -Math.log(sigmoid(d)) + (1 - alpha) * T * T * bernoulliKl(sigmoid(t[k] / T), sigmoid(d / T)), 0) / s.length
    const got = tf.tidy(() => distillPairLoss(tf.tensor1d(s), tf.tensor1d(t), undefined, {alpha, temperature: T}).dataSync()[0])
    expect(got).toBeCloseTo(hand, 5)
    const bpr = s.reduce((a, d) => a - Math.log(sigmoid(d)), 0) / s.length
    expect(tf.tidy(() => distillPairLoss(tf.tensor1d(s), tf.tensor1d(t), undefined, {alpha: 1, temperature: T}).dataSync()[0])).toBeCloseTo(bpr, 5)
  })
})

// tiny sequential models: dropout 0, so that a training step's forward is the inference forward
const I = 12
const sasCfg: SasrecConfig = {hidden: 8, layers: 1, heads: 2, inner: 16, maxLen: 6, dropout: 0}
const L = sasCfg.maxLen

/** B windows of next-item targets: left-padded runs of shifted ids */
function batch(rng: Rng, B: number): {inputs: Int32Array; targets: Int32Array} {
  const inputs = new Int32Array(B * L)
  const targets = new Int32Array(B * L)
  for (let b = 0; b < B; b++) {
    const n = 2 + rng.int(L - 1)
    const seq = Array.from({length: n + 1}, () => 1 + rng.int(I))
    for (let k = 0; k < n; k++) {
      inputs[b * L + L - n + k] = seq[k]
      targets[b * L + L - n + k] = seq[k + 1]
    }
  }
  return {inputs, targets}
}

const sasrecWeights = (seed: number, cfg: SasrecConfig = sasCfg): ModelWeights => ({...initSasrec(I, cfg, seed), numUsers: 1, params: {...initSasrec(I, cfg, seed).params, loss: 'ce'}})

/** logits over all items at every position [B·L, I] of a model, as nested arrays (the teacher's inference forward) */
function allLogits(w: ModelWeights, inputs: Int32Array): number[][] {
  const teacher = createSequenceTeacher(w)
  const rows = Int32Array.from({length: inputs.length}, (_, k) => k)
  const t = teacher.logits(inputs, rows)
  const out = t.arraySync() as number[][]
  t.dispose()
  teacher.dispose()
  return out
}

describe('sequential trainers with a teacher', () => {
  it('sasrec: the step loss is the hand-computed distillation loss at the positions with a target and an item input, and no tensor leaks', () => {
    const student = sasrecWeights(3)
    const teacherW = sasrecWeights(4, {...sasCfg, hidden: 16, layers: 2})
    const {inputs, targets} = batch(new Rng(5), 4)
    const s = allLogits(student, inputs)
    const t = allLogits(teacherW, inputs)
    const rows = [...inputs.keys()].filter((k) => inputs[k] !== 0 && targets[k] !== 0)
    const alpha = 0.4
    const T = 2
    const hand = handSoftmax(
      rows.map((k) => s[k]),
      rows.map((k) => t[k]),
      rows.map((k) => targets[k] - 1),
      alpha,
      T,
    )
    const teacher = createSequenceTeacher(teacherW)
    const trainer = createSasrecTrainer({kind: 'sasrec', numItems: I, params: student.params, tensors: student.tensors}, {lr: 0.01, loss: 'ce', seed: 1})
    const start = tf.memory().numTensors
    const kd = positionDistill((r) => teacher.logits(inputs, r), {alpha, temperature: T})
    expect(trainer.step(inputs, targets, kd)).toBeCloseTo(hand, 4)
    const before = tf.memory().numTensors // Adam's slots exist now
    trainer.step(inputs, targets, kd)
    expect(tf.memory().numTensors).toBe(before)
    expect(before).toBeGreaterThan(start)
    trainer.dispose()
    teacher.dispose()
  })

  it('sasrec and gru4rec: α = 1 equals plain training (the same loss and the same weights after two steps)', () => {
    const {inputs, targets} = batch(new Rng(8), 5)
    const teacherW = sasrecWeights(9)
    const never = () => {
      throw new Error('α = 1 must not run the teacher')
    }
    const plain = createSasrecTrainer({kind: 'sasrec', numItems: I, params: teacherW.params, tensors: sasrecWeights(2).tensors}, {lr: 0.01, loss: 'ce', seed: 1})
    const kd = createSasrecTrainer({kind: 'sasrec', numItems: I, params: teacherW.params, tensors: sasrecWeights(2).tensors}, {lr: 0.01, loss: 'ce', seed: 1})
    for (let step = 0; step < 2; step++) {
      expect(kd.step(inputs, targets, positionDistill(never, {alpha: 1, temperature: 2}))).toBeCloseTo(plain.step(inputs, targets), 5)
    }
    const a = plain.weights().tensors.item_emb.data
    const b = kd.weights().tensors.item_emb.data
    for (let j = 0; j < a.length; j++) expect(b[j]).toBeCloseTo(a[j], 5)
    plain.dispose()
    kd.dispose()

    const g0 = initGru4rec(I, {embedding: 8, hidden: 8, maxLen: L, dropout: 0}, 3)
    const gPlain = createGru4recTrainer(g0, {lr: 0.01, seed: 1})
    const gKd = createGru4recTrainer(g0, {lr: 0.01, seed: 1})
    for (let step = 0; step < 2; step++) {
      expect(gKd.step(inputs, targets, positionDistill(never, {alpha: 1, temperature: 2}))).toBeCloseTo(gPlain.step(inputs, targets), 5)
    }
    const ga = gPlain.weights().tensors['dense.kernel'].data
    const gb = gKd.weights().tensors['dense.kernel'].data
    for (let j = 0; j < ga.length; j++) expect(gb[j]).toBeCloseTo(ga[j], 5)
    gPlain.dispose()
    gKd.dispose()
  })

  it('gru4rec: the step loss is the hand-computed distillation loss against a sasrec teacher', () => {
    const g = fromGru4recWeights(initGru4rec(I, {embedding: 8, hidden: 8, maxLen: L, dropout: 0}, 6), 1)
    const teacherW = sasrecWeights(7)
    const {inputs, targets} = batch(new Rng(12), 4)
    const s = allLogits(g, inputs)
    const t = allLogits(teacherW, inputs)
    const rows = [...targets.keys()].filter((k) => targets[k] !== 0)
    const hand = handSoftmax(
      rows.map((k) => s[k]),
      rows.map((k) => t[k]),
      rows.map((k) => targets[k] - 1),
      0.5,
      3,
    )
    const teacher = createSequenceTeacher(teacherW)
    const trainer = createGru4recTrainer(initGru4rec(I, {embedding: 8, hidden: 8, maxLen: L, dropout: 0}, 6), {lr: 0.01, seed: 1})
    expect(trainer.step(inputs, targets, positionDistill((r) => teacher.logits(inputs, r), {alpha: 0.5, temperature: 3}))).toBeCloseTo(hand, 4)
    trainer.dispose()
    teacher.dispose()
  })
})
