import {describe, expect, it} from 'vitest'

import type {Sequences} from '../../src/data/sequences.js'
import type {Scorer} from '../../src/models/types.js'
import {evaluateWindow, type ModelView, type WindowContext} from '../../src/stream/evaluate.js'

/**
 * A model that knows global items 0..3 (model index = global id) and users 0 and 1, with fixed
 * scores: user 0 prefers 3 > 2 > 1 > 0, user 1 prefers 0 > 1 > 2 > 3. Global item 4 is unknown.
 */
function pairView(): ModelView & {requests: Int32Array[]} {
  const prefs = [Float32Array.from([1, 2, 3, 4]), Float32Array.from([4, 3, 2, 1])]
  const requests: Int32Array[] = []
  return {
    requests,
    userOf: Int32Array.from([0, 1, -1]),
    itemOf: Int32Array.from([0, 1, 2, 3, -1]),
    globalItem: Int32Array.from([0, 1, 2, 3]),
    sequential: false,
    maxLen: 0,
    scorer: async (): Promise<Scorer> => ({
      numItems: 4,
      runtime: 'test',
      probabilities: false,
      async scoreUsers(users) {
        requests.push(users)
        const out = new Float32Array(users.length * 4)
        users.forEach((u, b) => out.set(prefs[u], b * 4))
        return out
      },
      async scorePairs() {
        throw new Error('not used')
      },
      dispose() {},
    }),
  }
}

const ndcgAt = (rank: number) => 1 / Math.log2(rank + 1)

describe('evaluateWindow', () => {
  it('ranks each event against the known items with the user\'s earlier items excluded (those earlier in the window too)', async () => {
    // user 0 saw item 3 before the window; in the window user 0 takes 2 then 1; user 1 takes 4 (unknown item)
    const history = [[3, 2, 1], [4], []]
    const ctx: WindowContext = {
      users: Int32Array.from([0, 0, 1]),
      items: Int32Array.from([2, 1, 4]),
      before: Int32Array.from([1, 2, 0]),
      history,
      popularity: Float64Array.from([1, 0, 0, 5, 0]),
      numItems: 5,
    }
    const r = await evaluateWindow(ctx, pairView(), [1, 2])
    // event 1: 3 excluded → ranking 2, 1, 0: rank 1. event 2: 3 and 2 excluded → 1, 0: rank 1.
    // event 3: item 4 is unknown to the model → never ranked: a miss
    expect(r.events).toBe(3)
    expect(r.coldUsers).toBe(0)
    expect(r.coldItems).toBe(1)
    expect(r.metrics['hr@1']).toBeCloseTo(2 / 3, 12)
    expect(r.metrics['ndcg@2']).toBeCloseTo(2 / 3, 12)
    expect(r.metrics['mrr@2']).toBeCloseTo(2 / 3, 12)
  })

  it('gives a user the model does not know the popularity of the events before the window', async () => {
    const ctx: WindowContext = {
      users: Int32Array.from([2, 2]),
      items: Int32Array.from([0, 4]),
      before: Int32Array.from([0, 1]),
      history: [[], [], [0, 4]],
      // item 3 most popular, then 0, then 4; 1 and 2 never seen (not recommended)
      popularity: Float64Array.from([3, 0, 0, 7, 1]),
      numItems: 5,
    }
    const view = pairView()
    const r = await evaluateWindow(ctx, view, [1, 3])
    // event 1: 3, 0, 4 → rank 2; event 2 (0 now excluded): 3, 4 → rank 2
    expect(r.coldUsers).toBe(2)
    expect(r.metrics['hr@1']).toBe(0)
    expect(r.metrics['hr@3']).toBe(1)
    expect(r.metrics['ndcg@3']).toBeCloseTo(ndcgAt(2), 12)
    expect(r.metrics['mrr@3']).toBeCloseTo(0.5, 12)
    // nobody was scored by the model
    expect(view.requests).toEqual([])
  })

  it('feeds a sequential model each event\'s known earlier items, the last max_len of them', async () => {
    const seen: number[][] = []
    const view: ModelView = {
      userOf: Int32Array.from([-1, -1]),
      itemOf: Int32Array.from([0, 1, -1, 2]),
      globalItem: Int32Array.from([0, 1, 3]),
      sequential: true,
      maxLen: 2,
      scorer: async (h?: Sequences): Promise<Scorer> => {
        for (let b = 0; b + 1 < h!.offsets.length; b++) seen.push(Array.from(h!.items.subarray(h!.offsets[b], h!.offsets[b + 1])))
        return {
          numItems: 3,
          runtime: 'test',
          probabilities: false,
          // score = model item index: global 3 first, then 1, then 0
          scoreUsers: async (users) => Float32Array.from({length: users.length * 3}, (_, k) => k % 3),
          scorePairs: async () => new Float32Array(0),
          dispose() {},
        }
      },
    }
    // user 0: 0, 2 (unknown), 1 before the window; then 3 in the window. User 1 has no history: cold.
    const ctx: WindowContext = {
      users: Int32Array.from([0, 1]),
      items: Int32Array.from([3, 1]),
      before: Int32Array.from([3, 0]),
      history: [[0, 2, 1, 3], [1]],
      popularity: Float64Array.from([1, 1, 1, 0]),
      numItems: 4,
    }
    const r = await evaluateWindow(ctx, view, [1])
    // the unknown item 2 is dropped, the last 2 known ones (model ids 0, 1) are the input
    expect(seen).toEqual([[0, 1]])
    expect(r.coldUsers).toBe(1)
    // event 1: 0 and 1 excluded, 3 ranks first; event 2 (popularity, ties by lower id): 0 first → miss
    expect(r.metrics['hr@1']).toBe(0.5)
  })
})
