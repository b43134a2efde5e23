/**
 * Writes schema/rec-config.schema.json from the zod schema in src/config/schema.ts, and the config
 * reference table of README.md from that.
 * Run after changing the schema: `npx tsx scripts/gen-schema.ts` (test/config/schema.test.ts fails
 * when the shipped file is stale).
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {JSON_SCHEMA_PATH, renderJsonSchema} from '../src/config/json-schema.js'
import {withConfigReference} from '../src/config/reference.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, JSON_SCHEMA_PATH)
writeFileSync(out, renderJsonSchema())
process.stdout.write(`wrote ${JSON_SCHEMA_PATH}\n`)

const readme = join(root, 'README.md')
writeFileSync(readme, withConfigReference(readFileSync(readme, 'utf8')))
process.stdout.write('updated the config reference in README.md\n')
