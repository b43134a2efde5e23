import {createHash} from 'node:crypto'

/**
 * JSON with object keys sorted (recursively) and no whitespace, so equal values always give equal
 * text. `undefined` object entries are dropped and `undefined` array entries become null, as in
 * JSON.stringify; non-finite numbers are rejected (they have no JSON form).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} has no JSON form`)
    return JSON.stringify(value)
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
  }
  throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`)
}

/** sha256 (hex) of text or bytes */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * sha256 (hex) of the canonical JSON of a resolved config, without `$schema` and `extends`
 * (editor hints and composition, which do not change what a run does). Paths in a resolved config
 * are absolute, so the same experiment at another location hashes differently.
 */
export function configHash(config: object): string {
  const {$schema: _schema, extends: _extends, ...rest} = config as Record<string, unknown>
  return sha256Hex(canonicalJson(rest))
}
