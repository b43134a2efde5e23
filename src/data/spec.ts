import {existsSync, statSync} from 'node:fs'
import {basename, join, resolve} from 'node:path'

import {dataSchema, preprocessSchema, synthSchema, type DataConfig, type PreprocessConfig} from '../config/schema.js'
import {usageError} from '../errors.js'
import {ignoredDataOptions} from '../config/format-options.js'

/**
 * Dataset specs for `rec data inspect --dataset <spec>` (no experiment file needed):
 *
 *   ml-100k:<path>       MovieLens 100K: u.data, or the folder holding it
 *   ml-1m:<path>         MovieLens 1M: ratings.dat, or the folder holding it
 *   synth                the synthetic generator with its defaults
 *   synth:k=v,k=v        ... with some of users, items, interactions, factors, popularity_exponent,
 *                        seed, explicit (e.g. synth:users=1000,items=500,interactions=5e4)
 *   delimited:<path>     a delimited file (see DelimitedOptions)
 *   <path>               same as delimited:<path>, except that a file named u.data is read as
 *                        ml-100k and one named ratings.dat as ml-1m
 */
export interface DelimitedOptions {
  delimiter?: string
  header?: boolean
  /**
   * `user,item[,rating[,timestamp]]` as header names or 0-based indexes in that order, or
   * `key=value` pairs (`user=userId,item=movieId,timestamp=ts`); keys not given are absent
   */
  columns?: string
  encoding?: 'utf-8' | 'latin1'
  onBadRow?: 'error' | 'skip'
}

const COLUMN_KEYS = ['user', 'item', 'rating', 'timestamp'] as const

export function dataConfigFromSpec(spec: string, options: DelimitedOptions = {}): DataConfig {
  const cfg: Record<string, unknown> = {}
  if (options.encoding) cfg.encoding = options.encoding
  if (options.onBadRow) cfg.on_bad_row = options.onBadRow
  if (options.delimiter !== undefined) cfg.delimiter = options.delimiter
  if (options.header !== undefined) cfg.header = options.header
  if (options.columns !== undefined) cfg.columns = parseColumns(options.columns)
  const m = /^(ml-100k|ml-1m|synth|delimited)(?::(.*))?$/s.exec(spec)
  if (m && m[1] === 'synth') return checked({...cfg, format: 'synth', synth: parseSynthParams(m[2] ?? '')})
  if (m && (m[1] === 'ml-100k' || m[1] === 'ml-1m')) {
    if (!m[2]) throw usageError('usage.dataset', `--dataset ${m[1]} needs a path: ${m[1]}:<file or folder>`)
    return checked({...cfg, format: m[1], path: movieLensFile(m[1], m[2])})
  }
  const path = m && m[1] === 'delimited' ? m[2] ?? '' : spec
  if (!path) throw usageError('usage.dataset', '--dataset delimited needs a path: delimited:<file>')
  if (!m) {
    const name = basename(path).replace(/\.gz$/, '')
    if (name === 'u.data') return checked({...cfg, format: 'ml-100k', path: resolve(path)})
    if (name === 'ratings.dat') return checked({...cfg, format: 'ml-1m', path: resolve(path)})
  }
  return checked({...cfg, format: 'delimited', path: resolve(path)})
}

const FLAG_OF: Record<string, string> = {delimiter: '--delimiter', header: '--header', columns: '--columns', encoding: '--encoding', on_bad_row: '--on-bad-row'}

/** a flag the dataset's format would ignore is a usage error (as the same key in a config is), then the schema's defaults */
function checked(cfg: Record<string, unknown>): DataConfig {
  const ignored = ignoredDataOptions(cfg).filter((p) => p.key in FLAG_OF)
  if (ignored.length > 0) {
    const p = ignored[0]
    throw usageError('usage.dataset', `${ignored.map((i) => FLAG_OF[i.key]).join(', ')}: ${p.message}`, {
      hint: 'drop the flag, or give the file as delimited:<path> to read it with your own layout',
    })
  }
  return dataSchema.parse(cfg)
}

function movieLensFile(format: 'ml-100k' | 'ml-1m', p: string): string {
  const abs = resolve(p)
  if (existsSync(abs) && statSync(abs).isDirectory()) return join(abs, format === 'ml-100k' ? 'u.data' : 'ratings.dat')
  return abs
}

function parseSynthParams(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!text.trim()) return out
  const known = Object.keys(synthSchema.shape)
  for (const part of text.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim())
    if (!known.includes(k) || v === undefined) {
      throw usageError('usage.dataset', `synth parameter ${JSON.stringify(part)}: expected key=value with key one of ${known.join(', ')}`)
    }
    if (k === 'explicit') out[k] = v === 'true' || v === '1'
    else {
      const n = Number(v)
      if (!Number.isFinite(n)) throw usageError('usage.dataset', `synth parameter ${k}: ${JSON.stringify(v)} is not a number`)
      out[k] = n
    }
  }
  const parsed = synthSchema.safeParse(out)
  if (!parsed.success) throw usageError('usage.dataset', `synth parameters: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  return out
}

export function parseColumns(text: string): DataConfig['columns'] {
  const parts = text.split(',').map((s) => s.trim())
  const out: Record<string, string | number> = {}
  const value = (v: string): string | number => (/^\d+$/.test(v) ? Number(v) : v)
  parts.forEach((p, k) => {
    const eq = p.indexOf('=')
    if (eq >= 0) {
      const key = p.slice(0, eq).trim()
      if (!(COLUMN_KEYS as readonly string[]).includes(key)) throw usageError('usage.columns', `--columns: unknown key ${JSON.stringify(key)} (known: ${COLUMN_KEYS.join(', ')})`)
      out[key] = value(p.slice(eq + 1).trim())
    } else {
      if (k >= COLUMN_KEYS.length) throw usageError('usage.columns', `--columns: at most ${COLUMN_KEYS.length} positional columns (user,item,rating,timestamp)`)
      if (p !== '' && p !== '-') out[COLUMN_KEYS[k]] = value(p)
    }
  })
  if (out.user === undefined || out.item === undefined) throw usageError('usage.columns', '--columns must name at least the user and item columns')
  return out as DataConfig['columns']
}

export interface PreprocessOptions {
  dedupe?: 'last' | 'first' | 'none'
  /** set: implicit threshold mode with this threshold; unset: every row is a positive */
  threshold?: number
  kcoreUser?: number
  kcoreItem?: number
}

export function preprocessConfigFromOptions(o: PreprocessOptions): PreprocessConfig {
  return preprocessSchema.parse({
    dedupe: o.dedupe,
    implicit: o.threshold === undefined ? {mode: 'all'} : {mode: 'threshold', threshold: o.threshold},
    kcore: {user: o.kcoreUser ?? 0, item: o.kcoreItem ?? 0},
  })
}
