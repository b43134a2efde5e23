import type {SplitConfig} from '../config/schema.js'
import {dataError} from '../errors.js'
import {Rng} from '../rng.js'
import {groupByUser, selectRows} from './arrays.js'
import type {Interactions, Split} from './types.js'

export interface SplitStats {
  method: SplitConfig['method']
  scope: SplitConfig['scope']
  train: number
  valid: number
  test: number
  /** users whose valid/test rows were dropped because they had nothing in train */
  coldUsersDropped: number
  /** the valid + test rows dropped with them */
  coldRowsDropped: number
  /** leave_one_out: users with fewer than 3 interactions, kept whole in train */
  shortUsersTrainOnly: number
  /**
   * what ordered events for a temporal or leave_one_out (latest) split: their timestamps, or the
   * input row order (data without timestamps and `split.row_order: true`); null when the split
   * does not order by time (random, leave_one_out with order: random). The protocol line states it.
   */
  order: SplitOrder
}

export type SplitOrder = 'timestamp' | 'row' | null

export interface SplitResult extends Split {
  stats: SplitStats
}

const TRAIN = 0
const VALID = 1
const TEST = 2

/**
 * Split interactions into train / valid / test (same id space; each part keeps the input row
 * order). Deterministic in `seed`.
 *
 * - random, global: shuffle all rows, cut at the ratios.
 * - random, per_user: shuffle each user's rows; test = round(n·r_test), valid = round(n·r_valid),
 *   shrunk (valid first) so that train keeps >= 1 row.
 * - temporal, global: order all rows by time (ties by input order) and cut at the ratios, so no
 *   train event is later than a valid event, nor a valid event later than a test event.
 * - temporal, per_user: each user's latest rows go to test, the ones before to valid (same rounding
 *   as random per_user).
 * - leave_one_out: per user, 1 test and 1 valid row (the latest, or random ones with
 *   order: random), the rest train; users with fewer than 3 rows stay whole in train. With
 *   `validation: none`, only the test row is held out (users with fewer than 2 rows stay in train).
 *   Events with the same timestamp are ordered by input row, so with tied timestamps the held-out
 *   event is the one that comes last in the file.
 *
 * Afterwards valid/test rows of users with no train row are dropped (counted in stats).
 */
export function splitInteractions(inter: Interactions, cfg: SplitConfig, seed: number): SplitResult {
  const order = splitOrder(inter, cfg)
  const n = inter.length
  const rng = new Rng(seed)
  const part = new Uint8Array(n)
  const [rTrain, rValid] = cfg.ratios
  const rTest = cfg.ratios[2]
  let shortUsers = 0

  if (cfg.method === 'files') throw new Error('splitInteractions: split.method files is read by readSplitFiles (src/data/files-split.ts), not made here')
  if (cfg.method === 'leave_one_out') {
    const noValidation = cfg.validation === 'none'
    const {offsets, rows} = groupByUser(inter)
    const shuffleRng = rng.fork(11)
    for (let u = 0; u < inter.numUsers; u++) {
      const s = offsets[u]
      const e = offsets[u + 1]
      const m = e - s
      if (m === 0) continue
      // a user needs one train event besides the held-out ones
      if (m < (noValidation ? 2 : 3)) {
        shortUsers++
        continue
      }
      const mine = rows.subarray(s, e)
      if (cfg.order === 'latest') sortRowsByTime(mine, inter.timestamp)
      else shuffleRng.shuffle(mine)
      // latest: the last row is test, the one before valid; random: same on the shuffled order
      part[mine[m - 1]] = TEST
      if (!noValidation) part[mine[m - 2]] = VALID
    }
  } else if (cfg.scope === 'global') {
    const order = new Int32Array(n)
    for (let r = 0; r < n; r++) order[r] = r
    if (cfg.method === 'random') rng.fork(12).shuffle(order)
    else sortRowsByTime(order, inter.timestamp)
    const nTrain = Math.max(1, Math.min(n, Math.round(n * rTrain)))
    const nValid = Math.min(n - nTrain, Math.round(n * rValid))
    for (let k = nTrain; k < n; k++) part[order[k]] = k < nTrain + nValid ? VALID : TEST
  } else {
    const {offsets, rows} = groupByUser(inter)
    const shuffleRng = rng.fork(13)
    for (let u = 0; u < inter.numUsers; u++) {
      const s = offsets[u]
      const e = offsets[u + 1]
      const m = e - s
      if (m === 0) continue
      const mine = rows.subarray(s, e)
      if (cfg.method === 'random') shuffleRng.shuffle(mine)
      else sortRowsByTime(mine, inter.timestamp)
      let [nValid, nTest] = cfg.rounding === 'floor' ? floorCounts(m, rValid, rTest) : [Math.round(m * rValid), Math.round(m * rTest)]
      // train keeps at least one row: shrink valid first, then test
      let over = nTest + nValid - (m - 1)
      if (over > 0) {
        const dv = Math.min(over, nValid)
        nValid -= dv
        over -= dv
        nTest -= over
      }
      for (let k = m - nTest; k < m; k++) part[mine[k]] = TEST
      for (let k = m - nTest - nValid; k < m - nTest; k++) part[mine[k]] = VALID
    }
  }

  // users without train history cannot be evaluated: drop their valid/test rows
  const hasTrain = new Uint8Array(inter.numUsers)
  for (let r = 0; r < n; r++) if (part[r] === TRAIN) hasTrain[inter.user[r]] = 1
  const cold = new Uint8Array(inter.numUsers)
  let coldRows = 0
  const sizes = [0, 0, 0]
  for (let r = 0; r < n; r++) {
    const p = part[r]
    if (p !== TRAIN && !hasTrain[inter.user[r]]) {
      cold[inter.user[r]] = 1
      coldRows++
      part[r] = 255
      continue
    }
    sizes[p]++
  }
  let coldUsers = 0
  for (let u = 0; u < inter.numUsers; u++) coldUsers += cold[u]
  if (sizes[TRAIN] === 0) throw dataError('data.empty_split', 'the split left no training interactions')

  const idx = [new Int32Array(sizes[0]), new Int32Array(sizes[1]), new Int32Array(sizes[2])]
  const fill = [0, 0, 0]
  for (let r = 0; r < n; r++) {
    const p = part[r]
    if (p !== 255) idx[p][fill[p]++] = r
  }
  return {
    train: selectRows(inter, idx[TRAIN]),
    valid: selectRows(inter, idx[VALID]),
    test: selectRows(inter, idx[TEST]),
    stats: {
      method: cfg.method,
      scope: cfg.scope,
      train: sizes[TRAIN],
      valid: sizes[VALID],
      test: sizes[TEST],
      coldUsersDropped: coldUsers,
      coldRowsDropped: coldRows,
      shortUsersTrainOnly: shortUsers,
      order,
    },
  }
}

/**
 * RecBole's `_calcu_split_ids` for one user's n events: validation and test get floor(n·r) each,
 * then (test first, then validation) a part with 0 < n·r < 1 takes one event from train as long as
 * train has more than one. Returns [valid, test].
 */
export function floorCounts(n: number, rValid: number, rTest: number): [number, number] {
  const cnt = [0, Math.floor(rValid * n), Math.floor(rTest * n)]
  cnt[0] = n - cnt[1] - cnt[2]
  const ratios = [0, rValid, rTest]
  for (const p of [2, 1]) {
    if (cnt[0] <= 1) break
    if (ratios[p] * n > 0 && ratios[p] * n < 1) {
      cnt[p]++
      cnt[0]--
    }
  }
  return [cnt[1], cnt[2]]
}

/**
 * What orders events for this split. Data without timestamps only has its row order, and a split
 * that calls itself temporal must not use that silently: it is a data error unless
 * `split.row_order: true` opts in (the stats, and so the protocol line, then say "row").
 */
function splitOrder(inter: Interactions, cfg: SplitConfig): SplitOrder {
  const byTime = cfg.method === 'temporal' || (cfg.method === 'leave_one_out' && cfg.order === 'latest')
  if (!byTime) return null
  if (inter.hasTimestamps !== false) return 'timestamp'
  if (cfg.row_order) return 'row'
  const what = cfg.method === 'temporal' ? 'split.method temporal' : 'split.method leave_one_out with order: latest'
  throw dataError('data.no_timestamps', `${what} needs timestamps, and the data has none (no timestamp column is mapped)`, {
    hint: 'map a timestamp column (data.columns.timestamp), or set split.row_order: true to order events by input row (the protocol line then says so), or use split.method: random',
  })
}

/** sort row indexes in place by timestamp, ties by row index (so the order is total and stable) */
function sortRowsByTime(rows: Int32Array, ts: Float64Array): void {
  rows.sort((a, b) => ts[a] - ts[b] || a - b)
}
