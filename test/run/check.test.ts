import {describe, expect, it} from 'vitest'

import {RecError} from '../../src/errors.js'
import {checkAgainst, checkFailure, metricTable, parseTolerance} from '../../src/run/check.js'

const runJson = {
  runDir: '/tmp/x',
  variants: [
    {name: 'base', model: 'bpr', metrics: {'ndcg@10': 0.29, 'recall@10': 0.25}},
    {name: 'int8', model: 'bpr', metrics: {'ndcg@10': 0.288, 'recall@10': 0.249}},
  ],
}

describe('reference checks', () => {
  it('parses default and per-metric tolerances', () => {
    expect(parseTolerance(undefined)).toEqual({default: 0.002, perMetric: {}})
    expect(parseTolerance('0.001,ndcg@10=0.005')).toEqual({default: 0.001, perMetric: {'ndcg@10': 0.005}})
    expect(() => parseTolerance('ndcg@10=abc')).toThrow(/bad --tolerance/)
  })

  it('an empty value, a missing or unknown metric name are usage errors (exit 2); metric names are canonical', () => {
    for (const [spec, message] of [
      ['ndcg@10=', 'bad --tolerance part "ndcg@10=": the value is missing'],
      ['=0.1', 'bad --tolerance part "=0.1": the metric name is missing'],
      ['nddcg@10=0.1', 'bad --tolerance part "nddcg@10=0.1": unknown metric "nddcg@10"'],
      ['ndcg=0.1', 'bad --tolerance part "ndcg=0.1": metric "ndcg" needs a cut-off K'],
    ]) {
      let err: unknown
      try {
        parseTolerance(spec)
      } catch (error) {
        err = error
      }
      expect(err, spec).toBeInstanceOf(RecError)
      expect((err as RecError).exitCode).toBe(2)
      expect((err as RecError).code).toBe('usage.bad_tolerance')
      expect((err as RecError).message).toBe(message)
    }
    expect(parseTolerance('NDCG@10=0.01,hit@5=0.02')).toEqual({default: 0.002, perMetric: {'ndcg@10': 0.01, 'hr@5': 0.02}})
  })

  it('reads run --json output and hand-written references alike', () => {
    expect(metricTable(runJson, 'r.json')).toEqual({'bpr/base': {'ndcg@10': 0.29, 'recall@10': 0.25}, 'bpr/int8': {'ndcg@10': 0.288, 'recall@10': 0.249}})
    expect(metricTable({base: {'ndcg@10': 0.3}}, 'r.json')).toEqual({base: {'ndcg@10': 0.3}})
    expect(() => metricTable({base: {'ndcg@10': 'high'}}, 'r.json')).toThrow(/base.ndcg@10 is not a number/)
  })

  it('passes identical numbers and fails a value nudged beyond tolerance, with a readable diff', () => {
    const actual = metricTable(runJson, 'now')
    const same = checkAgainst(metricTable(runJson, 'ref'), actual, parseTolerance('0.002'))
    expect(same.ok).toBe(true)
    expect(same.moved).toEqual([])
    expect(same.compared).toBe(4)

    const nudged = {base: {'ndcg@10': 0.29 + 0.003, 'recall@10': 0.25 + 0.001}}
    const r = checkAgainst(nudged, actual, parseTolerance('0.002'))
    expect(r.ok).toBe(false)
    expect(r.failed.map((f) => f.metric)).toEqual(['ndcg@10'])
    expect(r.moved).toHaveLength(2) // the recall move is within tolerance but still listed
    expect(r.failed[0].delta).toBeCloseTo(-0.003, 12)
    const err = checkFailure(r, 'ref.json')
    expect(err).toBeInstanceOf(RecError)
    expect(err.exitCode).toBe(4)
    expect(err.details[0]).toBe('base ndcg@10: 0.293 → 0.29 (Δ -0.003, allowed ±0.002)')
    // a per-metric tolerance admits it
    expect(checkAgainst(nudged, actual, parseTolerance('ndcg@10=0.005')).ok).toBe(true)
  })

  it('fails when the reference names a metric or variant the run lacks', () => {
    const r = checkAgainst({'bpr/fp16': {'ndcg@10': 0.2}, base: {'mrr@10': 0.4}}, metricTable(runJson, 'now'), parseTolerance('1'))
    expect(r.ok).toBe(false)
    expect(r.failed).toHaveLength(2)
    expect(r.failed.every((f) => f.actual === null)).toBe(true)
  })
})
