import {describe, expect, it} from 'vitest'
import {flopsPerPair, paramCounts} from '../../src/compress/accounting.js'
import {pruneMagnitude, pruneStructured, sparsityAt, type PruneOneParams} from '../../src/compress/prune.js'
import {maxAbsDiff, referenceScores} from '../../src/compress/reference.js'
import {fromWeights, pruningMasks, storedShape, toFloatWeights} from '../../src/compress/tensors.js'
import type {ModelWeights} from '../../src/models/types.js'
import {someUsers, tinyModel} from './fixtures.js'

const P = (o: Partial<PruneOneParams>): PruneOneParams => ({method: 'magnitude', sparsity: 0.5, scope: 'layer', target: 'all', norm: 'l2', schedule: 'oneshot', ...o})
const zeros = (d: Float32Array) => d.reduce((n, v) => n + (v === 0 ? 1 : 0), 0)

describe('magnitude pruning', () => {
  it('per layer: exactly round(s·n) zeros in each targeted tensor; biases untouched', () => {
    const w = tinyModel('neumf')
    const {model} = pruneMagnitude(fromWeights(w), P({sparsity: 0.7}))
    for (const [name, s] of Object.entries(model.tensors)) {
      if (s.kind !== 'float32') throw new Error('float expected')
      const n = s.tensor.data.length
      if (name.endsWith('.bias')) expect(zeros(s.tensor.data)).toBe(0)
      else expect(zeros(s.tensor.data)).toBe(Math.round(0.7 * n))
    }
    expect(Object.keys(pruningMasks(model))).toContain('mlp_1.kernel')
  })

  it('global: exact fraction over all targeted tensors, one threshold', () => {
    const w = tinyModel('two_tower')
    const {model} = pruneMagnitude(fromWeights(w), P({sparsity: 0.9, scope: 'global', target: 'all'}))
    let total = 0
    let z = 0
    let maxPruned = 0
    let minKept = Infinity
    for (const [name, s] of Object.entries(model.tensors)) {
      if (name.endsWith('.bias') || s.kind !== 'float32') continue
      total += s.tensor.data.length
      z += zeros(s.tensor.data)
      for (const [i, v] of w.tensors[name].data.entries()) {
        if (s.tensor.data[i] === 0) maxPruned = Math.max(maxPruned, Math.abs(v))
        else minKept = Math.min(minKept, Math.abs(v))
      }
    }
    expect(z).toBe(Math.round(0.9 * total))
    expect(maxPruned).toBeLessThanOrEqual(minKept)
    const counts = paramCounts(model)
    expect(counts.total).toBe(paramCounts(fromWeights(w)).total)
    expect(counts.nonZero).toBe(counts.total - z)
  })

  it('target embeddings leaves dense kernels alone; flops unchanged (dense zeros)', () => {
    const w = tinyModel('neumf')
    const {model} = pruneMagnitude(fromWeights(w), P({sparsity: 0.5, target: 'embeddings'}))
    const k = model.tensors['mlp_0.kernel']
    expect(k.kind === 'float32' && zeros(k.tensor.data)).toBe(0)
    expect(flopsPerPair(model)).toBe(flopsPerPair(fromWeights(w)))
  })

  it('polynomial schedule follows TF-MOT PolynomialDecay', () => {
    const s = {initial: 0.1, final: 0.9, begin: 100, end: 1100}
    expect(sparsityAt(0, s)).toBeCloseTo(0.1, 12)
    expect(sparsityAt(100, s)).toBeCloseTo(0.1, 12)
    expect(sparsityAt(600, s)).toBeCloseTo(0.9 + (0.1 - 0.9) * 0.5 ** 3, 12)
    expect(sparsityAt(1100, s)).toBeCloseTo(0.9, 12)
    expect(sparsityAt(5000, s)).toBeCloseTo(0.9, 12)
    expect(sparsityAt(600, {...s, power: 1})).toBeCloseTo(0.5, 12)
    let prev = 0
    for (let step = 0; step <= 1200; step += 50) {
      const v = sparsityAt(step, s)
      expect(v).toBeGreaterThanOrEqual(prev)
      prev = v
    }
  })
})

/** zero the incoming weights and bias of some units so that removing them cannot change the scores */
function zeroUnits(w: ModelWeights, layer: string, units: number[]) {
  const k = w.tensors[`${layer}.kernel`]
  const [rows, cols] = k.shape
  for (const j of units) {
    for (let i = 0; i < rows; i++) k.data[i * cols + j] = 0
    w.tensors[`${layer}.bias`].data[j] = 0
  }
}

describe('structured pruning', () => {
  it('neumf: removing units with all-zero incoming weights keeps scores identical; layers and their consumers shrink', () => {
    const w = tinyModel('neumf', {mlp: [16, 8]})
    zeroUnits(w, 'mlp_0', [1, 3, 5, 7, 9, 11, 13, 15])
    zeroUnits(w, 'mlp_1', [0, 2, 4, 6])
    const {model} = pruneStructured(fromWeights(w), P({method: 'structured', sparsity: 0.5, target: 'mlp'}))
    expect(storedShape(model.tensors['mlp_0.kernel'])).toEqual([16, 8])
    expect(storedShape(model.tensors['mlp_0.bias'])).toEqual([8])
    expect(storedShape(model.tensors['mlp_1.kernel'])).toEqual([8, 4]) // inputs shrank too
    expect(storedShape(model.tensors['out.kernel'])).toEqual([8 + 4, 1]) // last MLP layer feeds out.kernel rows
    const users = someUsers(6)
    expect(maxAbsDiff(referenceScores(toFloatWeights(model), users), referenceScores(w, users))).toBeLessThan(1e-6)
  })

  it('two_tower: inner units shrink, the last tower layer keeps its width; scores identical', () => {
    const w = tinyModel('two_tower', {tower: [16, 8]})
    zeroUnits(w, 'user_tower_0', [0, 1, 2, 3, 4, 5, 6, 7])
    zeroUnits(w, 'item_tower_0', [8, 9, 10, 11, 12, 13, 14, 15])
    const {model} = pruneStructured(fromWeights(w), P({method: 'structured', sparsity: 0.5, target: 'mlp'}))
    expect(storedShape(model.tensors['user_tower_0.kernel'])).toEqual([8, 8])
    expect(storedShape(model.tensors['user_tower_1.kernel'])).toEqual([8, 8])
    const users = someUsers(6)
    expect(maxAbsDiff(referenceScores(toFloatWeights(model), users), referenceScores(w, users))).toBeLessThan(1e-6)
  })

  it('embedding dimensions: mf drops the same dims from both tables; neumf GMF dims drop out.kernel rows', () => {
    const w = tinyModel('mf', {d: 8})
    for (const t of [w.tensors.user_emb]) for (let i = 0; i < 30; i++) for (const j of [2, 5]) t.data[i * 8 + j] = 0
    const {model} = pruneStructured(fromWeights(w), P({method: 'structured', sparsity: 0.25, target: 'embeddings'}))
    expect(storedShape(model.tensors.user_emb)).toEqual([30, 6])
    expect(storedShape(model.tensors.item_emb)).toEqual([20, 6])
    const users = someUsers(5)
    expect(maxAbsDiff(referenceScores(toFloatWeights(model), users), referenceScores(w, users))).toBeLessThan(1e-6)

    const n = tinyModel('neumf', {d: 8, mlp: [16, 8]})
    const nm = pruneStructured(fromWeights(n), P({method: 'structured', sparsity: 0.5, target: 'embeddings'})).model
    expect(storedShape(nm.tensors.gmf_user)).toEqual([30, 4])
    expect(storedShape(nm.tensors.gmf_item)).toEqual([20, 4])
    expect(storedShape(nm.tensors.mlp_user)).toEqual([30, 4])
    expect(storedShape(nm.tensors['mlp_0.kernel'])).toEqual([8, 16])
    expect(storedShape(nm.tensors['out.kernel'])).toEqual([4 + 8, 1])
    expect(referenceScores(toFloatWeights(nm), someUsers(2)).length).toBe(40)
  })

  it('FLOPs per pair and params fall monotonically with the kept units', () => {
    const w = tinyModel('neumf', {mlp: [32, 16, 8]})
    const sp = [0, 0.25, 0.5, 0.75]
    const models = sp.map((s) => pruneStructured(fromWeights(w), P({method: 'structured', sparsity: s, target: 'all'})).model)
    for (let i = 1; i < models.length; i++) {
      expect(flopsPerPair(models[i])).toBeLessThan(flopsPerPair(models[i - 1]))
      expect(paramCounts(models[i]).total).toBeLessThan(paramCounts(models[i - 1]).total)
    }
  })
})
