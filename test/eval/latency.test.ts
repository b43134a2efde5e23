import {describe, expect, it} from 'vitest'

import {measureLatency, percentileNearestRank} from '../../src/eval/latency.js'
import {NUM_ITEMS, matrixScorer, prefMatrix} from './fixtures.js'

describe('percentileNearestRank', () => {
  it('the worked example of the nearest-rank method (Wikipedia, "Percentile"): [15, 20, 35, 40, 50]', () => {
    // rank = ceil(p/100 · n): p30 → ceil(1.5) = 2 → 20; p40 → 2 → 20; p50 → ceil(2.5) = 3 → 35; p100 → 5 → 50
    const s = [15, 20, 35, 40, 50]
    expect(percentileNearestRank(s, 30)).toBe(20)
    expect(percentileNearestRank(s, 40)).toBe(20)
    expect(percentileNearestRank(s, 50)).toBe(35)
    expect(percentileNearestRank(s, 100)).toBe(50)
    expect(percentileNearestRank(s, 0)).toBe(15) // clamped to rank 1
  })
  it('1..100: p50 = 50, p95 = 95, p99 = 99; no samples → NaN', () => {
    const s = Array.from({length: 100}, (_, j) => j + 1)
    expect([50, 95, 99].map((p) => percentileNearestRank(s, p))).toEqual([50, 95, 99])
    expect(percentileNearestRank([], 50)).toBeNaN()
  })
})

describe('measureLatency (shape and invariants only, never durations)', () => {
  it('times `requests` single-user requests after untimed warm-up, then throughput batches', async () => {
    const scorer = matrixScorer(prefMatrix(), NUM_ITEMS)
    const lat = await measureLatency({scorer, numUsers: 5, k: 3, requests: 40, warmup: 5, batch: 16, seed: 1})
    expect(lat.requests).toBe(40)
    expect(lat.batch).toBe(16)
    expect(lat.runtime).toBe('fake')
    expect(lat.p50Ms).toBeGreaterThanOrEqual(0)
    expect(lat.p50Ms).toBeLessThanOrEqual(lat.p95Ms)
    expect(lat.p95Ms).toBeLessThanOrEqual(lat.p99Ms)
    expect(lat.meanMs).toBeGreaterThan(0)
    expect(lat.throughputUsersPerS).toBeGreaterThan(0)
    // 5 warm-up + 40 timed single-user calls, then 1 warm-up + 3 timed batches of 16
    const sizes = scorer.calls.scoreUsers.map((c) => c.length)
    expect(sizes.filter((n) => n === 1).length).toBe(45)
    expect(sizes.filter((n) => n === 16).length).toBe(4)
    for (const c of scorer.calls.scoreUsers) for (const u of c) expect(u >= 0 && u < 5).toBe(true)
  })

  it('draws the same users for the same seed', async () => {
    const a = matrixScorer(prefMatrix(), NUM_ITEMS)
    const b = matrixScorer(prefMatrix(), NUM_ITEMS)
    await measureLatency({scorer: a, numUsers: 5, k: 3, requests: 10, warmup: 2, batch: 4, seed: 9})
    await measureLatency({scorer: b, numUsers: 5, k: 3, requests: 10, warmup: 2, batch: 4, seed: 9})
    expect(a.calls.scoreUsers).toEqual(b.calls.scoreUsers)
  })

  it('copes with K larger than the catalogue', async () => {
    const lat = await measureLatency({scorer: matrixScorer(prefMatrix(), NUM_ITEMS), numUsers: 5, k: 100, requests: 3, warmup: 0, batch: 2, seed: 1})
    expect(lat.requests).toBe(3)
  })
})
