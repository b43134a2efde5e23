import {describe, expect, it} from 'vitest'

import {preprocessSchema, synthSchema} from '../../src/config/schema.js'
import {preprocess} from '../../src/data/preprocess.js'
import {generateSynthetic} from '../../src/data/synth.js'
import type {Interactions} from '../../src/data/types.js'

/** rows: [userId, itemId, rating, timestamp] with string ids */
function make(rows: Array<[string, string, number, number]>): Interactions {
  const users: string[] = []
  const items: string[] = []
  const idx = (list: string[], id: string) => (list.includes(id) ? list.indexOf(id) : list.push(id) - 1)
  const n = rows.length
  const x: Interactions = {user: new Int32Array(n), item: new Int32Array(n), rating: new Float32Array(n), timestamp: new Float64Array(n), length: n, numUsers: 0, numItems: 0, userIds: users, itemIds: items}
  rows.forEach(([u, i, r, t], k) => {
    x.user[k] = idx(users, u)
    x.item[k] = idx(items, i)
    x.rating[k] = r
    x.timestamp[k] = t
  })
  x.numUsers = users.length
  x.numItems = items.length
  return x
}

const rowsOf = (x: Interactions) =>
  Array.from({length: x.length}, (_, r) => [x.userIds[x.user[r]], x.itemIds[x.item[r]], x.rating[r], x.timestamp[r]])

const pre = (c: Record<string, unknown>) => preprocessSchema.parse(c)

const dupes = make([
  ['1', '10', 5, 100],
  ['1', '20', 3, 150],
  ['1', '10', 2, 300],
  ['2', '10', 4, 50],
  ['1', '10', 4, 200],
])

describe('preprocess: dedupe', () => {
  it('last keeps the latest row by time, in input order', () => {
    const {interactions, report} = preprocess(dupes, pre({dedupe: 'last'}))
    expect(rowsOf(interactions)).toEqual([
      ['1', '20', 3, 150],
      ['1', '10', 2, 300],
      ['2', '10', 4, 50],
    ])
    expect(report.duplicatesRemoved).toBe(2)
  })

  it('first keeps the earliest row by time', () => {
    const {interactions} = preprocess(dupes, pre({dedupe: 'first'}))
    expect(rowsOf(interactions)).toEqual([
      ['1', '10', 5, 100],
      ['1', '20', 3, 150],
      ['2', '10', 4, 50],
    ])
  })

  it('ties in time: last keeps the later row, first the earlier one', () => {
    const tie = make([
      ['1', '10', 1, 5],
      ['1', '10', 2, 5],
    ])
    expect(rowsOf(preprocess(tie, pre({dedupe: 'last'})).interactions)).toEqual([['1', '10', 2, 5]])
    expect(rowsOf(preprocess(tie, pre({dedupe: 'first'})).interactions)).toEqual([['1', '10', 1, 5]])
  })

  it('none keeps everything', () => {
    const {interactions, report} = preprocess(dupes, pre({dedupe: 'none'}))
    expect(interactions.length).toBe(5)
    expect(report.duplicatesRemoved).toBe(0)
  })
})

describe('preprocess: implicit conversion', () => {
  it('threshold keeps rating >= threshold (after dedupe: the latest opinion counts)', () => {
    const {interactions, report} = preprocess(dupes, pre({dedupe: 'last', implicit: {mode: 'threshold', threshold: 4}}))
    expect(rowsOf(interactions)).toEqual([['2', '10', 4, 50]])
    expect(report.belowThreshold).toBe(2)
    expect(report.positives).toBe(1)
    // ids re-densified: user "1" and item "20" are gone, the mapping is kept
    expect(interactions.userIds).toEqual(['2'])
    expect(interactions.itemIds).toEqual(['10'])
    expect(report.usersRemoved).toBe(1)
    expect(report.itemsRemoved).toBe(1)
  })

  it('mode all makes every row a positive', () => {
    const {report} = preprocess(dupes, pre({dedupe: 'none', implicit: {mode: 'all', threshold: 4}}))
    expect(report.positives).toBe(5)
  })

  it('nothing left is a data error', () => {
    expect(() => preprocess(dupes, pre({implicit: {mode: 'threshold', threshold: 10}}))).toThrow(/no interactions left/)
  })
})

describe('preprocess: k-core', () => {
  it('iterates until every user and item meets the minimum (a cascade)', () => {
    // a 3x3 complete block (users a,b,c x items x,y,z), plus user d who rated x, y and w; w only by d.
    // k=3: pass 1 drops item w (1 rating), so d has 2 rows and goes in pass 2; pass 3 finds nothing
    const rows: Array<[string, string, number, number]> = []
    for (const u of ['a', 'b', 'c']) for (const i of ['x', 'y', 'z']) rows.push([u, i, 5, 1])
    rows.push(['d', 'x', 5, 1], ['d', 'y', 5, 1], ['d', 'w', 5, 1])
    const {interactions, report} = preprocess(make(rows), pre({kcore: {user: 3, item: 3}}))
    expect(interactions.length).toBe(9)
    expect(interactions.userIds).toEqual(['a', 'b', 'c'])
    expect(interactions.itemIds).toEqual(['x', 'y', 'z'])
    expect(report.kcore).toEqual({rowsRemoved: 3, usersRemoved: 1, itemsRemoved: 1, iterations: 3})
  })

  it('the result is stable: running k-core again removes nothing', () => {
    const x = generateSynthetic(synthSchema.parse({users: 200, items: 150, interactions: 4000, seed: 2}))
    const cfg = pre({kcore: {user: 10, item: 10}})
    const once = preprocess(x, cfg)
    const uc = new Int32Array(once.interactions.numUsers)
    const ic = new Int32Array(once.interactions.numItems)
    for (let r = 0; r < once.interactions.length; r++) {
      uc[once.interactions.user[r]]++
      ic[once.interactions.item[r]]++
    }
    expect(Math.min(...uc)).toBeGreaterThanOrEqual(10)
    expect(Math.min(...ic)).toBeGreaterThanOrEqual(10)
    const twice = preprocess(once.interactions, cfg)
    expect(twice.report.kcore.rowsRemoved).toBe(0)
    expect(twice.interactions.length).toBe(once.interactions.length)
    expect(once.report.output.interactions).toBe(once.interactions.length)
  })
})
