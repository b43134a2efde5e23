/**
 * A small JSON Schema checker for the subset schemas/*.schema.json use: type (one or a list; "integer"
 * too), properties, required, additionalProperties (false or a schema), items, enum, minimum, maximum,
 * and local $ref ("#/$defs/name"). Any other keyword throws, so a schema can never promise a check this
 * code does not make. Returns every violation as "<json path>: <problem>" (empty when the value fits).
 */
export interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  enum?: unknown[]
  minimum?: number
  maximum?: number
  $ref?: string
  $defs?: Record<string, Schema>
  [annotation: string]: unknown
}

const CHECKED = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'minimum', 'maximum', '$ref', '$defs'])
const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'default'])

function typeOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v === 'number' ? 'number' : typeof v
}

const matchesType = (v: unknown, t: string) => (t === 'integer' ? Number.isInteger(v) : typeOf(v) === t)

export function checkSchema(value: unknown, schema: Schema, root: Schema = schema, path = '$'): string[] {
  for (const k of Object.keys(schema)) if (!CHECKED.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema-check: unsupported keyword "${k}" at ${path}`)
  if (schema.$ref !== undefined) {
    const m = /^#\/\$defs\/([^/]+)$/.exec(schema.$ref)
    const target = m ? root.$defs?.[m[1]] : undefined
    if (!target) throw new Error(`schema-check: cannot resolve $ref ${schema.$ref} at ${path}`)
    return checkSchema(value, target, root, path)
  }
  const errors: string[] = []
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    if (!types.some((t) => matchesType(value, t))) return [`${path}: expected ${types.join(' | ')}, got ${typeOf(value)}`]
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: ${value} < minimum ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: ${value} > maximum ${schema.maximum}`)
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => errors.push(...checkSchema(v, schema.items!, root, `${path}[${i}]`)))
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>
    for (const r of schema.required ?? []) if (!(r in obj)) errors.push(`${path}: missing required property "${r}"`)
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k]
      if (sub) errors.push(...checkSchema(v, sub, root, `${path}.${k}`))
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected property "${k}"`)
      else if (typeof schema.additionalProperties === 'object') errors.push(...checkSchema(v, schema.additionalProperties, root, `${path}.${k}`))
    }
  }
  return errors
}
