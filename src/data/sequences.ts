import {RecError} from '../errors.js'
import {Rng} from '../rng.js'
import {countingSort} from './arrays.js'
import type {Interactions, Split} from './types.js'

/**
 * The sequence layer for sequential models (SASRec, GRU4Rec): each user's items in time order,
 * turned into the model's input matrices. Typed arrays throughout, no per-row objects.
 *
 * Model input convention (shared with the model code): an item id j is written as j + 1, 0 is
 * padding, rows are LEFT-padded, so column maxLen − 1 always holds the latest item. Training
 * targets use the same shifted ids, with 0 = "no target here" (mask it out of the loss).
 * Evaluation targets (`EvaluationHistories.targetItems`) are plain item ids, as evaluate.ts uses.
 */

/** default `max_len`: the last 50 items of a history */
export const DEFAULT_MAX_LEN = 50

/**
 * Users' interactions as CSR, in time order: user u's items are
 * `items[offsets[u] .. offsets[u+1])`, oldest first, with their timestamps in `times`.
 */
export interface Sequences {
  /** numUsers + 1 entries */
  offsets: Int32Array
  /** plain (unshifted) item ids */
  items: Int32Array
  times: Float64Array
}

/**
 * Each user's items from `parts` merged into one time-ordered sequence.
 *
 * Order: by timestamp; equal timestamps by part (the order of `parts`), then by row within a part.
 * Split parts keep the input row order, and a leave_one_out (latest) or temporal split puts, among
 * equal timestamps, the earlier input rows in the earlier part, so `[train, valid, test]` merged
 * this way gives back exactly the order the split used (timestamp, then input row).
 *
 * The parts must share the id space (Split parts do). Rows are grouped by user with the counting
 * sort of arrays.ts (stable), then each user's rows are ordered by time: nothing to do when they
 * already are, else a sort of that user's rows only (O(n_u log n_u); see sortUserRows).
 */
export function userSequences(parts: readonly Interactions[], numUsers: number): Sequences {
  let n = 0
  for (const p of parts) n += p.length
  const user = new Int32Array(n)
  const item = new Int32Array(n)
  const time = new Float64Array(n)
  let k = 0
  for (const p of parts) {
    for (let r = 0; r < p.length; r++, k++) {
      const u = p.user[r]
      const t = p.timestamp[r]
      if (!(u >= 0 && u < numUsers)) throw new RecError('bug', 'sequences.user_range', `user id ${u} outside 0..${numUsers - 1}`)
      if (!Number.isFinite(t)) throw new RecError('bug', 'sequences.time', `row ${r} of a part has timestamp ${t}`)
      user[k] = u
      item[k] = p.item[r]
      time[k] = t
    }
  }

  // by user, stably (so part-then-row order), then each user's rows by time
  const {order, offsets} = countingSort(user, numUsers, n, null)
  const key = new Float64Array(n)
  const scratch = new Int32Array(n)
  for (let u = 0; u < numUsers; u++) {
    const s = offsets[u]
    const e = offsets[u + 1]
    if (e - s >= 2) sortUserRows(order, s, e, time, key, scratch)
  }
  const items = new Int32Array(n)
  const times = new Float64Array(n)
  for (let j = 0; j < n; j++) {
    const r = order[j]
    items[j] = item[r]
    times[j] = time[r]
  }
  return {offsets, items, times}
}

/**
 * The last `maxLen` items of each of `users` (row b = users[b]), shifted (+1) and left-padded
 * with 0: a [users.length × maxLen] row-major matrix. A user with no items gets a row of zeros.
 */
export function historyMatrix(seqs: Sequences, users: Int32Array, maxLen: number): Int32Array {
  checkMaxLen(maxLen)
  const out = new Int32Array(users.length * maxLen)
  for (let b = 0; b < users.length; b++) {
    const u = users[b]
    const e = seqs.offsets[u + 1]
    const s = Math.max(seqs.offsets[u], e - maxLen)
    const row = b * maxLen + maxLen - (e - s)
    for (let j = s; j < e; j++) out[row + j - s] = seqs.items[j] + 1
  }
  return out
}

/**
 * What a sequential model sees when it predicts the validation or test part, and what it should
 * predict. Rows follow `users`.
 */
export interface EvaluationHistories {
  /** the users with at least one row in the part, ascending (as evaluate.ts orders its users) */
  users: Int32Array
  /**
   * [users.length × maxLen]: the user's last maxLen items before the part (valid: train;
   * test: train + valid, merged in time order), shifted +1, left-padded with 0
   */
  histories: Int32Array
  /** unpadded length of each history row: min(history size, maxLen) */
  lengths: Int32Array
  /**
   * the user's items in the part, plain item ids in time order: those of users[b] are
   * `targetItems[targetOffsets[b] .. targetOffsets[b+1])` (exactly one each under leave_one_out)
   */
  targetOffsets: Int32Array
  targetItems: Int32Array
  /**
   * numUsers entries: the row of a user in `users` / `histories`, −1 for users without a target,
   * so a scorer handed any batch of users finds their histories
   */
  rowOfUser: Int32Array
  maxLen: number
}

/**
 * Histories and targets for evaluating `part` of a split.
 *
 * - valid: history = the train items; targets = the user's valid items.
 * - test: history = train + valid items (in time order; under leave_one_out that is "up to and
 *   including the validation item"); targets = the user's test items.
 *
 * "The history comes before the target" holds for time-ordered splits (leave_one_out with
 * order: latest, temporal); for random splits the history is simply the earlier parts.
 * Targets are the raw part: evaluate.ts still drops a target item the user already had in an
 * excluded part (repeat consumption), and may so skip a user — look rows up with `rowOfUser`.
 */
export function evaluationHistories(split: Split, part: 'valid' | 'test', maxLen: number = DEFAULT_MAX_LEN): EvaluationHistories {
  checkMaxLen(maxLen)
  const numUsers = split.train.numUsers
  const before = part === 'valid' ? [split.train] : [split.train, split.valid]
  const seen = userSequences(before, numUsers)
  const target = userSequences([part === 'valid' ? split.valid : split.test], numUsers)
  let count = 0
  for (let u = 0; u < numUsers; u++) if (target.offsets[u + 1] > target.offsets[u]) count++
  const users = new Int32Array(count)
  const rowOfUser = new Int32Array(numUsers).fill(-1)
  const lengths = new Int32Array(count)
  const targetOffsets = new Int32Array(count + 1)
  const targetItems = new Int32Array(target.items.length)
  let b = 0
  for (let u = 0; u < numUsers; u++) {
    const s = target.offsets[u]
    const e = target.offsets[u + 1]
    if (e === s) continue
    users[b] = u
    rowOfUser[u] = b
    lengths[b] = Math.min(maxLen, seen.offsets[u + 1] - seen.offsets[u])
    targetItems.set(target.items.subarray(s, e), targetOffsets[b])
    targetOffsets[b + 1] = targetOffsets[b] + e - s
    b++
  }
  return {users, histories: historyMatrix(seen, users, maxLen), lengths, targetOffsets, targetItems, rowOfUser, maxLen}
}

/** Next-item training examples: `count` windows of `maxLen` positions. */
export interface TrainingWindows {
  /** [count × maxLen]: shifted item ids, left-padded with 0 */
  inputs: Int32Array
  /** [count × maxLen]: targets[w, t] = the item after inputs[w, t] (shifted), 0 = no target */
  targets: Int32Array
  /** the user of each window */
  users: Int32Array
  count: number
  /** non-zero targets in all windows: Σ over users of (train items − 1) */
  positions: number
  maxLen: number
}

/**
 * Next-item training examples covering every training position exactly once.
 *
 * A user with n ≥ 2 items has n − 1 target positions (items 2..n, each predicted from the items
 * before it). They are cut into consecutive windows of maxLen, the last one ending at the latest
 * item, so the user yields ceil((n − 1) / maxLen) windows and only the earliest one can be partial
 * (left-padded, 0 targets in the padding). Within a window, column t holds input item s[j] and
 * target s[j + 1]; the context a window sees starts at its own first column (earlier items of a
 * long sequence are in the previous window, not repeated). Users with fewer than 2 items give no
 * window.
 *
 * Windows are ordered by user, then in time (earliest window first). On ml-100k with leave-one-out
 * (943 users, 98,114 train rows) that is 97,171 positions (train rows − users).
 */
export function trainingWindows(trainSeqs: Sequences, maxLen: number = DEFAULT_MAX_LEN): TrainingWindows {
  checkMaxLen(maxLen)
  const {offsets, items} = trainSeqs
  const numUsers = offsets.length - 1
  let count = 0
  let positions = 0
  for (let u = 0; u < numUsers; u++) {
    const p = offsets[u + 1] - offsets[u] - 1
    if (p > 0) {
      count += Math.ceil(p / maxLen)
      positions += p
    }
  }
  const inputs = new Int32Array(count * maxLen)
  const targets = new Int32Array(count * maxLen)
  const users = new Int32Array(count)
  let w = 0
  for (let u = 0; u < numUsers; u++) {
    const s = offsets[u]
    const n = offsets[u + 1] - s
    const p = n - 1
    if (p <= 0) continue
    const windows = Math.ceil(p / maxLen)
    for (let k = 0; k < windows; k++, w++) {
      // target indexes (into the user's sequence) first..last, the last window ending at n − 1
      const last = n - 1 - (windows - 1 - k) * maxLen
      const first = Math.max(1, last - maxLen + 1)
      const row = w * maxLen + maxLen - (last - first + 1)
      users[w] = u
      for (let j = first; j <= last; j++) {
        inputs[row + j - first] = items[s + j - 1] + 1
        targets[row + j - first] = items[s + j] + 1
      }
    }
  }
  return {inputs, targets, users, count, positions, maxLen}
}

/** one batch of windows, copied into fresh arrays (the trainer may keep them) */
export interface WindowBatch {
  /** [size × maxLen] */
  inputs: Int32Array
  /** [size × maxLen] */
  targets: Int32Array
  /** the users of the windows */
  users: Int32Array
  /** the window indexes (into TrainingWindows) of the rows */
  windows: Int32Array
  size: number
}

/**
 * The windows in a seeded random order, `batchSize` at a time (the last batch may be smaller),
 * each window exactly once. Deterministic: the same windows and seed (or an Rng in the same state,
 * e.g. the trainer's per-epoch stream) give the same batches. The order is one Fisher-Yates
 * shuffle of 0..count−1 drawn before the first batch.
 */
export function* windowBatches(windows: TrainingWindows, batchSize: number, rng: Rng | number): Generator<WindowBatch> {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RecError('bug', 'sequences.batch_size', `batch size must be a positive integer, got ${batchSize}`)
  const random = typeof rng === 'number' ? new Rng(rng) : rng
  const {count, maxLen} = windows
  const order = new Int32Array(count)
  for (let k = 0; k < count; k++) order[k] = k
  random.shuffle(order)
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start)
    const inputs = new Int32Array(size * maxLen)
    const targets = new Int32Array(size * maxLen)
    const users = new Int32Array(size)
    const ids = order.slice(start, start + size)
    for (let b = 0; b < size; b++) {
      const w = ids[b]
      inputs.set(windows.inputs.subarray(w * maxLen, (w + 1) * maxLen), b * maxLen)
      targets.set(windows.targets.subarray(w * maxLen, (w + 1) * maxLen), b * maxLen)
      users[b] = windows.users[w]
    }
    yield {inputs, targets, users, windows: ids, size}
  }
}

/**
 * Order rows order[s..e) (one user's, ascending row indexes) by time[row], ties by row index.
 * Already ordered (synthetic data, many logs): one pass. Integer timestamps (unix seconds or ms)
 * are packed with the row's rank into one exact float64 key, time · 2^b + rank with 2^b >= e − s,
 * and sorted natively (about 2.5× faster than a comparator); otherwise a comparator sort.
 */
function sortUserRows(order: Int32Array, s: number, e: number, time: Float64Array, key: Float64Array, scratch: Int32Array): void {
  let sorted = true
  let integers = true
  let maxAbs = 0
  let prev = -Infinity
  for (let j = s; j < e; j++) {
    const t = time[order[j]]
    if (t < prev) sorted = false
    if (!Number.isInteger(t)) integers = false
    const a = Math.abs(t)
    if (a > maxAbs) maxAbs = a
    prev = t
  }
  if (sorted) return
  let shift = 1
  while (shift < e - s) shift *= 2
  if (integers && (maxAbs + 1) * shift <= Number.MAX_SAFE_INTEGER) {
    for (let j = s; j < e; j++) {
      key[j] = time[order[j]] * shift + (j - s)
      scratch[j] = order[j]
    }
    key.subarray(s, e).sort()
    for (let j = s; j < e; j++) {
      const k = key[j]
      order[j] = scratch[s + k - Math.floor(k / shift) * shift]
    }
  } else {
    order.subarray(s, e).sort((a, b) => time[a] - time[b] || a - b)
  }
}

function checkMaxLen(maxLen: number): void {
  if (!(Number.isInteger(maxLen) && maxLen >= 1)) throw new RecError('bug', 'sequences.max_len', `max_len must be a positive integer, got ${maxLen}`)
}
