/**
 * Seeded pseudo-random numbers for everything that must be reproducible (synthetic data, splits,
 * negative sampling, latency user draws). mulberry32: 32-bit state, fast, good enough for sampling,
 * identical on every platform because it only uses 32-bit integer arithmetic.
 */
export class Rng {
  private state: number

  constructor(seed: number) {
    // mix the seed so that nearby seeds give unrelated streams
    this.state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0
  }

  /** uniform in [0, 1) */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** uniform integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }

  /** standard normal (Box-Muller) */
  normal(): number {
    let u = 0
    while (u === 0) u = this.next()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next())
  }

  /** in-place Fisher-Yates shuffle */
  shuffle<T extends {length: number; [i: number]: any}>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = a[i]
      a[i] = a[j]
      a[j] = t
    }
    return a
  }

  /** a derived generator, so that sub-tasks get independent, reproducible streams */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.int(0x7fffffff), 31) ^ salt) | 0)
  }
}
