/**
 * Early stopping's validation (src/run/validation.ts): a fixed seeded sample of validation users,
 * the test evaluator on it, and the share of the epoch loop it cost.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {renderValidation} from '../../src/cli/validation.js'
import {earlyStoppingSchema, evalSchema, negativesSchema} from '../../src/config/schema.js'
import type {Split} from '../../src/data/types.js'
import {evaluate} from '../../src/eval/evaluate.js'
import {parseMetricName} from '../../src/eval/metrics.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import {DEFAULT_VALIDATION_USERS, createValidation, sampleValidationUsers, validationShare} from '../../src/run/validation.js'
import {tinyModel} from '../compress/fixtures.js'
import {interactions} from '../eval/fixtures.js'

const USERS = 40
const ITEMS = 60

/** user u: train (u, u+1, u+2), validation u+4 and u+6 (users ≡ 3 mod 4 have none), test u+3 */
function split(): Split {
  const pairs = (offsets: number[], who: (u: number) => boolean = () => true) =>
    Array.from({length: USERS}, (_, u) => (who(u) ? offsets.map((o) => [u, (u + o) % ITEMS] as [number, number]) : [])).flat()
  return {
    train: interactions(pairs([0, 1, 2]), USERS, ITEMS),
    valid: interactions(pairs([4, 6], (u) => u % 4 !== 3), USERS, ITEMS),
    test: interactions(pairs([3]), USERS, ITEMS),
  }
}

const usersOf = (p: {user: Int32Array; length: number}) => [...new Set(Array.from(p.user.subarray(0, p.length)))].sort((a, b) => a - b)

beforeAll(async () => {
  await initBackend('wasm')
})

describe('sampleValidationUsers', () => {
  const valid = split().valid // 30 users with 2 rows each

  it('keeps the part itself when it has no more users than asked', () => {
    const s = sampleValidationUsers(valid, 30, 1)
    expect(s.part).toBe(valid)
    expect(s).toMatchObject({users: 30, usersTotal: 30})
  })

  it('keeps n distinct users with all their rows, the same for the same seed, others for another seed', () => {
    const a = sampleValidationUsers(valid, 7, 1)
    expect(a).toMatchObject({users: 7, usersTotal: 30})
    const users = usersOf(a.part)
    expect(users).toHaveLength(7)
    expect(a.part.length).toBe(14)
    for (const u of users) expect(u % 4).not.toBe(3)
    // every kept row is a row of the part
    for (let r = 0; r < a.part.length; r++) expect([4, 6].map((o) => (a.part.user[r] + o) % ITEMS)).toContain(a.part.item[r])
    expect(usersOf(sampleValidationUsers(valid, 7, 1).part)).toEqual(users)
    expect(usersOf(sampleValidationUsers(valid, 7, 2).part)).not.toEqual(users)
  })
})

describe('createValidation', () => {
  const es = earlyStoppingSchema.parse({metric: 'ndcg@10'})
  const metric = parseMetricName('ndcg@10')
  const cfg = {...evalSchema.parse({}), k: [10]}
  const negatives = negativesSchema.parse({})
  const weights = tinyModel('mf', {users: USERS, items: ITEMS})

  async function direct(s: Split): Promise<{ndcg: number; users: number}> {
    const scorer = createTfjsScorer(weights)
    try {
      const r = await evaluate({scorer, split: s, part: 'valid', cfg, seed: 3, negatives, pointwise: false})
      return {ndcg: r.metrics['ndcg@10'], users: r.usersEvaluated}
    } finally {
      scorer.dispose()
    }
  }

  it('by default (10000) validates every user: the metric of evaluate on the whole validation part', async () => {
    expect(DEFAULT_VALIDATION_USERS).toBe(10_000)
    const v = createValidation({split: split(), es, metric, cfg, seed: 3, negatives})
    expect(v).toMatchObject({users: 30, usersTotal: 30})
    expect(await v.validate(weights)).toBe((await direct(split())).ndcg)
  })

  it('with users: n, the metric of evaluate on the sampled users only, the same at every check', async () => {
    const s = split()
    const v = createValidation({split: s, es: {...es, users: 9}, metric, cfg, seed: 3, negatives})
    expect(v).toMatchObject({users: 9, usersTotal: 30})
    const sampled = {...s, valid: sampleValidationUsers(s.valid, 9, 3).part}
    const expected = await direct(sampled)
    expect(expected.users).toBe(9)
    const first = await v.validate(weights)
    expect(first).toBe(expected.ndcg)
    expect(await v.validate(weights)).toBe(first)
    expect(first).not.toBe((await direct(s)).ndcg)
  })

  it('a lower-is-better metric is negated (higher is better for trainModel)', async () => {
    const ll = createValidation({split: split(), es: {...es, metric: 'logloss'}, metric: parseMetricName('logloss'), cfg, seed: 3, negatives})
    expect(await ll.validate(weights)).toBeLessThan(0)
  })
})

describe('validationShare', () => {
  it('sums the epochs that validated, and the share of validation in the epoch loop', () => {
    const s = validationShare([
      {seconds: 3, validSeconds: 1},
      {seconds: 3},
      {seconds: 2, validSeconds: 1},
    ])
    expect(s).toEqual({checks: 2, validSeconds: 2, trainSeconds: 8, share: 0.2})
    expect(validationShare([{seconds: 0}])).toEqual({checks: 0, validSeconds: 0, trainSeconds: 0, share: 0})
  })
})

describe('renderValidation (rec train / rec run)', () => {
  it('one line per model: checks, users (sampled or all), seconds and the share; nothing without validation', () => {
    const text = renderValidation({
      validation: {
        bpr: {checks: 6, validSeconds: 1.1, trainSeconds: 15.6, share: 1.1 / 16.7, users: 300, usersTotal: 943},
        neumf: {checks: 2, validSeconds: 1, trainSeconds: 3, share: 0.25, users: 943, usersTotal: 943},
      },
    })
    expect(text?.split('\n')).toEqual([
      'validation bpr: 6 checks (300 of 943 users, 1.1s) against 15.6s of training: 6.6% of the epoch loop',
      'validation neumf: 2 checks (943 users, 1.0s) against 3.0s of training: 25.0% of the epoch loop',
    ])
    expect(renderValidation({})).toBeUndefined()
  })
})
