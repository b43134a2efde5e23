import type {Pos} from './yaml-source.js'

/**
 * Where a value came from. `file` is absolute; `line`/`col` (1-based; 0 = unknown) are those of the
 * key that set it, or of the list entry for values inside lists. `arg` is the --set argument as given.
 */
export type ValueSource =
  | {kind: 'default'}
  | {kind: 'extends'; file: string; line: number; col: number}
  | {kind: 'experiment'; file: string; line: number; col: number}
  | {kind: 'set'; arg: string}

/** one contributor to the merged config: a file, or one --set argument */
export interface Layer {
  /** merge order; higher wins. Defaults are 0. */
  ordinal: number
  kind: 'extends' | 'experiment' | 'set'
  /** absolute path (file layers) */
  file?: string
  /** the --set argument as written (set layers) */
  arg?: string
  /** config path → node position (file layers) */
  positions?: Map<string, {key?: Pos; value?: Pos}>
}

/** who set a node of the merged (not yet validated) config */
export interface Origin {
  ordinal: number
  source: ValueSource
  keyPos?: Pos
  valuePos?: Pos
}

export type Origins = Map<string, Origin>

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

export const joinPath = (path: readonly (string | number)[]): string => path.map(String).join('.')

export function originFor(layer: Layer, path: readonly (string | number)[]): Origin {
  if (layer.kind === 'set') return {ordinal: layer.ordinal, source: {kind: 'set', arg: layer.arg ?? ''}}
  // a node without its own position (e.g. inside an alias) takes the nearest ancestor's
  let pos: {key?: Pos; value?: Pos} | undefined
  for (let n = path.length; n >= 0 && !pos; n--) pos = layer.positions?.get(joinPath(path.slice(0, n)))
  const at = pos?.key ?? pos?.value ?? {line: 0, col: 0}
  return {
    ordinal: layer.ordinal,
    source: {kind: layer.kind, file: layer.file ?? '', line: at.line, col: at.col},
    keyPos: pos?.key,
    valuePos: pos?.value ?? pos?.key,
  }
}

function clearUnder(origins: Origins, path: readonly (string | number)[]): void {
  const p = joinPath(path)
  for (const k of [...origins.keys()]) if (k === p || k.startsWith(`${p}.`)) origins.delete(k)
}

function recordTree(value: unknown, path: (string | number)[], layer: Layer, origins: Origins): void {
  origins.set(joinPath(path), originFor(layer, path))
  if (Array.isArray(value)) value.forEach((v, i) => recordTree(v, [...path, i], layer, origins))
  else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) recordTree(v, [...path, k], layer, origins)
}

const clone = <T>(v: T): T => structuredClone(v)

/** `t[key]` if `t` has it as its own property: `__proto__` or `constructor` never reach a prototype */
const ownValue = (t: Record<string | number, unknown>, key: string | number): unknown => (Object.hasOwn(t, key) ? t[key] : undefined)

/**
 * `t[key] = value` as an own data property: assigning `__proto__` (a key a YAML file may hold)
 * would replace the object's prototype instead, and the schema would never see the key.
 */
function setOwn(t: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(t, key, {value, writable: true, enumerable: true, configurable: true})
}

/**
 * Merge `value` into `target[key]`: objects merge deeply, anything else (arrays, scalars, null)
 * replaces. `origins` is kept in step: replaced subtrees forget their old origins.
 */
export function mergeInto(
  target: Record<string, unknown> | unknown[],
  key: string | number,
  value: unknown,
  path: (string | number)[],
  layer: Layer,
  origins: Origins,
): void {
  const t = target as Record<string | number, unknown>
  const existing = ownValue(t, key)
  if (isPlainObject(existing) && isPlainObject(value)) {
    origins.set(joinPath(path), originFor(layer, path))
    for (const [k, v] of Object.entries(value)) mergeInto(existing, k, v, [...path, k], layer, origins)
    return
  }
  clearUnder(origins, path)
  setOwn(t, key, clone(value))
  recordTree(value, path, layer, origins)
}

/** merge a whole layer (a parsed file) into the root */
export function mergeLayer(root: Record<string, unknown>, value: Record<string, unknown>, layer: Layer, origins: Origins): void {
  for (const [k, v] of Object.entries(value)) mergeInto(root, k, v, [k], layer, origins)
}

/**
 * Set `value` at `path` (a --set): missing or scalar intermediate nodes become objects (arrays when
 * the next segment is an index), array indices may address an entry or append one past the end.
 * Returns a problem message, or undefined when it was applied.
 */
export function setAtPath(root: Record<string, unknown>, path: string[], value: unknown, layer: Layer, origins: Origins): string | undefined {
  let cur: Record<string, unknown> | unknown[] = root
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]
    let key: string | number = seg
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(seg)) return `\`${joinPath(path.slice(0, i))}\` is a list; use an index, e.g. ${joinPath([...path.slice(0, i), 0])}`
      key = Number(seg)
      if (key > cur.length) {
        return `\`${joinPath(path.slice(0, i))}\` has ${cur.length} ${cur.length === 1 ? 'entry' : 'entries'}; index ${key} is out of range`
      }
    }
    if (i === path.length - 1) {
      mergeInto(cur, key, value, path, layer, origins)
      return undefined
    }
    const c = cur as Record<string | number, unknown>
    let child = ownValue(c, key)
    if (!isPlainObject(child) && !Array.isArray(child)) {
      child = /^\d+$/.test(path[i + 1]) ? [] : {}
      clearUnder(origins, path.slice(0, i + 1))
      setOwn(c, key, child)
      origins.set(joinPath(path.slice(0, i + 1)), originFor(layer, path.slice(0, i + 1)))
    }
    cur = child as Record<string, unknown> | unknown[]
  }
  return undefined
}

/** the origin of the node at `path`, or of its nearest ancestor that has one */
export function originAt(origins: Origins, path: readonly (string | number)[]): Origin | undefined {
  for (let n = path.length; n > 0; n--) {
    const o = origins.get(joinPath(path.slice(0, n)))
    if (o) return o
  }
  return undefined
}

/** the most recent origin of the node at `path` or anything under it (for leaves such as `eval.k`) */
export function latestOriginUnder(origins: Origins, path: string): Origin | undefined {
  let best: Origin | undefined
  for (const [k, o] of origins) {
    if ((k === path || k.startsWith(`${path}.`)) && (!best || o.ordinal > best.ordinal)) best = o
  }
  return best
}
