import {createHash} from 'node:crypto'
import {createReadStream, openSync, readSync, closeSync, statSync} from 'node:fs'
import {PassThrough, Transform, type Readable, type TransformCallback} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {resolve} from 'node:path'
import {isUtf8} from 'node:buffer'
import {createGunzip} from 'node:zlib'

import {parse, type Options as CsvOptions} from 'csv-parse'

import type {DataConfig} from '../config/schema.js'
import {clip, clipQuoted, configError, dataError, ECHO_LIMIT, isRecError} from '../errors.js'
import {silentProgress, type Progress} from '../progress.js'
import {IdMap, InteractionBuilder} from './arrays.js'
import {generateSynthetic, synthConfigSha256} from './synth.js'
import {recbolePlan} from './inter.js'
import type {Interactions} from './types.js'

/** a library's message for ours: cut when long (it may quote a field of the file whole) */
const clipMessage = (s: string): string => clip(s, 4 * ECHO_LIMIT)

export interface ReadResult {
  interactions: Interactions
  /** malformed rows skipped because `on_bad_row: skip` (always 0 with `on_bad_row: error`) */
  skippedRows: number
  /** absolute paths of the files read (empty for synth) */
  sourceFiles: string[]
  /** sha256 of the input bytes (synth: of the canonical generator config, which determines them) */
  bytesSha256: string
}

export interface ReadOptions {
  progress?: Progress
}

/** resolved column positions for one file */
interface ColumnPlan {
  user: number
  item: number
  rating: number // -1: absent (rating 1)
  timestamp: number // -1: absent (row index)
  /** ids must be non-negative integers (MovieLens formats) */
  numericIds: boolean
}

/**
 * Read interactions as configured. Files are streamed through csv-parse (never read whole into a
 * string); ids are remapped to dense ints in first-seen order, the original ids kept as strings.
 *
 * gzip-compressed files (recognised by their magic bytes, whatever their name) are decompressed on
 * the fly; `bytesSha256` stays the hash of the bytes on disk and line numbers count lines of the
 * decompressed text.
 *
 * Errors (all data errors, exit 3): missing file, empty / header-only file, an archive or binary
 * file (`data.binary`), corrupt gzip data, non-UTF-8 bytes in a utf-8 file, an undeclared header
 * line (`data.likely_header`, see headerLikeColumn), and a malformed row (`data.bad_row`,
 * "<file>:<line>: <what>") unless `on_bad_row: skip`, which counts and skips it. Values from the
 * file are echoed cut to a short prefix (clipQuoted in errors.ts).
 */
export async function readInteractions(cfg: DataConfig, options: ReadOptions = {}): Promise<ReadResult> {
  const progress = options.progress ?? silentProgress
  if (cfg.format === 'synth') {
    progress.stage('generate synthetic data')
    const interactions = generateSynthetic(cfg.synth)
    progress.done(`${interactions.length} interactions, ${interactions.numUsers} users, ${interactions.numItems} items`)
    return {interactions, skippedRows: 0, sourceFiles: [], bytesSha256: synthConfigSha256(cfg.synth)}
  }
  const {file, size} = inputFile(cfg)
  return readDelimitedFile(file, size, cfg, progress)
}

/** the ratings file a (non-synth) data config reads, checked: a data error when it cannot be read */
function inputFile(cfg: DataConfig): {file: string; size: number} {
  if (!cfg.path) {
    throw configError('config.data_path', `data.path is required for format ${cfg.format}`, {
      hint: 'set data.path to the ratings file (e.g. u.data for ml-100k, ratings.dat for ml-1m)',
    })
  }
  const file = resolve(cfg.path)
  try {
    const st = statSync(file)
    if (st.isDirectory()) {
      throw dataError('data.file_missing', `${file} is a directory, not a ratings file`, {
        hint: cfg.format === 'ml-100k' ? 'point data.path at u.data inside it' : cfg.format === 'ml-1m' ? 'point data.path at ratings.dat inside it' : undefined,
      })
    }
    return {file, size: st.size}
  } catch (err) {
    if (isRecError(err)) throw err
    throw dataError('data.file_missing', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      hint: cfg.format === 'ml-100k' || cfg.format === 'ml-1m' ? `run \`rec data download ${cfg.format}\` or fix data.path` : 'check data.path',
      cause: err,
    })
  }
}

/**
 * The `bytesSha256` that readInteractions would report, without parsing: the input file's sha256
 * (synth: of its generator config). A stage cache needs it to know whether the data changed before
 * deciding to read it.
 */
export async function inputSha256(cfg: DataConfig): Promise<string> {
  if (cfg.format === 'synth') return synthConfigSha256(cfg.synth)
  const {file} = inputFile(cfg)
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, {highWaterMark: 1 << 20})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** "\t", "\\t" and "tab" all mean a tab */
export function normalizeDelimiter(d: string | undefined): string {
  if (d === undefined) return ','
  if (d === '\\t' || d === 'tab' || d === 'TAB') return '\t'
  return d
}

async function readDelimitedFile(file: string, size: number, cfg: DataConfig, progress: Progress): Promise<ReadResult> {
  const format = cfg.format
  const delimiter = format === 'ml-100k' || format === 'recbole' ? '\t' : format === 'ml-1m' ? '::' : normalizeDelimiter(cfg.delimiter)
  const header = format === 'delimited' ? cfg.header : format === 'recbole'
  const skip = cfg.on_bad_row === 'skip'
  const encoding: BufferEncoding = cfg.encoding === 'latin1' ? 'latin1' : 'utf8'

  const gzip = inputKind(file) === 'gzip'

  let plan: ColumnPlan | undefined =
    format === 'delimited' || format === 'recbole' ? (header ? undefined : planFromIndexes(cfg, file)) : {user: 0, item: 1, rating: 2, timestamp: 3, numericIds: true}
  const minFields = () => Math.max(plan!.user, plan!.item, plan!.rating, plan!.timestamp) + 1
  // columns mapped by index: hold the first rows back to check that the first is not a header
  let head: string[][] | undefined = plan && format === 'delimited' ? [] : undefined

  const users = new IdMap()
  const items = new IdMap()
  const out = new InteractionBuilder(1 << 12)
  let skipped = 0
  let sawHeader = false
  const started = Date.now()
  let nextReport = 1_000_000

  // the line of a bad row is found afterwards (re-parsing up to it): asking csv-parse for line
  // info on every record costs more than the parsing itself
  const bad = (what: string, hint?: string): void => {
    if (skip) {
      skipped++
      return
    }
    throw new BadRow(recordIndex, what, hint)
  }
  const tooFewHint = (): string | undefined =>
    format === 'delimited'
      ? `data.columns maps user/item/rating/timestamp to 0-based columns (${describePlan(plan)}; the default is 0, 1, 2, 3): map only the columns the file has, or fix the row, or set data.on_bad_row: skip to count and skip malformed rows`
      : undefined

  let recordIndex = -1
  const onRecord = (record: string[]): void => {
    recordIndex++
    if (plan === undefined) {
      // header line
      plan = format === 'recbole' ? recbolePlan(record, file) : planFromHeader(cfg, record, file)
      sawHeader = true
      return
    }
    if (record.length < minFields()) {
      return bad(`expected at least ${minFields()} fields, found ${record.length}${record.length === 1 && format === 'delimited' ? ` (is the delimiter ${JSON.stringify(delimiter)} right?)` : ''}`, tooFewHint())
    }
    const us = record[plan.user].trim()
    const is = record[plan.item].trim()
    if (us.length === 0) return bad('empty user id')
    if (is.length === 0) return bad('empty item id')
    if (plan.numericIds) {
      if (!isIntegerId(us)) return bad(`user id ${clipQuoted(us)} is not a non-negative integer`)
      if (!isIntegerId(is)) return bad(`item id ${clipQuoted(is)} is not a non-negative integer`)
    }
    let rating = 1
    if (plan.rating >= 0) {
      const s = record[plan.rating].trim()
      rating = s.length === 0 ? Number.NaN : Number(s)
      if (!Number.isFinite(rating)) return bad(`rating ${clipQuoted(s)} is not a number`)
    }
    let ts = out.length
    if (plan.timestamp >= 0) {
      const s = record[plan.timestamp].trim()
      ts = s.length === 0 ? Number.NaN : Number(s)
      if (!Number.isFinite(ts)) return bad(`timestamp ${clipQuoted(s)} is not a number`)
    }
    out.push(users.get(us), items.get(is), rating, ts)
    if (out.length >= nextReport) {
      nextReport += 1_000_000
      const secs = (Date.now() - started) / 1000
      progress.update(`${(out.length / 1e6).toFixed(0)}M rows, ${Math.round(out.length / Math.max(secs, 1e-3) / 1000)}k rows/s`)
    }
  }

  const csvOptions: CsvOptions = {
    delimiter,
    encoding,
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    quote: format === 'delimited' ? '"' : false,
  }

  /** check the held-back first rows for a header line, then read them */
  const releaseHead = (): void => {
    const rows = head!
    head = undefined
    const found = headerLikeColumn(rows, plan!)
    if (found) {
      throw new LikelyHeader(`the first row looks like a header line: its ${found.column} column holds ${clipQuoted(found.value)} where the next ${rows.length - 1} rows hold numbers`)
    }
    for (const r of rows) onRecord(r)
  }

  progress.stage(`read ${file}`)
  const hash = createHash('sha256')
  // size the arrays once from the line density of the first chunk (+5%), instead of doubling
  // (not for gzip: the size on disk says little about the number of lines)
  const guard = new InputGuard(encoding === 'utf8', (first) => {
    let lines = 0
    for (let i = first.indexOf(10); i >= 0; i = first.indexOf(10, i + 1)) lines++
    if (!gzip && lines > 0 && first.length < size) out.reserve(Math.ceil(((size / first.length) * lines) * 1.05) + 1024)
  })
  let failure: unknown
  try {
    const decode = gzip ? gunzip() : new PassThrough()
    await pipeline(createReadStream(file, {highWaterMark: 1 << 20}), new HashTap(hash), decode, guard, parse(csvOptions), async (records: AsyncIterable<string[]>) => {
      try {
        for await (const record of records) {
          if (head === undefined) onRecord(record)
          else if (head.push(record) === HEADER_SAMPLE) releaseHead()
        }
        if (head !== undefined) releaseHead()
      } catch (err) {
        failure = err
        throw err
      }
    })
  } catch (caught) {
    // the pipeline may reject with a stream error caused by ours (premature close): report ours
    const err = failure ?? caught
    if (isRecError(err)) throw err
    if (err instanceof BadRow) {
      const line = await lineOfRecord(file, gzip, csvOptions, err.recordIndex)
      throw dataError('data.bad_row', `${file}:${line}: ${err.what}`, {
        hint: err.hint ?? 'fix the row, or set data.on_bad_row: skip to count and skip malformed rows',
      })
    }
    if (err instanceof LikelyHeader) {
      const line = await lineOfRecord(file, gzip, csvOptions, 0)
      throw dataError('data.likely_header', `${file}:${line}: ${err.message}`, {
        hint: 'if it holds column names, set data.header: true (--header with --dataset); data.columns can then name the columns',
      })
    }
    if (err instanceof BinaryInput) {
      const line = await lineAtOffset(file, gzip, err.offset)
      throw dataError('data.binary', `${file}:${line}: a NUL byte: this looks like a binary file, not delimited text`, {
        hint: 'point data.path at the ratings text file (UTF-16 text must be saved as UTF-8 first; .gz files are read directly)',
      })
    }
    if (err instanceof InvalidUtf8) {
      const line = await lineAtOffset(file, gzip, err.offset)
      throw dataError('data.encoding', `${file}:${line}: bytes that are not valid UTF-8`, {
        hint: 'the file is probably Latin-1 (ISO-8859-1); set data.encoding: latin1',
      })
    }
    const e = err as {code?: string; message?: string; lines?: number}
    if (gzip && typeof e.code === 'string' && e.code.startsWith('Z_')) {
      throw dataError('data.gzip', `${file}: the gzip data is corrupt or truncated (${clipMessage(e.message ?? '')})`, {
        hint: 'download or compress the file again',
        cause: err,
      })
    }
    // csv-parse codes are CSV_*, except INVALID_OPENING_QUOTE (whose message quotes the whole field)
    if (typeof e.code === 'string' && (e.code.startsWith('CSV_') || e.code === 'INVALID_OPENING_QUOTE')) {
      throw dataError('data.bad_row', `${file}:${e.lines ?? '?'}: ${clipMessage(e.message ?? '')}`, {
        hint: format === 'delimited' ? 'check the quoting of the file, or the delimiter' : undefined,
        cause: err,
      })
    }
    throw dataError('data.read', `cannot read ${file}: ${clipMessage(e.message ?? String(err))}`, {cause: err})
  }

  if (out.length === 0) {
    const why = skipped > 0 ? ` (all ${skipped} rows were malformed and skipped)` : sawHeader ? ' (only a header line)' : size === 0 ? ' (the file is empty)' : ''
    throw dataError('data.empty', `no interactions in ${file}${why}`, {hint: 'check data.path and data.format'})
  }
  if (skipped > 0) progress.warn(`skipped ${skipped} malformed row${skipped === 1 ? '' : 's'} in ${file}`)
  const secs = (Date.now() - started) / 1000
  progress.done(`${out.length} interactions, ${users.size} users, ${items.size} items in ${secs.toFixed(1)}s`)
  return {
    interactions: out.build({userIds: users.ids, itemIds: items.ids, hasTimestamps: plan!.timestamp >= 0}, 'auto'),
    skippedRows: skipped,
    sourceFiles: [file],
    bytesSha256: hash.digest('hex'),
  }
}

/** rows held back to decide whether the first row of an index-mapped file is a header */
const HEADER_SAMPLE = 100

/**
 * The mapped column, and its first-row value, that makes the first row look like an undeclared
 * header line: the value is a name (it has a letter and no digit) and every other sampled row
 * holds a number in that column. Either alone is common in real data (string ids, an id "A12"
 * before numeric ones); both together are what a header over numeric columns looks like, and
 * reading it as data would silently add a user and an item (or a skipped row).
 */
export function headerLikeColumn(rows: readonly string[][], plan: Pick<ColumnPlan, 'user' | 'item' | 'rating' | 'timestamp'>): {column: string; value: string} | undefined {
  if (rows.length < 2) return undefined
  for (const column of ['user', 'item', 'rating', 'timestamp'] as const) {
    const c = plan[column]
    if (c < 0 || c >= rows[0].length) continue
    const value = rows[0][c].trim()
    if (!looksLikeName(value)) continue
    if (rows.every((r, k) => k === 0 || (c < r.length && isNumber(r[c].trim())))) return {column, value}
  }
  return undefined
}

function looksLikeName(s: string): boolean {
  return /\p{L}/u.test(s) && !/\d/.test(s)
}

function isNumber(s: string): boolean {
  return s.length > 0 && Number.isFinite(Number(s))
}

/** the column mapping as the user wrote it, for hints */
function describePlan(plan: ColumnPlan | undefined): string {
  if (!plan) return 'from the header'
  return (['user', 'item', 'rating', 'timestamp'] as const)
    .filter((k) => plan[k] >= 0)
    .map((k) => `${k} ${plan[k]}`)
    .join(', ')
}

function isIntegerId(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return s.length > 0
}

function planFromIndexes(cfg: DataConfig, file: string): ColumnPlan {
  const c = cfg.columns
  const idx = (v: number | string | undefined, name: string): number => {
    if (v === undefined) return -1
    if (typeof v === 'string') {
      throw configError('config.columns', `data.columns.${name} is the column name ${JSON.stringify(v)}, but ${file} has no header`, {
        hint: 'set data.header: true, or give 0-based column indexes',
      })
    }
    return v
  }
  return {user: idx(c.user, 'user'), item: idx(c.item, 'item'), rating: idx(c.rating, 'rating'), timestamp: idx(c.timestamp, 'timestamp'), numericIds: false}
}

function planFromHeader(cfg: DataConfig, header: string[], file: string): ColumnPlan {
  const names = header.map((h) => h.trim())
  const idx = (v: number | string | undefined, name: string): number => {
    if (v === undefined) return -1
    if (typeof v === 'number') return v
    let i = names.indexOf(v)
    if (i < 0) i = names.findIndex((h) => h.toLowerCase() === v.toLowerCase())
    if (i < 0) {
      const shown = names.slice(0, 20).map((n) => clipQuoted(n)).join(', ') + (names.length > 20 ? `, … (${names.length} columns)` : '')
      throw dataError('data.column_missing', `${file}: no column named ${JSON.stringify(v)} (data.columns.${name}); the header has ${shown}`, {
        hint: 'fix data.columns, or data.delimiter if the header looks like one column',
      })
    }
    return i
  }
  const c = cfg.columns
  return {user: idx(c.user, 'user'), item: idx(c.item, 'item'), rating: idx(c.rating, 'rating'), timestamp: idx(c.timestamp, 'timestamp'), numericIds: false}
}

class InvalidUtf8 extends Error {
  constructor(readonly offset: number) {
    super(`invalid UTF-8 at byte ${offset}`)
  }
}

class BinaryInput extends Error {
  constructor(readonly offset: number) {
    super(`NUL byte at ${offset}`)
  }
}

class LikelyHeader extends Error {}

/** archive formats recognised by their first bytes: reading them as text would only produce noise */
const ARCHIVES: readonly {name: string; magic: readonly number[]}[] = [
  {name: 'zip', magic: [0x50, 0x4b, 0x03, 0x04]},
  {name: 'bzip2', magic: [0x42, 0x5a, 0x68, -1, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]},
  {name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]},
  {name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd]},
  {name: '7z', magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]},
]

/**
 * What the file's first bytes say it is: gzip (read through gunzip), or text. Other archives are
 * a data error here, before their bytes could pass for a malformed row or Latin-1 text.
 */
function inputKind(file: string): 'gzip' | 'text' {
  const fd = openSync(file, 'r')
  const buf = Buffer.alloc(10)
  let n: number
  try {
    n = readSync(fd, buf, 0, buf.length, 0)
  } finally {
    closeSync(fd)
  }
  if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip'
  for (const {name, magic} of ARCHIVES) {
    if (n >= magic.length && magic.every((b, i) => b < 0 || buf[i] === b)) {
      throw dataError('data.binary', `${file} is a ${name} archive, not a text file`, {
        hint: name === 'zip' ? 'unpack it (`rec data download` does this for MovieLens) and point data.path at the ratings file inside' : 'decompress it first (gzip-compressed files are read directly)',
      })
    }
  }
  return 'text'
}

function gunzip(): Transform {
  return createGunzip({chunkSize: 1 << 16})
}

/** the file's text as a stream: its bytes, decompressed when it is gzip */
function openText(file: string, gzip: boolean): Readable {
  const raw = createReadStream(file, {highWaterMark: 1 << 20})
  return gzip ? raw.pipe(gunzip()) : raw
}

/** pass-through that hashes the bytes as they are on disk (before any decompression) */
class HashTap extends Transform {
  constructor(private readonly hash: ReturnType<typeof createHash>) {
    super()
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk)
    cb(null, chunk)
  }
}

/**
 * Pass-through over the (decompressed) text that stops at a NUL byte, which no delimited text
 * holds (binary data, UTF-16), and (for utf-8) checks that the bytes are valid UTF-8, carrying an
 * incomplete multi-byte sequence at a chunk end over to the next chunk.
 */
class InputGuard extends Transform {
  private offset = 0
  private carry: Buffer | undefined

  constructor(
    private readonly checkUtf8: boolean,
    private onFirstChunk?: (chunk: Buffer) => void,
  ) {
    super()
  }

  _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.onFirstChunk) {
      this.onFirstChunk(chunk)
      this.onFirstChunk = undefined
    }
    const nul = chunk.indexOf(0)
    if (nul >= 0) {
      cb(new BinaryInput(this.offset + nul))
      return
    }
    if (this.checkUtf8) {
      const start = this.offset - (this.carry?.length ?? 0)
      const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk
      const cut = incompleteTail(buf)
      const body = cut === buf.length ? buf : buf.subarray(0, cut)
      if (!isUtf8(body)) {
        this.offset += chunk.length
        cb(new InvalidUtf8(start + firstInvalidUtf8(body)))
        return
      }
      this.carry = cut === buf.length ? undefined : Buffer.from(buf.subarray(cut))
    }
    this.offset += chunk.length
    cb(null, chunk)
  }

  _flush(cb: TransformCallback): void {
    if (this.carry && this.carry.length > 0) {
      cb(new InvalidUtf8(this.offset - this.carry.length))
      return
    }
    cb()
  }
}

/** index where a trailing, possibly incomplete UTF-8 sequence starts (buf.length if none) */
function incompleteTail(buf: Buffer): number {
  const n = buf.length
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]
    if ((b & 0xc0) === 0x80) continue // continuation byte: look further back
    if (b < 0x80) return n
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return need > back ? n - back : n
  }
  return n
}

/** byte offset of the first invalid UTF-8 sequence (buf.length if valid) */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0
  const n = buf.length
  while (i < n) {
    const b = buf[i]
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let min: number
    if (b >= 0xc2 && b <= 0xdf) (need = 1), (min = 0x80)
    else if (b >= 0xe0 && b <= 0xef) (need = 2), (min = 0x800)
    else if (b >= 0xf0 && b <= 0xf4) (need = 3), (min = 0x10000)
    else return i
    if (i + need >= n) return i // truncated sequence
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07)
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]
      if ((c & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += need + 1
  }
  return n
}

/**
 * 1-based line number of a byte offset of the (decompressed) text: re-reads the text up to it, so
 * only used on the error path
 */
async function lineAtOffset(file: string, gzip: boolean, offset: number): Promise<number> {
  let line = 1
  let pos = 0
  for await (const chunk of openText(file, gzip)) {
    const buf = chunk as Buffer
    const n = Math.min(buf.length, offset - pos)
    for (let i = buf.indexOf(10); i >= 0 && i < n; i = buf.indexOf(10, i + 1)) line++
    pos += n
    if (pos >= offset) break
  }
  return line
}

class BadRow extends Error {
  constructor(
    readonly recordIndex: number,
    readonly what: string,
    /** replaces the generic "fix the row, or skip" hint when the cause is more likely the config */
    readonly hint?: string,
  ) {
    super(what)
  }
}

/** 1-based line where record number `index` (0-based, as csv-parse emits them) starts */
async function lineOfRecord(file: string, gzip: boolean, csvOptions: CsvOptions, index: number): Promise<number | string> {
  let k = -1
  let line: number | string = '?'
  const parser = parse({...csvOptions, info: true})
  try {
    await pipeline(openText(file, gzip), parser, async (records: AsyncIterable<{info: {lines: number}}>) => {
      for await (const r of records) {
        if (++k === index) {
          line = r.info.lines
          return
        }
      }
    })
  } catch {
    // the line number is a courtesy: keep the original error
  }
  return line
}
