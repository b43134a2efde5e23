import {describe, expect, it} from 'vitest'

import {modelSchema, negativesSchema, trainSchema, type ModelConfig} from '../../src/config/schema.js'
import {initWeights} from '../../src/models/registry.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import type {ModelWeights} from '../../src/models/types.js'
import {foldIn, updateIncrementally, type RawEvent} from '../../src/stream/update.js'

const model = (m: Record<string, unknown>): ModelConfig => modelSchema.parse(m)
const idmap = (u: number, i: number) => ({userIds: Array.from({length: u}, (_, k) => `u${k}`), itemIds: Array.from({length: i}, (_, k) => `i${k}`)})
const rows = (w: ModelWeights, name: string, from: number, to: number) => {
  const d = w.tensors[name].shape[1]
  return Array.from(w.tensors[name].data.subarray(from * d, to * d))
}

describe('foldIn', () => {
  it('grows every per-user and per-item table of mf, neumf, two_tower, sasrec and gru4rec; old rows kept, new rows as a fresh initialisation', async () => {
    const cases: [ModelConfig, string[], string[]][] = [
      [model({model: 'mf', factors: 4}), ['user_emb'], ['item_emb']],
      [model({model: 'neumf', factors: 4, mlp_layers: [8, 4]}), ['gmf_user', 'mlp_user'], ['gmf_item', 'mlp_item']],
      [model({model: 'two_tower', factors: 4, tower_layers: [4]}), ['user_emb'], ['item_emb']],
      [model({model: 'sasrec', hidden: 8, layers: 1, heads: 1, inner: 8, max_len: 5}), [], ['item_emb']],
      [model({model: 'gru4rec', factors: 4, hidden: 4, max_len: 5}), [], ['item_emb']],
    ]
    for (const [m, userTables, itemTables] of cases) {
      const w = initWeights(m, {numUsers: 3, numItems: 4}, 1)
      const f = foldIn(m, w, idmap(3, 4), ['u1', 'new-a', 'new-a', 'new-b'], ['i0', 'new-x'], 9)
      expect(f.newUsers).toEqual(['new-a', 'new-b'])
      expect(f.newItems).toEqual(['new-x'])
      expect(f.idmap.userIds).toEqual(['u0', 'u1', 'u2', 'new-a', 'new-b'])
      expect(f.idmap.itemIds).toEqual(['i0', 'i1', 'i2', 'i3', 'new-x'])
      expect([f.weights.numUsers, f.weights.numItems]).toEqual([5, 5])
      const fresh = initWeights(m, {numUsers: 5, numItems: 5}, 9)
      // sequential item tables have a padding row first: item k is row k + 1
      const sequential = m.model === 'sasrec' || m.model === 'gru4rec'
      const pad = sequential ? 1 : 0
      for (const t of userTables) {
        expect(f.weights.tensors[t].shape[0]).toBe(5)
        expect(rows(f.weights, t, 0, 3)).toEqual(rows(w, t, 0, 3))
        expect(rows(f.weights, t, 3, 5)).toEqual(rows(fresh, t, 3, 5))
      }
      for (const t of itemTables) {
        expect(f.weights.tensors[t].shape[0]).toBe(5 + pad)
        expect(rows(f.weights, t, 0, 4 + pad)).toEqual(rows(w, t, 0, 4 + pad))
        expect(rows(f.weights, t, 4 + pad, 5 + pad)).toEqual(rows(fresh, t, 4 + pad, 5 + pad))
      }
      // every other tensor is the same object, and the input is untouched
      for (const [name, t] of Object.entries(w.tensors)) if (![...userTables, ...itemTables].includes(name)) expect(f.weights.tensors[name]).toBe(t)
      expect(w.numUsers).toBe(3)
      // the grown model scores the new user against every item (no crash on a new id)
      const scorer = createTfjsScorer(f.weights, sequential ? {histories: {offsets: Int32Array.from([0, 2]), items: Int32Array.from([4, 0]), times: new Float64Array(2)}} : {})
      const s = await scorer.scoreUsers(Int32Array.from([sequential ? 0 : 4]))
      scorer.dispose()
      expect(s.length).toBe(5)
      expect(s.every(Number.isFinite)).toBe(true)
    }
  })

  it('returns the same weights when every id is known', () => {
    const m = model({model: 'mf', factors: 4})
    const w = initWeights(m, {numUsers: 2, numItems: 2}, 1)
    const f = foldIn(m, w, idmap(2, 2), ['u0'], ['i1'], 3)
    expect(f.weights).toBe(w)
    expect(f.newUsers).toEqual([])
  })
})

describe('updateIncrementally', () => {
  const train = trainSchema.parse({epochs: 3, lr: 0.05, batch_size: 64})
  const negatives = negativesSchema.parse({})
  const events: RawEvent[] = [
    {user: 'u0', item: 'i1', time: 3},
    {user: 'new', item: 'i2', time: 1},
    {user: 'new', item: 'fresh', time: 2},
    {user: 'u1', item: 'fresh', time: 4},
  ]

  it('folds in and trains on the batch: deterministic in the seed, and known rows move', async () => {
    const m = model({model: 'mf', factors: 4})
    const w = initWeights(m, {numUsers: 3, numItems: 4}, 1)
    const a = await updateIncrementally({model: m, train, negatives, weights: w, idmap: idmap(3, 4), events, seed: 5})
    const b = await updateIncrementally({model: m, train, negatives, weights: w, idmap: idmap(3, 4), events, seed: 5})
    expect(a.interrupted).toBe(false)
    // new ids in time order of their first event
    expect(a.newUsers).toEqual(['new'])
    expect(a.newItems).toEqual(['fresh'])
    expect(Array.from(a.weights.tensors.user_emb.data)).toEqual(Array.from(b.weights.tensors.user_emb.data))
    expect(a.weights.tensors.user_emb.shape).toEqual([4, 4])
    // u0 trained on (u0, i1): its row changed; u2 has no event: unchanged
    expect(rows(a.weights, 'user_emb', 0, 1)).not.toEqual(rows(w, 'user_emb', 0, 1))
    expect(rows(a.weights, 'user_emb', 2, 3)).toEqual(rows(w, 'user_emb', 2, 3))
    expect(a.seconds).toBeGreaterThan(0)
  })

  it('trains a sequential model on each batch user\'s context followed by its batch items', async () => {
    const m = model({model: 'sasrec', hidden: 8, layers: 1, heads: 1, inner: 8, max_len: 4, dropout: 0})
    const w = initWeights(m, {numUsers: 3, numItems: 4}, 1)
    const seen: string[] = []
    const r = await updateIncrementally({
      model: m,
      train,
      negatives,
      weights: w,
      idmap: idmap(3, 4),
      events,
      history: (u) => {
        seen.push(u)
        return u === 'u0' ? ['i3', 'unknown-item', 'i0'] : []
      },
      seed: 2,
    })
    expect(seen.sort()).toEqual(['new', 'u0', 'u1'])
    expect(r.weights.tensors.item_emb.shape).toEqual([6, 8])
    expect(rows(r.weights, 'item_emb', 1, 2)).not.toEqual(rows(w, 'item_emb', 1, 2))
  })

  it('adds the batch counts to pop', async () => {
    const m = model({model: 'pop'})
    const w: ModelWeights = {kind: 'pop', numUsers: 1, numItems: 3, params: {}, tensors: {item_pop: {shape: [3], data: Float32Array.from([5, 0, 1])}}}
    const r = await updateIncrementally({model: m, train, negatives, weights: w, idmap: idmap(1, 3), events, seed: 1})
    expect(r.idmap.itemIds).toEqual(['i0', 'i1', 'i2', 'fresh'])
    expect(Array.from(r.weights.tensors.item_pop.data)).toEqual([5, 1, 2, 2])
  })
})
