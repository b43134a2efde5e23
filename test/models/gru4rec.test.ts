import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {createGru4recTrainer, initGru4rec, scoreSequences, softmaxCrossEntropy} from '../../src/models/gru4rec.js'
import {gru4recReferenceScores} from '../../src/models/gru4rec-reference.js'
import {Rng} from '../../src/rng.js'

const I = 30
const L = 8
const STEPS = 200
const cfg = {embedding: 16, hidden: 16, maxLen: L}

beforeAll(async () => {
  expect((await initBackend('wasm')).name).toBe('wasm')
})

/** random left-padded histories (shifted ids), lengths 0..L, row-major [B × L] */
function histories(B: number, seed: number): Int32Array {
  const rng = new Rng(seed)
  const out = new Int32Array(B * L)
  for (let b = 0; b < B; b++) {
    const len = b % (L + 1)
    for (let t = L - len; t < L; t++) out[b * L + t] = 1 + rng.int(I)
  }
  return out
}

/** weights with non-zero biases too, so every term of the equations is exercised */
function randomized(seed: number, layers = 1) {
  const w = initGru4rec(I, {...cfg, layers}, seed)
  const rng = new Rng(seed + 99)
  for (const [name, t] of Object.entries(w.tensors)) {
    if (name.endsWith('.b') || name === 'dense.bias') for (let k = 0; k < t.data.length; k++) t.data[k] = (rng.next() - 0.5) * 0.6
  }
  return w
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, j) => Math.max(m, Math.abs(x - b[j])), 0)

describe('gru4rec init', () => {
  it('has the documented shapes, a zero padding row and zero biases, and is seeded', () => {
    const w = initGru4rec(I, {...cfg, layers: 2}, 7)
    const shapes = Object.fromEntries(Object.entries(w.tensors).map(([k, t]) => [k, t.shape]))
    expect(shapes).toEqual({
      item_emb: [I + 1, 16],
      'gru_0.w': [48, 16],
      'gru_0.r': [48, 16],
      'gru_0.b': [96],
      'gru_1.w': [48, 16],
      'gru_1.r': [48, 16],
      'gru_1.b': [96],
      'dense.kernel': [16, 16],
      'dense.bias': [16],
    })
    expect(Array.from(w.tensors.item_emb.data.subarray(0, 16)).every((x) => x === 0)).toBe(true)
    expect(w.tensors['gru_0.b'].data.every((x) => x === 0)).toBe(true)
    const a = Math.sqrt(6 / (16 + 48))
    expect(w.tensors['gru_0.w'].data.every((x) => Math.abs(x) <= a)).toBe(true)
    expect(initGru4rec(I, {...cfg, layers: 2}, 7)).toEqual(w)
    expect(initGru4rec(I, {...cfg, layers: 2}, 8).tensors.item_emb.data).not.toEqual(w.tensors.item_emb.data)
    expect(w.params).toEqual({embedding: 16, hidden: 16, layers: 2, maxLen: L, dropout: 0.3})
  })
})

describe('gru4rec forward', () => {
  it.each([1, 2])('tfjs inference equals the plain-JS reference within 1e-5 (%i layers)', (layers) => {
    const w = randomized(3, layers)
    const seqs = histories(27, 5)
    expect(maxDiff(scoreSequences(w, seqs, 10), gru4recReferenceScores(w, seqs))).toBeLessThan(1e-5)
  })

  it('left padding does not change the state: a history scores the same at every padded length', () => {
    const w = randomized(4)
    const items = [5, 17, 2, 30]
    const a = new Int32Array(L)
    a.set(items, L - items.length)
    // the same items in a shorter model window (maxLen 4, no padding) and a longer one (maxLen 12)
    for (const maxLen of [4, 12]) {
      const v = {...w, params: {...w.params, maxLen}}
      const b = new Int32Array(maxLen)
      b.set(items, maxLen - items.length)
      expect(maxDiff(scoreSequences(v, b), scoreSequences(w, a))).toBeLessThan(1e-6)
      expect(maxDiff(gru4recReferenceScores(v, b), gru4recReferenceScores(w, a))).toBe(0)
    }
  })

  it('padding steps are masked: an all-padding prefix leaves h at 0, an empty history scores dense.bias · item_emb', () => {
    const w = randomized(6)
    const empty = scoreSequences(w, new Int32Array(L))
    const e = 16
    const expected = new Float32Array(I)
    for (let i = 0; i < I; i++) {
      let s = 0
      for (let j = 0; j < e; j++) s += w.tensors['dense.bias'].data[j] * w.tensors.item_emb.data[(i + 1) * e + j]
      expected[i] = s
    }
    expect(maxDiff(empty, expected)).toBeLessThan(1e-6)
    // a history with a padding gap in the middle equals the one without the gap
    const gap = Int32Array.of(0, 0, 3, 0, 0, 9, 0, 4)
    const packed = Int32Array.of(0, 0, 0, 0, 0, 3, 9, 4)
    expect(maxDiff(scoreSequences(w, gap), scoreSequences(w, packed))).toBeLessThan(1e-6)
  })

  it('scores a sequence the same alone and in a batch', () => {
    const w = randomized(8)
    const seqs = histories(20, 9)
    const all = scoreSequences(w, seqs)
    for (const b of [0, 7, 19]) expect(maxDiff(scoreSequences(w, seqs.slice(b * L, (b + 1) * L)), all.subarray(b * I, (b + 1) * I))).toBeLessThan(1e-6)
  })

  it('rejects ids outside 0..I and ragged rows', () => {
    const w = initGru4rec(I, cfg, 1)
    expect(() => scoreSequences(w, new Int32Array(L + 1))).toThrow(/rows/)
    expect(() => scoreSequences(w, Int32Array.of(0, 0, 0, 0, 0, 0, 0, I + 1))).toThrow(/outside/)
  })
})

/** windows of consecutive items: the next item is always the current one + 1 (mod I) */
function consecutiveWindows(B: number, rng: Rng): {inputs: Int32Array; targets: Int32Array} {
  const inputs = new Int32Array(B * L)
  const targets = new Int32Array(B * L)
  for (let b = 0; b < B; b++) {
    const len = 1 + rng.int(L)
    const start = rng.int(I)
    for (let k = 0; k < len; k++) {
      const t = L - len + k
      inputs[b * L + t] = ((start + k) % I) + 1
      targets[b * L + t] = ((start + k + 1) % I) + 1
    }
  }
  return {inputs, targets}
}

describe('gru4rec training', () => {
  it('the hand-written cross-entropy gradient equals autograd of logSumExp − picked logit', () => {
    const before = tf.memory().numTensors
    tf.tidy(() => {
      const N = 7
      const q = tf.randomNormal([N, 4], 0, 1, 'float32', 1)
      const items = tf.randomNormal([I, 4], 0, 1, 'float32', 2)
      const labels = Int32Array.from({length: N}, (_, k) => (k * 11) % I)
      const pick = tf.tensor1d(Int32Array.from(labels, (y, k) => k * I + y), 'int32')
      const mine = tf.grads((a: any, b: any) => softmaxCrossEntropy(a, b, pick))([q, items])
      const auto = tf.grads((a: any, b: any) => {
        const lg = tf.matMul(a, b, false, true)
        return tf.mean(tf.sub(tf.logSumExp(lg, 1), tf.gather(tf.reshape(lg, [-1]), pick)))
      })([q, items])
      for (const k of [0, 1]) expect(maxDiff(mine[k].dataSync() as Float32Array, auto[k].dataSync() as Float32Array)).toBeLessThan(1e-6)
    })
    expect(tf.memory().numTensors).toBe(before)
  })

  it('the loss is the mean full-softmax cross-entropy of the target positions (lr 0: the reference logits)', () => {
    const w = randomized(11)
    const before = tf.memory().numTensors
    const trainer = createGru4recTrainer({...w, params: {...w.params, dropout: 0}}, {lr: 0, seed: 1})
    const {inputs, targets} = consecutiveWindows(6, new Rng(2))
    targets[L - 1] = 0 // one target masked out
    // the reference: the history up to each target position, scored alone
    let sum = 0
    let n = 0
    for (let j = 0; j < targets.length; j++) {
      if (targets[j] === 0) continue
      const b = Math.floor(j / L)
      const t = j % L
      const hist = new Int32Array(L)
      hist.set(inputs.subarray(b * L, b * L + t + 1), L - t - 1)
      const s = gru4recReferenceScores(w, hist)
      const m = Math.max(...s)
      const lse = m + Math.log(s.reduce((a, x) => a + Math.exp(x - m), 0))
      sum += lse - s[targets[j] - 1]
      n++
    }
    expect(trainer.step(inputs, targets)).toBeCloseTo(sum / n, 4)
    expect(trainer.step(inputs, new Int32Array(targets.length))).toBe(0)
    trainer.dispose()
    expect(tf.memory().numTensors).toBe(before)
  })

  it('is deterministic for a seed (dropout masks included); another seed drops other inputs', () => {
    const run = (seed: number) => {
      const trainer = createGru4recTrainer(initGru4rec(I, cfg, 1), {lr: 0.01, seed})
      const rng = new Rng(9)
      const losses = Array.from({length: 3}, () => {
        const {inputs, targets} = consecutiveWindows(8, rng)
        return trainer.step(inputs, targets)
      })
      const w = trainer.weights()
      trainer.dispose()
      return {losses, w}
    }
    const a = run(1)
    expect(run(1)).toEqual(a)
    expect(run(2).losses).not.toEqual(a.losses)
  })

  it('learns "next = current + 1": top-1 next-item accuracy > 0.9, no tensor leaks, padding row stays 0', () => {
    const before = tf.memory().numTensors
    const trainer = createGru4recTrainer(initGru4rec(I, cfg, 1), {lr: 0.02, seed: 3})
    const rng = new Rng(4)
    let first = 0
    let last = 0
    for (let s = 0; s < STEPS; s++) {
      const {inputs, targets} = consecutiveWindows(16, rng)
      last = trainer.step(inputs, targets)
      if (s === 0) first = last
    }
    expect(last).toBeLessThan(first)
    const w = trainer.weights()
    trainer.dispose()
    expect(tf.memory().numTensors).toBe(before)
    expect(w.tensors.item_emb.data.subarray(0, 16).every((x) => x === 0)).toBe(true)
    const {inputs, targets} = consecutiveWindows(200, new Rng(5))
    const scores = scoreSequences(w, inputs)
    let hits = 0
    for (let b = 0; b < 200; b++) {
      const row = scores.subarray(b * I, (b + 1) * I)
      let best = 0
      for (let i = 1; i < I; i++) if (row[i] > row[best]) best = i
      if (best === targets[b * L + L - 1] - 1) hits++
    }
    console.log(`gru4rec learning test: top-1 ${hits / 200}, loss ${first.toFixed(3)} → ${last.toFixed(3)}`)
    expect(hits / 200).toBeGreaterThan(0.9)
  })
})
