import {describe, expect, it} from 'vitest'
import {flopsPerPair, paramCounts} from '../../src/compress/accounting.js'
import {lowrank, rankForEnergy, truncatedSvd} from '../../src/compress/lowrank.js'
import {referenceScores} from '../../src/compress/reference.js'
import {fromWeights, matmul, toFloatWeights} from '../../src/compress/tensors.js'
import {Rng} from '../../src/rng.js'
import {randomTensor, someUsers, tinyModel} from './fixtures.js'

const frob = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0))

describe('low-rank (truncated SVD)', () => {
  for (const shape of [[30, 12], [12, 30]]) {
    it(`reconstruction error of a ${shape.join('×')} matrix falls with rank and equals sqrt(Σ discarded σ²)`, () => {
      const w = randomTensor(new Rng(5), shape)
      let prev = Infinity
      for (let r = 1; r <= 12; r++) {
        const svd = truncatedSvd(w, r)
        expect(svd.a.shape).toEqual([shape[0], r])
        expect(svd.b.shape).toEqual([r, shape[1]])
        const err = frob(w.data, matmul(svd.a, svd.b).data)
        const expected = Math.sqrt(svd.sigma.slice(r).reduce((s, x) => s + x * x, 0))
        expect(Math.abs(err - expected)).toBeLessThan(1e-4 * (1 + frob(w.data, new Float32Array(w.data.length))))
        expect(err).toBeLessThan(prev + 1e-6)
        prev = err
      }
      expect(prev).toBeLessThan(1e-4) // full rank: exact
    })
  }

  it('energy picks the smallest rank keeping that fraction of Σσ²', () => {
    const sigma = [4, 2, 1, 1] // σ² = 16, 4, 1, 1 → cumulative 16/22, 20/22, 21/22, 1
    expect(rankForEnergy(sigma, 0.7)).toBe(1)
    expect(rankForEnergy(sigma, 16 / 22)).toBe(1)
    expect(rankForEnergy(sigma, 0.8)).toBe(2)
    expect(rankForEnergy(sigma, 0.95)).toBe(3)
    expect(rankForEnergy(sigma, 1)).toBe(4)
    // on a matrix of known rank 3 plus nothing else, energy 1 gives rank 3
    const rng = new Rng(2)
    const w = matmul(randomTensor(rng, [20, 3]), randomTensor(rng, [3, 10]))
    const c = lowrank(fromWeights({kind: 'mf', numUsers: 20, numItems: 10, params: {}, tensors: {user_emb: w, item_emb: randomTensor(rng, [10, 10])}}), {target: 'embeddings', energy: 0.999999})
    const u = c.model.tensors.user_emb
    expect(u.kind).toBe('lowrank')
    if (u.kind === 'lowrank') expect(u.a.shape[1]).toBe(3)
  })

  it('factorizes only where it saves, and FLOPs / params fall monotonically with rank', () => {
    const w = tinyModel('neumf', {users: 30, items: 20, d: 8, mlp: [16, 8]})
    const c = fromWeights(w)
    const r2 = lowrank(c, {target: 'all', rank: 2})
    expect(r2.model.tensors.gmf_user.kind).toBe('lowrank')
    expect(r2.model.tensors['out.kernel'].kind).toBe('float32') // [16, 1]: rank 2 saves nothing
    expect(r2.notes.join('\n')).toMatch(/out\.kernel .* kept dense/)
    const flops = [1, 2, 3, 4, 6].map((rank) => flopsPerPair(lowrank(c, {target: 'all', rank}).model))
    for (let i = 1; i < flops.length; i++) expect(flops[i]).toBeGreaterThanOrEqual(flops[i - 1])
    expect(flops[0]).toBeLessThan(flopsPerPair(c))
    const params = [1, 2, 4].map((rank) => paramCounts(lowrank(c, {target: 'all', rank}).model).total)
    expect(params[0]).toBeLessThan(params[1])
    expect(params[1]).toBeLessThan(params[2])
    // the factorized model is a valid model (reference forward runs, scores stay probabilities)
    const s = referenceScores(toFloatWeights(r2.model), someUsers(3))
    for (const v of s) expect(v).toBeGreaterThan(0)
  })
})
