import {describe, expect, it} from 'vitest'

import {absoluteBound, describeBudget, parseBudget} from '../../src/search/budget.js'

describe('parseBudget', () => {
  it('reads absolute bounds with units and relative ones as factors of the base', () => {
    expect(parseBudget('p50=0.1ms,size=400KiB')).toEqual({p50: {value: 0.1, relative: false}, size: {value: 400 * 1024, relative: false}})
    expect(parseBudget('p50=250us')).toEqual({p50: {value: 0.25, relative: false}})
    expect(parseBudget('size=1.5MB')).toEqual({size: {value: 1.5e6, relative: false}})
    expect(parseBudget(' p50 = 0.5x ')).toEqual({p50: {value: 0.5, relative: true}})
    // bare numbers: ms and bytes
    expect(parseBudget('p50=2,size=1000')).toEqual({p50: {value: 2, relative: false}, size: {value: 1000, relative: false}})
  })

  it('turns a relative bound into an absolute one against the base, and says it in words', () => {
    const b = parseBudget('p50=0.5x,size=400KiB')
    expect(absoluteBound(b.p50!, 0.3)).toBeCloseTo(0.15, 12)
    expect(absoluteBound(b.size!, 1e6)).toBe(400 * 1024)
    expect(describeBudget(b)).toBe('p50 ≤ 0.5× base, size ≤ 400 KiB')
  })

  it.each([
    ['', 'give p50 and / or size'],
    ['p50', 'is not key=value'],
    ['latency=1ms', 'unknown key "latency"'],
    ['p50=fast', 'is not a number with a unit'],
    ['p50=1parsec', 'unknown time unit "parsec"'],
    ['size=3ms', 'unknown size unit "ms"'],
    ['p50=0ms', 'must be above 0'],
    ['p50=1ms,p50=2ms', 'p50 is given twice'],
  ])('%j is a usage error: %s', (text, why) => {
    expect(() => parseBudget(text)).toThrow(why)
    try {
      parseBudget(text)
    } catch (err) {
      expect(err).toMatchObject({code: 'search.bad_budget', exitCode: 2})
    }
  })
})
