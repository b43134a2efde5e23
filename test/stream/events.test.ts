import {describe, expect, it} from 'vitest'

import type {Interactions} from '../../src/data/types.js'
import {durationSeconds, spanStart, streamEvents} from '../../src/stream/events.js'
import {modelInteractions} from '../../src/stream/update.js'

const DAY = 86_400

/** interactions from (user, item, time) triples, ids u<k> / i<k>, in the given (file) order */
function events(rows: [number, number, number][], options: {hasTimestamps?: boolean} = {}): Interactions {
  const numUsers = Math.max(...rows.map((r) => r[0])) + 1
  const numItems = Math.max(...rows.map((r) => r[1])) + 1
  const idmap = {userIds: Array.from({length: numUsers}, (_, k) => `u${k}`), itemIds: Array.from({length: numItems}, (_, k) => `i${k}`)}
  return {...modelInteractions({user: rows.map((r) => r[0]), item: rows.map((r) => r[1]), time: rows.map((r) => r[2])}, idmap), ...options}
}

// ten events, one a day, users 0-2 and items 0-4 (time order = this order)
const ROWS: [number, number, number][] = [
  [0, 0, 0],
  [1, 1, DAY],
  [2, 2, 2 * DAY],
  [0, 1, 3 * DAY],
  [1, 2, 4 * DAY],
  [2, 3, 5 * DAY],
  [0, 4, 6 * DAY],
  [1, 3, 7 * DAY],
  [2, 0, 8 * DAY],
  [0, 2, 9 * DAY],
]
const triples = (e: ReturnType<typeof streamEvents>) => Array.from(e.user, (u, k) => [u, e.item[k], e.time[k]])

describe('streamEvents', () => {
  it('cuts a fraction at the timestamp of the event at ⌊f·n⌋ and windows the rest by events', () => {
    const e = streamEvents(events(ROWS), {start: 0.6, window: {events: 2}})
    expect(e.initial).toBe(6)
    expect(e.cut).toBe(6 * DAY)
    expect(e.bounds).toEqual([6, 8, 10])
    expect(e.duplicates).toBe(0)
  })

  it('replays by time whatever the file order (ties keep the file order)', () => {
    const shuffled = [ROWS[7], ROWS[2], ROWS[9], ROWS[0], ROWS[5], ROWS[1], ROWS[8], ROWS[3], ROWS[6], ROWS[4]]
    const a = streamEvents(events(ROWS), {start: 0.5, window: {events: 3}})
    const b = streamEvents(events(shuffled), {start: 0.5, window: {events: 3}})
    expect(triples(b)).toEqual(triples(a))
    expect(b.bounds).toEqual(a.bounds)
    // two events at the same time: the earlier row comes first
    const tie = streamEvents(events([[0, 0, 0], [1, 1, 5], [0, 2, 5], [1, 0, 9]]), {start: 0.25, window: {events: 10}})
    expect(triples(tie)).toEqual([[0, 0, 0], [1, 1, 5], [0, 2, 5], [1, 0, 9]])
  })

  it('sends an event earlier than the cut to the initial model even when the file lists it last', () => {
    const late = events([...ROWS, [1, 4, 2.5 * DAY]])
    const e = streamEvents(late, {start: new Date(6 * DAY * 1000).toISOString(), window: {events: 100}})
    expect(e.initial).toBe(7)
    expect(triples(e).slice(0, e.initial).some(([u, i]) => u === 1 && i === 4)).toBe(true)
    expect(e.length - e.initial).toBe(4)
  })

  it('skips a repeated (user, item) pair, counts it, and keeps its first occurrence', () => {
    // (0, 1) again on day 8.5 and (2, 2) twice at the same time
    const e = streamEvents(events([...ROWS, [0, 1, 8.5 * DAY], [2, 2, 2 * DAY]]), {start: 0.5, window: {events: 100}})
    expect(e.duplicates).toBe(2)
    expect(e.length).toBe(10)
    expect(triples(e)).toEqual(ROWS.map((r) => [...r]))
  })

  it('windows by duration, skipping empty spans, and stops at max_windows', () => {
    const gap: [number, number, number][] = [[0, 0, 0], [1, 1, 1], [0, 1, 10 * DAY], [1, 0, 10.5 * DAY], [2, 2, 13 * DAY], [2, 0, 13.2 * DAY]]
    const e = streamEvents(events(gap), {start: 0.34, window: {duration: '1d'}})
    expect(e.initial).toBe(2)
    // day 10 (two events), day 13 (two events): the empty days between are no windows
    expect(e.bounds).toEqual([2, 4, 6])
    expect(streamEvents(events(gap), {start: 0.34, window: {duration: '1d'}, max_windows: 1}).bounds).toEqual([2, 4])
  })

  it('refuses data without timestamps and a cut that leaves one side empty', () => {
    expect(() => streamEvents(events(ROWS, {hasTimestamps: false}), {start: 0.8, window: {events: 2}})).toThrow(/no timestamp column/)
    expect(() => streamEvents(events(ROWS), {start: '1960-01-01', window: {events: 2}})).toThrow(/no event to train the initial model/)
    expect(() => streamEvents(events(ROWS), {start: '2100-01-01', window: {events: 2}})).toThrow(/no event to replay/)
    expect(() => streamEvents(events(ROWS), {start: 'soon', window: {events: 2}})).toThrow(/neither a fraction nor a date/)
  })

  it('reads durations and finds the start of a span', () => {
    expect([durationSeconds('90s'), durationSeconds('1.5h'), durationSeconds('2d'), durationSeconds('1w')]).toEqual([90, 5400, 172_800, 604_800])
    const time = Float64Array.from(ROWS, (r) => r[2])
    expect(spanStart(time, 8, {events: 3})).toBe(5)
    expect(spanStart(time, 8, {events: 30})).toBe(0)
    // the last event is day 7: a 2-day span keeps days 6 and 7 (day 5 is exactly 2 days before)
    expect(spanStart(time, 8, {duration: '2d'})).toBe(6)
  })
})
