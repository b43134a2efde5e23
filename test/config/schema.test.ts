import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {JSON_SCHEMA_PATH, buildJsonSchema, renderJsonSchema} from '../../src/config/json-schema.js'
import {repoRoot} from '../helpers/cli.js'

describe('schema/rec-config.schema.json', () => {
  const shipped = readFileSync(join(repoRoot, JSON_SCHEMA_PATH), 'utf8')

  it('equals a fresh generation (run `npx tsx scripts/gen-schema.ts` after changing src/config/schema.ts)', () => {
    expect(shipped).toBe(renderJsonSchema())
  })

  it('has the shape of a JSON Schema for the config', () => {
    const s = JSON.parse(shipped)
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    expect(s.type).toBe('object')
    expect(s.additionalProperties).toBe(false)
    for (const key of ['$schema', 'extends', 'name', 'seed', 'data', 'preprocess', 'split', 'negatives', 'models', 'train', 'eval', 'compress', 'output']) {
      expect(s.properties, key).toHaveProperty([key])
    }
    expect(s.properties.data.properties.format.enum).toEqual(['synth', 'ml-100k', 'ml-1m', 'delimited', 'recbole'])
    expect(s.properties.models.type).toBe('array')
    expect(s.properties.models.items.required).toEqual(['model'])
    // input side: keys with defaults are optional
    expect(s.required ?? []).toEqual([])
    expect(s.properties.train.required ?? []).toEqual([])
    expect(buildJsonSchema()).toEqual(s)
  })
})

describe('README config reference', () => {
  it('is the generated one (run `npx tsx scripts/gen-schema.ts` after changing the schema)', async () => {
    const {withConfigReference, configReference} = await import('../../src/config/reference.js')
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
    expect(readme).toBe(withConfigReference(readme))
    const ref = configReference()
    // every top-level section and a nested key appear with their defaults
    expect(ref).toContain('| `train.lr` | number | `0.001` | learning rate |')
    expect(ref).toContain('| `models[].model` | `pop` \\| `mf` \\| `neumf` \\| `two_tower` \\| `sasrec` \\| `gru4rec` \\| `itemknn` \\| `ease` \\| `gmf` \\| `mlp` |')
  })
})
