import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {RecError} from '../../src/errors.js'
import {flopsBreakdown, flopsPerPair, loadModel, modelBytes, paramCount, saveModel} from '../../src/models/io.js'
import {modelFromWeights} from '../../src/models/model.js'
import {getModelSpec, initWeights, knownModels, modelRegistry} from '../../src/models/registry.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import type {ModelWeights} from '../../src/models/types.js'
import {modelConfig, plantedSplit} from './synthetic.js'

// Tests run on the wasm backend (the one `auto` picks here); it needs our UnsortedSegmentSum kernel.
const TOL = 1e-5
const dims = {numUsers: 13, numItems: 17}
const split = plantedSplit(60, 40)

function sameWeights(a: ModelWeights, b: ModelWeights): void {
  expect(b.kind).toBe(a.kind)
  expect(b.numUsers).toBe(a.numUsers)
  expect(b.numItems).toBe(a.numItems)
  expect(b.params).toEqual(a.params)
  expect(Object.keys(b.tensors).sort()).toEqual(Object.keys(a.tensors).sort())
  for (const [name, t] of Object.entries(a.tensors)) {
    expect(b.tensors[name].shape, name).toEqual(t.shape)
    expect(Buffer.from(b.tensors[name].data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true)
  }
}

const cases = [
  {label: 'mf', cfg: modelConfig('mf')},
  {label: 'neumf', cfg: modelConfig('neumf')},
  {label: 'neumf without hidden layers', cfg: modelConfig('neumf', {mlp_layers: [6]})},
  {label: 'two_tower', cfg: modelConfig('two_tower')},
  {label: 'pop', cfg: modelConfig('pop')},
]

let dir: string
beforeAll(async () => {
  const info = await initBackend('wasm')
  expect(info.name).toBe('wasm')
  dir = mkdtempSync(join(tmpdir(), 'rec-models-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('registry', () => {
  it('knows the ten models, with metadata', () => {
    expect(knownModels).toEqual(['pop', 'mf', 'neumf', 'two_tower', 'sasrec', 'gru4rec', 'itemknn', 'ease', 'gmf', 'mlp'])
    expect(knownModels.filter((k) => !modelRegistry[k].trainable)).toEqual(['pop', 'itemknn', 'ease'])
    expect(knownModels.filter((k) => modelRegistry[k].sequential)).toEqual(['sasrec', 'gru4rec'])
    expect(modelRegistry.sasrec.losses).toEqual(['ce', 'bce'])
    expect(modelRegistry.gru4rec.losses).toEqual(['ce'])
    expect(modelRegistry.pop.trainable).toBe(false)
    expect(modelRegistry.neumf.losses).toEqual(['bce'])
    expect(modelRegistry.mf.losses).toContain('bpr')
    expect(modelRegistry.neumf.probabilities).toBe(true)
    expect(modelRegistry.mf.needsNegatives).toBe(true)
  })

  it('fails on an unknown name with the list of known ones (config error)', () => {
    let err: unknown
    try {
      getModelSpec('svd++')
    } catch (error) {
      err = error
    }
    expect(err).toBeInstanceOf(RecError)
    expect((err as RecError).exitCode).toBe(2)
    expect((err as RecError).message).toContain('svd++')
    expect((err as RecError).message).toContain('pop, mf, neumf, two_tower')
    expect(() => getModelSpec('toString')).toThrow(/known models/)
  })

  it('initialises deterministically from the seed', () => {
    for (const c of cases) {
      sameWeights(initWeights(c.cfg, dims, 7, split.train), initWeights(c.cfg, dims, 7, split.train))
    }
    const a = initWeights(modelConfig('mf'), dims, 7)
    const b = initWeights(modelConfig('mf'), dims, 8)
    expect(a.tensors.user_emb.data).not.toEqual(b.tensors.user_emb.data)
  })

  it('uses the tensor names and shapes of the contract', () => {
    const n = initWeights(modelConfig('neumf', {factors: 8, mlp_layers: [16, 8, 4]}), dims, 1)
    const shapes = Object.fromEntries(Object.entries(n.tensors).map(([k, t]) => [k, t.shape]))
    expect(shapes).toEqual({
      gmf_user: [13, 8],
      gmf_item: [17, 8],
      mlp_user: [13, 8],
      mlp_item: [17, 8],
      'mlp_0.kernel': [16, 8],
      'mlp_0.bias': [8],
      'mlp_1.kernel': [8, 4],
      'mlp_1.bias': [4],
      'out.kernel': [12, 1],
      'out.bias': [1],
    })
    const t = initWeights(modelConfig('two_tower', {factors: 8, tower_layers: [16, 4]}), dims, 1)
    expect(Object.keys(t.tensors).sort()).toEqual(
      ['item_emb', 'item_tower_0.bias', 'item_tower_0.kernel', 'item_tower_1.bias', 'item_tower_1.kernel', 'user_emb', 'user_tower_0.bias', 'user_tower_0.kernel', 'user_tower_1.bias', 'user_tower_1.kernel'].sort(),
    )
    expect(t.tensors['user_tower_1.kernel'].shape).toEqual([16, 4])
    expect(() => initWeights(modelConfig('neumf', {mlp_layers: [15, 8]}), dims, 1)).toThrow(/even/)
  })
})

describe('scorer', () => {
  for (const c of cases) {
    it(`${c.label}: scoreUsers is [users × items] and agrees with scorePairs`, async () => {
      const before = tf.memory().numTensors
      const w = initWeights(c.cfg, dims, 3, split.train)
      // random-ish weights so that scores are not all ~0
      for (const t of Object.values(w.tensors)) for (let k = 0; k < t.data.length; k++) t.data[k] += Math.sin(k * 1.7 + t.data.length) * 0.3
      for (const options of [{}, {batchItems: 5, batchUsers: 2, maxPairs: 11}]) {
        const scorer = createTfjsScorer(w, options)
        expect(scorer.numItems).toBe(dims.numItems)
        expect(scorer.runtime).toBe('wasm')
        expect(scorer.probabilities).toBe(c.cfg.model === 'neumf')
        const users = Int32Array.from([0, 5, 12, 5])
        const all = await scorer.scoreUsers(users)
        expect(all.length).toBe(users.length * dims.numItems)
        const pu = new Int32Array(users.length * dims.numItems)
        const pi = new Int32Array(users.length * dims.numItems)
        for (let b = 0; b < users.length; b++) for (let i = 0; i < dims.numItems; i++) [pu[b * dims.numItems + i], pi[b * dims.numItems + i]] = [users[b], i]
        const pairs = await scorer.scorePairs(pu, pi)
        let maxDiff = 0
        for (let k = 0; k < all.length; k++) maxDiff = Math.max(maxDiff, Math.abs(all[k] - pairs[k]))
        expect(maxDiff).toBeLessThan(TOL)
        expect(new Set(all).size).toBeGreaterThan(c.cfg.model === 'pop' ? 1 : dims.numItems)
        scorer.dispose()
      }
      expect(tf.memory().numTensors).toBe(before)
    })
  }

  it('mf scores are dot products of the embeddings', async () => {
    const w = initWeights(modelConfig('mf', {factors: 4}), dims, 9)
    const scorer = createTfjsScorer(w)
    const s = await scorer.scorePairs(Int32Array.of(2), Int32Array.of(3))
    let dot = 0
    for (let k = 0; k < 4; k++) dot += w.tensors.user_emb.data[2 * 4 + k] * w.tensors.item_emb.data[3 * 4 + k]
    expect(s[0]).toBeCloseTo(dot, 6)
    scorer.dispose()
  })
})

describe('weights', () => {
  for (const c of cases) {
    it(`${c.label}: toWeights(fromWeights(w)) is w`, () => {
      const before = tf.memory().numTensors
      const w = initWeights(c.cfg, dims, 5, split.train)
      const m = modelFromWeights(w)
      sameWeights(w, m.toWeights())
      m.dispose()
      expect(tf.memory().numTensors).toBe(before)
    })

    it(`${c.label}: save / load round trip`, () => {
      const w = initWeights(c.cfg, dims, 5, split.train)
      const d = join(dir, c.label.replaceAll(' ', '_'))
      const idmap = {userIds: split.train.userIds.slice(0, dims.numUsers), itemIds: split.train.itemIds.slice(0, dims.numItems)}
      saveModel(d, w, idmap)
      const back = loadModel(d)
      sameWeights(w, back.weights)
      expect(back.idmap).toEqual(idmap)
      const json = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'))
      expect(json.rec.kind).toBe(c.cfg.model)
      expect(json.weightsManifest[0].paths).toEqual(['weights.bin'])
      expect(json.weightsManifest[0].weights[0]).toHaveProperty('dtype', 'float32')
      const params = paramCount(w).total
      expect(modelBytes(d)).toBe(params * 4 + readFileSync(join(d, 'model.json')).length)
    })
  }

  it('a truncated weights.bin or a broken model.json is a data error naming the file', () => {
    const w = initWeights(modelConfig('mf'), dims, 5)
    const d = join(dir, 'corrupt')
    saveModel(d, w)
    const bin = readFileSync(join(d, 'weights.bin'))
    writeFileSync(join(d, 'weights.bin'), bin.subarray(0, bin.length - 10))
    const expectCorrupt = (file: string) => {
      try {
        loadModel(d)
        expect.unreachable()
      } catch (error) {
        expect(error).toBeInstanceOf(RecError)
        expect((error as RecError).code).toBe('model.corrupt')
        expect((error as RecError).exitCode).toBe(3)
        expect((error as RecError).message).toContain(file)
      }
    }
    expectCorrupt('weights.bin')
    writeFileSync(join(d, 'weights.bin'), bin)
    expect(() => loadModel(d)).not.toThrow()
    writeFileSync(join(d, 'model.json'), '{"format": "rec-weights", "rec": ')
    expectCorrupt('model.json')
  })

  it('counts parameters and FLOPs per pair', () => {
    const mf = initWeights(modelConfig('mf', {factors: 8}), dims, 5)
    expect(paramCount(mf)).toEqual({total: (13 + 17) * 8, nonZero: (13 + 17) * 8})
    expect(flopsPerPair(mf)).toBe(16)
    const n = initWeights(modelConfig('neumf', {factors: 8, mlp_layers: [16, 8, 4]}), dims, 5)
    // GMF product 8 + MLP 2·16·8 + 2·8·4 + output 2·(8+4)
    expect(flopsPerPair(n)).toBe(8 + 256 + 64 + 24)
    expect(paramCount(n).total - paramCount(n).nonZero).toBe(8 + 4 + 1) // zero biases
    const t = initWeights(modelConfig('two_tower', {factors: 8, tower_layers: [16, 4]}), dims, 5)
    expect(flopsBreakdown(t)).toEqual({perPair: 8, perUser: 2 * 8 * 16 + 2 * 16 * 4, perItem: 2 * 8 * 16 + 2 * 16 * 4})
    expect(flopsPerPair(initWeights(modelConfig('pop'), dims, 5, split.train))).toBe(0)
  })
})
