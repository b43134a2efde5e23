import {describe, expect, it} from 'vitest'

import {bestF1Threshold, describeProtocol, evaluate, pickThreshold} from '../../src/eval/evaluate.js'
import {isRecError} from '../../src/errors.js'
import {
  NUM_ITEMS,
  evalConfig,
  interactions,
  matrixScorer,
  oracleMatrix,
  prefMatrix,
  tinySplit,
  uniformNegatives,
  wideSplit,
  widenMatrix,
} from './fixtures.js'

/** one tolerance for every numeric comparison: float32 has ~7 significant digits */
const TOL = 1e-6
const close = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(TOL)

const SEED = 42

describe('evaluate, full ranking, on the hand-made split (see fixtures.ts)', () => {
  const run = (over = {}, part: 'valid' | 'test' = 'test') =>
    evaluate({scorer: matrixScorer(prefMatrix(), NUM_ITEMS), split: tinySplit(), part, cfg: evalConfig({k: [1, 10], ...over}), seed: SEED, negatives: uniformNegatives})

  it('skips users without a (non-train) test item and averages over the others', async () => {
    const r = await run()
    // user 3 has no test item; user 4's only test item is also a train item
    expect(Array.from(r.perUser.users)).toEqual([0, 1, 2])
    expect(r.usersEvaluated).toBe(3)
  })

  it('excludes train and validation items when testing', async () => {
    const r = await run()
    const mrr = r.perUser.values['mrr@10']
    // user 0: items 0, 1 (train) and 2 (valid) are scored highest; once excluded, test items 3, 4 rank 1 and 2
    expect(mrr[0]).toBe(1)
    close(r.perUser.values['ndcg@10'][0], 1)
    close(r.perUser.values['precision@1'][0], 1)
    // user 1: [2 5 3 0 ...] minus 2 (train) and 3 (valid) → [5 0 ...]: test item 0 at rank 2
    close(mrr[1], 0.5)
    close(r.perUser.values['ndcg@10'][1], 1 / Math.log2(3))
    // user 2: [7 6 5 ...] minus 0 → test item 5 at rank 3
    close(mrr[2], 1 / 3)
    close(r.perUser.values['ndcg@10'][2], 0.5) // 1/log2(4)
    close(r.metrics['mrr@10'], (1 + 0.5 + 1 / 3) / 3)
    close(r.metrics['ndcg@10'], (1 + 1 / Math.log2(3) + 0.5) / 3)
    close(r.metrics['hr@1'], 1 / 3)
    close(r.metrics['recall@10'], 1)
  })

  it('AUC per user against every non-excluded, non-relevant item', async () => {
    const r = await run()
    const a = r.perUser.values.auc
    close(a[0], 1) // {3, 4} above {5, 6, 7}
    close(a[1], 0.8) // item 0 below 5, above 1, 4, 6, 7 → 4/5
    close(a[2], 4 / 6) // item 5 below 7, 6, above 4, 3, 2, 1 → 4/6
    close(r.metrics.auc, (1 + 0.8 + 4 / 6) / 3)
  })

  it('coverage@K over the evaluated users\' top-K', async () => {
    const r = await run()
    close(r.metrics['coverage@1'], 3 / NUM_ITEMS) // top-1: user 0 → 3, user 1 → 5, user 2 → 7
  })

  it('on the validation part only train items are excluded', async () => {
    const r = await run({}, 'valid')
    // users with a validation item: 0 (item 2) and 1 (item 3)
    expect(Array.from(r.perUser.users)).toEqual([0, 1])
    // user 0: [0 1 2 ...] minus train {0, 1} → item 2 first; user 1: [2 5 3 ...] minus {2} → item 3 second
    close(r.perUser.values['mrr@10'][0], 1)
    close(r.perUser.values['mrr@10'][1], 0.5)
    expect(r.protocol.excluded).toBe('train items')
    expect(r.protocol.users).toBe('validation users with at least one validation item')
  })

  it('one scoreUsers call per batch; batch 1 and batch 64 give identical results', async () => {
    const s1 = matrixScorer(prefMatrix(), NUM_ITEMS)
    const s64 = matrixScorer(prefMatrix(), NUM_ITEMS)
    const args = {split: tinySplit(), part: 'test' as const, seed: SEED, negatives: uniformNegatives}
    const r1 = await evaluate({...args, scorer: s1, cfg: evalConfig({k: [1, 10], batch_users: 1})})
    const r64 = await evaluate({...args, scorer: s64, cfg: evalConfig({k: [1, 10], batch_users: 64})})
    expect(s1.calls.scoreUsers).toEqual([[0], [1], [2]])
    expect(s64.calls.scoreUsers).toEqual([[0, 1, 2]])
    expect(r1.metrics).toEqual(r64.metrics)
    expect(r1.perUser).toEqual(r64.perUser)
  })

  it('is deterministic: same inputs and seed → identical numbers', async () => {
    const a = await run()
    const b = await run()
    expect(a.metrics).toEqual(b.metrics)
    expect(a.perUser).toEqual(b.perUser)
  })

  it('pointwise: false (early stopping on a ranking metric) skips the pointwise metrics, the rest identical', async () => {
    const all = await run({threshold: 'validation'})
    const ranking = await evaluate({
      scorer: matrixScorer(prefMatrix(), NUM_ITEMS),
      split: tinySplit(),
      part: 'test',
      cfg: evalConfig({k: [1, 10], threshold: 'validation'}),
      seed: SEED,
      negatives: uniformNegatives,
      pointwise: false,
    })
    for (const key of ['accuracy', 'precision', 'recall', 'f1', 'logloss']) expect(ranking.metrics).not.toHaveProperty([key])
    const {accuracy: _a, precision: _p, recall: _r, f1: _f, logloss: _l, ...rest} = all.metrics
    expect(ranking.metrics).toEqual(rest)
    expect(ranking.perUser).toEqual(all.perUser)
  })

  it('states its protocol', async () => {
    const r = await run()
    expect(r.protocol).toMatchObject({
      mode: 'full',
      part: 'test',
      candidates: 'all items',
      excluded: 'train + validation items',
      users: 'test users with at least one test item',
      k: [1, 10],
      threshold: 0.5,
      thresholdSource: 'config',
      negatives: {sampler: 'uniform', perPositive: null},
    })
    const text = describeProtocol(r.protocol)
    expect(text).toContain('Full ranking over all items on the test part (train + validation items excluded)')
    expect(text).toContain('threshold 0.5')
    expect(text.split('\n').length).toBeLessThanOrEqual(2)
  })

  it('reports every metric of every K, plus AUC, coverage and the pointwise metrics', async () => {
    const r = await run()
    for (const k of [1, 10]) for (const m of ['precision', 'recall', 'f1', 'ndcg', 'hr', 'mrr', 'map', 'coverage']) expect(r.metrics).toHaveProperty(`${m}@${k}`)
    for (const m of ['auc', 'accuracy', 'precision', 'recall', 'f1', 'logloss']) expect(Number.isFinite(r.metrics[m]), m).toBe(true)
  })

  it('fails with a data error when no user has a test item', async () => {
    const split = tinySplit()
    split.test = interactions([], 5, NUM_ITEMS)
    const err = await evaluate({scorer: matrixScorer(prefMatrix(), NUM_ITEMS), split, part: 'test', cfg: evalConfig(), seed: SEED, negatives: uniformNegatives}).catch((e) => e)
    expect(isRecError(err) && err.kind).toBe('data')
  })
})

describe('pointwise metrics in evaluate', () => {
  it('an oracle (0.9 on test positives, 0.1 elsewhere, already probabilities) is perfect', async () => {
    const split = tinySplit()
    const scorer = matrixScorer(oracleMatrix([split.test]), NUM_ITEMS, true)
    const r = await evaluate({scorer, split, part: 'test', cfg: evalConfig({threshold: 0.5}), seed: SEED, negatives: uniformNegatives})
    expect(r.metrics.accuracy).toBe(1)
    expect(r.metrics.precision).toBe(1)
    expect(r.metrics.recall).toBe(1)
    expect(r.metrics.f1).toBe(1)
    // every example is right with probability 0.9 (float32: 0.8999999762) → −ln 0.9 = 0.1053605
    close(r.metrics.logloss, -Math.log(0.9))
    // 4 relevant test pairs + as many sampled negatives, none of them a positive of the user
    const pairs = scorer.calls.scorePairs.flatMap((c) => c.users.map((u, j) => [u, c.items[j]]))
    expect(pairs.length).toBe(8)
    const seen = [split.train, split.valid, split.test].flatMap((p) => Array.from(p.user.subarray(0, p.length), (u, r) => `${u}:${p.item[r]}`))
    for (const [u, i] of pairs.slice(4)) expect(seen).not.toContain(`${u}:${i}`)
  })

  it('applies a sigmoid to raw scores: a threshold of 0.5 means score 0', async () => {
    const split = tinySplit()
    // raw scores +3 on test positives, −3 elsewhere → sigmoid 0.9526 / 0.0474
    const m = oracleMatrix([split.test]).map((p) => (p > 0.5 ? 3 : -3))
    const r = await evaluate({scorer: matrixScorer(m, NUM_ITEMS, false), split, part: 'test', cfg: evalConfig(), seed: SEED, negatives: uniformNegatives})
    expect(r.metrics.accuracy).toBe(1)
    close(r.metrics.logloss, Math.log(1 + Math.exp(-3))) // −ln σ(3)
  })

  it('threshold "validation": picks the F1-best threshold on validation and says so', async () => {
    const split = tinySplit()
    const scorer = matrixScorer(oracleMatrix([split.valid, split.test]), NUM_ITEMS, true)
    const cfg = evalConfig({threshold: 'validation'})
    const r = await evaluate({scorer, split, part: 'test', cfg, seed: SEED, negatives: uniformNegatives})
    // validation probabilities are 0.9 (positives) and 0.1 (negatives): midpoint 0.5
    close(r.protocol.threshold, 0.5)
    expect(r.protocol.thresholdSource).toBe('validation')
    expect(describeProtocol(r.protocol)).toContain('best F1 on validation')
    const t = await pickThreshold({scorer, split, cfg, seed: SEED, negatives: uniformNegatives})
    expect(t).toBe(r.protocol.threshold)
    // passing the picked threshold in gives the same numbers
    const r2 = await evaluate({scorer, split, part: 'test', cfg, seed: SEED, negatives: uniformNegatives, threshold: t})
    expect(r2.metrics).toEqual(r.metrics)
  })

  it('bestF1Threshold: probs [0.9, 0.6, 0.4, 0.2], labels [1, 0, 1, 0] → F1 0.8 at t = (0.4 + 0.2) / 2', () => {
    // sweep: {0.9} F1 = 2/3; {0.9, 0.6} F1 = 1/2; {.., 0.4} TP 2 FP 1 → 4/5; {.., 0.2} 4/6
    const b = bestF1Threshold([0.9, 0.6, 0.4, 0.2], [1, 0, 1, 0])
    close(b.f1, 0.8)
    close(b.threshold, 0.3)
    expect(bestF1Threshold([0.3, 0.7], [0, 0])).toEqual({threshold: 0.5, f1: 0})
    close(bestF1Threshold([0.2, 0.7], [1, 1]).threshold, 0.2) // everything positive: the lowest probability
  })
})

describe('evaluate, sampled mode', () => {
  // 99 distinct negatives need a catalogue larger than the tiny split's 8 items: the same
  // interactions among 120 items, the extra items scored 0 (below every preference score)
  const WIDE = 120
  const split = wideSplit(WIDE)
  const sampled = evalConfig({mode: 'sampled', negatives: 99, k: [1, 10]})

  it('ranks each test positive against 99 seeded negatives the user never interacted with', async () => {
    const scorer = matrixScorer(widenMatrix(prefMatrix(), WIDE), WIDE)
    const r = await evaluate({scorer, split, part: 'test', cfg: sampled, seed: SEED, negatives: uniformNegatives})
    const ranking = scorer.calls.scorePairs.filter((c) => c.users.length % 100 === 0)
    const pairs = ranking.flatMap((c) => c.users.map((u, j) => [u, c.items[j]] as const))
    expect(pairs.length).toBe(4 * 100) // relevant test pairs: (0,3) (0,4) (1,0) (2,5)
    const positives = [[0, 3], [0, 4], [1, 0], [2, 5]]
    const interacted = new Set([split.train, split.valid, split.test].flatMap((p) => Array.from(p.user.subarray(0, p.length), (u, r) => `${u}:${p.item[r]}`)))
    positives.forEach(([u, i], g) => {
      const group = pairs.slice(g * 100, (g + 1) * 100)
      expect(group[0]).toEqual([u, i])
      for (const [gu, gi] of group.slice(1)) {
        expect(gu).toBe(u)
        expect(interacted.has(`${gu}:${gi}`)).toBe(false)
      }
    })
    expect(r.usersEvaluated).toBe(3)
    expect(r.protocol.candidates).toBe('1 positive + 99 sampled negatives')
    expect(r.protocol.negatives.perPositive).toBe(99)
    expect(r.metrics).not.toHaveProperty('coverage@10')
    expect(describeProtocol(r.protocol)).toContain('Sampled ranking')
    // recall@K = HR@K with a single relevant item per list
    expect(r.metrics['recall@10']).toBe(r.metrics['hr@10'])
  })

  it('an oracle ranks every positive first; a constant scorer earns nothing (ties go against the positive)', async () => {
    const oracle = await evaluate({scorer: matrixScorer(widenMatrix(oracleMatrix([tinySplit().test]), WIDE, 0.1), WIDE, true), split, part: 'test', cfg: sampled, seed: SEED, negatives: uniformNegatives})
    expect(oracle.metrics['hr@1']).toBe(1)
    expect(oracle.metrics['ndcg@10']).toBe(1)
    expect(oracle.metrics.auc).toBe(1)
    const constant = await evaluate({scorer: matrixScorer(new Float32Array(5 * WIDE), WIDE), split, part: 'test', cfg: sampled, seed: SEED, negatives: uniformNegatives})
    expect(constant.metrics['hr@10']).toBe(0)
    expect(constant.metrics.auc).toBe(0.5)
  })

  it('is deterministic and independent of the batch size', async () => {
    const go = (batch: number) =>
      evaluate({scorer: matrixScorer(widenMatrix(prefMatrix(), WIDE), WIDE), split, part: 'test', cfg: {...sampled, batch_users: batch}, seed: SEED, negatives: uniformNegatives})
    const [a, b, c] = await Promise.all([go(1), go(64), go(64)])
    expect(a.metrics).toEqual(b.metrics)
    expect(a.perUser).toEqual(b.perUser)
    expect(b.metrics).toEqual(c.metrics)
  })
})

describe('describeProtocol', () => {
  it('tolerates a partial protocol object (missing part → test, bare negatives count, threshold "validation")', () => {
    const text = describeProtocol({mode: 'full', candidates: 'all items', excluded: 'train + validation items', users: 'test users with at least one test item', k: [10], threshold: 'validation', negatives: 99} as never)
    expect(text).toContain('on the test part')
    expect(text).toContain('threshold best F1 on validation')
    expect(text).not.toContain('undefined')
  })
})
