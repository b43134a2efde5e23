import {mkdtempSync, readFileSync, writeFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import type {Interactions} from '../../src/data/types.js'
import {RecError} from '../../src/errors.js'
import {writeFileAtomic} from '../../src/run/atomic.js'
import {loadSplit, saveSplit} from '../../src/run/split-io.js'

function part(rows: [number, number, number, number][]): Interactions {
  return {
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    rating: Float32Array.from(rows.map((r) => r[2])),
    timestamp: Float64Array.from(rows.map((r) => r[3])),
    length: rows.length,
    numUsers: 3,
    numItems: 4,
    userIds: ['u1', 'u2', 'Zoë'],
    itemIds: ['a', 'b', 'c', 'd'],
  }
}

describe('split files', () => {
  it('round-trips every column and the id maps exactly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-split-'))
    const split = {train: part([[0, 1, 4.5, 1e12 + 0.25], [2, 3, 1, 7]]), valid: part([[1, 0, 3, 2]]), test: part([])}
    saveSplit(dir, split)
    const back = loadSplit(dir)
    for (const p of ['train', 'valid', 'test'] as const) {
      expect(Array.from(back[p].user)).toEqual(Array.from(split[p].user))
      expect(Array.from(back[p].item)).toEqual(Array.from(split[p].item))
      expect(Array.from(back[p].rating)).toEqual(Array.from(split[p].rating))
      expect(Array.from(back[p].timestamp)).toEqual(Array.from(split[p].timestamp))
      expect(back[p].length).toBe(split[p].length)
      expect(back[p].userIds).toEqual(['u1', 'u2', 'Zoë'])
    }
    // a typed array longer than `length` stores only the counted rows
    const longer = part([[0, 0, 1, 1]])
    longer.user = Int32Array.from([0, 9, 9])
    saveSplit(dir, {train: longer, valid: part([]), test: part([])})
    expect(readFileSync(join(dir, 'train.bin')).length).toBe(16 + 20)
  })

  it('names a truncated file in a data error (exit 3)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-split-'))
    saveSplit(dir, {train: part([[0, 1, 1, 1], [1, 2, 1, 1]]), valid: part([]), test: part([])})
    const file = join(dir, 'train.bin')
    writeFileSync(file, readFileSync(file).subarray(0, 30))
    try {
      loadSplit(dir)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(RecError)
      expect((err as RecError).exitCode).toBe(3)
      expect((err as RecError).message).toContain('train.bin')
      expect((err as RecError).message).toContain('truncated')
    }
  })
})

describe('atomic writes', () => {
  it('replaces the whole file and leaves no temp file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-atomic-'))
    const file = join(dir, 'a', 'b.json')
    writeFileAtomic(file, 'old')
    writeFileAtomic(file, 'new content')
    expect(readFileSync(file, 'utf8')).toBe('new content')
    expect(readdirSync(join(dir, 'a'))).toEqual(['b.json'])
  })
})
