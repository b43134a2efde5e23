import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {holm} from '../../src/stats/holm.js'
import {meanStd, pairedTest} from '../../src/stats/paired.js'
import {repoRoot} from '../helpers/cli.js'

/**
 * Golden values from scipy 1.10.1 (test/fixtures/stats/make_paired.py, which states every call):
 * the inputs are committed beside them, so these tests need no Python.
 */
interface Case {
  name: string
  x: number[]
  y: number[]
  expected: {
    n: number
    meanDiff: number
    ci95: [number, number]
    tStatistic: number
    df: number
    tPValue: number
    wilcoxonMode: 'exact' | 'approx'
    wilcoxonZeros: number
    wilcoxonWPlus: number
    wilcoxonPValue: number
  }
}
const fixture = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'stats', 'paired.json'), 'utf8')) as {
  provenance: string
  cases: Case[]
  holm: {tPValues: number[]; wilcoxonPValues: number[]}
}

/** relative agreement: both are double-precision computations of the same formulas */
const close = (a: number, b: number, rel = 1e-9) => expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.max(1e-12, Math.abs(b)))

describe('pairedTest against scipy', () => {
  it('covers both Wilcoxon modes, ties and zeros', () => {
    const modes = new Set(fixture.cases.map((c) => c.expected.wilcoxonMode))
    expect(modes).toEqual(new Set(['exact', 'approx']))
    expect(fixture.cases.some((c) => c.expected.wilcoxonZeros > 0)).toBe(true)
  })
  for (const c of fixture.cases) {
    it(c.name, () => {
      const r = pairedTest(c.x, c.y)!
      const e = c.expected
      expect(r.n).toBe(e.n)
      close(r.meanDiff, e.meanDiff)
      close(r.ci95[0], e.ci95[0], 1e-7)
      close(r.ci95[1], e.ci95[1], 1e-7)
      close(r.tTest.statistic, e.tStatistic)
      expect(r.tTest.df).toBe(e.df)
      close(r.tTest.pValue, e.tPValue, 1e-7)
      expect(r.wilcoxon!.method).toBe(e.wilcoxonMode === 'exact' ? 'exact' : 'normal')
      expect(r.wilcoxon!.zeros).toBe(e.wilcoxonZeros)
      expect(r.wilcoxon!.statistic).toBe(e.wilcoxonWPlus)
      close(r.wilcoxon!.pValue, e.wilcoxonPValue, 1e-7)
    })
  }
})

describe('holm against the statsmodels arithmetic', () => {
  it('adjusts the t-test and the Wilcoxon families (with tied p-values)', () => {
    const t = holm(fixture.cases.map((c) => c.expected.tPValue))
    const w = holm(fixture.cases.map((c) => c.expected.wilcoxonPValue))
    t.forEach((p, i) => close(p!, fixture.holm.tPValues[i], 1e-12))
    w.forEach((p, i) => close(p!, fixture.holm.wilcoxonPValues[i], 1e-12))
  })
  it('leaves comparisons without a test out of the family', () => {
    // m = 2, not 3: 0.01·2 and max(0.02, 0.03·1)
    expect(holm([0.01, null, 0.03])).toEqual([0.02, null, 0.03])
    expect(holm([null])).toEqual([null])
  })
})

describe('pairedTest edge cases', () => {
  it('identical values: no difference to test (p = 1), not NaN', () => {
    const r = pairedTest([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])!
    expect(r).toMatchObject({identical: true, meanDiff: 0, ci95: [0, 0], tTest: {pValue: 1}, wilcoxon: null})
  })
  it('drops pairs with a NaN (users without an AUC) and needs 2 pairs', () => {
    const c = fixture.cases[2]
    const r = pairedTest([...c.x, Number.NaN, 1], [...c.y, 0.5, Number.NaN])!
    expect(r.n).toBe(c.x.length)
    close(r.tTest.pValue, c.expected.tPValue, 1e-7)
    expect(pairedTest([1, Number.NaN], [0, 0])).toBeNull()
  })
  it('caps the exact Wilcoxon p at 1 at the centre of the distribution', () => {
    // W+ = 3 of 6 (n = 3): stdlib doubles the lower tail 0.625 to 1.25
    const r = pairedTest([1, 2, -3], [0, 0, 0])!
    expect(r.wilcoxon).toMatchObject({method: 'exact', statistic: 3, pValue: 1})
  })
  it('meanStd uses the n − 1 standard deviation', () => {
    expect(meanStd([1, 2, 3])).toEqual({mean: 2, std: 1, n: 3})
    expect(meanStd([5])).toEqual({mean: 5, std: 0, n: 1})
  })
})
