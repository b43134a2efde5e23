import {z} from 'zod'

import {configSchema} from './schema.js'

/** where the shipped JSON Schema lives, relative to the repo root */
export const JSON_SCHEMA_PATH = 'schema/rec-config.schema.json'

/**
 * The JSON Schema of an experiment file, for editors (yaml-language-server). Input side: keys
 * with defaults are optional; `$schema` and `extends` are allowed.
 */
export function buildJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, {io: 'input', target: 'draft-2020-12'}) as Record<string, unknown>
  return {
    $schema: schema.$schema,
    title: 'rec experiment config',
    ...schema,
  }
}

/** the file text exactly as shipped */
export function renderJsonSchema(): string {
  return `${JSON.stringify(buildJsonSchema(), null, 2)}\n`
}
