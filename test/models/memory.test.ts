import {describe, expect, it} from 'vitest'

import {modelSchema} from '../../src/config/schema.js'
import {initWeights, modelRegistry, trainingBytes} from '../../src/models/registry.js'
import {thrown} from '../config/fixtures.js'

const model = (m: Record<string, unknown>) => modelSchema.parse(m)

describe('memory estimate before allocating weights', () => {
  it('factors: 100000000 is a config error that says how much memory it needs (no allocation, no RangeError)', () => {
    const err = thrown(() => initWeights(model({model: 'mf', factors: 100_000_000}), {numUsers: 1024, numItems: 1024}, 0))
    expect(err.exitCode).toBe(2)
    expect(err.code).toBe('model.too_large')
    // 2048 rows × 1e8 floats × 4 bytes × 4 (weights, gradients, two Adam moments) = 3.3 TB
    expect(err.message).toMatch(/model mf needs about 3\.3 TB/)
    expect(err.hint).toMatch(/factors/)
  })

  it('the estimate counts weights, gradients and both Adam moments', () => {
    const m = model({model: 'mf', factors: 8})
    expect(trainingBytes(m, {numUsers: 10, numItems: 20})).toBe((10 + 20) * 8 * 4 * 4)
    const n = model({model: 'neumf', factors: 4, mlp_layers: [8, 4]})
    // gmf 2×(u+i)×4, mlp embeddings (u+i)×4, dense 8×4+4, out (4+4)×1+1
    const params = 30 * 4 + 30 * 4 + 8 * 4 + 4 + 8 + 1
    expect(trainingBytes(n, {numUsers: 10, numItems: 20})).toBe(params * 16)
  })

  it('a small model still initialises', () => {
    const w = initWeights(model({model: 'two_tower', factors: 4, tower_layers: [4]}), {numUsers: 5, numItems: 6}, 1)
    expect(w.tensors.user_emb.shape).toEqual([5, 4])
  })
})

describe('ModelSpec.shapes', () => {
  it('names and sizes exactly the tensors init makes, for every model', () => {
    const dims = {numUsers: 7, numItems: 5}
    for (const m of [{model: 'pop'}, {model: 'mf', factors: 3}, {model: 'neumf', factors: 3, mlp_layers: [6, 4, 2]}, {model: 'neumf', mlp_layers: [4]}, {model: 'two_tower', factors: 3, tower_layers: [4, 2]}]) {
      const cfg = model(m)
      const w = initWeights(cfg, dims, 0)
      const made = Object.fromEntries(Object.entries(w.tensors).map(([k, t]) => [k, t.shape]))
      expect(modelRegistry[cfg.model].shapes(cfg, dims)).toEqual(made)
    }
  })
})

describe('the pre-work checks of a config with compression variants', () => {
  it('estimate memory instead of allocating a placeholder model', async () => {
    const {resolveConfigFromObject} = await import('../../src/config/load.js')
    const err = thrown(() => resolveConfigFromObject({models: [{model: 'mf', factors: 100_000_000}], compress: {variants: [{quantize: {dtype: 'int8'}}]}}))
    expect(err.exitCode).toBe(2)
    expect([err.message, ...err.details].join('\n')).toMatch(/needs about/)
  })
})
