/**
 * Training a student with a teacher (trainModel's `distill`) and making a distillation variant
 * (makeVariant): deterministic for a seed, no tensor leaks, α = 1 is plain training, the student
 * moves toward its teacher, and an interrupted distillation resumes to the uninterrupted result.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {expandVariants} from '../../src/compress/registry.js'
import {toFloatWeights} from '../../src/compress/tensors.js'
import {configSchema, type RecConfig} from '../../src/config/schema.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import {initWeights} from '../../src/models/registry.js'
import type {ModelWeights} from '../../src/models/types.js'
import {silentProgress} from '../../src/progress.js'
import {makeVariant} from '../../src/run/compress-stage.js'
import {trainModel} from '../../src/train/train.js'
import {modelConfig, plantedSplit, trainConfig, uniformNegatives} from '../models/synthetic.js'

const U = 60
const I = 40
const split = plantedSplit(U, I)
const teacherCfg = modelConfig('mf', {factors: 16})
let teacher: ModelWeights

beforeAll(async () => {
  await initBackend('wasm')
  const r = await trainModel({model: teacherCfg, train: trainConfig({epochs: 8}), negatives: uniformNegatives, split, seed: 3})
  teacher = r.weights
}, 60_000)

const same = (a: ModelWeights, b: ModelWeights) => Object.keys(a.tensors).every((n) => Buffer.from(a.tensors[n].data.buffer).equals(Buffer.from(b.tensors[n].data.buffer)))

async function scores(w: ModelWeights): Promise<Float32Array> {
  const s = createTfjsScorer(w)
  try {
    return await s.scoreUsers(Int32Array.from({length: U}, (_, u) => u))
  } finally {
    s.dispose()
  }
}

/** mean squared difference of two score matrices after standardising each (scale-free agreement) */
function disagreement(a: Float32Array, b: Float32Array): number {
  const z = (x: Float32Array) => {
    const m = x.reduce((p, v) => p + v, 0) / x.length
    const sd = Math.sqrt(x.reduce((p, v) => p + (v - m) ** 2, 0) / x.length)
    return Float32Array.from(x, (v) => (v - m) / sd)
  }
  const za = z(a)
  const zb = z(b)
  return za.reduce((p, v, j) => p + (v - zb[j]) ** 2, 0) / za.length
}

describe('trainModel with a teacher', () => {
  const student = modelConfig('mf', {factors: 4})
  const train = trainConfig({epochs: 4})

  for (const loss of ['bpr', 'bce'] as const) {
    it(`${loss}: deterministic for a seed, leaks no tensor, α = 1 is plain training, and the student moves toward the teacher`, async () => {
      const cfg = {...student, loss}
      const before = tf.memory().numTensors
      const kd = () => trainModel({model: cfg, train, negatives: uniformNegatives, split, seed: 5, distill: {teacher, temperature: 2, alpha: 0.2}})
      const a = await kd()
      expect(tf.memory().numTensors).toBe(before)
      const b = await kd()
      expect(same(a.weights, b.weights)).toBe(true)
      expect(a.history.map((h) => h.loss)).toEqual(b.history.map((h) => h.loss))

      const plain = await trainModel({model: cfg, train, negatives: uniformNegatives, split, seed: 5})
      const one = await trainModel({model: cfg, train, negatives: uniformNegatives, split, seed: 5, distill: {teacher, temperature: 2, alpha: 1}})
      expect(same(plain.weights, one.weights)).toBe(true)
      expect(same(plain.weights, a.weights)).toBe(false)

      const t = await scores(teacher)
      expect(disagreement(await scores(a.weights), t)).toBeLessThan(disagreement(await scores(plain.weights), t))
    })
  }

  it('sequential: a sasrec teacher teaches sasrec and gru4rec students, deterministically and without leaking tensors', async () => {
    const seq = {hidden: 8, heads: 1, inner: 8, max_len: 6, dropout: 0.2}
    const seqTeacher = (await trainModel({model: modelConfig('sasrec', {...seq, hidden: 16, heads: 2}), train: trainConfig({epochs: 2, batch_size: 120}), negatives: uniformNegatives, split, seed: 2})).weights
    for (const s of [modelConfig('sasrec', seq), modelConfig('gru4rec', {factors: 8, hidden: 8, max_len: 6})]) {
      const before = tf.memory().numTensors
      const run = () => trainModel({model: s, train: trainConfig({epochs: 2, batch_size: 120}), negatives: uniformNegatives, split, seed: 5, distill: {teacher: seqTeacher, temperature: 2, alpha: 0.5}})
      const a = await run()
      expect(tf.memory().numTensors, s.model).toBe(before)
      const b = await run()
      expect(same(a.weights, b.weights), s.model).toBe(true)
      expect(a.history).toHaveLength(2)
      expect(a.history.every((h) => Number.isFinite(h.loss) && h.loss > 0), s.model).toBe(true)
    }
  })

  it('refuses a teacher of the other protocol', async () => {
    const seqTeacher = initWeights({...modelConfig('sasrec'), hidden: 8, heads: 1, inner: 8, max_len: 4}, {numUsers: U, numItems: I}, 1)
    await expect(trainModel({model: student, train, negatives: uniformNegatives, split, seed: 5, distill: {teacher: seqTeacher, temperature: 2, alpha: 0.5}})).rejects.toThrow(/sasrec teacher cannot teach a mf student/)
  })
})

describe('a distillation variant (compress stage)', () => {
  const cfg = (epochs: number): RecConfig =>
    configSchema.parse({
      models: [teacherCfg],
      train: {epochs: 5, batch_size: 64, lr: 0.01},
      compress: {variants: [{distill: {student: {model: 'mf', factors: 4}, epochs, alpha: 0.3}}]},
    })

  it('the student and its scratch baseline: each, interrupted, resumes to the uninterrupted result; both are accounted as the student', async () => {
    const c = cfg(3)
    const [kdSpec, scratchSpec] = expandVariants(c.compress.variants)
    expect(scratchSpec.name).toBe(`${kdSpec.name}-scratch`)
    for (const spec of [kdSpec, scratchSpec]) {
      const ckpt = mkdtempSync(join(tmpdir(), 'rec-distill-ckpt-'))
      try {
        // a checkpoint of 2 of the 3 epochs, as an interrupted distillation leaves it
        const partial = await makeVariant({cfg: cfg(2), model: teacherCfg, base: teacher, spec: expandVariants(cfg(2).compress.variants).find((s) => s.name === spec.name)!, split, progress: silentProgress, checkpoint: {dir: ckpt, resume: false}})
        expect(partial.interrupted).toBeFalsy()
        const aborted = new AbortController()
        aborted.abort()
        expect(await makeVariant({cfg: c, model: teacherCfg, base: teacher, spec, split, progress: silentProgress, signal: aborted.signal, checkpoint: {dir: ckpt, resume: true}})).toEqual({interrupted: true})
        const resumed = await makeVariant({cfg: c, model: teacherCfg, base: teacher, spec, split, progress: silentProgress, checkpoint: {dir: ckpt, resume: true}})
        const whole = await makeVariant({cfg: c, model: teacherCfg, base: teacher, spec, split, progress: silentProgress})
        if (resumed.interrupted || whole.interrupted) throw new Error('not interrupted')
        expect(same(toFloatWeights(resumed.model), toFloatWeights(whole.model)), spec.name).toBe(true)
        expect(resumed.record.distill).toMatchObject({teacher: 'mf', student: 'mf', epochs: 3, scratch: spec === scratchSpec})
        expect(whole.record).toMatchObject({method: spec === kdSpec ? 'distill' : 'distill.scratch', execution: 'float32', paramsTotal: (U + I) * 4})
        expect(whole.record.notes[0]).toMatch(spec === kdSpec ? /^distilled from mf \(T 2, alpha 0\.3, 3 epochs\)/ : /^trained from scratch/)
      } finally {
        rmSync(ckpt, {recursive: true, force: true})
      }
    }
  })
})
