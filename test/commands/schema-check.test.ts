/** The checker behind the --json contract tests, and the schema files it reads. */
import {describe, expect, it} from 'vitest'

import {loadSchema} from './fixtures.js'
import {checkSchema, type Schema} from './schema-check.js'

describe('checkSchema', () => {
  const schema: Schema = {
    type: 'object',
    required: ['a', 'b'],
    additionalProperties: false,
    properties: {
      a: {type: 'integer', minimum: 1},
      b: {type: 'array', items: {$ref: '#/$defs/unit'}},
      c: {enum: ['x', 'y']},
      d: {type: ['string', 'null']},
      m: {type: 'object', additionalProperties: {type: 'number'}},
    },
    $defs: {unit: {type: 'number', minimum: 0, maximum: 1}},
  }

  it('accepts a value that fits', () => {
    expect(checkSchema({a: 2, b: [0, 0.5, 1], c: 'x', d: null, m: {k: 1}}, schema)).toEqual([])
  })

  it('reports each violation with its path', () => {
    expect(checkSchema({a: 1.5, b: [2, 'z'], c: 'q', d: 3, m: {k: 'no'}, extra: 1}, schema)).toEqual([
      '$.a: expected integer, got number',
      '$.b[0]: 2 > maximum 1',
      '$.b[1]: expected number, got string',
      '$.c: "q" is not one of ["x","y"]',
      '$.d: expected string | null, got number',
      '$.m.k: expected number, got string',
      '$: unexpected property "extra"',
    ])
    expect(checkSchema({b: []}, schema)).toEqual(['$: missing required property "a"'])
    expect(checkSchema({a: 0, b: []}, schema)).toEqual(['$.a: 0 < minimum 1'])
    expect(checkSchema([], schema)).toEqual(['$: expected object, got array'])
  })

  it('refuses keywords it does not check, and unresolvable references', () => {
    expect(() => checkSchema('x', {type: 'string', pattern: '^x$'} as Schema)).toThrow(/unsupported keyword "pattern"/)
    expect(() => checkSchema(1, {$ref: '#/$defs/none'})).toThrow(/cannot resolve/)
  })

  it('every schema in schemas/ only uses checked keywords and documents each property', () => {
    for (const name of ['run-result', 'compare', 'report', 'search', 'stream', 'run-seeds'] as const) {
      const s = loadSchema(name)
      expect(s.description, name).toBeTypeOf('string')
      // walking the schema with a value of the wrong type at every level still visits every keyword
      const undocumented: string[] = []
      const walk = (node: Schema, path: string) => {
        checkSchema(undefined, {...node, $defs: s.$defs})
        for (const [k, sub] of Object.entries(node.properties ?? {})) {
          if (typeof sub.description !== 'string' && sub.$ref === undefined) undocumented.push(`${path}.${k}`)
          walk(sub, `${path}.${k}`)
        }
        if (node.items) walk(node.items, `${path}[]`)
        if (typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`)
      }
      walk(s, name)
      for (const [k, def] of Object.entries(s.$defs ?? {})) walk(def, `${name}#${k}`)
      expect(undocumented, name).toEqual([])
    }
  })
})
