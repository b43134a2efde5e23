import {describe, expect, it} from 'vitest'

import {splitSchema, synthSchema} from '../../src/config/schema.js'
import {
  DEFAULT_MAX_LEN,
  evaluationHistories,
  historyMatrix,
  trainingWindows,
  userSequences,
  windowBatches,
  type Sequences,
} from '../../src/data/sequences.js'
import {splitInteractions} from '../../src/data/split.js'
import {generateSynthetic} from '../../src/data/synth.js'
import type {Interactions, Split} from '../../src/data/types.js'
import {Rng} from '../../src/rng.js'

/** interactions from [user, item, time] rows (rating 1), in the given row order */
function inter(rows: Array<[number, number, number]>, numUsers: number, numItems: number): Interactions {
  return {
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    rating: new Float32Array(rows.length).fill(1),
    timestamp: Float64Array.from(rows.map((r) => r[2])),
    length: rows.length,
    numUsers,
    numItems,
    userIds: Array.from({length: numUsers}, (_, k) => `u${k}`),
    itemIds: Array.from({length: numItems}, (_, k) => `i${k}`),
  }
}

const list = (a: ArrayLike<number>) => Array.from(a)
/** rows of a row-major matrix */
const rows = (m: Int32Array, width: number) => Array.from({length: m.length / width}, (_, r) => list(m.subarray(r * width, (r + 1) * width)))
const userItems = (s: Sequences, u: number) => list(s.items.subarray(s.offsets[u], s.offsets[u + 1]))
const userTimes = (s: Sequences, u: number) => list(s.times.subarray(s.offsets[u], s.offsets[u + 1]))

const loo = splitSchema.parse({method: 'leave_one_out', order: 'latest'})

describe('userSequences', () => {
  // u0 has ties at t=5 (across parts) and t=10 (within part A); u1 and u2 one item; u3 none
  const A = inter(
    [
      [0, 3, 10],
      [1, 0, 5],
      [0, 1, 5],
      [0, 2, 10],
    ],
    4,
    5,
  )
  const B = inter(
    [
      [0, 4, 5],
      [2, 0, 1],
    ],
    4,
    5,
  )

  it('merges parts in time order, ties by part order then row order', () => {
    const s = userSequences([A, B], 4)
    expect(list(s.offsets)).toEqual([0, 4, 5, 6, 6])
    expect(userItems(s, 0)).toEqual([1, 4, 3, 2])
    expect(userTimes(s, 0)).toEqual([5, 5, 10, 10])
    expect(userItems(s, 1)).toEqual([0])
    expect(userItems(s, 2)).toEqual([0])
    expect(userItems(s, 3)).toEqual([])
    // the part order decides equal times: B first puts i4 before i1
    expect(userItems(userSequences([B, A], 4), 0)).toEqual([4, 1, 3, 2])
  })

  it('only the first `length` rows of a part count; no parts give empty sequences', () => {
    const longer = {...A, length: 2}
    const s = userSequences([longer], 4)
    expect(list(s.offsets)).toEqual([0, 1, 2, 2, 2])
    expect(list(s.items)).toEqual([3, 0])
    expect(list(userSequences([], 3).offsets)).toEqual([0, 0, 0, 0])
  })

  it('refuses user ids outside the id space and non-finite times', () => {
    expect(() => userSequences([inter([[4, 0, 1]], 5, 1)], 4)).toThrow(/user id 4/)
    expect(() => userSequences([inter([[0, 0, Number.NaN]], 1, 1)], 1)).toThrow(/timestamp NaN/)
  })

  // integer seconds and ms (packed-key path), negatives, fractions and huge values (comparator path)
  it.each([
    {name: 'seconds, many ties', time: (r: Rng) => 1_600_000_000 + r.int(20)},
    {name: 'milliseconds', time: (r: Rng) => 1_600_000_000_000 + r.int(50) * 1000},
    {name: 'negative integers', time: (r: Rng) => r.int(30) - 15},
    {name: 'fractions', time: (r: Rng) => r.int(10) / 4},
    {name: 'too large to pack', time: (r: Rng) => 2 ** 52 - r.int(8) * 2 ** 20},
  ])('$name: the order of a reference sort by (time, part, row)', ({time}) => {
    const rng = new Rng(7)
    const numUsers = 9
    const parts = [0, 1, 2].map(() => {
      const rs: Array<[number, number, number]> = []
      for (let k = 0; k < 400; k++) rs.push([rng.int(numUsers - 1), rng.int(1000), time(rng)])
      return inter(rs, numUsers, 1000)
    })
    const s = userSequences(parts, numUsers)
    const ref: Array<{u: number; i: number; t: number; p: number; r: number}> = []
    parts.forEach((p, pi) => {
      for (let r = 0; r < p.length; r++) ref.push({u: p.user[r], i: p.item[r], t: p.timestamp[r], p: pi, r})
    })
    ref.sort((a, b) => a.u - b.u || a.t - b.t || a.p - b.p || a.r - b.r)
    expect(list(s.items)).toEqual(ref.map((x) => x.i))
    expect(list(s.times)).toEqual(ref.map((x) => x.t))
    for (let u = 0; u < numUsers; u++) expect(s.offsets[u + 1] - s.offsets[u]).toBe(ref.filter((x) => x.u === u).length)
  })
})

describe('historyMatrix', () => {
  const s: Sequences = {offsets: Int32Array.from([0, 4, 5, 6, 6]), items: Int32Array.from([1, 4, 3, 2, 0, 0]), times: new Float64Array(6)}

  it('keeps the last maxLen items, shifted +1, left-padded with 0', () => {
    expect(rows(historyMatrix(s, Int32Array.from([0, 1, 3, 0]), 3), 3)).toEqual([
      [5, 4, 3],
      [0, 0, 1],
      [0, 0, 0],
      [5, 4, 3],
    ])
    expect(rows(historyMatrix(s, Int32Array.from([0, 2]), 5), 5)).toEqual([
      [0, 2, 5, 4, 3],
      [0, 0, 0, 0, 1],
    ])
    expect(list(historyMatrix(s, Int32Array.from([0]), 1))).toEqual([3])
    expect(historyMatrix(s, new Int32Array(0), 4).length).toBe(0)
  })

  it('refuses a maxLen that is not a positive integer', () => {
    expect(() => historyMatrix(s, Int32Array.from([0]), 0)).toThrow(/max_len/)
    expect(() => historyMatrix(s, Int32Array.from([0]), 2.5)).toThrow(/max_len/)
  })
})

describe('evaluationHistories on a leave-one-out split', () => {
  // u0: ties at t=2 and t=3 (rows 5 < 8, 0 < 4): time order i0, i1, i4, i2, i3 → valid i2, test i3
  // u1: i2 (t6), then i0, i1 tied at t7 by row → valid i0, test i1
  // u2: 2 items, u3: 1 item → whole in train; u4: 4 items all at t5 → by row; u5: no item
  const data = inter(
    [
      [0, 2, 3],
      [1, 0, 7],
      [0, 0, 1],
      [2, 5, 4],
      [0, 3, 3],
      [0, 1, 2],
      [1, 1, 7],
      [3, 2, 9],
      [0, 4, 2],
      [1, 2, 6],
      [2, 0, 4],
      [4, 0, 5],
      [4, 1, 5],
      [4, 2, 5],
      [4, 3, 5],
    ],
    6,
    6,
  )
  const split = splitInteractions(data, loo, 1)

  it('the split is the one the fixture describes', () => {
    const pairs = (x: Interactions) => list(x.user.subarray(0, x.length)).map((u, r) => [u, x.item[r]])
    expect(pairs(split.valid)).toEqual([
      [0, 2],
      [1, 0],
      [4, 2],
    ])
    expect(pairs(split.test)).toEqual([
      [0, 3],
      [1, 1],
      [4, 3],
    ])
    const train = userSequences([split.train], 6)
    expect([0, 1, 2, 3, 4, 5].map((u) => userItems(train, u))).toEqual([[0, 1, 4], [2], [5, 0], [2], [0, 1], []])
  })

  it('valid: the train items before the validation item', () => {
    const ev = evaluationHistories(split, 'valid', 2)
    expect(list(ev.users)).toEqual([0, 1, 4])
    expect(rows(ev.histories, 2)).toEqual([
      [2, 5],
      [0, 3],
      [1, 2],
    ])
    expect(list(ev.lengths)).toEqual([2, 1, 2])
    expect(list(ev.targetOffsets)).toEqual([0, 1, 2, 3])
    expect(list(ev.targetItems)).toEqual([2, 0, 2])
    expect(list(ev.rowOfUser)).toEqual([0, 1, -1, -1, 2, -1])
    expect(ev.maxLen).toBe(2)
  })

  it('test: train + validation item, the validation item last', () => {
    const ev = evaluationHistories(split, 'test', 3)
    expect(list(ev.users)).toEqual([0, 1, 4])
    expect(rows(ev.histories, 3)).toEqual([
      [2, 5, 3],
      [0, 3, 1],
      [1, 2, 3],
    ])
    expect(list(ev.lengths)).toEqual([3, 2, 3])
    expect(list(ev.targetItems)).toEqual([3, 1, 3])
    const wide = evaluationHistories(split, 'test', 6)
    expect(rows(wide.histories, 6)[0]).toEqual([0, 0, 1, 2, 5, 3])
  })

  it('defaults to max_len 50', () => {
    expect(DEFAULT_MAX_LEN).toBe(50)
    expect(evaluationHistories(split, 'test').histories.length).toBe(3 * 50)
  })

  it('several targets per user (a per-user temporal split): all of them, in time order', () => {
    const s: Split = {
      train: inter(
        [
          [0, 0, 1],
          [1, 1, 1],
        ],
        2,
        5,
      ),
      valid: inter([], 2, 5),
      test: inter(
        [
          [1, 4, 3],
          [1, 2, 2],
          [1, 3, 3],
        ],
        2,
        5,
      ),
    }
    const ev = evaluationHistories(s, 'test', 2)
    expect(list(ev.users)).toEqual([1])
    expect(rows(ev.histories, 2)).toEqual([[0, 2]])
    expect(list(ev.targetOffsets)).toEqual([0, 3])
    expect(list(ev.targetItems)).toEqual([2, 4, 3])
    expect(list(ev.rowOfUser)).toEqual([-1, 0])
    expect(evaluationHistories(s, 'valid', 2).users.length).toBe(0)
  })
})

describe('trainingWindows', () => {
  // u0: 6 items (5 target positions), u1: 1 item, u2: 2 items, u3: none
  const s: Sequences = {
    offsets: Int32Array.from([0, 6, 7, 9, 9]),
    items: Int32Array.from([0, 1, 2, 3, 4, 5, 7, 8, 9]),
    times: new Float64Array(9),
  }

  it('cuts long sequences into windows ending at the latest item; only the earliest is padded', () => {
    const w = trainingWindows(s, 3)
    expect(w.count).toBe(3)
    expect(w.positions).toBe(6)
    expect(w.maxLen).toBe(3)
    expect(list(w.users)).toEqual([0, 0, 2])
    expect(rows(w.inputs, 3)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [0, 0, 9],
    ])
    expect(rows(w.targets, 3)).toEqual([
      [0, 2, 3],
      [4, 5, 6],
      [0, 0, 10],
    ])
  })

  it('a sequence that fits exactly gives one unpadded window; maxLen 1 one window a position', () => {
    const w = trainingWindows(s, 5)
    expect(rows(w.inputs, 5)).toEqual([
      [1, 2, 3, 4, 5],
      [0, 0, 0, 0, 9],
    ])
    expect(rows(w.targets, 5)).toEqual([
      [2, 3, 4, 5, 6],
      [0, 0, 0, 0, 10],
    ])
    const one = trainingWindows(s, 1)
    expect(one.count).toBe(6)
    expect(list(one.inputs)).toEqual([1, 2, 3, 4, 5, 9])
    expect(list(one.targets)).toEqual([2, 3, 4, 5, 6, 10])
  })

  it('no sequence with 2 items: no window', () => {
    const w = trainingWindows({offsets: Int32Array.from([0, 1, 1]), items: Int32Array.from([3]), times: new Float64Array(1)}, 4)
    expect(w).toMatchObject({count: 0, positions: 0})
    expect(w.inputs.length).toBe(0)
  })
})

describe('windowBatches', () => {
  const s: Sequences = {offsets: Int32Array.from([0, 6, 7, 9, 9]), items: Int32Array.from([0, 1, 2, 3, 4, 5, 7, 8, 9]), times: new Float64Array(9)}
  const w = trainingWindows(s, 1) // 6 windows of one position

  it('every window once, batchSize at a time, rows copied from their windows', () => {
    const batches = [...windowBatches(w, 4, 3)]
    expect(batches.map((b) => b.size)).toEqual([4, 2])
    const ids = batches.flatMap((b) => list(b.windows))
    expect([...ids].sort()).toEqual([0, 1, 2, 3, 4, 5])
    for (const b of batches) {
      for (let k = 0; k < b.size; k++) {
        const id = b.windows[k]
        expect(b.inputs[k]).toBe(w.inputs[id])
        expect(b.targets[k]).toBe(w.targets[id])
        expect(b.users[k]).toBe(w.users[id])
      }
    }
  })

  it('deterministic in the seed (a number or an Rng in the same state)', () => {
    const order = (it: Iterable<{windows: Int32Array}>) => [...it].flatMap((b) => list(b.windows))
    const big = trainingWindows({offsets: Int32Array.from([0, 200]), items: Int32Array.from({length: 200}, (_, k) => k), times: new Float64Array(200)}, 2)
    expect(big.count).toBe(100)
    const a = order(windowBatches(big, 7, 5))
    expect(order(windowBatches(big, 7, new Rng(5)))).toEqual(a)
    expect(order(windowBatches(big, 32, 5))).toEqual(a) // the batch size only cuts the same order
    expect(order(windowBatches(big, 7, 6))).not.toEqual(a)
    expect(a).not.toEqual(list(Int32Array.from({length: 100}, (_, k) => k)))
  })

  it('no windows: no batch; a batch size below 1 is refused', () => {
    const none = trainingWindows({offsets: Int32Array.from([0, 0]), items: new Int32Array(0), times: new Float64Array(0)}, 3)
    expect([...windowBatches(none, 4, 1)]).toEqual([])
    expect(() => windowBatches(w, 0, 1).next()).toThrow(/batch size/)
  })
})

describe('invariants on a synthetic leave-one-out split', () => {
  // rows shuffled (so users' rows are out of time order) and times coarsened to days (many ties)
  const synth = generateSynthetic(synthSchema.parse({users: 200, items: 300, interactions: 6000, seed: 5}))
  const perm = new Rng(9).shuffle(Int32Array.from({length: synth.length}, (_, k) => k))
  const data: Interactions = {
    ...synth,
    user: Int32Array.from(perm, (r) => synth.user[r]),
    item: Int32Array.from(perm, (r) => synth.item[r]),
    rating: Float32Array.from(perm, (r) => synth.rating[r]),
    timestamp: Float64Array.from(perm, (r) => Math.floor(synth.timestamp[r] / 86400 / 20)),
  }
  const split = splitInteractions(data, loo, 3)
  const maxLen = 8
  const numUsers = data.numUsers

  /** per user, all rows in the split's order: time, then input row */
  const byUser: number[][] = Array.from({length: numUsers}, () => [])
  for (let r = 0; r < data.length; r++) byUser[data.user[r]].push(r)
  for (const rs of byUser) rs.sort((a, b) => data.timestamp[a] - data.timestamp[b] || a - b)

  it('the fixture has ties and long users', () => {
    let ties = 0
    for (const rs of byUser) for (let k = 1; k < rs.length; k++) if (data.timestamp[rs[k]] === data.timestamp[rs[k - 1]]) ties++
    expect(ties).toBeGreaterThan(100)
    expect(byUser.filter((rs) => rs.length - 2 > maxLen + 1).length).toBeGreaterThan(10)
    expect(split.test.length).toBe(numUsers)
  })

  it('every train position is a target exactly once, after the item before it', () => {
    const seqs = userSequences([split.train], numUsers)
    const w = trainingWindows(seqs, maxLen)
    expect(w.positions).toBe(split.train.length - numUsers)
    let expectedWindows = 0
    for (let u = 0; u < numUsers; u++) expectedWindows += Math.ceil((seqs.offsets[u + 1] - seqs.offsets[u] - 1) / maxLen)
    expect(w.count).toBe(expectedWindows)
    // (user, item) pairs are unique in synthetic data: count each train pair's target appearances
    const seen = new Map<number, number>()
    let nonZero = 0
    for (let k = 0; k < w.count; k++) {
      const u = w.users[k]
      const trainOrder = byUser[u].slice(0, -2).map((r) => data.item[r])
      for (let t = 0; t < maxLen; t++) {
        const target = w.targets[k * maxLen + t]
        const input = w.inputs[k * maxLen + t]
        if (target === 0) {
          expect(input).toBe(0) // no target only in the left padding
          continue
        }
        nonZero++
        const key = u * data.numItems + target - 1
        seen.set(key, (seen.get(key) ?? 0) + 1)
        const pos = trainOrder.indexOf(target - 1)
        expect(pos).toBeGreaterThan(0)
        expect(input).toBe(trainOrder[pos - 1] + 1)
      }
    }
    expect(nonZero).toBe(w.positions)
    for (let u = 0; u < numUsers; u++) {
      const train = byUser[u].slice(0, -2)
      train.forEach((r, k) => expect(seen.get(u * data.numItems + data.item[r]) ?? 0).toBe(k === 0 ? 0 : 1))
    }
  })

  it.each(['valid', 'test'] as const)('%s histories: the split order up to the target, nothing at or after it', (part) => {
    const ev = evaluationHistories(split, part, maxLen)
    expect(ev.users.length).toBe(numUsers)
    const cut = part === 'valid' ? 2 : 1
    for (let b = 0; b < ev.users.length; b++) {
      const u = ev.users[b]
      const rs = byUser[u]
      const targetRow = rs[rs.length - cut]
      expect(list(ev.targetItems.subarray(ev.targetOffsets[b], ev.targetOffsets[b + 1]))).toEqual([data.item[targetRow]])
      const before = rs.slice(0, rs.length - cut).slice(-maxLen)
      const expected = [...new Array(maxLen - before.length).fill(0), ...before.map((r) => data.item[r] + 1)]
      const row = list(ev.histories.subarray(b * maxLen, (b + 1) * maxLen))
      expect(row).toEqual(expected)
      expect(row).not.toContain(data.item[targetRow] + 1)
      for (const r of before) expect(data.timestamp[r]).toBeLessThanOrEqual(data.timestamp[targetRow])
      // the test target, and for valid also the validation item itself, never enter the history
      for (const r of rs.slice(rs.length - cut)) expect(row).not.toContain(data.item[r] + 1)
    }
  })
})
