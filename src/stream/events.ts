import type {StreamConfig, StreamSpanConfig} from '../config/schema.js'
import type {Interactions} from '../data/types.js'
import {configError, dataError} from '../errors.js'

/**
 * The events of a prequential replay, in the order they are replayed. Ids are the reader's dense ids
 * over the whole input ("global" ids); each strategy's model has its own id map (src/models/io.ts
 * IdMap) that grows as users and items fold in.
 *
 * Defined behaviour for streams as they come:
 * - Out of order: events are replayed by timestamp (ties keep the input order), whatever the order of
 *   the file; the input order never changes a number.
 * - The start cut: every event with a timestamp before the cut trains the initial model, wherever it
 *   sits in the file; the replay is every event at or after it. A fraction f cuts at the timestamp of
 *   the event at position ⌊f·n⌋ in time order (so events sharing that timestamp all go to the replay).
 * - Duplicates: a (user, item) pair that already occurred earlier in time (re-consumption, or the same
 *   event twice) is skipped, neither evaluated nor learned, and counted (`duplicates`); its first
 *   occurrence is the one that counts. preprocess.dedupe is not applied (keeping the latest of a pair
 *   would look into the future); preprocess.implicit and kcore are.
 */
export interface StreamEvents {
  /** events in replay order: initial ones (t < cut) first */
  user: Int32Array
  item: Int32Array
  time: Float64Array
  /** events [0, initial) train the initial model; [initial, length) are replayed */
  initial: number
  length: number
  cut: number
  numUsers: number
  numItems: number
  userIds: string[]
  itemIds: string[]
  /** skipped repeats of a (user, item) pair (before and after the cut) */
  duplicates: number
  /** replay windows: events [bounds[w], bounds[w+1]) */
  bounds: number[]
}

const UNIT_SECONDS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86_400, w: 604_800}

/** seconds of a duration like "1d", "12h" */
export function durationSeconds(d: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(d)
  if (!m) throw configError('stream.bad_duration', `${JSON.stringify(d)} is not a duration`, {hint: 'write <number><s|m|h|d|w>, e.g. 1d or 12h'})
  const s = Number(m[1]) * UNIT_SECONDS[m[2]]
  if (!(s > 0)) throw configError('stream.bad_duration', `duration ${d} must be positive`)
  return s
}

/** the timestamp (seconds, as MovieLens stores it) of a date string */
function dateSeconds(s: string): number {
  const ms = Date.parse(s)
  if (Number.isNaN(ms)) throw configError('stream.bad_start', `stream.start ${JSON.stringify(s)} is neither a fraction nor a date`, {hint: 'use a fraction in (0, 1), e.g. 0.8, or an ISO date such as 1998-03-01'})
  return ms / 1000
}

/** order events by time (stable), skip repeated pairs, cut at `start`, and cut the replay into windows */
export function streamEvents(inter: Interactions, cfg: Pick<StreamConfig, 'start' | 'window' | 'max_windows'>): StreamEvents {
  if (inter.hasTimestamps === false) {
    throw dataError('stream.no_timestamps', 'the data has no timestamp column: a replay needs the time of each event', {hint: 'map a timestamp column in data.columns'})
  }
  const n = inter.length
  const order = Int32Array.from({length: n}, (_, k) => k)
  // Array.prototype.sort is stable: equal timestamps keep the input order
  const sorted = Array.from(order).sort((a, b) => inter.timestamp[a] - inter.timestamp[b])
  const seen = new Set<number>()
  const keep: number[] = []
  let duplicates = 0
  for (const r of sorted) {
    const key = inter.user[r] * inter.numItems + inter.item[r]
    if (seen.has(key)) {
      duplicates++
      continue
    }
    seen.add(key)
    keep.push(r)
  }
  const m = keep.length
  const user = new Int32Array(m)
  const item = new Int32Array(m)
  const time = new Float64Array(m)
  keep.forEach((r, k) => {
    user[k] = inter.user[r]
    item[k] = inter.item[r]
    time[k] = inter.timestamp[r]
  })
  if (m < 2) throw dataError('stream.too_few_events', `the stream has ${m} distinct events`, {hint: 'a replay needs events before and after stream.start'})
  const cut = typeof cfg.start === 'number' ? time[Math.min(m - 1, Math.floor(cfg.start * m))] : dateSeconds(cfg.start)
  let initial = 0
  while (initial < m && time[initial] < cut) initial++
  if (initial === 0 || initial === m) {
    throw dataError('stream.empty_side', `stream.start leaves ${initial === 0 ? 'no event to train the initial model' : 'no event to replay'} (${m} events from ${new Date(time[0] * 1000).toISOString()} to ${new Date(time[m - 1] * 1000).toISOString()})`, {
      hint: 'move stream.start inside the data\'s time range',
    })
  }
  const bounds = windowBounds(time, initial, m, cfg.window)
  if (cfg.max_windows !== undefined && bounds.length - 1 > cfg.max_windows) bounds.length = cfg.max_windows + 1
  return {user, item, time, initial, length: bounds[bounds.length - 1], cut, numUsers: inter.numUsers, numItems: inter.numItems, userIds: inter.userIds, itemIds: inter.itemIds, duplicates, bounds}
}

/** window boundaries over events [from, to): N events each (the last may be shorter), or consecutive time spans (empty spans skipped) */
function windowBounds(time: Float64Array, from: number, to: number, w: StreamSpanConfig): number[] {
  const bounds = [from]
  if ('events' in w) {
    for (let k = from + w.events; k < to; k += w.events) bounds.push(k)
  } else {
    const d = durationSeconds(w.duration)
    const t0 = time[from]
    let k = from
    while (k < to) {
      const slot = Math.floor((time[k] - t0) / d)
      while (k < to && Math.floor((time[k] - t0) / d) === slot) k++
      if (k < to) bounds.push(k)
    }
  }
  bounds.push(to)
  return bounds
}

/** the first event of the most recent `span` ending at event `end` (exclusive) */
export function spanStart(time: Float64Array, end: number, span: StreamSpanConfig): number {
  if ('events' in span) return Math.max(0, end - span.events)
  const from = time[end - 1] - durationSeconds(span.duration)
  let k = end
  while (k > 0 && time[k - 1] > from) k--
  return k
}
