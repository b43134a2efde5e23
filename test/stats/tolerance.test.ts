import {describe, expect, it} from 'vitest'

import {RecError} from '../../src/errors.js'
import {checkAgainst, parseTolerance} from '../../src/run/check.js'
import {summarizeSeeds} from '../../src/run/seeds.js'
import type {VariantResult} from '../../src/run/pipeline.js'

describe('tolerances in standard deviations over seeds', () => {
  it('parses k·sd as a default or per metric; a metric\'s own tolerance replaces the other unit', () => {
    expect(parseTolerance('2sd')).toEqual({default: 0.002, perMetric: {}, sd: {default: 2, perMetric: {}}})
    expect(parseTolerance('NDCG@10=3sd,0.001')).toEqual({default: 0.001, perMetric: {}, sd: {perMetric: {'ndcg@10': 3}}})
    expect(parseTolerance('ndcg@10=3sd,ndcg@10=0.01')).toEqual({default: 0.002, perMetric: {'ndcg@10': 0.01}, sd: {perMetric: {}}})
    expect(() => parseTolerance('sd')).toThrow(/bad --tolerance part "sd"/)
    expect(() => parseTolerance('ndcg@10=-1sd')).toThrow(/expected a number >= 0/)
  })

  it('allows k × the reference std of each metric, the absolute tolerance elsewhere', () => {
    const reference = {'bpr/base': {'ndcg@10': 0.28, 'recall@10': 0.23}}
    const spreads = {'bpr/base': {'ndcg@10': 0.005, 'recall@10': 0.003}}
    const actual = {'bpr/base': {'ndcg@10': 0.289, 'recall@10': 0.2305}}
    // ndcg moved 0.009: inside 2·0.005, outside 1·0.005; recall moved 0.0005 (absolute 0.002 applies)
    expect(checkAgainst(reference, actual, parseTolerance('ndcg@10=2sd'), spreads).ok).toBe(true)
    const r = checkAgainst(reference, actual, parseTolerance('ndcg@10=1sd'), spreads)
    expect(r.failed.map((f) => [f.metric, f.allowed])).toEqual([['ndcg@10', 0.005]])
    // recall at 2 std: 0.006 allowed
    expect(checkAgainst(reference, actual, parseTolerance('2sd'), spreads).moved.find((m) => m.metric === 'recall@10')?.allowed).toBeCloseTo(0.006, 12)
  })

  it('refuses a tolerance in sd against a reference without spreads (usage error)', () => {
    try {
      checkAgainst({'m/base': {'ndcg@10': 0.2}}, {'m/base': {'ndcg@10': 0.2}}, parseTolerance('2sd'))
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(RecError)
      expect((err as RecError).code).toBe('check.no_spread')
      expect((err as RecError).exitCode).toBe(2)
    }
  })
})

describe('summarizeSeeds', () => {
  const v = (name: string, ndcg: number, p50: number) => ({model: 'mf', name, backend: 'wasm', runtime: 'onnxruntime-cpu', execution: 'float32', metrics: {'ndcg@10': ndcg}, latency: {p50Ms: p50}, sizeBytes: 100}) as unknown as VariantResult
  it('mean ± std per variant, and a seed-paired t-test of each variant against its base', () => {
    const s = summarizeSeeds([
      [v('base', 0.3, 1), v('int8', 0.29, 0.5)],
      [v('base', 0.32, 1), v('int8', 0.30, 0.5)],
      [v('base', 0.31, 1), v('int8', 0.305, 0.5)],
    ])
    expect(s.rows.map((r) => r.variant)).toEqual(['base', 'int8'])
    expect(s.rows[0].stats['ndcg@10'].mean).toBeCloseTo(0.31, 12)
    expect(s.rows[0].stats['ndcg@10'].std).toBeCloseTo(0.01, 12)
    // differences −0.01, −0.02, −0.005: mean −0.011667, sd 0.0076376, t = −2.6458 with 2 df → p = 0.1181 (scipy.stats.ttest_rel)
    expect(s.comparisons).toHaveLength(1)
    expect(s.comparisons[0].tTest.df).toBe(2)
    expect(s.comparisons[0].tTest.statistic).toBeCloseTo(-2.6458, 4)
    expect(s.comparisons[0].tTest.pValue).toBeCloseTo(0.1181, 4)
    expect(s.comparisons[0].significant).toBe(false)
  })
})
