import {createHash} from 'node:crypto'
import {createReadStream, openSync, readSync, closeSync, statSync} from 'node:fs'
import {Transform, type TransformCallback} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {resolve} from 'node:path'
import {isUtf8} from 'node:buffer'

import {parse, type Options as CsvOptions} from 'csv-parse'

import type {DataConfig} from '../config/schema.js'
import {configError, dataError, isRecError} from '../errors.js'
import {silentProgress, type Progress} from '../progress.js'
import {IdMap, InteractionBuilder} from './arrays.js'
import {generateSynthetic, synthConfigSha256} from './synth.js'
import type {Interactions} from './types.js'

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
 * Errors (all data errors, exit 3): missing file, empty / header-only file, non-UTF-8 bytes in a
 * utf-8 file, and a malformed row (`data.bad_row`, "<file>:<line>: <what>") unless
 * `on_bad_row: skip`, which counts and skips it.
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
  const delimiter = format === 'ml-100k' ? '\t' : format === 'ml-1m' ? '::' : normalizeDelimiter(cfg.delimiter)
  const header = format === 'delimited' ? cfg.header : false
  const skip = cfg.on_bad_row === 'skip'
  const encoding: BufferEncoding = cfg.encoding === 'latin1' ? 'latin1' : 'utf8'

  let plan: ColumnPlan | undefined =
    format === 'delimited' ? (header ? undefined : planFromIndexes(cfg, file)) : {user: 0, item: 1, rating: 2, timestamp: 3, numericIds: true}
  const minFields = () => Math.max(plan!.user, plan!.item, plan!.rating, plan!.timestamp) + 1

  const users = new IdMap()
  const items = new IdMap()
  const out = new InteractionBuilder(1 << 12)
  let skipped = 0
  let sawHeader = false
  const started = Date.now()
  let nextReport = 1_000_000

  // the line of a bad row is found afterwards (re-parsing up to it): asking csv-parse for line
  // info on every record costs more than the parsing itself
  const bad = (what: string): void => {
    if (skip) {
      skipped++
      return
    }
    throw new BadRow(recordIndex, what)
  }

  let recordIndex = -1
  const onRecord = (record: string[]): void => {
    recordIndex++
    if (plan === undefined) {
      // header line
      plan = planFromHeader(cfg, record, file)
      sawHeader = true
      return
    }
    if (record.length < minFields()) {
      return bad(`expected at least ${minFields()} fields, found ${record.length}${record.length === 1 && format === 'delimited' ? ` (is the delimiter ${JSON.stringify(delimiter)} right?)` : ''}`)
    }
    const us = record[plan.user].trim()
    const is = record[plan.item].trim()
    if (us.length === 0) return bad('empty user id')
    if (is.length === 0) return bad('empty item id')
    if (plan.numericIds) {
      if (!isIntegerId(us)) return bad(`user id ${JSON.stringify(us)} is not a non-negative integer`)
      if (!isIntegerId(is)) return bad(`item id ${JSON.stringify(is)} is not a non-negative integer`)
    }
    let rating = 1
    if (plan.rating >= 0) {
      const s = record[plan.rating].trim()
      rating = s.length === 0 ? Number.NaN : Number(s)
      if (!Number.isFinite(rating)) return bad(`rating ${JSON.stringify(s)} is not a number`)
    }
    let ts = out.length
    if (plan.timestamp >= 0) {
      const s = record[plan.timestamp].trim()
      ts = s.length === 0 ? Number.NaN : Number(s)
      if (!Number.isFinite(ts)) return bad(`timestamp ${JSON.stringify(s)} is not a number`)
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

  progress.stage(`read ${file}`)
  const hash = createHash('sha256')
  // size the arrays once from the line density of the first chunk (+5%), instead of doubling
  const guard = new InputGuard(hash, encoding === 'utf8', (first) => {
    let lines = 0
    for (let i = first.indexOf(10); i >= 0; i = first.indexOf(10, i + 1)) lines++
    if (lines > 0 && first.length < size) out.reserve(Math.ceil(((size / first.length) * lines) * 1.05) + 1024)
  })
  let failure: unknown
  try {
    await pipeline(createReadStream(file, {highWaterMark: 1 << 20}), guard, parse(csvOptions), async (records: AsyncIterable<string[]>) => {
      for await (const record of records) {
        try {
          onRecord(record)
        } catch (err) {
          failure = err
          throw err
        }
      }
    })
  } catch (caught) {
    // the pipeline may reject with a stream error caused by ours (premature close): report ours
    const err = failure ?? caught
    if (isRecError(err)) throw err
    if (err instanceof BadRow) {
      const line = await lineOfRecord(file, csvOptions, err.recordIndex)
      throw dataError('data.bad_row', `${file}:${line}: ${err.what}`, {
        hint: 'fix the row, or set data.on_bad_row: skip to count and skip malformed rows',
      })
    }
    if (err instanceof InvalidUtf8) {
      const line = lineAtOffset(file, err.offset)
      throw dataError('data.encoding', `${file}:${line}: bytes that are not valid UTF-8`, {
        hint: 'the file is probably Latin-1 (ISO-8859-1); set data.encoding: latin1',
      })
    }
    const e = err as {code?: string; message?: string; lines?: number}
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw dataError('data.bad_row', `${file}:${e.lines ?? '?'}: ${e.message}`, {
        hint: format === 'delimited' ? 'check the quoting of the file, or the delimiter' : undefined,
        cause: err,
      })
    }
    throw dataError('data.read', `cannot read ${file}: ${e.message ?? String(err)}`, {cause: err})
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
      throw dataError('data.column_missing', `${file}: no column named ${JSON.stringify(v)} (data.columns.${name}); the header has ${names.map((n) => JSON.stringify(n)).join(', ')}`, {
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

/**
 * Pass-through that hashes the input bytes and (for utf-8) checks that they are valid UTF-8,
 * carrying an incomplete multi-byte sequence at a chunk end over to the next chunk.
 */
class InputGuard extends Transform {
  private offset = 0
  private carry: Buffer | undefined

  constructor(
    private readonly hash: ReturnType<typeof createHash>,
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
    this.hash.update(chunk)
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

/** 1-based line number of a byte offset (re-reads the file prefix: only used on the error path) */
function lineAtOffset(file: string, offset: number): number {
  const fd = openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 20)
    let line = 1
    let pos = 0
    while (pos < offset) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, offset - pos), pos)
      if (n <= 0) break
      for (let i = 0; i < n; i++) if (buf[i] === 10) line++
      pos += n
    }
    return line
  } finally {
    closeSync(fd)
  }
}

class BadRow extends Error {
  constructor(
    readonly recordIndex: number,
    readonly what: string,
  ) {
    super(what)
  }
}

/** 1-based line where record number `index` (0-based, as csv-parse emits them) starts */
async function lineOfRecord(file: string, csvOptions: CsvOptions, index: number): Promise<number | string> {
  let k = -1
  let line: number | string = '?'
  const parser = parse({...csvOptions, info: true})
  try {
    await pipeline(createReadStream(file, {highWaterMark: 1 << 20}), parser, async (records: AsyncIterable<{info: {lines: number}}>) => {
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
