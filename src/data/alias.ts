import type {Rng} from '../rng.js'

/**
 * Walker's alias method: O(n) build, O(1) draws from a discrete distribution given by
 * non-negative weights (not necessarily normalised). Entries with weight 0 are never drawn.
 */
export class AliasTable {
  readonly size: number
  private readonly prob: Float64Array
  private readonly alias: Int32Array

  constructor(weights: ArrayLike<number>) {
    const n = weights.length
    if (n === 0) throw new Error('AliasTable needs at least one weight')
    let total = 0
    for (let i = 0; i < n; i++) {
      const w = weights[i]
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`AliasTable: weight ${i} is ${w}`)
      total += w
    }
    if (!(total > 0)) throw new Error('AliasTable: all weights are 0')
    this.size = n
    this.prob = new Float64Array(n)
    this.alias = new Int32Array(n)
    const scaled = new Float64Array(n)
    const small = new Int32Array(n)
    const large = new Int32Array(n)
    let ns = 0
    let nl = 0
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total
      if (scaled[i] < 1) small[ns++] = i
      else large[nl++] = i
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns]
      const l = large[--nl]
      this.prob[s] = scaled[s]
      this.alias[s] = l
      scaled[l] = scaled[l] + scaled[s] - 1
      if (scaled[l] < 1) small[ns++] = l
      else large[nl++] = l
    }
    while (nl > 0) {
      const l = large[--nl]
      this.prob[l] = 1
      this.alias[l] = l
    }
    while (ns > 0) {
      // only reached through rounding; such an entry is (almost) exactly 1
      const s = small[--ns]
      this.prob[s] = scaled[s] > 0 ? 1 : 0
      this.alias[s] = s
    }
    // an entry of weight 0 must never be returned via its own column
    for (let i = 0; i < n; i++) if (weights[i] === 0 && this.alias[i] === i) this.prob[i] = 0
    if (this.prob.every((p) => p === 0)) throw new Error('AliasTable: degenerate weights')
  }

  sample(rng: Rng): number {
    for (;;) {
      const x = rng.next() * this.size
      const i = Math.floor(x)
      const frac = x - i
      if (frac < this.prob[i]) return i
      const a = this.alias[i]
      if (a !== i) return a
      // a zero-weight column with no alias (only when weights had zeros at the rounding edge): redraw
    }
  }
}
