import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, isAbsolute, relative, resolve} from 'node:path'

import {parse as parseYamlValue} from 'yaml'

import {RecError, clip, configError, usageError} from '../errors.js'
import {ignoredDataOptions} from './format-options.js'
import {canonicalJson, configHash} from './hash.js'
import {describeIssue, valueAt} from './issues.js'
import {
  type Layer,
  type Origin,
  type Origins,
  type ValueSource,
  isPlainObject,
  joinPath,
  latestOriginUnder,
  mergeLayer,
  originAt,
  setAtPath,
} from './merge.js'
import {experimentProblems} from './checks.js'
import {type RecConfig, configSchema, dataSchema} from './schema.js'
import {knownKeysAt, lookupSchemaPath} from './schema-path.js'
import {nearest} from './suggest.js'
import {type Pos, parseYamlText} from './yaml-source.js'

export {canonicalJson, configHash}
export type {ValueSource}

/**
 * Config precedence, lowest to highest (stated once, tested in test/config/load.test.ts):
 *
 *   built-in defaults (the zod defaults in schema.ts)
 *   < extended files (`extends:`, in order, depth first; later wins)
 *   < the experiment file
 *   < `--set` arguments (in order; later wins)
 *
 * Objects merge deeply; arrays, scalars and null replace whatever was there.
 */

export interface LoadedConfig {
  /** the resolved, validated config; `data.path` and `output.dir` are absolute */
  config: RecConfig
  /** the experiment file, absolute */
  file: string
  /**
   * config leaf path → where its final value came from. Leaves are scalars, null, empty
   * collections and lists of scalars (`eval.k`, `split.ratios`); lists of mappings are entered
   * (`models.0.factors`). Every leaf of `config` has an entry.
   */
  sources: Record<string, ValueSource>
  /** every file read (absolute), in merge order, each once */
  files: string[]
}

export interface LoadOptions {
  /** `key.path=value` overrides; the value is parsed as a YAML scalar or flow collection */
  set?: string[]
  /** base for relative paths given in --set values and for file names in messages (default: process.cwd()) */
  cwd?: string
  /** check that `data.path` exists (default true) */
  checkFiles?: boolean
}

/** config keys holding file paths, resolved against the folder of the file that set them */
export const PATH_KEYS: readonly (readonly string[])[] = [
  ['data', 'path'],
  ['output', 'dir'],
  ['split', 'train'],
  ['split', 'valid'],
  ['split', 'test'],
  ['eval', 'negatives_file'],
]

const FORMATS: readonly string[] = dataSchema.shape.format.unwrap().options

/** one problem found while resolving a config */
interface Problem {
  path: string
  /** detail text after "<path>: " */
  message: string
  origin?: Origin
  /** point at the key rather than the value */
  atKey?: boolean
  /** headline for a single problem, when it reads better than "`path` at loc: message" */
  headline?: (loc: string) => string
  hint?: string
  /** error code when this is the only problem (default config.invalid) */
  code?: string
}

interface FileLayer extends Layer {
  value: Record<string, unknown>
}

interface ParseSet {
  arg: string
  path: string[]
  value: unknown
}

// ---------------------------------------------------------------- public API

/**
 * Load an experiment file: read it and everything it `extends`, merge, apply `--set`, resolve
 * relative paths, validate. Throws a RecError (exit 2) listing every problem with file:line:col.
 */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd()
  const sets = parseSetArgs(options.set ?? [])
  const experiment = resolve(cwd, file)
  const ctx: LoadContext = {cwd, problems: []}
  const layers = await loadTree(experiment, ctx, [], undefined)
  return resolveLayers(experiment, layers, sets, ctx, options)
}

/**
 * Resolve a config given as a plain object (no file, so no positions and no `extends`):
 * defaults, the object, then `--set`; relative paths resolve against `baseDir` (default cwd).
 */
export function resolveConfigFromObject(obj: unknown, options: LoadOptions & {baseDir?: string; file?: string} = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd()
  const baseDir = options.baseDir ?? cwd
  const file = resolve(baseDir, options.file ?? '<object>')
  const sets = parseSetArgs(options.set ?? [])
  const ctx: LoadContext = {cwd, problems: []}
  if (obj !== undefined && obj !== null && !isPlainObject(obj)) {
    throw configError('config.invalid', `a config must be a mapping of keys (got ${Array.isArray(obj) ? 'a list' : typeof obj})`)
  }
  const value = structuredClone((obj ?? {}) as Record<string, unknown>)
  if (value.extends !== undefined) {
    ctx.problems.push({path: 'extends', message: '`extends` needs a config file; use loadConfig'})
    delete value.extends
  }
  resolvePathsIn(value, [], baseDir)
  return resolveLayers(file, [{ordinal: 1, kind: 'experiment', file, value, positions: new Map()}], sets, ctx, options)
}

/** Parse `key.path=value` arguments. A malformed one is a usage error (exit 2). */
export function parseSetArgs(args: readonly string[]): ParseSet[] {
  return args.map((arg) => {
    const eq = arg.indexOf('=')
    const key = eq < 0 ? '' : arg.slice(0, eq).trim()
    if (eq < 0 || key === '' || key.split('.').some((s) => s === '')) {
      throw usageError('usage.bad_set', `--set expects key.path=value, got "${clip(arg)}"`, {
        hint: 'e.g. --set train.epochs=5 --set eval.k=[5,10] --set models.0.factors=32',
      })
    }
    const raw = arg.slice(eq + 1)
    let value: unknown
    try {
      value = raw.trim() === '' ? null : parseYamlValue(raw)
    } catch (error) {
      throw usageError('usage.bad_set', `--set ${clip(arg)}: the value is not valid YAML (${(error as Error).message.split('\n')[0]})`, {
        hint: 'quote strings that contain YAML punctuation, e.g. --set name="\'a: b\'"',
      })
    }
    return {arg, path: key.split('.'), value}
  })
}

// ---------------------------------------------------------------- reading files

interface LoadContext {
  cwd: string
  problems: Problem[]
}

/** `file` relative to cwd when it is below it, else absolute */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, file)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file
}

const fmtPos = (file: string, pos: Pos | undefined, cwd: string): string =>
  pos && pos.line > 0 ? `${displayPath(file, cwd)}:${pos.line}:${pos.col}` : displayPath(file, cwd)

async function loadTree(file: string, ctx: LoadContext, chain: string[], via: {file: string; pos?: Pos; name: string} | undefined): Promise<FileLayer[]> {
  const cycleAt = chain.indexOf(file)
  if (cycleAt >= 0) {
    const loop = [...chain.slice(cycleAt), file].map((f) => displayPath(f, ctx.cwd)).join(' → ')
    throw configError('config.extends_cycle', `extends cycle: ${loop}`, {
      details: via ? [`${fmtPos(via.file, via.pos, ctx.cwd)} extends: ${via.name}`] : [],
      hint: 'a file cannot extend itself, directly or through others',
    })
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? (error as Error).message})`
    if (via) {
      const at = fmtPos(via.file, via.pos, ctx.cwd)
      throw configError('config.extends_not_found', `extended file ${file} ${why} (extends: ${via.name} at ${at})`, {
        details: [`${at} extends: ${via.name} → ${file} ${why}`],
        hint: 'paths in extends are relative to the folder of the file that names them',
      })
    }
    throw configError('config.not_found', `config file ${file} ${why}`)
  }

  const parsed = parseYamlText(text)
  if (parsed.errors.length > 0) {
    const details = parsed.errors.map((e) => `${fmtPos(file, e.pos, ctx.cwd)} ${e.message}`)
    throw configError('config.yaml_syntax', details.length === 1 ? `YAML syntax error at ${details[0]}` : `${details.length} YAML syntax errors in ${displayPath(file, ctx.cwd)}`, {details})
  }
  let value: Record<string, unknown>
  if (parsed.value === null || parsed.value === undefined) value = {}
  else if (isPlainObject(parsed.value)) value = parsed.value
  else {
    const what = Array.isArray(parsed.value) ? 'a list' : describeScalar(parsed.value)
    throw configError('config.invalid', `${fmtPos(file, parsed.positions.get('')?.value, ctx.cwd)}: a config file must be a mapping of keys, got ${what}`)
  }

  const kind = chain.length === 0 ? 'experiment' : 'extends'
  const layer: FileLayer = {ordinal: 0, kind, file, value, positions: parsed.positions}

  // extends: consumed here, never part of the merged config
  const ext = value.extends
  delete value.extends
  const parents: FileLayer[] = []
  if (ext !== undefined && ext !== null) {
    const names: {name: string; pos?: Pos}[] = []
    const pos = (p: string) => parsed.positions.get(p)?.value
    if (typeof ext === 'string') names.push({name: ext, pos: pos('extends')})
    else if (Array.isArray(ext)) {
      ext.forEach((e, i) => {
        if (typeof e === 'string') names.push({name: e, pos: pos(`extends.${i}`)})
        else ctx.problems.push(problemAt(layer, ['extends', i], `expected a file path, got ${describeScalar(e)}`))
      })
    } else ctx.problems.push(problemAt(layer, ['extends'], `expected a file path or a list of them, got ${describeScalar(ext)}`))
    for (const {name, pos: p} of names) {
      parents.push(...(await loadTree(resolve(dirname(file), name), ctx, [...chain, file], {file, pos: p, name})))
    }
  }
  resolvePathsIn(value, [], dirname(file))
  return [...parents, layer]
}

function describeScalar(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  return `${typeof v} ${JSON.stringify(v)}`
}

function problemAt(layer: Layer, path: (string | number)[], message: string): Problem {
  const pos = layer.positions?.get(joinPath(path))
  const at = pos?.value ?? pos?.key ?? {line: 0, col: 0}
  return {
    path: joinPath(path),
    message,
    origin: {ordinal: layer.ordinal, source: {kind: layer.kind as 'extends', file: layer.file ?? '', line: at.line, col: at.col}, keyPos: pos?.key, valuePos: pos?.value},
  }
}

/**
 * Make the path-valued keys under `value` (which sits at `basePath` in the config) absolute,
 * relative to `baseDir`. Returns the (possibly replaced) value.
 */
function resolvePathsIn(value: unknown, basePath: readonly string[], baseDir: string): unknown {
  let result = value
  for (const key of PATH_KEYS) {
    if (basePath.length > key.length || basePath.some((s, i) => s !== key[i])) continue
    const rest = key.slice(basePath.length)
    if (rest.length === 0) {
      if (typeof result === 'string' && result !== '' && !isAbsolute(result)) result = resolve(baseDir, result)
      continue
    }
    const parent = valueAt(result, rest.slice(0, -1))
    const last = rest[rest.length - 1]
    if (isPlainObject(parent) && typeof parent[last] === 'string' && parent[last] !== '' && !isAbsolute(parent[last] as string)) {
      parent[last] = resolve(baseDir, parent[last] as string)
    }
  }
  return result
}

// ---------------------------------------------------------------- merge, --set, validate

function resolveLayers(experiment: string, fileLayers: FileLayer[], sets: ParseSet[], ctx: LoadContext, options: LoadOptions): LoadedConfig {
  const {cwd} = ctx
  const problems = ctx.problems
  const merged: Record<string, unknown> = {}
  const origins: Origins = new Map()

  fileLayers.forEach((layer, i) => {
    layer.ordinal = i + 1
    mergeLayer(merged, layer.value, layer, origins)
  })
  // a problem found while reading (bad extends entry) was made before ordinals were known
  for (const p of problems) {
    const layer = fileLayers.find((l) => p.origin?.source.kind !== 'set' && p.origin?.source.kind !== 'default' && l.file === p.origin?.source.file)
    if (layer && p.origin) p.origin.ordinal = layer.ordinal
  }

  sets.forEach((s, i) => {
    const layer: Layer = {ordinal: fileLayers.length + 1 + i, kind: 'set', arg: s.arg}
    const origin: Origin = {ordinal: layer.ordinal, source: {kind: 'set', arg: s.arg}}
    const key = clip(s.path.join('.'))
    if (s.path[0] === 'extends') {
      problems.push({path: key, message: '`extends` cannot be set with --set; name the file in the experiment', origin})
      return
    }
    const found = lookupSchemaPath(s.path)
    if (!found.ok) {
      const prefix = s.path.slice(0, found.at)
      const suggestion = found.suggestion === undefined ? undefined : joinPath([...prefix, found.suggestion])
      const tail = suggestion ? `; did you mean \`${suggestion}\`?` : found.known.length > 0 ? `; known keys there: ${found.known.join(', ')}` : ''
      problems.push({
        path: key,
        message: `unknown key${tail}`,
        origin,
        headline: () => `unknown key \`${key}\` in --set ${clip(s.arg)}${tail}`,
      })
      return
    }
    const value = resolvePathsIn(s.value, s.path, cwd)
    const err = setAtPath(merged, s.path, value, layer, origins)
    if (err) problems.push({path: key, message: err, origin})
  })

  const parsed = configSchema.safeParse(merged)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        const parentPath = issue.path as (string | number)[]
        const known = knownKeysAt(parentPath)
        for (const key of issue.keys) {
          const full = [...parentPath, key]
          const suggestion = nearest(key, known)
          const tail = suggestion ? `; did you mean \`${suggestion}\`?` : ''
          const name = clip(joinPath(full))
          problems.push({
            path: name,
            message: `unknown key${tail}`,
            origin: originAt(origins, full),
            atKey: true,
            headline: (loc) => `unknown key \`${name}\` at ${loc}${tail}`,
          })
        }
        continue
      }
      for (const t of describeIssue(issue, merged)) {
        problems.push({path: joinPath(t.path), message: t.message, origin: originAt(origins, t.path)})
      }
    }
  }

  if (options.checkFiles !== false) checkDataFile(merged, origins, problems)
  checkFormatOptions(merged, origins, problems)
  if (parsed.success) {
    // checks across fields need the schema's shape; they report with the others, all at once
    const locate = (path: (string | number)[]) => problemLocation({path: '', message: '', origin: originAt(origins, path)}, cwd)
    for (const p of experimentProblems(parsed.data, locate)) problems.push({path: joinPath(p.path), message: p.message, origin: originAt(origins, p.path), hint: p.hint, code: p.code})
  }

  if (problems.length > 0) throw problemsError(experiment, problems, cwd)

  const config = parsed.data!
  // the default output.dir is ./runs where rec runs (git-ignored at the repo root), like other
  // tools' output folders; a value set in a file is relative to that file, as every path there
  if (!origins.has('output.dir') && !isAbsolute(config.output.dir)) config.output.dir = resolve(cwd, config.output.dir)
  delete (config as {extends?: unknown}).extends

  const seen = new Set<string>()
  const files = fileLayers.map((l) => l.file!).filter((f) => !seen.has(f) && seen.add(f))
  return {config, file: experiment, sources: collectSources(config, origins), files}
}

/** data options the chosen format never reads (data.columns with ml-100k, a path with synth): a problem, not a silent no-op */
function checkFormatOptions(merged: Record<string, unknown>, origins: Origins, problems: Problem[]): void {
  const data = isPlainObject(merged.data) ? merged.data : {}
  // a value equal to its default changes nothing (a run's config.resolved.yaml spells every default out)
  const defaults = dataSchema.parse({}) as Record<string, unknown>
  const set = Object.fromEntries(Object.entries(data).filter(([k, v]) => k === 'format' || !Object.hasOwn(defaults, k) || canonicalJson(v) !== canonicalJson(defaults[k])))
  for (const p of ignoredDataOptions(set)) {
    problems.push({path: `data.${p.key}`, message: p.message, origin: originAt(origins, ['data', p.key]), atKey: true, hint: p.hint})
  }
}

function checkDataFile(merged: Record<string, unknown>, origins: Origins, problems: Problem[]): void {
  const data = isPlainObject(merged.data) ? merged.data : {}
  const format = data.format ?? 'synth'
  if (typeof format !== 'string' || !FORMATS.includes(format) || format === 'synth') return
  const split = isPlainObject(merged.split) ? merged.split : {}
  if (split.method === 'files') {
    // the split files are the data (data.path is not read): each one must exist
    for (const key of ['train', 'valid', 'test']) {
      const p = split[key]
      if (typeof p === 'string' && !existsSync(p)) {
        problems.push({path: `split.${key}`, message: `file not found: ${clip(p, 200)}`, origin: originAt(origins, ['split', key]), atKey: true, hint: 'relative paths are resolved against the folder of the config file that sets them'})
      }
    }
    return
  }
  const hint =
    format === 'ml-100k' || format === 'ml-1m'
      ? `MovieLens is not shipped with rec: \`rec data download ${format}\` fetches it, or point data.path at your copy`
      : undefined
  if (data.path === undefined || data.path === null || data.path === '') {
    problems.push({path: 'data.path', message: `required for data.format ${format}`, origin: originAt(origins, ['data', 'format']), atKey: true, hint})
    return
  }
  if (typeof data.path !== 'string') return // zod reports the type
  if (!existsSync(data.path)) {
    problems.push({
      path: 'data.path',
      message: `file not found: ${clip(data.path, 200)}`,
      origin: originAt(origins, ['data', 'path']),
      atKey: true,
      headline: (loc) => `data file not found: ${clip(data.path as string, 200)} (data.path at ${loc})`,
      hint: hint ?? 'relative paths are resolved against the folder of the config file that sets them',
    })
  }
}

function problemLocation(p: Problem, cwd: string): string | undefined {
  const s = p.origin?.source
  if (!s || s.kind === 'default') return undefined
  if (s.kind === 'set') return `--set ${clip(s.arg)}`
  const pos = p.atKey ? (p.origin?.keyPos ?? p.origin?.valuePos) : (p.origin?.valuePos ?? p.origin?.keyPos)
  return fmtPos(s.file, pos ?? {line: s.line, col: s.col}, cwd)
}

function problemsError(experiment: string, problems: Problem[], cwd: string): RecError {
  const sorted = problems
    .map((p, i) => ({p, i}))
    .sort((a, b) => {
      const oa = a.p.origin?.ordinal ?? 0
      const ob = b.p.origin?.ordinal ?? 0
      const la = a.p.origin?.source.kind === 'set' || !a.p.origin ? 0 : (a.p.origin.source as {line: number}).line
      const lb = b.p.origin?.source.kind === 'set' || !b.p.origin ? 0 : (b.p.origin.source as {line: number}).line
      return oa - ob || la - lb || a.i - b.i
    })
    .map(({p}) => p)
  const details = sorted.map((p) => {
    const loc = problemLocation(p, cwd)
    if (!loc) return `${p.path}: ${p.message}`
    if (p.origin?.source.kind === 'set') return `${p.path} (${loc}): ${p.message}`
    return `${loc} ${p.path}: ${p.message}`
  })
  const hints = [...new Set(sorted.map((p) => p.hint).filter((h): h is string => Boolean(h)))]
  const hint = hints.length > 0 ? hints.join('; ') : `\`rec config show ${displayPath(experiment, cwd)} --explain\` shows where each value comes from`
  if (sorted.length === 1) {
    const p = sorted[0]
    const loc = problemLocation(p, cwd) ?? 'defaults'
    const message = p.headline ? p.headline(loc) : `\`${p.path}\` at ${loc}: ${p.message}`
    return configError(p.code ?? 'config.invalid', message, {details, hint})
  }
  return configError('config.invalid', `${sorted.length} problems in ${displayPath(experiment, cwd)}`, {details, hint})
}

// ---------------------------------------------------------------- sources

function collectSources(config: RecConfig, origins: Origins): Record<string, ValueSource> {
  const sources: Record<string, ValueSource> = {}
  const visit = (v: unknown, path: string): void => {
    const isLeaf =
      v === null ||
      typeof v !== 'object' ||
      (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) ||
      (isPlainObject(v) && Object.keys(v).length === 0)
    if (isLeaf) {
      sources[path] = latestOriginUnder(origins, path)?.source ?? {kind: 'default'}
      return
    }
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, path === '' ? String(i) : `${path}.${i}`))
    else for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) visit(x, path === '' ? k : `${path}.${k}`)
  }
  visit(config, '')
  return sources
}

