/**
 * The per-user work of full-ranking evaluation in one pass over the user's score row: top-K
 * selection (as TopK: higher score first, ties to the lower item id, -Infinity and NaN never
 * selected) and the counts behind AUC (as `auc` in metrics.ts: relevant eligible items against
 * every other eligible item, ties ½), then every top-K metric at every cut-off (topKMetricsInto).
 * Same numbers as TopK + auc + TOPK_FUNCTIONS, bit for bit (test/eval/
 * fullrank.test.ts); it exists because those general functions, called per user over the whole
 * catalogue, cost several times more (three passes over the row, a copy, a sort and two binary
 * searches per item).
 */
import {topKMetricsInto} from './metrics.js'
import {insertBest} from './topk.js'

export class FullRankKernel {
  readonly k: number
  readonly ks: readonly number[]
  private readonly bestScores: Float64Array
  private readonly bestItems: Int32Array
  /** relevance marks, all zero between calls */
  private readonly mark: Uint8Array
  /** the eligible relevant scores, ascending */
  private readonly pos: Float64Array
  private readonly numItems: number

  /** `ks`: the cut-offs, ascending; the list is max(ks) long */
  constructor(numItems: number, ks: readonly number[]) {
    const k = ks[ks.length - 1]
    if (!Number.isInteger(k) || k < 1) throw new Error(`FullRankKernel: k must be a positive integer (got ${k})`)
    this.k = k
    this.ks = ks
    this.numItems = numItems
    this.bestScores = new Float64Array(k)
    this.bestItems = new Int32Array(k)
    this.mark = new Uint8Array(numItems)
    this.pos = new Float64Array(numItems)
  }

  /**
   * One user: `scores[offset .. offset + numItems)` is the user's row with excluded items already
   * at -Infinity; `relevant` the user's relevant items (distinct). Writes the top K item ids, best
   * first, into `out` and returns how many were written and the user's AUC (NaN when it has no
   * eligible relevant or no eligible other item); `metrics[ki · 7 + mi]` gets TOPK_METRICS[mi]
   * at ks[ki] (topKMetricsInto).
   */
  rank(scores: Float32Array, offset: number, relevant: Int32Array, out: Int32Array, metrics: Float64Array): {n: number; auc: number} {
    const k = this.k
    const n = this.numItems
    const bs = this.bestScores
    const bi = this.bestItems
    const mark = this.mark
    const pos = this.pos
    // eligible relevant scores, sorted ascending (few: insertion sort)
    let p = 0
    for (let r = 0; r < relevant.length; r++) {
      const i = relevant[r]
      mark[i] = 1
      const s = scores[offset + i]
      if (!(s > -Infinity)) continue
      let q = p++
      while (q > 0 && pos[q - 1] > s) {
        pos[q] = pos[q - 1]
        q--
      }
      pos[q] = s
    }
    const lowest = p > 0 ? pos[0] : Infinity
    const highest = p > 0 ? pos[p - 1] : -Infinity
    let size = 0
    let kth = -Infinity // the K-th best score once the buffer is full
    let neg = 0
    let correct = 0
    for (let i = 0; i < n; i++) {
      const s = scores[offset + i]
      if (!(s > -Infinity)) continue // -Infinity (excluded) and NaN
      if (mark[i] === 0) {
        neg++
        // positives above s, plus ½ per positive tied with it
        if (s < lowest) correct += p
        else if (s <= highest) {
          let lo = 0
          let hi = p
          while (lo < hi) {
            const mid = (lo + hi) >>> 1
            if (pos[mid] < s) lo = mid + 1
            else hi = mid
          }
          let up = lo
          while (up < p && pos[up] === s) up++
          correct += p - up + 0.5 * (up - lo)
        }
      }
      if (size === k && !(s > kth)) continue // ties keep the earlier (lower) id
      size = insertBest(bs, bi, size, k, s, i)
      if (size === k) kth = bs[k - 1]
    }
    for (let j = 0; j < size; j++) out[j] = bi[j]
    topKMetricsInto(out, size, mark, relevant.length, this.ks, metrics)
    for (let r = 0; r < relevant.length; r++) mark[relevant[r]] = 0
    // `correct` is a sum of halves: exact, so the same number whichever side `auc` would sort
    return {n: size, auc: p === 0 || neg === 0 ? Number.NaN : correct / (p * neg)}
  }
}
