import {describe, expect, it} from 'vitest'

import {dataSchema, preprocessSchema} from '../../src/config/schema.js'
import {canonicalJson, datasetFingerprint} from '../../src/data/fingerprint.js'
import {datasetStats, formatStats} from '../../src/data/stats.js'
import type {Interactions} from '../../src/data/types.js'

describe('datasetStats', () => {
  it('counts users, items, density, histogram, per-user/item summaries and the time span', () => {
    const x: Interactions = {
      user: Int32Array.from([0, 0, 0, 1, 2]),
      item: Int32Array.from([0, 1, 2, 0, 0]),
      rating: Float32Array.from([5, 4, 4, 3.5, 1]),
      timestamp: Float64Array.from([0, 86400, 2 * 86400, 3 * 86400, 10 * 86400]),
      length: 5,
      numUsers: 3,
      numItems: 3,
      userIds: ['a', 'b', 'c'],
      itemIds: ['x', 'y', 'z'],
    }
    expect(datasetStats(x)).toEqual({
      users: 3,
      items: 3,
      interactions: 5,
      density: 5 / 9,
      ratingHistogram: {'1': 1, '3.5': 1, '4': 2, '5': 1},
      perUser: {min: 1, median: 1, max: 3},
      perItem: {min: 1, median: 1, max: 3},
      timestamps: true,
      timeSpan: {first: '1970-01-01T00:00:00.000Z', last: '1970-01-11T00:00:00.000Z', days: 10},
    })
  })

  it('without timestamps (row indexes) reports no time span instead of 1970 dates', () => {
    const x: Interactions = {
      user: Int32Array.from([0, 1]),
      item: Int32Array.from([0, 0]),
      rating: Float32Array.from([1, 1]),
      timestamp: Float64Array.from([0, 1]),
      length: 2,
      numUsers: 2,
      numItems: 1,
      userIds: ['a', 'b'],
      itemIds: ['x'],
      hasTimestamps: false,
    }
    const s = datasetStats(x)
    expect(s).toMatchObject({timestamps: false, timeSpan: null})
    const text = formatStats(s)
    expect(text).toMatch(/^time span +none: no timestamps in the input$/m)
    expect(text).not.toContain('1970')
  })
})

describe('datasetFingerprint', () => {
  const pre = preprocessSchema.parse({})
  const sha = 'a'.repeat(64)
  it('ignores where the file lives, not what is in it or how it is read', () => {
    const a = datasetFingerprint(sha, dataSchema.parse({format: 'ml-100k', path: '/home/alice/rec/data/u.data'}), pre)
    const b = datasetFingerprint(sha, dataSchema.parse({format: 'ml-100k', path: '/srv/ci/clone/data/u.data'}), pre)
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(datasetFingerprint('b'.repeat(64), dataSchema.parse({format: 'ml-100k', path: '/x'}), pre)).not.toBe(a)
    expect(datasetFingerprint(sha, dataSchema.parse({format: 'ml-100k', path: '/x', on_bad_row: 'skip'}), pre)).not.toBe(a)
    expect(datasetFingerprint(sha, dataSchema.parse({format: 'ml-100k', path: '/x'}), preprocessSchema.parse({kcore: {user: 5, item: 0}}))).not.toBe(a)
    // options the format ignores do not count
    expect(datasetFingerprint(sha, dataSchema.parse({format: 'ml-100k', path: '/x', synth: {seed: 99}}), pre)).toBe(a)
  })

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({b: 1, a: {d: [2, {y: 1, x: 2}], c: undefined}})).toBe('{"a":{"d":[2,{"x":2,"y":1}]},"b":1}')
  })
})

describe('inspectDataset (what `rec data inspect --json` returns)', () => {
  it('reports raw counts, the preprocessing report, positives and stats', async () => {
    const {inspectDataset} = await import('../../src/data/inspect.js')
    const {dataConfigFromSpec, preprocessConfigFromOptions} = await import('../../src/data/spec.js')
    const r = await inspectDataset(dataConfigFromSpec('synth:users=40,items=30,interactions=600,seed=2'), preprocessConfigFromOptions({threshold: 4}))
    expect(r.raw).toEqual({users: 40, items: 30, interactions: 600})
    expect(r.positives).toBe(r.preprocess.positives)
    expect(r.positives).toBe(600 - r.preprocess.belowThreshold)
    expect(r.interactions).toBe(r.positives)
    expect(r.stats.interactions).toBe(r.interactions)
    expect(Object.keys(r.stats.ratingHistogram).every((k) => Number(k) >= 4)).toBe(true)
    expect(r.fingerprint).toMatch(/^[0-9a-f]{64}$/)
  })
})
