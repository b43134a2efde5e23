import {Matrix, inverse} from 'ml-matrix'
import {afterAll, describe, expect, it} from 'vitest'

import {maxAbsDiff, referenceScorer} from '../../src/compress/reference.js'
import {compressVariant, expandVariants} from '../../src/compress/registry.js'
import {fromWeights, toFloatWeights} from '../../src/compress/tensors.js'
import {configSchema, variantSchema} from '../../src/config/schema.js'
import type {Interactions} from '../../src/data/types.js'
import {interactions as inter} from './fixtures.js'
import {checkCatalogue, fitEase, fitItemKnn, invertSpd, invertSpdBlocked, MAX_ITEMS_EASE} from '../../src/models/itemitem.js'
import {initWeights} from '../../src/models/registry.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import type {Scorer} from '../../src/models/types.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {compareWithReference, createOnnxScorer} from '../../src/onnx/scorer.js'
import {Rng} from '../../src/rng.js'


/** 30 users × 12 items, 2-7 distinct items each */
function randomTrain(seed: number, U = 30, I = 12): Interactions {
  const rng = new Rng(seed)
  const pairs: [number, number][] = []
  for (let u = 0; u < U; u++) {
    const items = new Set<number>()
    const n = 2 + rng.int(6)
    while (items.size < n) items.add(rng.int(I))
    for (const i of items) pairs.push([u, i])
  }
  return inter(pairs, U, I)
}

const open: Scorer[] = []
afterAll(() => open.forEach((s) => s.dispose()))

describe('itemknn (RecBole ItemKNN)', () => {
  // u0 {0, 1}, u1 {0, 1, 2}, u2 {2}: columns i0 = i1 = [1,1,0], i2 = [0,1,1], every norm √2
  const train = inter([[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 2]], 3, 3)

  it('cosine over the binary matrix, self-similarity 0, top-k per target item (ties: lower index), shrink in the denominator', () => {
    const w = fitItemKnn(train, {numUsers: 3, numItems: 3}, {k: 1, shrink: 0})
    const S = w.tensors.item_emb.data // row j: weights of the sources for target j
    expect(S[0 * 3 + 1]).toBeCloseTo(2 / (2 + 1e-6), 6) // sim(1, 0)
    expect(S[0 * 3 + 2]).toBe(0) // k = 1: only i1 kept for i0
    expect(S[2 * 3 + 0]).toBeCloseTo(1 / (2 + 1e-6), 6) // i0 and i1 tie for i2: the lower index
    expect(S[2 * 3 + 1]).toBe(0)
    for (let j = 0; j < 3; j++) expect(S[j * 3 + j]).toBe(0)
    expect(Array.from(w.tensors.user_emb.data)).toEqual([1, 1, 0, 1, 1, 1, 0, 0, 1])
    const shrunk = fitItemKnn(train, {numUsers: 3, numItems: 3}, {k: 100, shrink: 1})
    expect(shrunk.tensors.item_emb.data[0 * 3 + 1]).toBeCloseTo(2 / 3, 6)
    expect(shrunk.tensors.item_emb.data[0 * 3 + 2]).toBeCloseTo(1 / 3, 6)
  })

  it('scores = interaction row × similarities (u2 scores i0 by sim(2, 0))', async () => {
    const w = fitItemKnn(train, {numUsers: 3, numItems: 3}, {k: 100, shrink: 0})
    const s = createTfjsScorer(w)
    open.push(s)
    const scores = await s.scoreUsers(Int32Array.of(2))
    expect(scores[0]).toBeCloseTo(0.5, 5)
    expect(scores[2]).toBe(0)
  })
})

describe('ease (Steck 2019)', () => {
  it('B = I − P·diagMat(1/diag(P)), P = (XᵀX + λI)⁻¹, against ml-matrix\'s inverse', () => {
    const train = randomTrain(3)
    const I = train.numItems
    const lambda = 5
    const w = fitEase(train, {numUsers: train.numUsers, numItems: I}, lambda)
    const G = Matrix.zeros(I, I)
    const rows = new Map<number, number[]>()
    for (let r = 0; r < train.length; r++) rows.set(train.user[r], [...(rows.get(train.user[r]) ?? []), train.item[r]])
    for (const items of rows.values()) for (const a of items) for (const b of items) G.set(a, b, G.get(a, b) + 1)
    for (let i = 0; i < I; i++) G.set(i, i, G.get(i, i) + lambda)
    const P = inverse(G)
    for (let i = 0; i < I; i++) {
      for (let j = 0; j < I; j++) {
        const b = i === j ? 0 : -P.get(i, j) / P.get(j, j) // B[i, j]
        expect(w.tensors.item_emb.data[j * I + i]).toBeCloseTo(b, 5) // item_emb = Bᵀ
      }
    }
    expect(w.params).toEqual({lambda})
  })

  it('the blocked float32 inverse agrees with the float64 Gauss-Jordan (blocks smaller than n, n not a multiple)', () => {
    const n = 37
    const rng = new Rng(9)
    const a = new Float64Array(n * n)
    for (let u = 0; u < 60; u++) {
      const items = Array.from({length: n}, (_, i) => i).filter(() => rng.next() < 0.2)
      for (const i of items) for (const j of items) a[i * n + j]++
    }
    for (let i = 0; i < n; i++) a[i * n + i] += 10
    const f64 = a.slice()
    invertSpd(f64, n)
    const f32 = invertSpdBlocked(a, n, 8)
    let scale = 0
    for (const v of f64) scale = Math.max(scale, Math.abs(v))
    expect(maxAbsDiff(f32, Float32Array.from(f64)) / scale).toBeLessThan(1e-5)
  })

  it('a catalogue above the stated size is a config error before anything is allocated', () => {
    let err: any
    try {
      checkCatalogue('ease', MAX_ITEMS_EASE + 1)
    } catch (e) {
      err = e
    }
    expect(err.code).toBe('model.too_large')
    expect(err.exitCode).toBe(2)
    expect(err.message).toContain(`at most ${MAX_ITEMS_EASE} items`)
  })
})

describe('item-item models through ONNX and compression', () => {
  const train = randomTrain(4)
  const dims = {numUsers: train.numUsers, numItems: train.numItems}
  const users = Int32Array.from({length: train.numUsers}, (_, u) => u)
  for (const model of ['itemknn', 'ease'] as const) {
    it(`${model}: the registry fits it from train; the ONNX graph (row × item-item matrix) scores as tfjs; int8 applies`, async () => {
      const cfg = configSchema.parse({models: [model === 'ease' ? {model, lambda: 3} : {model, k: 5}]}).models[0]
      const w = initWeights(cfg, dims, 1, train)
      expect(w.kind).toBe(model)
      expect(w.tensors.item_emb.shape).toEqual([12, 12])
      const onnx = await createOnnxScorer(exportOnnx(fromWeights(w)), w.numItems)
      open.push(onnx)
      const tfjs = createTfjsScorer(w)
      open.push(tfjs)
      expect(await compareWithReference(onnx, tfjs, users)).toBeLessThan(1e-5)
      const [spec] = expandVariants([variantSchema.parse({quantize: {dtype: 'int8'}})])
      const {model: q, report} = compressVariant(w, spec)
      expect(report.execution).toBe('int8-kernel')
      const int8 = await createOnnxScorer(exportOnnx(q), w.numItems)
      open.push(int8)
      // the int8 graph computes what the compressed weights' reference computes (up to activation quantization)
      const ref = referenceScorer(toFloatWeights(q))
      expect(await compareWithReference(int8, ref, users)).toBeLessThan(0.05)
    })
  }
})
