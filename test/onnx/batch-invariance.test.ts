import {afterAll, describe, expect, it} from 'vitest'
import {compressVariant, expandVariants} from '../../src/compress/registry.js'
import {fromWeights} from '../../src/compress/tensors.js'
import type {CompressedModel} from '../../src/compress/types.js'
import {variantSchema} from '../../src/config/schema.js'
import type {Scorer} from '../../src/models/types.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {createOnnxScorer} from '../../src/onnx/scorer.js'
import {tinyModel} from '../compress/fixtures.js'
import {evaluate} from '../../src/eval/evaluate.js'
import {Rng} from '../../src/rng.js'
import {evalConfig, interactions, uniformNegatives} from '../eval/fixtures.js'

/*
 * A variant's metrics must be those its served form returns to one request: the score of a user may
 * not depend on which other users share the ONNX call (eval.batch_users, the scorer's own batching).
 * 37 items: not a multiple of any SIMD width, so rows start at every alignment inside a batch.
 */
const U = 120
const I = 37
const all = Int32Array.from({length: U}, (_, u) => u)
const variant = (v: unknown) => expandVariants([variantSchema.parse(v)])[0]

const open: Scorer[] = []
afterAll(() => open.forEach((s) => s.dispose()))

/** every user scored alone, in batches of 100 (as eval.batch_users 100) and all at once: bit-identical */
async function expectBatchInvariant(c: CompressedModel) {
  const bytes = exportOnnx(c)
  const s = await createOnnxScorer(bytes, I, {batchUsers: U})
  open.push(s)
  const whole = await s.scoreUsers(all)
  const by100 = new Float32Array(U * I)
  for (let start = 0; start < U; start += 100) by100.set(await s.scoreUsers(all.subarray(start, Math.min(U, start + 100))), start * I)
  const alone = new Float32Array(U * I)
  for (const u of all) alone.set(await s.scoreUsers(Int32Array.of(u)), u * I)
  const differing = (a: Float32Array, b: Float32Array) => new Set(Array.from({length: U * I}, (_, j) => j).filter((j) => a[j] !== b[j]).map((j) => Math.floor(j / I))).size
  expect(differing(alone, whole), 'users whose single-request scores differ from the all-users batch').toBe(0)
  expect(differing(by100, whole), 'users whose batch-of-100 scores differ from the all-users batch').toBe(0)
}

describe('scores do not depend on the batch', () => {
  for (const kind of ['mf', 'neumf'] as const) {
    const w = tinyModel(kind, {users: U, items: I})
    it(`${kind} float32`, async () => expectBatchInvariant(fromWeights(w)))
    for (const v of [{quantize: {dtype: 'int8'}}, {quantize: {dtype: 'int8', symmetric: false}}, {quantize: {dtype: 'int8', granularity: 'per_tensor', symmetric: false}}])
      it(`${kind} ${JSON.stringify(v)}`, async () => expectBatchInvariant(compressVariant(w, variant(v)).model))
  }
  it('two_tower int8 (user tower on int8 kernels)', async () => expectBatchInvariant(compressVariant(tinyModel('two_tower', {users: U, items: I}), variant({quantize: {dtype: 'int8'}})).model))

  /** every user: 4 train items, 2 test items, drawn with a fixed seed */
  function randomSplit() {
    const rng = new Rng(5)
    const train: [number, number][] = []
    const test: [number, number][] = []
    for (let u = 0; u < U; u++) {
      const items = new Set<number>()
      while (items.size < 6) items.add(rng.int(I))
      ;[...items].forEach((i, j) => (j < 4 ? train : test).push([u, i]))
    }
    return {train: interactions(train, U, I), valid: interactions([], U, I), test: interactions(test, U, I)}
  }

  for (const kind of ['mf', 'neumf'] as const)
    it(`${kind} int8: metrics and per-user values are identical for eval.batch_users 1, 100 and all users`, async () => {
      const c = compressVariant(tinyModel(kind, {users: U, items: I}), variant({quantize: {dtype: 'int8'}})).model
      const s = await createOnnxScorer(exportOnnx(c), I, {batchUsers: U})
      open.push(s)
      const split = randomSplit()
      const run = (batch_users: number) => evaluate({scorer: s, split, part: 'test', cfg: evalConfig({k: [5, 10], batch_users}), seed: 1, negatives: uniformNegatives})
      const [one, hundred, all] = [await run(1), await run(100), await run(U)]
      expect(one.usersEvaluated).toBe(U)
      expect(hundred.metrics).toEqual(one.metrics)
      expect(all.metrics).toEqual(one.metrics)
      expect(all.perUser.values).toEqual(one.perUser.values)
    })
})
