import {describe, expect, it} from 'vitest'

import {splitSchema, synthSchema} from '../../src/config/schema.js'
import {splitInteractions, type SplitResult} from '../../src/data/split.js'
import {generateSynthetic} from '../../src/data/synth.js'
import type {Interactions} from '../../src/data/types.js'

const data = generateSynthetic(synthSchema.parse({users: 300, items: 400, interactions: 9000, seed: 11}))
const cfg = (c: Record<string, unknown>) => splitSchema.parse(c)

const key = (x: Interactions, r: number) => x.user[r] * x.numItems + x.item[r]
const arrays = (x: Interactions) => [x.user, x.item, x.rating, x.timestamp].map((a) => Array.from(a.subarray(0, x.length)))

function checkInvariants(s: SplitResult, total: number) {
  const seen = new Map<number, string>()
  const parts = {train: s.train, valid: s.valid, test: s.test}
  for (const [name, p] of Object.entries(parts)) {
    expect(p.numUsers).toBe(data.numUsers)
    expect(p.numItems).toBe(data.numItems)
    expect(p.userIds).toBe(data.userIds)
    for (let r = 0; r < p.length; r++) {
      const k = key(p, r)
      expect(seen.has(k) ? `${seen.get(k)}+${name}` : name).toBe(name) // no pair in two parts
      seen.set(k, name)
    }
  }
  const trainUsers = new Set(Array.from(s.train.user.subarray(0, s.train.length)))
  for (const p of [s.valid, s.test]) for (let r = 0; r < p.length; r++) expect(trainUsers.has(p.user[r])).toBe(true)
  expect(s.train.length + s.valid.length + s.test.length + s.stats.coldRowsDropped).toBe(total)
  expect(s.stats).toMatchObject({train: s.train.length, valid: s.valid.length, test: s.test.length})
}

const maxTime = (x: Interactions) => Math.max(...Array.from(x.timestamp.subarray(0, x.length)))
const minTime = (x: Interactions) => Math.min(...Array.from(x.timestamp.subarray(0, x.length)))

function perUserTimes(x: Interactions, agg: 'min' | 'max'): Map<number, number> {
  const m = new Map<number, number>()
  for (let r = 0; r < x.length; r++) {
    const u = x.user[r]
    const t = x.timestamp[r]
    const cur = m.get(u)
    if (cur === undefined || (agg === 'max' ? t > cur : t < cur)) m.set(u, t)
  }
  return m
}

describe('splitInteractions', () => {
  const methods = [
    {method: 'random', scope: 'global'},
    {method: 'random', scope: 'per_user'},
    {method: 'temporal', scope: 'global'},
    {method: 'temporal', scope: 'per_user'},
    {method: 'leave_one_out', order: 'latest'},
    {method: 'leave_one_out', order: 'random'},
  ]

  it.each(methods)('%o: disjoint parts, valid/test users have train history, deterministic', (m) => {
    const c = cfg(m)
    const a = splitInteractions(data, c, 42)
    checkInvariants(a, data.length)
    const b = splitInteractions(data, c, 42)
    expect(arrays(b.train)).toEqual(arrays(a.train))
    expect(arrays(b.valid)).toEqual(arrays(a.valid))
    expect(arrays(b.test)).toEqual(arrays(a.test))
    if (m.method !== 'temporal' && m.order !== 'latest') {
      const c2 = splitInteractions(data, c, 43)
      expect(arrays(c2.test)).not.toEqual(arrays(a.test))
    }
  })

  it.each([
    {method: 'random', scope: 'global'},
    {method: 'random', scope: 'per_user'},
    {method: 'temporal', scope: 'global'},
    {method: 'temporal', scope: 'per_user'},
  ])('%o: ratios approximately respected', (m) => {
    const s = splitInteractions(data, cfg({...m, ratios: [0.7, 0.1, 0.2]}), 1)
    const n = data.length
    expect(Math.abs(s.train.length / n - 0.7)).toBeLessThan(0.03)
    // rows of users without train history are dropped afterwards (temporal global: late joiners)
    expect(Math.abs((s.valid.length + s.test.length + s.stats.coldRowsDropped) / n - 0.3)).toBeLessThan(0.03)
    if (m.scope === 'per_user') expect(s.stats.coldRowsDropped).toBe(0)
    if (m.method === 'random') expect(Math.abs(s.test.length / n - 0.2)).toBeLessThan(0.03)
  })

  it('temporal global: no train event later than a valid or test event', () => {
    const s = splitInteractions(data, cfg({method: 'temporal', scope: 'global'}), 1)
    expect(maxTime(s.train)).toBeLessThanOrEqual(minTime(s.valid))
    expect(maxTime(s.valid)).toBeLessThanOrEqual(minTime(s.test))
  })

  it('temporal per_user: within each user, train <= valid <= test in time', () => {
    const s = splitInteractions(data, cfg({method: 'temporal', scope: 'per_user'}), 1)
    const trainMax = perUserTimes(s.train, 'max')
    const validMin = perUserTimes(s.valid, 'min')
    const validMax = perUserTimes(s.valid, 'max')
    const testMin = perUserTimes(s.test, 'min')
    for (const [u, t] of testMin) {
      expect(trainMax.get(u)!).toBeLessThanOrEqual(t)
      if (validMax.has(u)) expect(validMax.get(u)!).toBeLessThanOrEqual(t)
    }
    for (const [u, t] of validMin) expect(trainMax.get(u)!).toBeLessThanOrEqual(t)
  })

  it('per_user rounding keeps small users in train', () => {
    // 5 users with 1..5 rows; 0.5/0.25/0.25 would round a 1- or 2-row user to no train
    const rows: number[][] = []
    for (let u = 0; u < 5; u++) for (let k = 0; k <= u; k++) rows.push([u, k, 1, k])
    const n = rows.length
    const x: Interactions = {
      user: Int32Array.from(rows.map((r) => r[0])),
      item: Int32Array.from(rows.map((r) => r[1])),
      rating: Float32Array.from(rows.map((r) => r[2])),
      timestamp: Float64Array.from(rows.map((r) => r[3])),
      length: n,
      numUsers: 5,
      numItems: 5,
      userIds: ['a', 'b', 'c', 'd', 'e'],
      itemIds: ['1', '2', '3', '4', '5'],
    }
    const s = splitInteractions(x, cfg({method: 'random', scope: 'per_user', ratios: [0.5, 0.25, 0.25]}), 3)
    const trainCount = new Int32Array(5)
    for (let r = 0; r < s.train.length; r++) trainCount[s.train.user[r]]++
    expect(Array.from(trainCount).every((c) => c >= 1)).toBe(true)
    expect(s.stats.coldUsersDropped).toBe(0)
  })

  it('leave_one_out: 1 test and 1 valid per user with >= 3 rows, the latest ones; short users stay in train', () => {
    const s = splitInteractions(data, cfg({method: 'leave_one_out', order: 'latest'}), 1)
    expect(s.test.length).toBe(data.numUsers) // every synthetic user has >= 5 rows
    expect(s.valid.length).toBe(data.numUsers)
    const trainMax = perUserTimes(s.train, 'max')
    for (let r = 0; r < s.test.length; r++) expect(trainMax.get(s.test.user[r])!).toBeLessThanOrEqual(s.test.timestamp[r])

    const tiny: Interactions = {
      user: Int32Array.from([0, 0, 1, 1, 1]),
      item: Int32Array.from([0, 1, 0, 1, 2]),
      rating: new Float32Array(5).fill(1),
      timestamp: Float64Array.from([1, 2, 1, 2, 3]),
      length: 5,
      numUsers: 2,
      numItems: 3,
      userIds: ['a', 'b'],
      itemIds: ['x', 'y', 'z'],
    }
    const t = splitInteractions(tiny, cfg({method: 'leave_one_out'}), 1)
    expect(t.stats.shortUsersTrainOnly).toBe(1)
    expect(t.train.length).toBe(3)
    expect(Array.from(t.test.item)).toEqual([2])
    expect(Array.from(t.valid.item)).toEqual([1])
  })

  it('global random split drops valid/test rows of users without train rows and counts them', () => {
    // user 1 has a single row: with a global random split it often lands outside train
    let dropped = 0
    for (let seed = 0; seed < 20; seed++) {
      const x: Interactions = {
        user: Int32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1]),
        item: Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 0]),
        rating: new Float32Array(9).fill(1),
        timestamp: Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]),
        length: 9,
        numUsers: 2,
        numItems: 8,
        userIds: ['a', 'b'],
        itemIds: ['0', '1', '2', '3', '4', '5', '6', '7'],
      }
      const s = splitInteractions(x, cfg({method: 'random', scope: 'global', ratios: [0.5, 0.25, 0.25]}), seed)
      dropped += s.stats.coldUsersDropped
      const lone = Array.from(s.valid.user).concat(Array.from(s.test.user))
      if (!Array.from(s.train.user).includes(1)) expect(lone).not.toContain(1)
    }
    expect(dropped).toBeGreaterThan(0)
  })
})

describe('splitInteractions: data without timestamps', () => {
  // 3 users × 4 rows, in input order; `timestamp` holds the row index (what the reader stores)
  const rows = 12
  const noTime: Interactions = {
    user: Int32Array.from({length: rows}, (_, r) => r % 3),
    item: Int32Array.from({length: rows}, (_, r) => Math.floor(r / 3)),
    rating: new Float32Array(rows).fill(1),
    timestamp: Float64Array.from({length: rows}, (_, r) => r),
    length: rows,
    numUsers: 3,
    numItems: 4,
    userIds: ['a', 'b', 'c'],
    itemIds: ['w', 'x', 'y', 'z'],
    hasTimestamps: false,
  }

  it.each([
    [{method: 'temporal', scope: 'global'}],
    [{method: 'temporal', scope: 'per_user'}],
    [{method: 'leave_one_out', order: 'latest'}],
  ])('%j is a data error naming split.row_order, not a silent row-order split', (c) => {
    let err: unknown
    try {
      splitInteractions(noTime, cfg(c), 1)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({code: 'data.no_timestamps', exitCode: 3})
    expect((err as Error).message).toContain(`split.method ${c.method}`)
    expect((err as {hint: string}).hint).toContain('split.row_order: true')
  })

  it('split.row_order: true orders by input row and the stats say so', () => {
    const s = splitInteractions(noTime, cfg({method: 'leave_one_out', order: 'latest', row_order: true}), 1)
    expect(s.stats.order).toBe('row')
    expect(Array.from(s.test.item)).toEqual([3, 3, 3]) // each user's last row
  })

  it('random splits and leave_one_out with order: random need no time; order records what ordered the events', () => {
    expect(splitInteractions(noTime, cfg({method: 'random'}), 1).stats.order).toBeNull()
    expect(splitInteractions(noTime, cfg({method: 'leave_one_out', order: 'random'}), 1).stats.order).toBeNull()
    expect(splitInteractions(data, cfg({method: 'temporal', scope: 'global'}), 1).stats.order).toBe('timestamp')
    // row_order only applies when there are no timestamps
    expect(splitInteractions(data, cfg({method: 'temporal', row_order: true}), 1).stats.order).toBe('timestamp')
  })
})
