import {describe, expect, it} from 'vitest'

import {negativesSchema, splitSchema, synthSchema} from '../../src/config/schema.js'
import {createNegativeSampler, userPositives} from '../../src/data/negatives.js'
import {splitInteractions} from '../../src/data/split.js'
import {generateSynthetic} from '../../src/data/synth.js'
import type {Interactions} from '../../src/data/types.js'
import {RecError} from '../../src/errors.js'
import {Rng} from '../../src/rng.js'

const data = generateSynthetic(synthSchema.parse({users: 200, items: 300, interactions: 8000, seed: 5}))
const split = splitInteractions(data, splitSchema.parse({method: 'leave_one_out'}), 1)

function small(rows: Array<[number, number]>, numUsers: number, numItems: number): Interactions {
  const n = rows.length
  return {
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    rating: new Float32Array(n).fill(1),
    timestamp: new Float64Array(n),
    length: n,
    numUsers,
    numItems,
    userIds: Array.from({length: numUsers}, (_, k) => `u${k}`),
    itemIds: Array.from({length: numItems}, (_, k) => `i${k}`),
  }
}

describe('userPositives', () => {
  it('builds sorted, de-duplicated per-user slices over several parts', () => {
    const a = small([[0, 5], [1, 2], [0, 1], [0, 5]], 3, 8)
    const b = small([[0, 3], [2, 7]], 3, 8)
    const p = userPositives([a, b], 3)
    expect(Array.from(p.itemsOf(0))).toEqual([1, 3, 5])
    expect(Array.from(p.itemsOf(1))).toEqual([2])
    expect(Array.from(p.itemsOf(2))).toEqual([7])
    expect(Array.from(p.offsets)).toEqual([0, 3, 4, 5])
    expect(p.has(0, 3)).toBe(true)
    expect(p.has(0, 4)).toBe(false)
    expect(p.has(1, 2)).toBe(true)
    expect(p.has(2, 2)).toBe(false)
    expect(p.count(0)).toBe(3)
  })

  it('agrees with a Set on real-sized data', () => {
    const p = userPositives([split.train], data.numUsers)
    const set = new Set<number>()
    for (let r = 0; r < split.train.length; r++) set.add(split.train.user[r] * data.numItems + split.train.item[r])
    for (let u = 0; u < data.numUsers; u += 7) for (let i = 0; i < data.numItems; i++) expect(p.has(u, i)).toBe(set.has(u * data.numItems + i))
  })
})

describe('createNegativeSampler', () => {
  it.each(['uniform', 'popularity'] as const)('%s never returns a positive (train or excluded parts)', (sampler) => {
    const s = createNegativeSampler(split.train, negativesSchema.parse({sampler}), new Rng(1), [split.valid, split.test])
    const pos = userPositives([split.train, split.valid, split.test], data.numUsers)
    const out = new Int32Array(50)
    for (let u = 0; u < data.numUsers; u++) {
      const got = s.sampleMany(u, 50, out)
      expect(got).toBe(out)
      for (const i of got) {
        expect(i >= 0 && i < data.numItems).toBe(true)
        expect(pos.has(u, i)).toBe(false)
      }
      expect(pos.has(u, s.sample(u))).toBe(false)
    }
  })

  it('is reproducible from the rng seed', () => {
    const cfg = negativesSchema.parse({sampler: 'popularity'})
    const a = createNegativeSampler(split.train, cfg, new Rng(9)).sampleMany(3, 100)
    const b = createNegativeSampler(split.train, cfg, new Rng(9)).sampleMany(3, 100)
    expect(Array.from(a)).toEqual(Array.from(b))
  })

  it('the popularity sampler favours popular items, the uniform one does not', () => {
    const counts = new Float64Array(data.numItems)
    for (let r = 0; r < split.train.length; r++) counts[split.train.item[r]]++
    const order = Array.from(counts.keys()).sort((a, b) => counts[b] - counts[a])
    const top = new Set(order.slice(0, Math.ceil(data.numItems / 10)))
    const share = (sampler: 'uniform' | 'popularity') => {
      const s = createNegativeSampler(split.train, negativesSchema.parse({sampler, exponent: 1}), new Rng(2))
      let hit = 0
      let n = 0
      for (let u = 0; u < data.numUsers; u++) for (const i of s.sampleMany(u, 100)) (hit += top.has(i) ? 1 : 0), n++
      return hit / n
    }
    const uni = share('uniform')
    const popular = share('popularity')
    expect(uni).toBeLessThan(0.13)
    expect(popular).toBeGreaterThan(2 * uni)
  })

  it('a user who has seen all but one item still gets it; a user who has seen every item is a data error', () => {
    const rows: Array<[number, number]> = []
    for (let i = 0; i < 50; i++) rows.push([0, i])
    for (let i = 0; i < 49; i++) rows.push([1, i])
    rows.push([2, 0])
    const train = small(rows, 3, 50)
    const s = createNegativeSampler(train, negativesSchema.parse({}), new Rng(1))
    expect(Array.from(s.sampleMany(1, 10))).toEqual(new Array(10).fill(49))
    expect(() => s.sample(0)).toThrow(RecError)
    expect(() => s.sample(0)).toThrow(/u0 has interacted with every item/)
    const p = createNegativeSampler(train, negativesSchema.parse({sampler: 'popularity'}), new Rng(1))
    expect(p.sample(1)).toBe(49)
    expect(p.sample(2)).not.toBe(0)
  })
})

describe('userPositives memo', () => {
  it('returns the same table for the same parts, and a new one for other parts or a changed length', () => {
    const inter = generateSynthetic(synthSchema.parse({users: 30, items: 20, interactions: 300, seed: 1}))
    const split = splitInteractions(inter, splitSchema.parse({}), 1)
    const a = userPositives([split.train, split.valid], inter.numUsers)
    expect(userPositives([split.train, split.valid], inter.numUsers)).toBe(a)
    expect(userPositives([split.train], inter.numUsers)).not.toBe(a)
    const longer = {...split.valid, length: split.valid.length - 1}
    const b = userPositives([split.train, longer], inter.numUsers)
    expect(b).not.toBe(a)
    expect(b.items.length).toBeLessThanOrEqual(a.items.length)
  })
})
