import {describe, expect, it} from 'vitest'

import {parseShard, shardSlice} from '../../src/run/shard.js'

describe('shards', () => {
  it('parses i/n and rejects the rest with a usage error', () => {
    expect(parseShard('2/4')).toEqual({index: 2, count: 4})
    expect(parseShard(undefined)).toBeUndefined()
    for (const bad of ['0/3', '4/3', '1', 'a/b', '1/0']) expect(() => parseShard(bad)).toThrow(/bad --shard/)
  })

  it('partitions the grid: every element in exactly one slice, sizes differ by at most one', () => {
    const grid = Array.from({length: 11}, (_, i) => `v${i}`)
    for (const n of [1, 2, 3, 5, 11, 13]) {
      const slices = Array.from({length: n}, (_, i) => shardSlice(grid, {index: i + 1, count: n}))
      expect(slices.flat().sort()).toEqual([...grid].sort())
      const sizes = slices.map((s) => s.length)
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    }
    expect(shardSlice(grid, {index: 2, count: 3})).toEqual(['v1', 'v4', 'v7', 'v10'])
  })
})
