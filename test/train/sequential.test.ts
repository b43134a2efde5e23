/**
 * Sequential models (sasrec, gru4rec) through the same trainModel as MF: they learn a planted
 * next-item rule, are deterministic, resume bit for bit from a checkpoint, and their scorers build
 * each request from the histories they are given (train for validation, train + validation for test).
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {historyMatrix, userSequences} from '../../src/data/sequences.js'
import type {Interactions, Split} from '../../src/data/types.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import {createSequenceScoring} from '../../src/models/sequential.js'
import type {ModelWeights} from '../../src/models/types.js'
import {trainModel} from '../../src/train/train.js'
import {modelConfig, trainConfig, uniformNegatives} from '../models/synthetic.js'

const U = 40
const I = 20
const LEN = 10

/** rows (user, item, time) as Interactions over the fixed id space */
function part(rows: [number, number, number][]): Interactions {
  return {
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    rating: new Float32Array(rows.length).fill(1),
    timestamp: Float64Array.from(rows, (r) => r[2]),
    length: rows.length,
    numUsers: U,
    numItems: I,
    userIds: Array.from({length: U}, (_, u) => `u${u}`),
    itemIds: Array.from({length: I}, (_, i) => `i${i}`),
  }
}

/**
 * Planted order: user u meets items (u, u+1, ..., u+9) mod I in that order, so the next item is
 * always the last one + 1. Leave-one-out by time: the 9th item is validation, the 10th test.
 */
function cycleSplit(): Split {
  const train: [number, number, number][] = []
  const valid: [number, number, number][] = []
  const test: [number, number, number][] = []
  for (let u = 0; u < U; u++) {
    for (let t = 0; t < LEN; t++) {
      const row: [number, number, number] = [u, (u + t) % I, 1000 * u + t]
      ;(t < LEN - 2 ? train : t === LEN - 2 ? valid : test).push(row)
    }
  }
  return {train: part(train), valid: part(valid), test: part(test)}
}

const split = cycleSplit()
const options = {hidden: 16, layers: 1, heads: 2, inner: 32, max_len: 8, dropout: 0.1}
const models = [
  {label: 'sasrec ce', cfg: modelConfig('sasrec', {...options, loss: 'ce'})},
  {label: 'sasrec bce', cfg: modelConfig('sasrec', {...options, loss: 'bce'})},
  {label: 'gru4rec', cfg: modelConfig('gru4rec', {factors: 16, hidden: 16, max_len: 8, dropout: 0.1})},
]
// 16 windows of 8 positions per step
const train = trainConfig({lr: 0.01, batch_size: 128, epochs: 30})

/** the share of users whose top-1 item (their earlier items excluded) is the planted next one */
async function hitRate(w: ModelWeights, target: 'valid' | 'test'): Promise<number> {
  const parts = target === 'valid' ? [split.train] : [split.train, split.valid]
  const scorer = createTfjsScorer(w, {histories: userSequences(parts, U)})
  try {
    const users = Int32Array.from({length: U}, (_, u) => u)
    const scores = await scorer.scoreUsers(users)
    let hits = 0
    for (let u = 0; u < U; u++) {
      const seen = LEN - (target === 'valid' ? 2 : 1)
      for (let t = 0; t < seen; t++) scores[u * I + ((u + t) % I)] = -Infinity
      let best = 0
      for (let i = 1; i < I; i++) if (scores[u * I + i] > scores[u * I + best]) best = i
      if (best === (u + seen) % I) hits++
    }
    return hits / U
  } finally {
    scorer.dispose()
  }
}

const bits = (w: ModelWeights) => Object.entries(w.tensors).map(([k, t]) => `${k}:${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')}`).join('|')

let dir: string
beforeAll(async () => {
  await initBackend('wasm')
  dir = mkdtempSync(join(tmpdir(), 'rec-seq-train-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('sequential models in trainModel', () => {
  for (const m of models) {
    it(`${m.label}: learns the planted next item (validation and test histories)`, async () => {
      const updates: string[] = []
      const progress = {stage() {}, done() {}, info() {}, warn() {}, update: (s: string) => updates.push(s)}
      const before = tf.memory().numTensors
      const r = await trainModel({model: m.cfg, train, negatives: uniformNegatives, split, seed: 3, progress})
      expect(tf.memory().numTensors).toBe(before)
      expect(r.epochs).toBe(train.epochs)
      expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0].loss)
      // 40 users × 7 train positions with a target
      expect(updates.at(-1)).toMatch(/ positions\/s ETA /)
      expect(await hitRate(r.weights, 'valid')).toBeGreaterThanOrEqual(0.9)
      expect(await hitRate(r.weights, 'test')).toBeGreaterThanOrEqual(0.9)
    })
  }

  it('sasrec: the same seed gives the same weights; a checkpoint resumes bit for bit', async () => {
    const cfg = models[0].cfg
    const short = trainConfig({lr: 0.01, batch_size: 128, epochs: 4})
    const a = await trainModel({model: cfg, train: short, negatives: uniformNegatives, split, seed: 5})
    const b = await trainModel({model: cfg, train: short, negatives: uniformNegatives, split, seed: 5})
    expect(bits(b.weights)).toBe(bits(a.weights))
    const ckpt = join(dir, 'sasrec-ckpt')
    await trainModel({model: cfg, train: {...short, epochs: 2}, negatives: uniformNegatives, split, seed: 5, checkpoint: {dir: ckpt}})
    const resumed = await trainModel({model: cfg, train: short, negatives: uniformNegatives, split, seed: 5, checkpoint: {dir: ckpt, resume: true}})
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4])
    expect(bits(resumed.weights)).toBe(bits(a.weights))
  })

  it('the scorer builds a request from the last max_len items of the histories it was given', async () => {
    const r = await trainModel({model: models[2].cfg, train: trainConfig({lr: 0.01, batch_size: 128, epochs: 1}), negatives: uniformNegatives, split, seed: 1})
    const histories = userSequences([split.train, split.valid], U)
    const users = Int32Array.of(3, 17)
    const scorer = createTfjsScorer(r.weights, {histories})
    const direct = createSequenceScoring(r.weights)
    try {
      const rows = historyMatrix(histories, users, 8)
      // user 3's history ends with the validation item (3 + 8) % 20, shifted by one, at the last column
      expect(rows[7]).toBe(((3 + 8) % I) + 1)
      expect(Array.from(await scorer.scoreUsers(users))).toEqual(Array.from(direct.score(rows)))
      const pairs = await scorer.scorePairs(Int32Array.of(17, 3), Int32Array.of(5, 9))
      const full = direct.score(rows)
      expect(Array.from(pairs)).toEqual([full[I + 5], full[9]])
      await expect(createTfjsScorer(r.weights).scoreUsers(users)).rejects.toThrow(/needs the users' histories/)
    } finally {
      scorer.dispose()
      direct.dispose()
    }
  })
})
