/**
 * Sampled evaluation draws each positive's N negatives as N distinct items (the NCF protocol), and
 * refuses (data error, exit 3) a protocol the catalogue cannot honour, before any scoring.
 */
import {describe, expect, it} from 'vitest'

import {negativesSchema} from '../../src/config/schema.js'
import {isRecError} from '../../src/errors.js'
import {evaluate} from '../../src/eval/evaluate.js'
import {checkSampledProtocol, sampledSupport} from '../../src/eval/sampled.js'
import {evalConfig, matrixScorer, tinySplit, uniformNegatives, wideSplit} from './fixtures.js'

const SEED = 42
const popularity = negativesSchema.parse({sampler: 'popularity', exponent: 0.75})

/** the error `fn` throws (sync or async), or undefined */
async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  return undefined
}

describe('sampled evaluation negatives', () => {
  it('the N negatives of each positive are N distinct items the user never interacted with', async () => {
    // 120 items, 99 negatives: with replacement, 99 uniform draws from ~115 allowed items repeat one
    // with probability 1 − Π(1 − j/115) ≈ 1 (birthday problem)
    const numItems = 120
    const split = wideSplit(numItems)
    for (const negatives of [uniformNegatives, negativesSchema.parse({sampler: 'popularity', exponent: 0})]) {
      const scorer = matrixScorer(new Float32Array(5 * numItems).map((_, j) => j % 7), numItems)
      await evaluate({scorer, split, part: 'test', cfg: evalConfig({mode: 'sampled', negatives: 99, k: [10]}), seed: SEED, negatives})
      const ranking = scorer.calls.scorePairs.filter((c) => c.users.length % 100 === 0)
      const items = ranking.flatMap((c) => c.items)
      expect(items.length).toBe(4 * 100) // positives (0,3) (0,4) (1,0) (2,5), 1 + 99 candidates each
      for (let g = 0; g < 4; g++) {
        const negs = items.slice(g * 100 + 1, (g + 1) * 100)
        expect(new Set(negs).size, `positive ${g}, sampler ${negatives.sampler}`).toBe(99)
        expect(negs).not.toContain(items[g * 100])
      }
    }
  })

  it('support per user: items never interacted with; popularity (exponent > 0) only those seen in train', () => {
    // tinySplit (8 items): user 0 interacted with {0,1,2,3,4}, user 1 {0,2,3}, user 2 {0,5}, user 3 {1}, user 4 {3}
    expect(Array.from(sampledSupport(tinySplit(), uniformNegatives))).toEqual([3, 5, 6, 7, 7])
    // train counts: items 0..3 seen; user 0 has none of them left → uniform over its 3 allowed items
    expect(Array.from(sampledSupport(tinySplit(), popularity))).toEqual([3, 1, 3, 3, 3])
  })

  it('checkSampledProtocol: a data error naming the setting, the user and the counts', async () => {
    expect(() => checkSampledProtocol(tinySplit(), uniformNegatives, 3, {part: 'test', setting: 'eval.negatives'})).not.toThrow()
    const err = await thrown(() => checkSampledProtocol(tinySplit(), uniformNegatives, 4, {part: 'test', setting: 'eval.negatives'}))
    expect(isRecError(err) && err.exitCode).toBe(3)
    expect((err as Error).message).toBe(
      'eval.negatives = 4 needs 4 distinct negatives per test positive, but 1 of 3 test users has fewer items to draw from (user u0: 3 of 8 items)',
    )
    // validation (early stopping) only checks users with a validation item: users 0 and 1
    const v = await thrown(() => checkSampledProtocol(tinySplit(), popularity, 2, {part: 'valid', setting: 'train.early_stopping.negatives'}))
    expect((v as Error).message).toMatch(/^train.early_stopping.negatives = 2 .* 1 of 2 validation users .*\(user u1: 1 of 8 items\)/)
  })

  it('evaluate refuses an impossible sampled protocol before scoring anything', async () => {
    const scorer = matrixScorer(new Float32Array(5 * 8), 8)
    const err = await thrown(() => evaluate({scorer, split: tinySplit(), part: 'test', cfg: evalConfig({mode: 'sampled', negatives: 99}), seed: SEED, negatives: uniformNegatives}))
    expect(isRecError(err) && err.exitCode).toBe(3)
    expect((err as Error).message).toMatch(/^eval.negatives = 99 needs 99 distinct negatives per test positive/)
    expect(scorer.calls.scorePairs).toEqual([])
    expect(scorer.calls.scoreUsers).toEqual([])
  })
})
