import type {PreprocessConfig} from '../config/schema.js'
import {dataError} from '../errors.js'
import type {Interactions} from './types.js'
import {countingSort} from './arrays.js'

export interface PreprocessReport {
  input: {interactions: number; users: number; items: number}
  /** duplicate (user, item) rows removed (0 with dedupe: none) */
  duplicatesRemoved: number
  /** rows below the implicit threshold (0 with implicit.mode: all) */
  belowThreshold: number
  /** rows left after dedupe and the implicit conversion: the positives */
  positives: number
  kcore: {rowsRemoved: number; usersRemoved: number; itemsRemoved: number; iterations: number}
  output: {interactions: number; users: number; items: number}
  /** users / items without any interaction left, dropped when the ids were re-densified */
  usersRemoved: number
  itemsRemoved: number
}

export interface PreprocessResult {
  interactions: Interactions
  report: PreprocessReport
}

/**
 * Cleaning between reading and splitting, in this order:
 * 1. dedupe (user, item): `last` keeps the latest row by timestamp (ties: the later row in the
 *    input), `first` the earliest (ties: the earlier row), `none` keeps all;
 * 2. implicit conversion: `all` makes every row a positive; `threshold` keeps rows with
 *    rating >= threshold (ratings are kept as they were, for reference);
 * 3. iterative k-core: drop rows of users with < kcore.user rows and items with < kcore.item rows,
 *    repeated until nothing changes;
 * 4. re-densify ids: users and items left keep their relative order, ids 0..n-1, and
 *    userIds/itemIds keep mapping them to the original ids.
 * Rows keep their input order. Throws a data error if nothing is left.
 */
export function preprocess(inter: Interactions, cfg: PreprocessConfig): PreprocessResult {
  const n = inter.length
  const keep = new Uint8Array(n).fill(1)
  const {user, item, rating, timestamp} = inter

  // 1. dedupe
  let duplicatesRemoved = 0
  if (cfg.dedupe !== 'none' && n > 0) {
    const order = groupByPair(inter)
    const wantLast = cfg.dedupe === 'last'
    let g = 0
    while (g < n) {
      const r0 = order[g]
      let h = g + 1
      while (h < n && user[order[h]] === user[r0] && item[order[h]] === item[r0]) h++
      if (h - g > 1) {
        // rows of the group are in input order: pick by time, ties by position
        let best = order[g]
        for (let k = g + 1; k < h; k++) {
          const r = order[k]
          if (wantLast ? timestamp[r] >= timestamp[best] : timestamp[r] < timestamp[best]) best = r
        }
        for (let k = g; k < h; k++) {
          if (order[k] !== best) {
            keep[order[k]] = 0
            duplicatesRemoved++
          }
        }
      }
      g = h
    }
  }

  // 2. implicit conversion
  let belowThreshold = 0
  if (cfg.implicit.mode === 'threshold') {
    const t = cfg.implicit.threshold
    for (let r = 0; r < n; r++) {
      if (keep[r] && !(rating[r] >= t)) {
        keep[r] = 0
        belowThreshold++
      }
    }
  }
  const positives = n - duplicatesRemoved - belowThreshold

  // 3. iterative k-core
  let kRows = 0
  let iterations = 0
  const ku = cfg.kcore.user
  const ki = cfg.kcore.item
  const uc = new Int32Array(inter.numUsers)
  const ic = new Int32Array(inter.numItems)
  const countAlive = () => {
    uc.fill(0)
    ic.fill(0)
    for (let r = 0; r < n; r++) {
      if (keep[r]) {
        uc[user[r]]++
        ic[item[r]]++
      }
    }
  }
  countAlive()
  const usersBefore = countNonZero(uc)
  const itemsBefore = countNonZero(ic)
  if (ku > 1 || ki > 1) {
    for (;;) {
      iterations++
      let removed = 0
      for (let r = 0; r < n; r++) {
        if (keep[r] && (uc[user[r]] < ku || ic[item[r]] < ki)) {
          keep[r] = 0
          removed++
        }
      }
      if (removed === 0) break
      kRows += removed
      countAlive()
    }
  }
  const usersAfter = countNonZero(uc)
  const itemsAfter = countNonZero(ic)

  // 4. re-densify (monotone: relative order of the old ids is kept)
  const m = positives - kRows
  if (m === 0) {
    throw dataError('data.empty_after_preprocess', `no interactions left after preprocessing (of ${n}: ${duplicatesRemoved} duplicates, ${belowThreshold} below the threshold, ${kRows} by k-core)`, {
      hint: 'lower preprocess.implicit.threshold or preprocess.kcore',
    })
  }
  const uMap = new Int32Array(inter.numUsers).fill(-1)
  const iMap = new Int32Array(inter.numItems).fill(-1)
  const userIds: string[] = []
  const itemIds: string[] = []
  for (let u = 0; u < inter.numUsers; u++) if (uc[u] > 0) (uMap[u] = userIds.length), userIds.push(inter.userIds[u])
  for (let i = 0; i < inter.numItems; i++) if (ic[i] > 0) (iMap[i] = itemIds.length), itemIds.push(inter.itemIds[i])
  const out: Interactions = {
    user: new Int32Array(m),
    item: new Int32Array(m),
    rating: new Float32Array(m),
    timestamp: new Float64Array(m),
    length: m,
    numUsers: userIds.length,
    numItems: itemIds.length,
    userIds,
    itemIds,
    ...(inter.hasTimestamps === false ? {hasTimestamps: false} : {}),
  }
  let w = 0
  for (let r = 0; r < n; r++) {
    if (!keep[r]) continue
    out.user[w] = uMap[user[r]]
    out.item[w] = iMap[item[r]]
    out.rating[w] = rating[r]
    out.timestamp[w] = timestamp[r]
    w++
  }
  return {
    interactions: out,
    report: {
      input: {interactions: n, users: inter.numUsers, items: inter.numItems},
      duplicatesRemoved,
      belowThreshold,
      positives,
      kcore: {rowsRemoved: kRows, usersRemoved: usersBefore - usersAfter, itemsRemoved: itemsBefore - itemsAfter, iterations},
      output: {interactions: m, users: out.numUsers, items: out.numItems},
      usersRemoved: inter.numUsers - out.numUsers,
      itemsRemoved: inter.numItems - out.numItems,
    },
  }
}

function countNonZero(a: Int32Array): number {
  let c = 0
  for (let i = 0; i < a.length; i++) if (a[i] > 0) c++
  return c
}

/**
 * Row indexes ordered by (user, item), stable (input order within a pair): two counting-sort
 * passes (by item, then by user), O(n + users + items).
 */
function groupByPair(inter: Interactions): Int32Array {
  const n = inter.length
  const byItem = countingSort(inter.item, inter.numItems, n, null).order
  return countingSort(inter.user, inter.numUsers, n, byItem).order
}
