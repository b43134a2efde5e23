import type {z} from 'zod'

import {configSchema} from './schema.js'
import {nearest} from './suggest.js'

/** a path into a config: object keys and array indices */
export type ConfigPath = readonly (string | number)[]

interface Def {
  type: string
  shape?: Record<string, z.ZodType>
  element?: z.ZodType
  innerType?: z.ZodType
  in?: z.ZodType
  options?: z.ZodType[]
  valueType?: z.ZodType
}

const defOf = (s: z.ZodType): Def => (s as unknown as {_zod: {def: Def}})._zod.def

/** strip wrappers (default, optional, nullable, ...) and expand unions into their options */
function expand(s: z.ZodType): z.ZodType[] {
  const def = defOf(s)
  switch (def.type) {
    case 'default':
    case 'prefault':
    case 'optional':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return expand(def.innerType!)
    case 'pipe':
      return expand(def.in!)
    case 'union':
      return def.options!.flatMap(expand)
    default:
      return [s]
  }
}

export type SchemaLookup =
  | {ok: true; schemas: z.ZodType[]}
  | {
      ok: false
      /** index of the first segment that does not exist */
      at: number
      /** the keys that do exist at that level (empty when the parent is not an object) */
      known: string[]
      /** nearest known key, if any is close */
      suggestion?: string
    }

/**
 * Walk the schema along `path`. Numeric segments (numbers or digit strings) index arrays.
 * Returns the schema(s) found there, or where the walk stopped with the keys known at that level.
 */
export function lookupSchemaPath(path: ConfigPath, root: z.ZodType = configSchema): SchemaLookup {
  let current = expand(root)
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]
    const next: z.ZodType[] = []
    const known = new Set<string>()
    for (const s of current) {
      const def = defOf(s)
      if (def.type === 'object' && def.shape) {
        for (const k of Object.keys(def.shape)) known.add(k)
        // own keys only: `toString` or `__proto__` are not config keys, whatever Object.prototype says
        const child = Object.hasOwn(def.shape, String(seg)) ? def.shape[String(seg)] : undefined
        if (child) next.push(...expand(child))
      } else if (def.type === 'array' && def.element && /^\d+$/.test(String(seg))) {
        next.push(...expand(def.element))
      } else if (def.type === 'record' && def.valueType) {
        next.push(...expand(def.valueType))
      }
    }
    if (next.length === 0) {
      const knownKeys = [...known]
      return {ok: false, at: i, known: knownKeys, suggestion: nearest(String(seg), knownKeys)}
    }
    current = next
  }
  return {ok: true, schemas: current}
}

/** the object keys the schema allows at `path` (an object path), e.g. `["eval"]` → k, mode, ... */
export function knownKeysAt(path: ConfigPath, root: z.ZodType = configSchema): string[] {
  const found = lookupSchemaPath(path, root)
  if (!found.ok) return []
  const keys = new Set<string>()
  for (const s of found.schemas) {
    const def = defOf(s)
    if (def.type === 'object' && def.shape) for (const k of Object.keys(def.shape)) keys.add(k)
  }
  return [...keys]
}
