/**
 * Top-K selection without sorting the whole catalogue: one pass over the scores that keeps the K
 * best seen so far in a small sorted buffer (binary search + shift). O(N log K) comparisons plus
 * shifts that are rare once the buffer is full, instead of O(N log N) for a full sort.
 *
 * Order: higher score first; equal scores keep the lower item id first (so results are
 * deterministic). Scores that are -Infinity (excluded items) or NaN are never selected, so fewer
 * than K ids come back when fewer than K items are eligible.
 */
export class TopK {
  readonly k: number
  private readonly bestScores: Float64Array
  private readonly bestItems: Int32Array

  constructor(k: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`TopK: k must be a positive integer (got ${k})`)
    this.k = k
    this.bestScores = new Float64Array(k)
    this.bestItems = new Int32Array(k)
  }

  /**
   * Select the top K of `scores[offset .. offset + n)` (item i has score scores[offset + i]).
   * Writes the item ids, best first, into `out` (length >= k) and returns how many were written.
   */
  select(scores: ArrayLike<number>, offset: number, n: number, out: Int32Array): number {
    const k = this.k
    const bs = this.bestScores
    const bi = this.bestItems
    let size = 0
    for (let i = 0; i < n; i++) {
      const s = scores[offset + i]
      if (!(s > -Infinity)) continue // -Infinity and NaN
      if (size === k && !(s > bs[k - 1])) continue // ties keep the earlier (lower) id
      size = insertBest(bs, bi, size, k, s, i)
    }
    for (let j = 0; j < size; j++) out[j] = bi[j]
    return size
  }
}

/**
 * Insert item `i` with score `s` into the best-first buffer (scores `bs`, items `bi`) holding
 * `size` <= k entries: after every entry scored >= s (earlier ids win ties), the last one dropped
 * when the buffer is full. Returns the new size. The caller checks first that s beats the K-th.
 */
export function insertBest(bs: Float64Array, bi: Int32Array, size: number, k: number, s: number, i: number): number {
  let lo = 0
  let hi = size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (bs[mid] >= s) lo = mid + 1
    else hi = mid
  }
  const last = size === k ? k - 1 : size
  for (let j = last; j > lo; j--) {
    bs[j] = bs[j - 1]
    bi[j] = bi[j - 1]
  }
  bs[lo] = s
  bi[lo] = i
  return size < k ? size + 1 : size
}

/** convenience: the top-k item ids of one score vector, best first */
export function topK(scores: ArrayLike<number>, k: number): Int32Array {
  const sel = new TopK(k)
  const out = new Int32Array(k)
  const n = sel.select(scores, 0, scores.length, out)
  return out.slice(0, n)
}
