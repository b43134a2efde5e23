import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import type {ModelWeights} from '../../src/models/types.js'
import {trainModel} from '../../src/train/train.js'
import {modelConfig, plantedAuc, plantedSplit, trainConfig, uniformNegatives} from '../models/synthetic.js'

// Tests run on the wasm backend (what `auto` picks without tfjs-node); it needs our kernels.
const U = 60
const I = 40
const split = plantedSplit(U, I)
const allUsers = Int32Array.from({length: U}, (_, u) => u)

async function auc(weights: ModelWeights): Promise<number> {
  const scorer = createTfjsScorer(weights)
  try {
    return plantedAuc(await scorer.scoreUsers(allUsers), U, I)
  } finally {
    scorer.dispose()
  }
}

function bits(w: ModelWeights): string {
  return Object.entries(w.tensors)
    .map(([k, t]) => `${k}:${Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64')}`)
    .join('|')
}

let dir: string
beforeAll(async () => {
  await initBackend('wasm')
  dir = mkdtempSync(join(tmpdir(), 'rec-train-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('trainModel', () => {
  const learners = [
    {label: 'mf bpr', cfg: modelConfig('mf'), train: trainConfig()},
    {label: 'mf bce', cfg: modelConfig('mf', {loss: 'bce'}), train: trainConfig()},
    {label: 'neumf', cfg: modelConfig('neumf'), train: trainConfig({epochs: 15, lr: 0.02})},
    {label: 'two_tower bpr', cfg: modelConfig('two_tower'), train: trainConfig()},
    {label: 'mf bpr sgd l2', cfg: modelConfig('mf'), train: trainConfig({optimizer: 'sgd', lr: 5, l2: 1e-3, epochs: 15})},
  ]
  for (const l of learners) {
    it(`${l.label}: lowers the loss and ranks the planted items first`, async () => {
      const updates: string[] = []
      const progress = {stage() {}, done() {}, info() {}, warn() {}, update: (m: string) => updates.push(m)}
      const r = await trainModel({model: l.cfg, train: l.train, negatives: uniformNegatives, split, seed: 1, progress})
      expect(r.epochs).toBe(l.train.epochs)
      expect(r.bestEpoch).toBe(l.train.epochs)
      expect(r.history.map((h) => h.epoch)).toEqual(Array.from({length: l.train.epochs}, (_, k) => k + 1))
      expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0].loss)
      expect(r.history[0].rowsPerSec).toBeGreaterThan(0)
      expect(await auc(r.weights)).toBeGreaterThan(0.8)
      expect(updates.at(-1)).toMatch(/^epoch \d+\/\d+ loss \d+\.\d{4} \S+ rows\/s ETA \d+s$/)
    })
  }

  it('pop counts train interactions, no epochs', async () => {
    const r = await trainModel({model: modelConfig('pop'), train: trainConfig(), negatives: uniformNegatives, split, seed: 1})
    expect(r.epochs).toBe(0)
    const counts = r.weights.tensors.item_pop.data
    expect(counts.reduce((a, b) => a + b, 0)).toBe(split.train.length)
    expect(await auc(r.weights)).toBeCloseTo(0.5, 1)
  })

  it('is deterministic: same seed, identical weights bit for bit; another seed differs', async () => {
    const args = {model: modelConfig('neumf'), train: trainConfig({epochs: 2}), negatives: uniformNegatives, split}
    const a = await trainModel({...args, seed: 4})
    const b = await trainModel({...args, seed: 4})
    const c = await trainModel({...args, seed: 5})
    expect(bits(a.weights)).toBe(bits(b.weights))
    expect(a.history.map((h) => h.loss)).toEqual(b.history.map((h) => h.loss))
    expect(bits(a.weights)).not.toBe(bits(c.weights))
  })

  it('early stopping returns the best epoch and stops after `patience` validations without improvement', async () => {
    const curve = [0.1, 0.3, 0.6, 0.5, 0.55, 0.4, 0.9, 0.95]
    const seen: ModelWeights[] = []
    const validate = async (w: ModelWeights) => {
      seen.push(w)
      return curve[seen.length - 1]
    }
    const r = await trainModel({
      model: modelConfig('mf'),
      train: trainConfig({epochs: 8, early_stopping: {metric: 'mrr@10', patience: 3}, eval_every: 1}),
      negatives: uniformNegatives,
      split,
      seed: 2,
      validate,
    })
    expect(r.stoppedEarly).toBe(true)
    expect(r.epochs).toBe(6)
    expect(r.bestEpoch).toBe(3)
    expect(r.history.map((h) => h.valid)).toEqual(curve.slice(0, 6))
    expect(bits(r.weights)).toBe(bits(seen[2]))
    expect(bits(r.weights)).not.toBe(bits(seen[5]))
  })

  it('validates every eval_every epochs', async () => {
    const epochsSeen: number[] = []
    let n = 0
    const r = await trainModel({
      model: modelConfig('mf'),
      train: trainConfig({epochs: 6, early_stopping: {metric: 'mrr@10', patience: 5}, eval_every: 2}),
      negatives: uniformNegatives,
      split,
      seed: 2,
      validate: async () => {
        n++
        return n === 2 ? 1 : 0
      },
    })
    for (const h of r.history) if (h.valid !== undefined) epochsSeen.push(h.epoch)
    expect(epochsSeen).toEqual([2, 4, 6])
    expect(r.bestEpoch).toBe(4)
  })

  it('stops after the current batch when the signal aborts, with interrupted: true', async () => {
    const ac = new AbortController()
    let calls = 0
    const r = await trainModel({
      model: modelConfig('mf'),
      train: trainConfig({epochs: 10, early_stopping: {metric: 'mrr@10', patience: 10}}),
      negatives: uniformNegatives,
      split,
      seed: 2,
      signal: ac.signal,
      validate: async () => {
        if (++calls === 2) ac.abort()
        return calls
      },
    })
    expect(r.interrupted).toBe(true)
    expect(r.epochs).toBe(2)
    expect(r.bestEpoch).toBe(2)
  })

  it('writes checkpoints and resumes from them', async () => {
    const ckdir = join(dir, 'ckpt')
    const args = {model: modelConfig('mf'), negatives: uniformNegatives, split, seed: 3}
    const first = await trainModel({...args, train: trainConfig({epochs: 3}), checkpoint: {dir: ckdir}})
    const state = JSON.parse(readFileSync(join(ckdir, 'state.json'), 'utf8'))
    expect(state.epoch).toBe(3)
    // the checkpoint is whole in the folder state.json names; older epochs' folders are gone
    expect(state.dir).toBe('epoch-0003')
    expect(existsSync(join(ckdir, 'epoch-0003', 'model.json'))).toBe(true)
    expect(existsSync(join(ckdir, 'epoch-0003', 'optimizer.bin'))).toBe(true)
    expect(readdirSync(ckdir).sort()).toEqual(['epoch-0003', 'state.json'])
    expect(state.history).toHaveLength(3)
    const resumed = await trainModel({...args, train: trainConfig({epochs: 5}), checkpoint: {dir: ckdir, resume: true}})
    expect(resumed.epochs).toBe(5)
    expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5])
    expect(resumed.history[0].loss).toBe(first.history[0].loss)
    expect(await auc(resumed.weights)).toBeGreaterThan(0.8)
    // the optimizer state (Adam moments, step count, beta powers) is checkpointed too, so the resumed
    // run is the uninterrupted one, bit for bit
    const straight = await trainModel({...args, train: trainConfig({epochs: 5})})
    expect(bits(resumed.weights)).toBe(bits(straight.weights))
    expect(resumed.history.map((h) => h.loss)).toEqual(straight.history.map((h) => h.loss))
  })

  it('leaks no tensors across a train + scoring cycle', async () => {
    await trainModel({model: modelConfig('two_tower'), train: trainConfig({epochs: 1}), negatives: uniformNegatives, split, seed: 1})
    const before = tf.memory().numTensors
    for (const cfg of [modelConfig('mf'), modelConfig('neumf', {loss: 'bce'}), modelConfig('two_tower', {loss: 'bce'})]) {
      const r = await trainModel({model: cfg, train: trainConfig({epochs: 2, l2: 1e-4}), negatives: uniformNegatives, split, seed: 1})
      await auc(r.weights)
    }
    expect(tf.memory().numTensors).toBe(before)
  })
})
