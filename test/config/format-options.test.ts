import {describe, expect, it} from 'vitest'

import {ignoredDataOptions} from '../../src/config/format-options.js'
import {dataConfigFromSpec} from '../../src/data/spec.js'

describe('ignoredDataOptions: options a format would silently ignore', () => {
  it('data.columns (and delimiter, header) with ml-100k / ml-1m: named with the format', () => {
    expect(ignoredDataOptions({format: 'ml-100k', path: 'u.data', columns: {user: 1, item: 0}})).toEqual([
      {key: 'columns', message: expect.stringContaining('format ml-100k ignores it'), hint: expect.stringContaining('format: delimited')},
    ])
    expect(ignoredDataOptions({format: 'ml-1m', path: 'r.dat', delimiter: ',', header: true}).map((p) => p.key)).toEqual(['delimiter', 'header'])
  })

  it('a file option with synth (which reads no file): path, encoding, on_bad_row, columns', () => {
    const found = ignoredDataOptions({path: 'ratings.csv', encoding: 'latin1'}) // format defaults to synth
    expect(found.map((p) => p.key)).toEqual(['path', 'encoding'])
    expect(found[0].message).toContain('format synth ignores it')
  })

  it('what a format reads passes; the synth block is left alone (an inherited generator block must not stop a format switch); an unknown format is zod\'s to report', () => {
    expect(ignoredDataOptions({format: 'delimited', path: 'a.csv', delimiter: ';', header: true, columns: {user: 'u', item: 'i'}, encoding: 'latin1', on_bad_row: 'skip'})).toEqual([])
    expect(ignoredDataOptions({format: 'ml-100k', path: 'u.data', encoding: 'utf-8', on_bad_row: 'skip', synth: {users: 3}})).toEqual([])
    expect(ignoredDataOptions({format: 'synth', synth: {users: 3}})).toEqual([])
    expect(ignoredDataOptions({format: 'parquet', columns: {}})).toEqual([])
  })
})

describe('dataConfigFromSpec: flags the dataset format ignores', () => {
  it.each([
    ['ml-100k:/tmp/u.data', {columns: '1,0'}, '--columns'],
    ['ml-1m:/tmp/ratings.dat', {delimiter: ','}, '--delimiter'],
    ['synth', {header: true}, '--header'],
    ['synth', {encoding: 'latin1' as const}, '--encoding'],
  ])('%s with %j: usage error naming the flag and the format', (spec, options, flag) => {
    let err: unknown
    try {
      dataConfigFromSpec(spec, options)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({code: 'usage.dataset', exitCode: 2})
    expect((err as Error).message).toContain(flag)
    expect((err as Error).message).toContain(`format ${spec.split(':')[0]}`)
  })
})

describe('dataConfigFromSpec: gzip files keep their MovieLens name', () => {
  it('u.data.gz reads as ml-100k, ratings.dat.gz as ml-1m', () => {
    expect(dataConfigFromSpec('/tmp/x/u.data.gz').format).toBe('ml-100k')
    expect(dataConfigFromSpec('/tmp/x/ratings.dat.gz').format).toBe('ml-1m')
  })
})
