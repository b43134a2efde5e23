/**
 * The fused per-user kernel of full-ranking evaluation (src/eval/fullrank.ts) against the general
 * functions it replaces on the hot path: TopK for the list, `auc` for AUC, TOPK_FUNCTIONS for the
 * top-K metrics. They must agree exactly (toBe, not toBeCloseTo): the kernel is only a faster way
 * to compute the same numbers, so the golden values of metrics.test.ts carry over.
 */
import {describe, expect, it} from 'vitest'

import {FullRankKernel} from '../../src/eval/fullrank.js'
import {TOPK_FUNCTIONS, TOPK_METRICS, auc, topKMetricsInto} from '../../src/eval/metrics.js'
import {TopK} from '../../src/eval/topk.js'
import {Rng} from '../../src/rng.js'

/** the reference: what evaluate computed per user before the kernel */
function reference(row: Float32Array, relevant: Int32Array, ks: number[]) {
  const maxK = ks[ks.length - 1]
  const out = new Int32Array(maxK)
  const n = new TopK(maxK).select(row, 0, row.length, out)
  const ranked = out.subarray(0, n)
  const rel = new Set(relevant)
  const metrics = ks.flatMap((k) => TOPK_METRICS.map((m) => TOPK_FUNCTIONS[m](ranked, rel, k)))
  const pos: number[] = []
  const neg: number[] = []
  row.forEach((s, i) => {
    if (s === -Infinity) return
    if (rel.has(i)) pos.push(s)
    else neg.push(s)
  })
  return {top: Array.from(ranked), metrics, auc: auc(pos, neg)}
}

function kernelRun(row: Float32Array, relevant: Int32Array, ks: number[]) {
  const kernel = new FullRankKernel(row.length, ks)
  const out = new Int32Array(ks[ks.length - 1])
  const metrics = new Float64Array(ks.length * TOPK_METRICS.length)
  // a row in the middle of a batch, as evaluate passes it
  const batch = new Float32Array(row.length * 3).fill(7)
  batch.set(row, row.length)
  const r = kernel.rank(batch, row.length, relevant, out, metrics)
  // a second call on the same kernel must not see the first one's marks
  const again = kernel.rank(batch, row.length, relevant, out.slice(), metrics.slice())
  expect(again).toEqual(r)
  return {top: Array.from(out.subarray(0, r.n)), metrics: Array.from(metrics), auc: r.auc}
}

/** a score row with coarse values (many ties), some excluded (-Infinity), a few NaN */
function randomCase(rng: Rng, numItems: number, nRel: number, options: {nan?: boolean; excluded?: number} = {}) {
  const row = new Float32Array(numItems)
  for (let i = 0; i < numItems; i++) row[i] = rng.int(21) / 4 - 2
  const items = Array.from({length: numItems}, (_, i) => i)
  for (let i = numItems - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  const relevant = Int32Array.from(items.slice(0, nRel))
  const excluded = items.slice(nRel, nRel + (options.excluded ?? Math.floor(numItems / 5)))
  for (const i of excluded) row[i] = -Infinity
  if (options.nan) row[items[items.length - 1]] = Number.NaN
  return {row, relevant}
}

describe('FullRankKernel = TopK + auc + TOPK_FUNCTIONS, exactly', () => {
  it('on random rows with ties, exclusions and NaN, for several cut-off sets', () => {
    const rng = new Rng(13)
    for (let t = 0; t < 300; t++) {
      const numItems = 1 + rng.int(200)
      const nRel = 1 + rng.int(Math.min(numItems, 12))
      const ks = [[10], [10, 20], [1, 5, 50], [3]][t % 4]
      const {row, relevant} = randomCase(rng, numItems, nRel, {nan: t % 3 === 0})
      expect(kernelRun(row, relevant, ks)).toEqual(reference(row, relevant, ks))
    }
  })

  it('when relevant items outnumber the others (auc sorts the other side) and when nothing is eligible', () => {
    const rng = new Rng(5)
    for (let t = 0; t < 50; t++) {
      const {row, relevant} = randomCase(rng, 30, 25, {excluded: 2})
      expect(kernelRun(row, relevant, [10, 20])).toEqual(reference(row, relevant, [10, 20]))
    }
    const none = new Float32Array(8).fill(-Infinity)
    const got = kernelRun(none, Int32Array.of(2), [5])
    expect(got.top).toEqual([])
    expect(got.auc).toBeNaN()
    expect(got.metrics).toEqual(reference(none, Int32Array.of(2), [5]).metrics)
  })

  it('a hand-made row: list, metrics and AUC by hand', () => {
    // scores: item 0: 3, 1: 1, 2: 2 (relevant), 3: -Inf (excluded), 4: 2 (relevant, tie with 2)
    const row = Float32Array.of(3, 1, 2, -Infinity, 2)
    const got = kernelRun(row, Int32Array.of(2, 4), [2])
    expect(got.top).toEqual([0, 2]) // the tie at 2 goes to the lower id
    // pairs (pos, neg): (2 vs 0) wrong, (2 vs 1) right, (4 vs 0) wrong, (4 vs 1) right: 2 / 4
    expect(got.auc).toBe(0.5)
    // precision@2 = 1/2, recall@2 = 1/2, f1 1/2, ndcg = (1/log2 3) / (1 + 1/log2 3), hr 1, mrr 1/2, map = (1/2) / 2
    const idcg = 1 + 1 / Math.log2(3)
    expect(got.metrics).toEqual([0.5, 0.5, 0.5, 1 / Math.log2(3) / idcg, 1, 0.5, 0.25])
  })
})

describe('topKMetricsInto', () => {
  it('a list shorter than K keeps K as the divisor (as the functions do)', () => {
    const ranked = Int32Array.of(4, 9)
    const mark = new Uint8Array(10)
    mark[9] = 1
    const out = new Float64Array(14)
    topKMetricsInto(ranked, 2, mark, 1, [5, 10], out)
    const rel = new Set([9])
    expect(Array.from(out)).toEqual([5, 10].flatMap((k) => TOPK_METRICS.map((m) => TOPK_FUNCTIONS[m](ranked, rel, k))))
    expect(out[0]).toBe(1 / 5)
  })
})
