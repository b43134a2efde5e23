import {createRequire} from 'node:module'

import type padjustFn from '@stdlib/stats-padjust'

// loaded on first use, like src/stats/paired.ts's packages
const padjust = (...args: Parameters<typeof padjustFn>) => (createRequire(import.meta.url)('@stdlib/stats-padjust') as typeof padjustFn)(...args)

/**
 * Holm's step-down adjustment of a family of p-values (stdlib `padjust(p, 'holm')`; the same
 * arithmetic as statsmodels' `multipletests(method='holm')`: sort ascending, multiply the i-th
 * smallest by m − i, take the running maximum, cap at 1). `null` entries (comparisons without a
 * test) are not part of the family and stay null. A result is significant at level α when its
 * adjusted p <= α: the family-wise error rate is then at most α.
 */
export function holm(pValues: (number | null)[]): (number | null)[] {
  const idx: number[] = []
  const ps: number[] = []
  pValues.forEach((p, i) => {
    if (p === null || Number.isNaN(p)) return
    idx.push(i)
    // clamp rounding noise (a p of 1.0000000000000002) into [0, 1]: padjust rejects it otherwise
    ps.push(Math.min(1, Math.max(0, p)))
  })
  const out: (number | null)[] = pValues.map(() => null)
  if (ps.length === 0) return out
  const adjusted = padjust(ps, 'holm')
  idx.forEach((i, j) => (out[i] = adjusted[j]))
  return out
}
