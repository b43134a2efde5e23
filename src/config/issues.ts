import type {z} from 'zod'

import {clip, clipQuoted} from '../errors.js'

/** a zod issue turned into words a user can act on, at a config path */
export interface IssueText {
  path: (string | number)[]
  message: string
}

type Issue = z.core.$ZodIssue

const ZOD_DEFAULT_PREFIX = /^(Invalid|Too small|Too big|Unrecognized|Expected)/

/** "string \"fast\"", "number 3", "a list", ... */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (typeof v === 'string') return `string ${clipQuoted(v)}`
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`
  if (Array.isArray(v)) return `a list (${clip(JSON.stringify(v))})`
  if (typeof v === 'object') return 'a mapping'
  return typeof v
}

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'integer'
    case 'object':
      return 'a mapping'
    case 'array':
      return 'a list'
    default:
      return expected
  }
}

const formatAllowed = (v: unknown): string => clip(typeof v === 'string' ? v : JSON.stringify(v))

export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[seg as string]
  }
  return cur
}

/** Words for one zod issue (unrecognized keys are handled by the caller: they need the file positions). */
export function describeIssue(issue: Issue, root: unknown): IssueText[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)) as (string | number)[]
  const v = valueAt(root, path)
  const custom = !ZOD_DEFAULT_PREFIX.test(issue.message)
  switch (issue.code) {
    case 'invalid_type': {
      const expected = typeName(issue.expected)
      return [{path, message: v === undefined ? `missing (required, ${expected})` : `expected ${expected}, got ${describeValue(v)}`}]
    }
    case 'invalid_value': {
      const allowed = issue.values.map(formatAllowed)
      if (v === undefined) return [{path, message: `missing (required); expected one of ${allowed.join(', ')}`}]
      if (allowed.length === 1) return [{path, message: `expected ${allowed[0]}, got ${describeValue(v)}`}]
      return [{path, message: `unknown value ${typeof v === 'string' ? clipQuoted(v) : clip(JSON.stringify(v))}; expected one of ${allowed.join(', ')}`}]
    }
    case 'invalid_union': {
      const branches = issue.errors
      // a branch whose type matched but whose contents are wrong says the most: report its issues
      const matched = branches.filter((b) => b.length > 0 && b.every((i) => i.path.length > 0 || (i.code !== 'invalid_type' && i.code !== 'invalid_value')))
      if (matched.length === 1) {
        return matched[0].flatMap((i) => describeIssue({...i, path: [...issue.path, ...i.path]} as Issue, root))
      }
      const alternatives: string[] = []
      for (const b of branches) {
        for (const i of b) {
          if (i.path.length > 0) continue
          if (i.code === 'invalid_type') alternatives.push(typeName(i.expected))
          else if (i.code === 'invalid_value') alternatives.push(...i.values.map((x) => JSON.stringify(x)))
        }
      }
      const uniq = [...new Set(alternatives)]
      if (uniq.length === 0) return [{path, message: `${issue.message} (got ${describeValue(v)})`}]
      return [{path, message: `expected ${uniq.join(' or ')}, got ${describeValue(v)}`}]
    }
    case 'too_small':
    case 'too_big': {
      if (custom) return [{path, message: issue.message}]
      const small = issue.code === 'too_small'
      const bound = small ? issue.minimum : issue.maximum
      const inclusive = issue.inclusive !== false
      const exact = (issue as {exact?: boolean}).exact === true
      if (issue.origin === 'array' || issue.origin === 'set') {
        const n = Array.isArray(v) ? v.length : 0
        const what = exact ? 'exactly' : small ? 'at least' : 'at most'
        return [{path, message: `needs ${what} ${bound} ${Number(bound) === 1 ? 'entry' : 'entries'} (got ${n})`}]
      }
      if (issue.origin === 'string') {
        if (small && Number(bound) === 1) return [{path, message: 'must not be empty'}]
        return [{path, message: `must have ${exact ? 'exactly' : small ? 'at least' : 'at most'} ${bound} characters (got ${typeof v === 'string' ? v.length : 0})`}]
      }
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<'
      return [{path, message: `must be ${op} ${bound} (got ${formatAllowed(v)})`}]
    }
    case 'invalid_format': {
      if (custom) return [{path, message: `${issue.message}; got ${describeValue(v)}`}]
      const pattern = (issue as {pattern?: string}).pattern
      return [{path, message: `must match ${pattern ?? issue.format} (got ${describeValue(v)})`}]
    }
    case 'not_multiple_of':
      return [{path, message: `must be a multiple of ${issue.divisor} (got ${formatAllowed(v)})`}]
    default:
      return [{path, message: issue.message}]
  }
}
