import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {dataSchema, type DataConfig} from '../../src/config/schema.js'
import {RecError} from '../../src/errors.js'
import {firstInvalidUtf8, readInteractions} from '../../src/data/read.js'
import {writeFixtures, type Fixtures} from '../fixtures/make-fixtures.js'

let fx: Fixtures
beforeAll(() => {
  fx = writeFixtures(mkdtempSync(join(tmpdir(), 'rec-read-')))
})
afterAll(() => rmSync(fx.dir, {recursive: true, force: true}))

const cfg = (c: Record<string, unknown>): DataConfig => dataSchema.parse(c)

async function readError(c: Record<string, unknown>): Promise<RecError> {
  try {
    await readInteractions(cfg(c))
  } catch (err) {
    expect(err).toBeInstanceOf(RecError)
    return err as RecError
  }
  throw new Error('expected a data error')
}

describe('readInteractions: formats', () => {
  it('reads ml-100k (tab, no header) with dense ids in first-seen order', async () => {
    const r = await readInteractions(cfg({format: 'ml-100k', path: fx.ml100k}))
    const it = r.interactions
    expect(it.length).toBe(5)
    expect(it.userIds).toEqual(['1', '2', '3'])
    expect(it.itemIds).toEqual(['10', '20', '30', '40'])
    expect([...it.user.subarray(0, 5)]).toEqual([0, 0, 1, 2, 1])
    expect([...it.item.subarray(0, 5)]).toEqual([0, 1, 0, 2, 3])
    expect([...it.rating.subarray(0, 5)]).toEqual([5, 3, 4, 1, 2])
    expect(it.timestamp[4]).toBe(881250953)
    expect(it.hasTimestamps).toBe(true)
    expect(it.user).toBeInstanceOf(Int32Array)
    expect(it.rating).toBeInstanceOf(Float32Array)
    expect(it.timestamp).toBeInstanceOf(Float64Array)
    expect(r.skippedRows).toBe(0)
    expect(r.sourceFiles).toEqual([fx.ml100k])
    expect(r.bytesSha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('reads ml-1m (:: separated) to the same interactions', async () => {
    const a = await readInteractions(cfg({format: 'ml-100k', path: fx.ml100k}))
    const b = await readInteractions(cfg({format: 'ml-1m', path: fx.ml1m}))
    expect(b.interactions).toEqual(a.interactions)
    expect(b.bytesSha256).not.toBe(a.bytesSha256)
  })

  it('reads a delimited file with a header, mapping columns by name', async () => {
    const r = await readInteractions(
      cfg({format: 'delimited', path: fx.csvHeader, header: true, columns: {user: 'userId', item: 'movieId', rating: 'rating', timestamp: 'ts'}}),
    )
    const it = r.interactions
    expect(it.userIds).toEqual(['alice', 'bob'])
    expect(it.itemIds).toEqual(['m1', 'm2'])
    expect([...it.rating.subarray(0, 3)]).toEqual([4.5, 3, 2])
    expect([...it.timestamp.subarray(0, 3)]).toEqual([100, 200, 300])
    expect(it.hasTimestamps).toBe(true)
  })

  it('maps columns by 0-based index; rating/timestamp optional (rating 1, timestamp = row index); blank lines skipped', async () => {
    const r = await readInteractions(cfg({format: 'delimited', path: fx.csvIndex, delimiter: ';', columns: {user: 2, item: 0}}))
    const it = r.interactions
    expect(it.length).toBe(3)
    expect(it.userIds).toEqual(['alice', 'bob'])
    expect(it.itemIds).toEqual(['m1', 'm2', 'm3'])
    expect([...it.rating.subarray(0, 3)]).toEqual([1, 1, 1])
    expect([...it.timestamp.subarray(0, 3)]).toEqual([0, 1, 2])
    expect(it.hasTimestamps).toBe(false) // the row index is no time: splits and inspect must know
  })

  it('decodes latin-1 ids, with "\\t" meaning tab', async () => {
    const r = await readInteractions(
      cfg({format: 'delimited', path: fx.latin1, delimiter: '\\t', header: true, encoding: 'latin1', columns: {user: 'user', item: 'item', rating: 'rating'}}),
    )
    expect(r.interactions.userIds).toEqual(['Zoë', 'José'])
    expect(r.interactions.itemIds).toEqual(['Café', 'Æble'])
  })

  it('handles CRLF line ends', async () => {
    const r = await readInteractions(cfg({format: 'delimited', path: fx.crlf, header: true, columns: {user: 'user', item: 'item', rating: 'rating', timestamp: 'timestamp'}}))
    expect(r.interactions.length).toBe(3)
    expect(r.interactions.itemIds).toEqual(['i1', 'i2'])
    expect(r.interactions.timestamp[2]).toBe(30)
  })

  it('grows its arrays past the initial capacity', async () => {
    const p = join(fx.dir, 'big.data')
    const lines: string[] = []
    for (let k = 0; k < 20000; k++) lines.push(`${k % 97}\t${k % 1013}\t${1 + (k % 5)}\t${k}`)
    writeFileSync(p, lines.join('\n'))
    const r = await readInteractions(cfg({format: 'ml-100k', path: p}))
    expect(r.interactions.length).toBe(20000)
    expect(r.interactions.numUsers).toBe(97)
    expect(r.interactions.numItems).toBe(1013)
    expect(r.interactions.timestamp[19999]).toBe(19999)
  })

  it('synth calls the generator in memory', async () => {
    const r = await readInteractions(cfg({format: 'synth', synth: {users: 20, items: 30, interactions: 200, seed: 1}}))
    expect(r.interactions.length).toBe(200)
    expect(r.sourceFiles).toEqual([])
    expect(r.bytesSha256).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('readInteractions: bad input', () => {
  it.each([
    ['badRating', 'ml-100k', 2, 'rating "five" is not a number'],
    ['missingField', 'ml-100k', 2, 'expected at least 4 fields, found 3'],
    ['badId', 'ml-100k', 3, 'user id "x7" is not a non-negative integer'],
    ['badTimestamp', 'ml-100k', 2, 'timestamp "yesterday" is not a number'],
  ] as const)('%s: data.bad_row naming file and line', async (name, format, line, what) => {
    const file = fx[name]
    const err = await readError({format, path: file})
    expect(err.code).toBe('data.bad_row')
    expect(err.exitCode).toBe(3)
    expect(err.message).toBe(`${file}:${line}: ${what}`)
    expect(err.hint).toMatch(/on_bad_row: skip/)
  })

  it('on_bad_row: skip counts and skips malformed rows', async () => {
    const r = await readInteractions(cfg({format: 'ml-100k', path: fx.badRating, on_bad_row: 'skip'}))
    expect(r.skippedRows).toBe(1)
    expect(r.interactions.length).toBe(2)
    expect(r.interactions.userIds).toEqual(['1', '3'])
  })

  it('an empty file is a data error', async () => {
    const err = await readError({format: 'delimited', path: fx.empty})
    expect(err.code).toBe('data.empty')
    expect(err.exitCode).toBe(3)
    expect(err.message).toContain(`no interactions in ${fx.empty}`)
  })

  it('a header-only file is a data error', async () => {
    const err = await readError({format: 'delimited', path: fx.headerOnly, header: true, columns: {user: 'user', item: 'item'}})
    expect(err.code).toBe('data.empty')
    expect(err.message).toContain(`no interactions in ${fx.headerOnly}`)
  })

  it('a missing file is a data error naming it', async () => {
    const missing = join(fx.dir, 'nope.data')
    const err = await readError({format: 'ml-100k', path: missing})
    expect(err.code).toBe('data.file_missing')
    expect(err.exitCode).toBe(3)
    expect(err.message).toContain(missing)
  })

  it('non-UTF-8 bytes in a utf-8 file: data error with file, line and the latin1 hint', async () => {
    const err = await readError({format: 'delimited', path: fx.notUtf8, header: true, columns: {user: 'user', item: 'item'}})
    expect(err.code).toBe('data.encoding')
    expect(err.exitCode).toBe(3)
    expect(err.message).toBe(`${fx.notUtf8}:3: bytes that are not valid UTF-8`)
    expect(err.hint).toContain('encoding: latin1')
  })

  it('the same file reads fine as latin1', async () => {
    const r = await readInteractions(cfg({format: 'delimited', path: fx.notUtf8, header: true, encoding: 'latin1', columns: {user: 'user', item: 'item'}}))
    expect(r.interactions.userIds).toEqual(['u1', 'Zoë'])
  })

  it('a column name missing from the header names the header', async () => {
    const err = await readError({format: 'delimited', path: fx.crlf, header: true, columns: {user: 'userId', item: 'item'}})
    expect(err.code).toBe('data.column_missing')
    expect(err.message).toContain('"user", "item", "rating", "timestamp"')
  })

  it('a column name without a header is a config error', async () => {
    const err = await readError({format: 'delimited', path: fx.crlf, columns: {user: 'user', item: 1}})
    expect(err.exitCode).toBe(2)
  })

  it('firstInvalidUtf8 finds the first bad byte and accepts multi-byte text', () => {
    expect(firstInvalidUtf8(Buffer.from('aé€😀', 'utf8'))).toBe(Buffer.byteLength('aé€😀'))
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xeb, 0x63]))).toBe(2)
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82]))).toBe(1) // truncated
    expect(firstInvalidUtf8(Buffer.from([0xc0, 0x80]))).toBe(0) // overlong
  })

  it('a multi-byte character split across stream chunks is not an error', async () => {
    // the reader takes 1 MiB chunks: put the 2-byte "é" across the first boundary
    const head = 'user,item\nu,'
    const pad = 'x'.repeat((1 << 20) - 1 - head.length)
    const text = `${head}${pad}é\nc,d\n`
    expect(Buffer.from(text)[(1 << 20) - 1]).toBe(0xc3)
    const p = join(fx.dir, 'split-char.csv')
    writeFileSync(p, text)
    const r = await readInteractions(cfg({format: 'delimited', path: p, header: true, columns: {user: 'user', item: 'item'}}))
    expect(r.interactions.itemIds.at(-2)).toBe(`${pad}é`)
  })
})

describe('inputSha256', () => {
  it('is the bytesSha256 the reader reports, without parsing; a missing file is the reader\'s data error', async () => {
    const {inputSha256, readInteractions} = await import('../../src/data/read.js')
    const {dataSchema} = await import('../../src/config/schema.js')
    const {mkdtempSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const dir = mkdtempSync(join(tmpdir(), 'rec-sha-'))
    const file = join(dir, 'u.data')
    writeFileSync(file, '1\t10\t5\t100\n2\t20\t3\t200\n')
    const cfg = dataSchema.parse({format: 'ml-100k', path: file})
    expect(await inputSha256(cfg)).toBe((await readInteractions(cfg)).bytesSha256)
    const synth = dataSchema.parse({format: 'synth', synth: {users: 20, items: 15, interactions: 200}})
    expect(await inputSha256(synth)).toBe((await readInteractions(synth)).bytesSha256)
    await expect(inputSha256(dataSchema.parse({format: 'ml-100k', path: join(dir, 'nope.data')}))).rejects.toMatchObject({code: 'data.file_missing', exitCode: 3})
  })
})

describe('readInteractions: a header line that is not declared', () => {
  const write = (name: string, text: string): string => {
    const p = join(fx.dir, name)
    writeFileSync(p, text)
    return p
  }

  it.each([
    ['ids and a weight mapped', {user: 0, item: 1, rating: 2}],
    ['only the ids mapped (the header would become one more user and item)', {user: 0, item: 1}],
  ])('%s: data error at file:1 with the data.header hint', async (_name, columns) => {
    const p = write('undeclared-header.tsv', 'userID\titemID\tweight\n1\t10\t0.5\n2\t20\t1\n1\t30\t2\n')
    const err = await readError({format: 'delimited', path: p, delimiter: '\t', columns})
    expect(err.code).toBe('data.likely_header')
    expect(err.exitCode).toBe(3)
    expect(err.message).toBe(`${p}:1: the first row looks like a header line: its user column holds "userID" where the next 3 rows hold numbers`)
    expect(err.hint).toContain('data.header: true')
  })

  it('fires with on_bad_row: skip too (a header is not a malformed row to count)', async () => {
    const p = write('undeclared-header-skip.csv', '\nuser,item,rating,timestamp\n1,10,5,100\n2,10,4,200\n')
    const err = await readError({format: 'delimited', path: p, on_bad_row: 'skip'})
    expect(err.code).toBe('data.likely_header')
    expect(err.message).toMatch(new RegExp(`^${p}:2: `)) // the blank first line is skipped
  })

  it('does not fire on string ids, nor on an id with digits that happens to precede numeric ones', async () => {
    const p = write('string-ids.csv', 'A12,10,5\n5,11,4\n6,12,3\n')
    const r = await readInteractions(cfg({format: 'delimited', path: p, columns: {user: 0, item: 1, rating: 2}}))
    expect(r.interactions.userIds).toEqual(['A12', '5', '6'])
    const q = write('names.csv', 'alice,m1\nbob,m2\ncarol,m3\n')
    expect((await readInteractions(cfg({format: 'delimited', path: q, columns: {user: 0, item: 1}}))).interactions.length).toBe(3)
  })
})

describe('readInteractions: hints and echoed values', () => {
  it('too few fields in a delimited file: the hint names data.columns', async () => {
    const p = join(fx.dir, 'three-columns.csv')
    writeFileSync(p, '1,10,5\n2,10,4\n')
    const err = await readError({format: 'delimited', path: p})
    expect(err.message).toBe(`${p}:1: expected at least 4 fields, found 3`)
    expect(err.hint).toContain('data.columns')
    expect(err.hint).toContain('on_bad_row: skip')
  })

  it('a 2 MB field is echoed as a short prefix with its length', async () => {
    const p = join(fx.dir, 'huge-field.data')
    writeFileSync(p, `1\t10\t5\t100\n2\t10\t${'9x'.repeat(1_000_000)}\t200\n`)
    const err = await readError({format: 'ml-100k', path: p})
    expect(err.code).toBe('data.bad_row')
    expect(err.message.length).toBeLessThan(200)
    expect(err.message).toBe(`${p}:2: rating "${'9x'.repeat(30)}…" (2000000 chars) is not a number`)
  })

  it('a csv-parse error quoting a huge field (a quote inside an unquoted field) is a short bad_row at its line', async () => {
    const p = join(fx.dir, 'opening-quote.csv')
    writeFileSync(p, `u1,i1\n${'y'.repeat(200_000)}"z,i2\n`)
    const err = await readError({format: 'delimited', path: p, columns: {user: 0, item: 1}})
    expect(err.code).toBe('data.bad_row')
    expect(err.exitCode).toBe(3)
    expect(err.message).toMatch(new RegExp(`^${p}:2: Invalid Opening Quote`))
    expect(err.message.length).toBeLessThan(300)
    expect(err.hint).toContain('quoting')
  })

  it('a huge header name is cut in the column_missing message', async () => {
    const p = join(fx.dir, 'huge-header.csv')
    writeFileSync(p, `${'h'.repeat(100_000)},item\nu,i\n`)
    const err = await readError({format: 'delimited', path: p, header: true, columns: {user: 'user', item: 'item'}})
    expect(err.code).toBe('data.column_missing')
    expect(err.message.length).toBeLessThan(300)
    expect(err.message).toContain('(100000 chars)')
  })
})

describe('readInteractions: compressed and binary input', () => {
  it('reads gzip-compressed ml-100k and delimited files; bytesSha256 stays the hash of the bytes on disk', async () => {
    const {gzipSync} = await import('node:zlib')
    const {createHash} = await import('node:crypto')
    const {readFileSync} = await import('node:fs')
    const {inputSha256} = await import('../../src/data/read.js')
    const gz = gzipSync(readFileSync(fx.ml100k))
    const p = join(fx.dir, 'u.data.gz')
    writeFileSync(p, gz)
    const plain = await readInteractions(cfg({format: 'ml-100k', path: fx.ml100k}))
    const r = await readInteractions(cfg({format: 'ml-100k', path: p}))
    expect(r.interactions).toEqual(plain.interactions)
    expect(r.bytesSha256).toBe(createHash('sha256').update(gz).digest('hex'))
    expect(await inputSha256(cfg({format: 'ml-100k', path: p}))).toBe(r.bytesSha256)
    const csv = join(fx.dir, 'header.csv.gz')
    writeFileSync(csv, gzipSync(readFileSync(fx.csvHeader)))
    const h = await readInteractions(cfg({format: 'delimited', path: csv, header: true, columns: {user: 'userId', item: 'movieId', rating: 'rating', timestamp: 'ts'}}))
    expect(h.interactions.userIds).toEqual(['alice', 'bob'])
  })

  it('errors inside gzip data name the line of the decompressed text', async () => {
    const {gzipSync} = await import('node:zlib')
    const {readFileSync} = await import('node:fs')
    const bad = join(fx.dir, 'bad-rating.data.gz')
    writeFileSync(bad, gzipSync(readFileSync(fx.badRating)))
    expect((await readError({format: 'ml-100k', path: bad})).message).toBe(`${bad}:2: rating "five" is not a number`)
    const latin = join(fx.dir, 'not-utf8.csv.gz')
    writeFileSync(latin, gzipSync(readFileSync(fx.notUtf8)))
    expect((await readError({format: 'delimited', path: latin, header: true, columns: {user: 'user', item: 'item'}})).message).toBe(`${latin}:3: bytes that are not valid UTF-8`)
  })

  it('truncated gzip data is a data error', async () => {
    const {gzipSync} = await import('node:zlib')
    const {readFileSync} = await import('node:fs')
    const gz = gzipSync(readFileSync(fx.ml100k))
    const p = join(fx.dir, 'cut.data.gz')
    writeFileSync(p, gz.subarray(0, gz.length - 12))
    const err = await readError({format: 'ml-100k', path: p})
    expect(err.code).toBe('data.gzip')
    expect(err.exitCode).toBe(3)
    expect(err.message).toContain(p)
  })

  it.each([
    ['NUL bytes', Buffer.from([0x31, 0x2c, 0x32, 0x0a, 0x00, 0x01, 0x02, 0xff, 0xfe, 0x0a]), /^.*:2: a NUL byte: this looks like a binary file, not delimited text$/],
    ['UTF-16 text', Buffer.from('\ufeffuser,item\nu1,i1\n', 'utf16le'), /:1: a NUL byte: this looks like a binary file/],
    ['a zip archive', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(40, 0x41)]), /is a zip archive, not a text file$/],
  ])('%s: data.binary, not the Latin-1 hint', async (_name, bytes, message) => {
    const p = join(fx.dir, 'binary.bin')
    writeFileSync(p, bytes)
    const err = await readError({format: 'delimited', path: p, columns: {user: 0, item: 1}})
    expect(err.code).toBe('data.binary')
    expect(err.exitCode).toBe(3)
    expect(err.message).toMatch(message)
    expect(err.hint).not.toMatch(/latin/i)
  })
})
