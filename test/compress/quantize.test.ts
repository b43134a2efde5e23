import {describe, expect, it} from 'vitest'
import {paramCounts} from '../../src/compress/accounting.js'
import {float16BitsToFloat32, float32ToFloat16Bits, fromFloat16Array, toFloat16Array} from '../../src/compress/fp16.js'
import {quantize, quantizeInt4Rows, quantizeInt8} from '../../src/compress/quantize.js'
import {dequantize, fromWeights, toFloatWeights} from '../../src/compress/tensors.js'
import type {Tensor32} from '../../src/models/types.js'
import {Rng} from '../../src/rng.js'
import {randomTensor, tinyModel} from './fixtures.js'

/** float32 rounding slack on top of the analytic bounds */
const EPS = 1e-6

function maxErrorPer(t: Tensor32, back: Tensor32, channel: (i: number, j: number) => number, scale: Float32Array) {
  const [rows, cols] = t.shape
  let worst = 0 // error / (scale / 2), must be <= 1
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const err = Math.abs(t.data[i * cols + j] - back.data[i * cols + j])
      worst = Math.max(worst, err / (scale[channel(i, j)] / 2))
    }
  return worst
}

describe('float16 storage', () => {
  it('converts known values with round-to-nearest-even', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00)
    expect(float32ToFloat16Bits(-2)).toBe(0xc000)
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff)
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00) // rounds up to Inf
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001) // smallest subnormal
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000) // tie → even (0)
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002) // tie → even (2)
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00) // tie → even mantissa
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(float32ToFloat16Bits(2 ** -14)).toBe(0x0400) // smallest normal
    expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true)
    expect(float16BitsToFloat32(0x3555)).toBeCloseTo(0.33325195, 7)
  })

  it('relative error <= 2^-11 in the normal range', () => {
    const rng = new Rng(3)
    const x = Float32Array.from({length: 5000}, () => rng.normal() * 10 ** (rng.int(8) - 4))
    const back = fromFloat16Array(toFloat16Array(x))
    for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) >= 2 ** -14) expect(Math.abs(back[i] - x[i]) / Math.abs(x[i])).toBeLessThanOrEqual(2 ** -11)
  })
})

describe('int8 / int4 quantization', () => {
  const rng = new Rng(11)
  const t = randomTensor(rng, [24, 16], 0.5)

  for (const symmetric of [true, false]) {
    it(`int8 ${symmetric ? 'symmetric' : 'asymmetric'}: error <= scale/2 per element (per column, per row, per tensor)`, () => {
      for (const axis of [1, 0, null] as const) {
        const q = quantizeInt8(t, axis, symmetric)
        expect(q.scale.length).toBe(axis === 0 ? 24 : axis === 1 ? 16 : 1)
        const back = dequantize(q)
        expect(maxErrorPer(t, back, (i, j) => (axis === 0 ? i : axis === 1 ? j : 0), q.scale)).toBeLessThanOrEqual(1 + EPS)
      }
    })
  }

  it('int4 row-wise: error <= scale/2, values in [-7, 7], two a byte', () => {
    const odd = randomTensor(rng, [10, 7])
    for (const x of [t, odd]) {
      const q = quantizeInt4Rows(x)
      expect(q.data.length).toBe(x.shape[0] * Math.ceil(x.shape[1] / 2))
      expect(maxErrorPer(x, dequantize(q), (i) => i, q.scale)).toBeLessThanOrEqual(1 + EPS)
    }
  })

  it('asymmetric int8 represents all-positive rows better than symmetric', () => {
    const pos = {shape: [8, 32], data: Float32Array.from({length: 256}, () => 0.5 + Math.abs(rng.normal()))}
    const err = (sym: boolean) => {
      const back = dequantize(quantizeInt8(pos, 0, sym))
      return pos.data.reduce((m, v, i) => Math.max(m, Math.abs(v - back.data[i])), 0)
    }
    expect(err(false)).toBeLessThan(err(true) * 0.6)
  })

  it('zeros stay exactly zero (symmetric and asymmetric)', () => {
    const z = {shape: [4, 4], data: Float32Array.from({length: 16}, (_, i) => (i % 3 === 0 ? 0 : (i - 8) / 7))}
    for (const sym of [true, false]) {
      const back = dequantize(quantizeInt8(z, 0, sym))
      for (let i = 0; i < 16; i += 3) expect(back.data[i]).toBe(0)
    }
  })

  it('quantize() follows target and granularity, keeps biases float32 and the param count', () => {
    const w = tinyModel('neumf')
    const c = fromWeights(w)
    const all = quantize(c, {dtype: 'int8', granularity: 'per_channel', symmetric: true, target: 'all'}).model
    expect(all.tensors.gmf_user.kind).toBe('int8')
    expect((all.tensors.gmf_user as any).axis).toBe(0)
    expect((all.tensors['mlp_1.kernel'] as any).axis).toBe(1)
    expect(all.tensors['mlp_1.bias'].kind).toBe('float32')
    const emb = quantize(c, {dtype: 'int8', granularity: 'per_tensor', symmetric: true, target: 'embeddings'}).model
    expect((emb.tensors.mlp_item as any).axis).toBe(null)
    expect(emb.tensors['mlp_0.kernel'].kind).toBe('float32')
    const i4 = quantize(c, {dtype: 'int4', granularity: 'per_channel', symmetric: true, target: 'all'})
    expect(i4.model.tensors.gmf_item.kind).toBe('int4')
    expect(i4.model.tensors['mlp_0.kernel'].kind).toBe('float32')
    expect(i4.notes.join(' ')).toMatch(/embedding tables only/)
    expect(paramCounts(all).total).toBe(paramCounts(c).total)
    const back = toFloatWeights(all)
    expect(back.tensors.gmf_user.shape).toEqual(w.tensors.gmf_user.shape)
  })
})
