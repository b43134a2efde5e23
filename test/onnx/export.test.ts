import {afterAll, describe, expect, it} from 'vitest'
import {int8KernelTensors} from '../../src/compress/accounting.js'
import {activationQuant, calibrateActivations, fakeQuantStatic, maxAbsDiff, referenceScorer, referenceScores} from '../../src/compress/reference.js'
import {compressVariant, expandVariants} from '../../src/compress/registry.js'
import {fromWeights, toFloatWeights} from '../../src/compress/tensors.js'
import type {VariantConfig} from '../../src/config/schema.js'
import {variantSchema} from '../../src/config/schema.js'
import type {ModelKind, Scorer} from '../../src/models/types.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {compareWithReference, createOnnxScorer} from '../../src/onnx/scorer.js'
import {someUsers, tinyModel} from '../compress/fixtures.js'

/** float32 export vs float64 reference: only float32 rounding differs */
const FLOAT_TOL = 1e-4

const open: Scorer[] = []
afterAll(() => open.forEach((s) => s.dispose()))
async function scorer(bytes: Uint8Array, numItems: number, options = {}) {
  const s = await createOnnxScorer(bytes, numItems, options)
  open.push(s)
  return s
}

const kinds: ModelKind[] = ['pop', 'mf', 'neumf', 'two_tower']
const users = someUsers(6)

describe('ONNX export, float32', () => {
  for (const kind of kinds) {
    it(`${kind}: ORT scores equal the reference forward within ${FLOAT_TOL}`, async () => {
      const w = tinyModel(kind)
      const s = await scorer(exportOnnx(fromWeights(w)), w.numItems)
      expect(s.runtime).toBe('onnxruntime-cpu')
      expect(s.probabilities).toBe(kind === 'neumf')
      const diff = await compareWithReference(s, referenceScorer(w), users)
      expect(diff).toBeLessThan(FLOAT_TOL)
    })
  }

  it('scorePairs picks from the per-user rows; batching does not change scores', async () => {
    const w = tinyModel('neumf')
    const bytes = exportOnnx(fromWeights(w))
    const s = await scorer(bytes, w.numItems, {batchUsers: 4})
    const all = await s.scoreUsers(users)
    const pu = Int32Array.of(3, 7, 3, 0, 14)
    const pi = Int32Array.of(0, 19, 5, 2, 2)
    const pairs = await s.scorePairs(pu, pi)
    const ref = referenceScores(w, pu)
    for (let j = 0; j < pu.length; j++) expect(pairs[j]).toBeCloseTo(ref[j * w.numItems + pi[j]], 5)
    const one = await scorer(bytes, w.numItems, {batchUsers: 256})
    expect(maxAbsDiff(all, await one.scoreUsers(users))).toBe(0)
  })
})

const V = (v: unknown): VariantConfig => variantSchema.parse(v)
/** exact-float methods: the graph computes the same float function as the reference of toFloatWeights */
const exactVariants = expandVariants([
  V({quantize: {dtype: 'float16'}}),
  V({quantize: {dtype: 'int4', target: 'embeddings'}}),
  V({quantize: {dtype: 'int8', target: 'embeddings', granularity: 'per_channel', symmetric: false}}),
  V({lowrank: {rank: [2, 4]}}),
  V({prune: {method: 'structured', sparsity: 0.5}}),
  V({prune: {method: 'magnitude', sparsity: 0.7, scope: 'global'}}),
])
const int8Variants = expandVariants([
  V({quantize: {dtype: 'int8'}}),
  V({quantize: {dtype: 'int8', symmetric: false}}),
  V({quantize: {dtype: 'int8', granularity: 'per_tensor', symmetric: false}}),
  V({pipeline: [{prune: {method: 'structured', sparsity: 0.5}}, {quantize: {dtype: 'int8'}}]}),
])

describe('ONNX export, compressed variants', () => {
  for (const kind of ['mf', 'neumf', 'two_tower'] as const) {
    it(`${kind}: float-exact methods match the reference of toFloatWeights within ${FLOAT_TOL}`, async () => {
      const w = tinyModel(kind)
      for (const spec of exactVariants) {
        const {model, report} = compressVariant(w, spec)
        if (spec.name === 'int8-asym-emb' && kind !== 'two_tower') continue // item tables there run as int8 kernels: tested below
        const s = await scorer(exportOnnx(model), w.numItems)
        const diff = maxAbsDiff(await s.scoreUsers(users), referenceScores(toFloatWeights(model), users))
        expect(diff, `${kind} ${spec.name} (${report.execution})`).toBeLessThan(FLOAT_TOL)
      }
    })

    /*
     * int8 kernels also quantize the activations, with one constant scale and zero point per kernel input
     * calibrated at export from the weights (reference.ts calibrateActivations). Two checks:
     * 1. ONNX equals the reference with that activation quantization simulated (to float rounding): the
     *    graph does exactly the integer arithmetic we claim, nothing else.
     * 2. Against the plain float reference of the dequantized weights the only extra error is the
     *    activation rounding, at most s/2 per activation inside the calibrated range (every input of these
     *    tiny models is inside it). For mf that gives a rigorous bound per score: |Δ score(u,i)| <= s/2 · ‖T_i‖₁
     *    (T the dequantized item table); for the deeper models the difference is reported and bounded
     *    loosely (< 0.05 on logits / probabilities for these weights).
     */
    it(`${kind}: int8 kernels = dequantized weights × activations quantized with the calibrated static scales`, async () => {
      const w = tinyModel(kind)
      for (const spec of int8Variants) {
        const {model, report} = compressVariant(w, spec)
        expect(report.execution).toBe('int8-kernel')
        const fw = toFloatWeights(model)
        const got = await (await scorer(exportOnnx(model), w.numItems)).scoreUsers(users)
        const act = calibrateActivations(fw, int8KernelTensors(model))
        // every int8 kernel's input; and neumf's first-layer halves when mlp_1 is int8 (added quantized, by QLinearAdd)
        const halves = kind === 'neumf' && act['mlp_1.kernel'] ? ['mlp_0.item_half', 'mlp_0.user_half'] : []
        expect(Object.keys(act).sort()).toEqual([...int8KernelTensors(model), ...halves].sort())
        const simulated = referenceScores(fw, users, {staticInt8: act})
        expect(maxAbsDiff(got, simulated), `${kind} ${spec.name} vs simulated`).toBeLessThan(FLOAT_TOL)
        const plain = referenceScores(fw, users)
        const diff = maxAbsDiff(got, plain)
        if (kind === 'mf') {
          const d = fw.tensors.user_emb.shape[1]
          const s = act.item_emb.scale
          for (let b = 0; b < users.length; b++) {
            for (let i = 0; i < w.numItems; i++) {
              let l1 = 0
              for (let j = 0; j < d; j++) l1 += Math.abs(fw.tensors.item_emb.data[i * d + j])
              expect(Math.abs(got[b * w.numItems + i] - plain[b * w.numItems + i])).toBeLessThanOrEqual((s / 2) * l1 + 1e-5)
            }
          }
        }
        expect(diff, `${kind} ${spec.name} int8 vs float: ${diff}`).toBeLessThan(0.05)
        expect(diff).toBeGreaterThan(0) // it really is quantized
      }
    })
  }

  it('activationQuant covers [lo, hi] with 256 levels, keeps 0 exact, errs by at most s/2 inside and saturates outside', () => {
    const a = activationQuant(-1, 2.5, 'all')
    expect(a.scale).toBe(Math.fround(3.5 / 255))
    expect(a.zeroPoint).toBe(73) // round(1 / (3.5 / 255)) = round(72.86)
    const x = Float32Array.of(-1, 0, 0.3, 2.5, 1e-3, -0.77)
    const q = fakeQuantStatic(x, a)
    expect(q[1]).toBe(0)
    for (let i = 0; i < x.length; i++) expect(Math.abs(q[i] - x[i])).toBeLessThanOrEqual(a.scale / 2 + 1e-7)
    // a value's quantization depends on that value only: alone or among others, the same
    expect(fakeQuantStatic(x.subarray(2, 3), a)[0]).toBe(q[2])
    // beyond the range: saturates at the ends
    expect(Array.from(fakeQuantStatic(Float32Array.of(-5, 9), a))).toEqual([Math.fround((0 - 73) * a.scale), Math.fround((255 - 73) * a.scale)])
    // a non-negative input (out of a ReLU): zero point 0, all 256 levels on [0, hi]
    const r = activationQuant(0, 2.5, 'all')
    expect(r.zeroPoint).toBe(0)
    expect(r.scale).toBe(Math.fround(2.5 / 255))
    // the range always includes 0; an all-zero input gets scale 1
    expect(activationQuant(0.5, 2, 'all').lo).toBe(0)
    expect(activationQuant(0, 0, 'all')).toMatchObject({scale: 1, zeroPoint: 0})
  })
})

describe('static activation ranges, calibrated from the weights', () => {
  /** brute force: every input row a kernel can see, over all users × all items */
  function neumfLayerInputs(w: ReturnType<typeof tinyModel>, act: Record<string, import('../../src/compress/reference.js').ActivationQuant>) {
    // the reference forward with the calibrated quantization, layer by layer, over all pairs
    const t = w.tensors
    const U = w.numUsers
    const I = w.numItems
    const e = t.mlp_user.shape[1]
    const w0 = t['mlp_0.kernel']
    const h1 = w0.shape[1]
    const q = (name: string, x: Float64Array) => (act[name] ? Float64Array.from(fakeQuantStatic(x, act[name])) : x)
    const dense = (x: ArrayLike<number>, n: number, W: Float32Array, inD: number, outD: number, off: number, bias?: Float32Array) => {
      const y = new Float64Array(n * outD)
      for (let r = 0; r < n; r++)
        for (let j = 0; j < outD; j++) {
          let s = bias ? bias[j] : 0
          for (let k = 0; k < inD; k++) s += x[r * inD + k] * W[(off + k) * outD + j]
          y[r * outD + j] = s
        }
      return y
    }
    const uh = q('mlp_0.user_half', dense(q('mlp_0.kernel', Float64Array.from(t.mlp_user.data)), U, w0.data, e, h1, 0))
    const ih = q('mlp_0.item_half', dense(t.mlp_item.data, I, w0.data, e, h1, e, t['mlp_0.bias'].data))
    let h = new Float64Array(U * I * h1)
    for (let u = 0; u < U; u++) for (let i = 0; i < I; i++) for (let j = 0; j < h1; j++) h[(u * I + i) * h1 + j] = Math.max(0, uh[u * h1 + j] + ih[i * h1 + j])
    const inputs: Record<string, Float64Array> = {'mlp_1.kernel': h}
    const layers = ['mlp_1', 'mlp_2']
    for (const [k, l] of layers.entries()) {
      const W = t[`${l}.kernel`]
      const y = dense(q(`${l}.kernel`, h), U * I, W.data, W.shape[0], W.shape[1], 0, t[`${l}.bias`].data)
      h = y.map((v) => Math.max(0, v))
      if (k + 1 < layers.length) inputs[`${layers[k + 1]}.kernel`] = h
    }
    return inputs
  }
  const maxOf = (x: ArrayLike<number>) => Array.from(x).reduce((m, v) => Math.max(m, Math.fround(v)), 0)
  const minOf = (x: ArrayLike<number>) => Array.from(x).reduce((m, v) => Math.min(m, Math.fround(v)), 0)

  it('inputs from user tables: the exact min / max over every user', () => {
    const mf = tinyModel('mf')
    const a = calibrateActivations(mf, ['item_emb']).item_emb
    expect([a.lo, a.hi, a.coverage]).toEqual([minOf(mf.tensors.user_emb.data), maxOf(mf.tensors.user_emb.data), 'all'])
    const nm = tinyModel('neumf')
    const gu = Float32Array.from(nm.tensors.gmf_user.data, (v, j) => v * nm.tensors['out.kernel'].data[j % 8])
    const b = calibrateActivations(nm, ['gmf_item', 'mlp_0.kernel'])
    expect([b.gmf_item.lo, b.gmf_item.hi]).toEqual([minOf(gu), maxOf(gu)])
    expect([b['mlp_0.kernel'].lo, b['mlp_0.kernel'].hi]).toEqual([minOf(nm.tensors.mlp_user.data), maxOf(nm.tensors.mlp_user.data)])
  })

  it('neumf: mlp_1 exact over all users × items from column maxima; deeper layers over every pair within budget, a sample of users beyond it', () => {
    const w = tinyModel('neumf', {mlp: [16, 8, 4]})
    const kernels = ['gmf_item', 'mlp_0.kernel', 'mlp_1.kernel', 'mlp_2.kernel']
    const act = calibrateActivations(w, kernels)
    const brute = neumfLayerInputs(w, act)
    // the halves over every user / item; mlp_1's input their (quantized) sum, out of a ReLU: zero point 0
    expect([act['mlp_0.user_half'].coverage, act['mlp_0.item_half'].coverage]).toEqual(['all', 'all'])
    expect(act['mlp_1.kernel'].lo).toBe(0)
    expect(act['mlp_1.kernel'].hi).toBeCloseTo(maxOf(brute['mlp_1.kernel']), 5)
    expect(act['mlp_1.kernel'].coverage).toBe('all')
    expect(act['mlp_2.kernel'].hi).toBeCloseTo(maxOf(brute['mlp_2.kernel']), 5)
    expect(act['mlp_2.kernel'].coverage).toBe('all') // 30 users × 20 items fit the default budget
    // a budget for 3 users: a sample, whose range cannot exceed the full one
    const small = calibrateActivations(w, kernels, 3 * 20 * 16 * 8) // every item × 3 users through mlp_1 [16, 8]
    expect(small['mlp_2.kernel'].coverage).toBe('sample')
    expect(small['mlp_2.kernel'].hi).toBeLessThanOrEqual(act['mlp_2.kernel'].hi + 1e-6)
    expect(small['mlp_1.kernel']).toEqual(act['mlp_1.kernel'])
  })

  it('two_tower: every user-tower layer over every user', () => {
    const w = tinyModel('two_tower')
    const act = calibrateActivations(w, ['user_tower_0.kernel', 'user_tower_1.kernel'])
    expect(act['user_tower_0.kernel'].hi).toBe(maxOf(w.tensors.user_emb.data))
    expect(act['user_tower_1.kernel'].lo).toBe(0)
    expect(act['user_tower_1.kernel'].coverage).toBe('all')
  })
})

function referenceRows(table: Float32Array, ids: Int32Array, d: number): Float32Array {
  const out = new Float32Array(ids.length * d)
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i] * d, ids[i] * d + d), i * d)
  return out
}

describe('ONNX file sizes and accounting', () => {
  it('int8 file is at least 3.5× smaller than float32 for an embedding-dominated model; fp16 about 2×', () => {
    const w = tinyModel('mf', {users: 500, items: 300, d: 64})
    const [int8, fp16, int4] = expandVariants([V({quantize: {dtype: 'int8'}}), V({quantize: {dtype: 'float16'}}), V({quantize: {dtype: 'int4', target: 'embeddings'}})])
    const f32 = exportOnnx(fromWeights(w)).length
    const i8 = exportOnnx(compressVariant(w, int8).model).length
    const h = exportOnnx(compressVariant(w, fp16).model).length
    const i4 = exportOnnx(compressVariant(w, int4).model).length
    expect(f32 / i8).toBeGreaterThanOrEqual(3.5)
    expect(f32 / h).toBeGreaterThan(1.9)
    expect(f32 / i4).toBeGreaterThan(6)
  })

  it('a file path works too, and dispose releases the session', async () => {
    const {mkdtempSync, writeFileSync} = await import('node:fs')
    const {join} = await import('node:path')
    const {tmpdir} = await import('node:os')
    const w = tinyModel('mf')
    const path = join(mkdtempSync(join(tmpdir(), 'rec-onnx-')), 'mf.onnx')
    writeFileSync(path, exportOnnx(fromWeights(w)))
    const s = await createOnnxScorer(path, w.numItems)
    expect(maxAbsDiff(await s.scoreUsers(users), referenceScores(w, users))).toBeLessThan(FLOAT_TOL)
    s.dispose()
    await expect(s.scoreUsers(users)).rejects.toThrow(/after dispose/)
  })
})
