/**
 * The hand-written mf / neumf step (src/train/kernel-pair.ts) against the tfjs step it replaces:
 * from the same initial weights, on the same batches, both engines must reach the same weights and
 * losses within float32 tolerance (they differ only in the order of float sums), for every loss,
 * optimizer, L2 and pruning masks; and either engine resumes the other's checkpoint.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import type {ModelConfig, TrainConfig} from '../../src/config/schema.js'
import type {ModelWeights} from '../../src/models/types.js'
import {type TrainArgs, trainModel} from '../../src/train/train.js'
import {modelConfig, plantedSplit, trainConfig, uniformNegatives} from '../models/synthetic.js'

const split = plantedSplit(30, 24, 6, 1)

/** largest |a − b| / (tol + |b|) over every weight: ≤ 1 means equal within the tolerance */
function worst(a: ModelWeights, b: ModelWeights, tol: number): {name: string; ratio: number} {
  let out = {name: '', ratio: 0}
  for (const [name, t] of Object.entries(b.tensors)) {
    const x = a.tensors[name].data
    expect(a.tensors[name].shape).toEqual(t.shape)
    for (let q = 0; q < t.data.length; q++) {
      const r = Math.abs(x[q] - t.data[q]) / (tol + Math.abs(t.data[q]) * 1e-3)
      if (r > out.ratio) out = {name: `${name}[${q}]`, ratio: r}
    }
  }
  return out
}

let dir: string
beforeAll(async () => {
  await initBackend('wasm')
  dir = mkdtempSync(join(tmpdir(), 'rec-kernel-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('hand-written pair step = tfjs step', () => {
  const cases: {label: string; model: ModelConfig; train: TrainConfig; masks?: boolean}[] = [
    {label: 'mf bpr adam', model: modelConfig('mf'), train: trainConfig({epochs: 2})},
    {label: 'mf bce adam l2', model: modelConfig('mf', {loss: 'bce'}), train: trainConfig({epochs: 2, l2: 1e-3, negatives: 3})},
    {label: 'mf bpr sgd l2', model: modelConfig('mf'), train: trainConfig({epochs: 2, optimizer: 'sgd', lr: 0.5, l2: 1e-3})},
    {label: 'neumf bce adam', model: modelConfig('neumf', {loss: 'bce', mlp_layers: [16, 8, 4]}), train: trainConfig({epochs: 2, negatives: 4})},
    {label: 'neumf bce adam l2 masked', model: modelConfig('neumf', {loss: 'bce'}), train: trainConfig({epochs: 2, l2: 1e-3}), masks: true},
  ]
  for (const c of cases) {
    it(`${c.label}: same weights and losses within float32 tolerance`, async () => {
      // a fixed pruning mask on the first dense kernel and the item table
      const masks = c.masks
        ? () => ({'mlp_0.kernel': Uint8Array.from({length: 16 * 8}, (_, q) => (q % 3 === 0 ? 0 : 1)), gmf_item: Uint8Array.from({length: 24 * 8}, (_, q) => (q % 5 === 0 ? 0 : 1))})
        : undefined
      const args: TrainArgs = {model: c.model, train: c.train, negatives: uniformNegatives, split, seed: 7, ...(masks ? {masks} : {})}
      const fast = await trainModel(args)
      const ref = await trainModel({...args, engine: 'tfjs'})
      expect(fast.engine).toBe('kernels')
      expect(ref.engine).toBe('tfjs')
      const w = worst(fast.weights, ref.weights, 2e-5)
      expect(w.ratio, `${w.name}`).toBeLessThan(1)
      for (let e = 0; e < ref.history.length; e++) expect(fast.history[e].loss).toBeCloseTo(ref.history[e].loss, 5)
      if (masks) {
        const k = fast.weights.tensors['mlp_0.kernel'].data
        for (let q = 0; q < k.length; q += 3) expect(k[q]).toBe(0)
      }
    })
  }

  it('each engine resumes the other one\'s checkpoint', async () => {
    const base = {model: modelConfig('neumf', {loss: 'bce'}), negatives: uniformNegatives, split, seed: 4}
    const straight = await trainModel({...base, train: trainConfig({epochs: 3}), engine: 'tfjs'})
    for (const [first, second] of [['tfjs', 'auto'], ['auto', 'tfjs']] as const) {
      const ck = join(dir, `${first}-${second}`)
      await trainModel({...base, train: trainConfig({epochs: 1}), engine: first, checkpoint: {dir: ck}})
      const resumed = await trainModel({...base, train: trainConfig({epochs: 3}), engine: second, checkpoint: {dir: ck, resume: true}})
      expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3])
      const w = worst(resumed.weights, straight.weights, 2e-5)
      expect(w.ratio, `${first} → ${second}: ${w.name}`).toBeLessThan(1)
    }
  })
})
