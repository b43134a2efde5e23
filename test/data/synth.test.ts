import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {dataSchema, synthSchema} from '../../src/config/schema.js'
import {readInteractions} from '../../src/data/read.js'
import {SYNTH_EPOCH, SYNTH_SPAN, generateSynthetic, writeSyntheticCsv} from '../../src/data/synth.js'
import type {Interactions} from '../../src/data/types.js'

const dir = mkdtempSync(join(tmpdir(), 'rec-synth-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const synth = (c: Record<string, unknown>) => generateSynthetic(synthSchema.parse(c))

function arrays(x: Interactions) {
  return [x.user, x.item, x.rating, x.timestamp].map((a) => Array.from(a.subarray(0, x.length)))
}

describe('generateSynthetic', () => {
  const base = {users: 600, items: 500, interactions: 12000, seed: 3}
  const a = synth(base)

  it('is deterministic in the seed', () => {
    const b = synth(base)
    expect(arrays(b)).toEqual(arrays(a))
    expect(b.userIds).toEqual(a.userIds)
    expect(b.itemIds).toEqual(a.itemIds)
    const c = synth({...base, seed: 4})
    expect(arrays(c)).not.toEqual(arrays(a))
  })

  it('gives exactly the requested number of interactions, >= 5 per user, no duplicate pairs', () => {
    expect(a.length).toBe(12000)
    expect(a.numUsers).toBe(600)
    const perUser = new Int32Array(a.numUsers)
    const pairs = new Set<number>()
    for (let r = 0; r < a.length; r++) {
      perUser[a.user[r]]++
      pairs.add(a.user[r] * a.numItems + a.item[r])
    }
    expect(Math.min(...perUser)).toBeGreaterThanOrEqual(5)
    expect(pairs.size).toBe(a.length)
    // heavy-tailed activity: the busiest user has many times the median
    const sorted = [...perUser].sort((x, y) => x - y)
    expect(sorted.at(-1)!).toBeGreaterThan(4 * sorted[300])
  })

  it('has power-law popularity: the top 10% of items hold more than 30% of interactions', () => {
    const counts = new Int32Array(a.numItems)
    for (let r = 0; r < a.length; r++) counts[a.item[r]]++
    const sorted = [...counts].sort((x, y) => y - x)
    const top = sorted.slice(0, Math.ceil(a.numItems / 10)).reduce((s, c) => s + c, 0)
    expect(top / a.length).toBeGreaterThan(0.3)
  })

  it('ratings are 1-5 when explicit, 1 when implicit; timestamps increase per user within the span', () => {
    for (let r = 0; r < a.length; r++) {
      expect(Number.isInteger(a.rating[r]) && a.rating[r] >= 1 && a.rating[r] <= 5).toBe(true)
      expect(a.timestamp[r] >= SYNTH_EPOCH && a.timestamp[r] < SYNTH_EPOCH + SYNTH_SPAN).toBe(true)
      if (r > 0 && a.user[r] === a.user[r - 1]) expect(a.timestamp[r]).toBeGreaterThanOrEqual(a.timestamp[r - 1])
    }
    const hist = new Set(Array.from(a.rating))
    expect(hist.size).toBeGreaterThanOrEqual(4)
    const imp = synth({...base, explicit: false})
    expect(new Set(Array.from(imp.rating))).toEqual(new Set([1]))
  })

  it('copes with heavy users (more interactions than a quarter of the items) and infeasible totals', () => {
    const dense = synth({users: 10, items: 20, interactions: 150, seed: 1})
    expect(dense.length).toBe(150)
    const full = synth({users: 4, items: 6, interactions: 1000, seed: 1})
    expect(full.length).toBe(24) // every pair once
    const few = synth({users: 10, items: 50, interactions: 20, seed: 1})
    expect(few.length).toBe(50) // 5 per user wins over the requested 20
  })

  it('is fast: 1e5 interactions well under a second', () => {
    const t = performance.now()
    const x = synth({users: 2000, items: 1000, interactions: 100000, seed: 9})
    expect(x.length).toBe(100000)
    expect(performance.now() - t).toBeLessThan(2000)
  })
})

describe('writeSyntheticCsv', () => {
  it('writes user,item,rating,timestamp with a header that reads back to the same interactions', async () => {
    const cfg = synthSchema.parse({users: 50, items: 40, interactions: 800, seed: 5})
    const out = join(dir, 'nested', 'synth.csv')
    const r = writeSyntheticCsv(cfg, out)
    const text = readFileSync(out)
    expect(text.toString('utf8').split('\n')[0]).toBe('user,item,rating,timestamp')
    expect(r.sha256).toBe(createHash('sha256').update(text).digest('hex'))
    expect(r).toMatchObject({out, users: 50, interactions: 800, bytes: text.length})
    const back = await readInteractions(dataSchema.parse({format: 'delimited', path: out, header: true, columns: {user: 'user', item: 'item', rating: 'rating', timestamp: 'timestamp'}}))
    const mem = generateSynthetic(cfg)
    expect(arrays(back.interactions)).toEqual(arrays(mem))
    expect(back.interactions.userIds).toEqual(mem.userIds)
    expect(back.interactions.itemIds).toEqual(mem.itemIds)
  })
})
