import {describe, expect, it} from 'vitest'

import {isRecError} from '../../src/errors.js'
import {
  METRICS,
  accuracy,
  auc,
  f1AtK,
  hitRateAtK,
  itemCoverage,
  logloss,
  mapAtK,
  mrrAtK,
  ndcgAtK,
  parseMetricName,
  pointwiseF1,
  pointwisePrecision,
  pointwiseRecall,
  precisionAtK,
  recallAtK,
  sigmoid,
} from '../../src/eval/metrics.js'
import {TopK, topK} from '../../src/eval/topk.js'
import {Rng} from '../../src/rng.js'

/** one tolerance for every numeric comparison: float32 has ~7 significant digits */
const TOL = 1e-6
const close = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(TOL)

// item ids used in the hand-made rankings
const A = 10
const B = 11
const C = 12
const D = 13

describe('top-K metrics: ranking [rel, non, rel], |rel| = 2', () => {
  const ranked = [A, B, C]
  const rel = new Set([A, C])

  it('precision, recall, F1 at K = 3', () => {
    close(precisionAtK(ranked, rel, 3), 2 / 3) // 2 hits / K=3
    close(recallAtK(ranked, rel, 3), 1) // 2 hits / |rel|=2
    close(f1AtK(ranked, rel, 3), 0.8) // 2·(2/3)·1 / (2/3 + 1) = (4/3)/(5/3) = 0.8
  })

  it('NDCG@3 = (1 + 1/log2(4)) / (1 + 1/log2(3)) = 1.5 / 1.6309297535714575 = 0.9197207891481876', () => {
    // DCG: hits at ranks 1 and 3 → 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5
    // IDCG over min(|rel|, K) = 2 positions → 1/log2(2) + 1/log2(3) = 1 + 0.6309297535714575
    close(ndcgAtK(ranked, rel, 3), 0.9197207891481876)
  })

  it('NDCG@2 = 1 / (1 + 1/log2(3)) = 0.6131471927654584', () => {
    // only rank 1 hits within K = 2; IDCG still over 2 positions
    close(ndcgAtK(ranked, rel, 2), 0.6131471927654584)
  })

  it('HR and MRR', () => {
    expect(hitRateAtK(ranked, rel, 1)).toBe(1)
    expect(mrrAtK(ranked, rel, 3)).toBe(1) // first hit at rank 1
  })

  it('MAP@3 = (P@1 + P@3) / min(2, 3) = (1 + 2/3) / 2 = 0.8333...', () => {
    close(mapAtK(ranked, rel, 3), 5 / 6)
  })

  it('MAP@2 = P@1 / min(2, 2) = 0.5; P@2 = R@2 = 0.5', () => {
    close(mapAtK(ranked, rel, 2), 0.5)
    close(precisionAtK(ranked, rel, 2), 0.5)
    close(recallAtK(ranked, rel, 2), 0.5)
  })
})

describe('top-K metrics: first hit at rank 3 of [non, non, rel, non], |rel| = 1', () => {
  const ranked = [B, A, C, D]
  const rel = new Set([C])
  it('MRR@4 = 1/3, MRR@2 = 0 (hit beyond K)', () => {
    close(mrrAtK(ranked, rel, 4), 1 / 3)
    expect(mrrAtK(ranked, rel, 2)).toBe(0)
  })
  it('HR@2 = 0, HR@3 = 1', () => {
    expect(hitRateAtK(ranked, rel, 2)).toBe(0)
    expect(hitRateAtK(ranked, rel, 3)).toBe(1)
  })
  it('NDCG@4 = (1/log2(4)) / 1 = 0.5; MAP@4 = P@3 / 1 = 1/3', () => {
    close(ndcgAtK(ranked, rel, 4), 0.5)
    close(mapAtK(ranked, rel, 4), 1 / 3)
  })
  it('F1@4: P = 1/4, R = 1 → 2·0.25·1/1.25 = 0.4', () => {
    close(f1AtK(ranked, rel, 4), 0.4)
  })
})

describe('top-K edge cases', () => {
  it('no relevant items: every metric is 0 (the evaluator skips such users)', () => {
    const none = new Set<number>()
    for (const f of [precisionAtK, recallAtK, f1AtK, ndcgAtK, hitRateAtK, mrrAtK, mapAtK]) expect(f([A, B], none, 2)).toBe(0)
  })

  it('no hit at all: every metric is 0, F1 is 0 (not NaN)', () => {
    const rel = new Set([D])
    for (const f of [precisionAtK, recallAtK, f1AtK, ndcgAtK, hitRateAtK, mrrAtK, mapAtK]) expect(f([A, B, C], rel, 3)).toBe(0)
  })

  it('K larger than the list: precision still divides by K, the rest are unaffected', () => {
    const rel = new Set([A])
    close(precisionAtK([A, B], rel, 5), 1 / 5)
    close(recallAtK([A, B], rel, 5), 1)
    close(ndcgAtK([A, B], rel, 5), 1) // IDCG over min(1, 5) = 1 position
    close(mapAtK([A, B], rel, 5), 1) // P@1 / min(1, 5)
    close(mrrAtK([A, B], rel, 5), 1)
    close(f1AtK([A, B], rel, 5), (2 * 0.2 * 1) / 1.2) // = 1/3
  })

  it('empty list: everything 0', () => {
    const rel = new Set([A])
    for (const f of [precisionAtK, recallAtK, f1AtK, ndcgAtK, hitRateAtK, mrrAtK, mapAtK]) expect(f([], rel, 3)).toBe(0)
  })

  it('all relevant: every metric is 1', () => {
    const rel = new Set([A, B, C])
    for (const f of [precisionAtK, recallAtK, f1AtK, ndcgAtK, hitRateAtK, mrrAtK, mapAtK]) close(f([A, B, C], rel, 3), 1)
  })

  it('more relevant items than K: recall < 1 but NDCG and MAP normalise by min(|rel|, K)', () => {
    const rel = new Set([A, B, C, D])
    close(recallAtK([A, B], rel, 2), 0.5)
    close(precisionAtK([A, B], rel, 2), 1)
    close(ndcgAtK([A, B], rel, 2), 1)
    close(mapAtK([A, B], rel, 2), 1) // (P@1 + P@2) / min(4, 2) = 2/2
  })
})

describe('AUC', () => {
  it('known ranking with a tie: pos [0.9, 0.4] vs neg [0.8, 0.4, 0.1] = 4.5 / 6 = 0.75', () => {
    // 0.9 beats all 3 negatives → 3; 0.4 beats 0.1 (1) and ties 0.4 (½) → 1.5; (3 + 1.5) / (2·3)
    close(auc([0.9, 0.4], [0.8, 0.4, 0.1]), 0.75)
  })
  it('perfect, reversed and all-tied orderings → 1, 0, 0.5', () => {
    expect(auc([3, 4], [1, 2])).toBe(1)
    expect(auc([1, 2], [3, 4])).toBe(0)
    expect(auc([1, 1], [1, 1, 1])).toBe(0.5)
  })
  it('undefined (NaN) without positives or without negatives', () => {
    expect(auc([], [1, 2])).toBeNaN()
    expect(auc([1], [])).toBeNaN()
  })
  it('equals the O(P·N) pair count on random scores with ties', () => {
    const rng = new Rng(5)
    const pos = Array.from({length: 37}, () => rng.int(20) / 4)
    const neg = Array.from({length: 53}, () => rng.int(20) / 4)
    let c = 0
    for (const p of pos) for (const n of neg) c += p > n ? 1 : p === n ? 0.5 : 0
    close(auc(pos, neg), c / (pos.length * neg.length))
  })
})

describe('item coverage', () => {
  it('distinct items in the top-K lists / numItems', () => {
    const lists = [Int32Array.of(0, 1, 2), Int32Array.of(1, 2, 3)]
    close(itemCoverage(lists, 10, 2), 3 / 10) // {0, 1} ∪ {1, 2}
    close(itemCoverage(lists, 10, 3), 4 / 10) // {0, 1, 2} ∪ {1, 2, 3}
    expect(itemCoverage([], 10, 3)).toBe(0)
  })
})

describe('pointwise metrics', () => {
  // probs [0.9, 0.6, 0.4, 0.2], labels [1, 0, 1, 0]
  const probs = [0.9, 0.6, 0.4, 0.2]
  const labels = [1, 0, 1, 0]
  it('at threshold 0.5: TP=1 (0.9), FP=1 (0.6), FN=1 (0.4), TN=1 (0.2) → all 0.5', () => {
    close(accuracy(probs, labels, 0.5), 0.5)
    close(pointwisePrecision(probs, labels, 0.5), 0.5)
    close(pointwiseRecall(probs, labels, 0.5), 0.5)
    close(pointwiseF1(probs, labels, 0.5), 0.5)
  })
  it('at threshold 0.3: TP=2, FP=1, FN=0, TN=1 → acc 0.75, P 2/3, R 1, F1 0.8', () => {
    close(accuracy(probs, labels, 0.3), 0.75)
    close(pointwisePrecision(probs, labels, 0.3), 2 / 3)
    close(pointwiseRecall(probs, labels, 0.3), 1)
    close(pointwiseF1(probs, labels, 0.3), 0.8)
  })
  it('a prediction exactly at the threshold is positive (p >= t)', () => {
    close(pointwiseRecall([0.5], [1], 0.5), 1)
  })
  it('nothing predicted positive: precision and F1 are 0, not NaN', () => {
    expect(pointwisePrecision(probs, labels, 0.95)).toBe(0)
    expect(pointwiseF1(probs, labels, 0.95)).toBe(0)
  })
  it('logloss = −(ln 0.9 + ln 0.4 + ln 0.4 + ln 0.8) / 4 = 0.5402713...', () => {
    // −(−0.1053605157 − 0.9162907319 − 0.9162907319 − 0.2231435513) / 4 = 2.1610855308 / 4
    close(logloss(probs, labels), 0.5402713826800865)
  })
  it('logloss clips probabilities to [1e-7, 1 − 1e-7]: a certain mistake costs −ln(1e-7) = 16.11809565', () => {
    close(logloss([1], [0]), 16.11809565095832)
    close(logloss([0], [1]), 16.11809565095832)
    expect(Number.isFinite(logloss([0, 1], [0, 1]))).toBe(true)
    expect(logloss([], [])).toBe(0)
  })
  it('sigmoid is stable at the extremes', () => {
    close(sigmoid(0), 0.5)
    expect(sigmoid(-1000)).toBe(0)
    expect(sigmoid(1000)).toBe(1)
    close(sigmoid(2), 1 / (1 + Math.exp(-2)))
  })
})

describe('metric registry', () => {
  it('parses names with K', () => {
    const p = parseMetricName('ndcg@10')
    expect(p).toMatchObject({key: 'ndcg@10', base: 'ndcg', k: 10})
    expect(p.info).toMatchObject({needsK: true, higherIsBetter: true, kind: 'topk'})
    expect(parseMetricName('NDCG@20').key).toBe('ndcg@20')
    expect(parseMetricName('hit@5').key).toBe('hr@5')
    expect(parseMetricName('coverage@10').info.kind).toBe('coverage')
  })
  it('bare names: auc, pointwise; logloss is lower-is-better', () => {
    expect(parseMetricName('auc')).toMatchObject({key: 'auc', info: {kind: 'auc', needsK: false}})
    expect(parseMetricName('auc').k).toBeUndefined()
    expect(parseMetricName('precision').info.kind).toBe('pointwise')
    expect(parseMetricName('precision@5').info.kind).toBe('topk')
    expect(parseMetricName('logloss').info.higherIsBetter).toBe(false)
  })
  it('every registry entry has consistent metadata', () => {
    for (const [key, info] of Object.entries(METRICS)) expect(key.endsWith('@K')).toBe(info.needsK)
  })
  it('unknown names fail with a config error that lists the known ones', () => {
    for (const bad of ['foo@10', 'bogus', 'ndcg@', '@10', 'auc@10']) {
      let err: unknown
      try {
        parseMetricName(bad)
      } catch (error) {
        err = error
      }
      expect(isRecError(err), bad).toBe(true)
      if (isRecError(err)) {
        expect(err.kind).toBe('config')
        expect(err.exitCode).toBe(2)
        expect(err.hint).toContain('ndcg@K')
        expect(err.hint).toContain('auc')
      }
    }
  })
  it('a K-metric without K says so', () => {
    expect(() => parseMetricName('ndcg')).toThrow(/needs a cut-off/)
    expect(() => parseMetricName('ndcg@0')).toThrow(/positive integer/)
  })
})

describe('partial top-K selection', () => {
  it('orders by score, ties by lower id, skips -Infinity and NaN', () => {
    const s = Float32Array.of(0.5, 0.9, -Infinity, 0.9, NaN, 0.1)
    expect(Array.from(topK(s, 3))).toEqual([1, 3, 0])
    expect(Array.from(topK(s, 10))).toEqual([1, 3, 0, 5]) // K larger than the eligible items
  })
  it('matches a full stable sort on random scores with ties', () => {
    const rng = new Rng(11)
    const s = Float32Array.from({length: 500}, () => rng.int(50))
    const full = Array.from(s.keys()).sort((a, b) => s[b] - s[a] || a - b)
    for (const k of [1, 7, 20, 500]) expect(Array.from(topK(s, k))).toEqual(full.slice(0, k))
  })
  it('selects a row at an offset', () => {
    const rows = Float32Array.of(1, 2, 3, 9, 8, 7)
    const out = new Int32Array(2)
    const n = new TopK(2).select(rows, 3, 3, out)
    expect(n).toBe(2)
    expect(Array.from(out)).toEqual([0, 1])
  })
})
