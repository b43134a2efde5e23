import {evalSchema, negativesSchema, type EvalConfig, type NegativesConfig} from '../../src/config/schema.js'
import type {Interactions, Split} from '../../src/data/types.js'
import type {Scorer} from '../../src/models/types.js'

/** interactions from (user, item) pairs */
export function interactions(pairs: [number, number][], numUsers: number, numItems: number): Interactions {
  return {
    user: Int32Array.from(pairs.map((p) => p[0])),
    item: Int32Array.from(pairs.map((p) => p[1])),
    rating: new Float32Array(pairs.length).fill(1),
    timestamp: new Float64Array(pairs.length),
    length: pairs.length,
    numUsers,
    numItems,
    userIds: Array.from({length: numUsers}, (_, u) => `u${u}`),
    itemIds: Array.from({length: numItems}, (_, i) => `i${i}`),
  }
}

/**
 * A tiny hand-made split, 5 users × 8 items:
 *   user 0: train {0, 1}, valid {2}, test {3, 4}
 *   user 1: train {2},    valid {3}, test {0}
 *   user 2: train {0},               test {5}
 *   user 3: train {1},               (no test item → skipped)
 *   user 4: train {3},               test {3} (also in train → not relevant → skipped)
 */
export const NUM_USERS = 5
export const NUM_ITEMS = 8
export function tinySplit(): Split {
  return {
    train: interactions([[0, 0], [0, 1], [1, 2], [2, 0], [3, 1], [4, 3]], NUM_USERS, NUM_ITEMS),
    valid: interactions([[0, 2], [1, 3]], NUM_USERS, NUM_ITEMS),
    test: interactions([[0, 3], [0, 4], [1, 0], [2, 5], [4, 3]], NUM_USERS, NUM_ITEMS),
  }
}

/**
 * Each user's preference order (best first); score(u, i) = NUM_ITEMS − position of i.
 *   user 0: [0 1 2 3 4 5 6 7] – train/valid items on top: only exclusion lets 3, 4 reach the top
 *   user 1: [2 5 3 0 1 4 6 7] – after excluding 2 (train) and 3 (valid): [5 0 1 4 6 7], test item 0 at rank 2
 *   user 2: [7 6 5 4 3 2 1 0] – after excluding 0: test item 5 at rank 3
 */
export const PREFS = [
  [0, 1, 2, 3, 4, 5, 6, 7],
  [2, 5, 3, 0, 1, 4, 6, 7],
  [7, 6, 5, 4, 3, 2, 1, 0],
  [0, 1, 2, 3, 4, 5, 6, 7],
  [0, 1, 2, 3, 4, 5, 6, 7],
]

export function prefMatrix(): Float32Array {
  const m = new Float32Array(NUM_USERS * NUM_ITEMS)
  PREFS.forEach((order, u) => order.forEach((i, pos) => (m[u * NUM_ITEMS + i] = NUM_ITEMS - pos)))
  return m
}

export interface FakeScorer extends Scorer {
  calls: {scoreUsers: number[][]; scorePairs: {users: number[]; items: number[]}[]}
}

/** a Scorer over a fixed [numUsers × numItems] matrix; returns fresh arrays and records its calls */
export function matrixScorer(matrix: Float32Array, numItems: number, probabilities = false): FakeScorer {
  const calls: FakeScorer['calls'] = {scoreUsers: [], scorePairs: []}
  return {
    numItems,
    runtime: 'fake',
    probabilities,
    calls,
    async scoreUsers(users) {
      calls.scoreUsers.push(Array.from(users))
      const out = new Float32Array(users.length * numItems)
      users.forEach((u, b) => out.set(matrix.subarray(u * numItems, (u + 1) * numItems), b * numItems))
      return out
    },
    async scorePairs(users, items) {
      calls.scorePairs.push({users: Array.from(users), items: Array.from(items)})
      return Float32Array.from(users, (u, j) => matrix[u * numItems + items[j]])
    },
    dispose() {},
  }
}

/** probabilities 0.9 for the pairs in `positives`, 0.1 otherwise (an oracle) */
export function oracleMatrix(positives: Interactions[]): Float32Array {
  const m = new Float32Array(NUM_USERS * NUM_ITEMS).fill(0.1)
  for (const p of positives) for (let r = 0; r < p.length; r++) m[p.user[r] * NUM_ITEMS + p.item[r]] = 0.9
  return m
}

export function evalConfig(over: Partial<EvalConfig> = {}): EvalConfig {
  return {...evalSchema.parse({}), ...over}
}

export const uniformNegatives: NegativesConfig = negativesSchema.parse({})

/**
 * tinySplit's interactions in a catalogue of `numItems` (> 8) items: sampled evaluation with 99
 * distinct negatives needs at least 99 items each user never interacted with.
 */
export function wideSplit(numItems: number): Split {
  const t = tinySplit()
  const widen = (p: Interactions) => interactions(Array.from(p.user.subarray(0, p.length), (u, r) => [u, p.item[r]] as [number, number]), NUM_USERS, numItems)
  return {train: widen(t.train), valid: widen(t.valid), test: widen(t.test)}
}

/** a [NUM_USERS × NUM_ITEMS] matrix padded to `numItems` columns with `fill` */
export function widenMatrix(m: Float32Array, numItems: number, fill = 0): Float32Array {
  const out = new Float32Array(NUM_USERS * numItems).fill(fill)
  for (let u = 0; u < NUM_USERS; u++) out.set(m.subarray(u * NUM_ITEMS, (u + 1) * NUM_ITEMS), u * numItems)
  return out
}
