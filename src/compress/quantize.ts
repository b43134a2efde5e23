import type {VariantConfig} from '../config/schema.js'
import type {Tensor32} from '../models/types.js'
import {toFloat16Array} from './fp16.js'
import {isTarget, tensorRole} from './tensors.js'
import type {CompressedModel, StoredTensor} from './types.js'

export type QuantizeParams = NonNullable<VariantConfig['quantize']>

/** round half to even, as ONNX QuantizeLinear does */
export function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * int8 quantization of a 1-D or 2-D tensor.
 * - symmetric: q = round(x / s), s = max|x| / 127, q in [-127, 127], zero point 0
 * - asymmetric: range [min(x, 0), max(x, 0)] mapped onto [-128, 127]: s = (hi - lo) / 255,
 *   zp = round(-128 - lo / s), q = clamp(round(x / s) + zp); 0 is exactly representable (q = zp)
 * axis: null = one scale for the tensor, 0 = one per row, 1 = one per column. Error per element <= s / 2.
 */
export function quantizeInt8(t: Tensor32, axis: 0 | 1 | null, symmetric: boolean): Extract<StoredTensor, {kind: 'int8'}> {
  const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]]
  const channels = axis === 0 ? rows : axis === 1 ? cols : 1
  const lo = new Float64Array(channels)
  const hi = new Float64Array(channels)
  const ch = (i: number, j: number) => (axis === 0 ? i : axis === 1 ? j : 0)
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const c = ch(i, j)
      const v = t.data[i * cols + j]
      if (v < lo[c]) lo[c] = v
      if (v > hi[c]) hi[c] = v
    }
  }
  const scale = new Float32Array(channels)
  const zeroPoint = symmetric ? undefined : new Int8Array(channels)
  for (let c = 0; c < channels; c++) {
    if (symmetric) {
      const m = Math.max(-lo[c], hi[c])
      scale[c] = m > 0 ? m / 127 : 1
    } else {
      const range = hi[c] - lo[c]
      scale[c] = range > 0 ? range / 255 : 1
      zeroPoint![c] = Math.max(-128, Math.min(127, roundHalfEven(-128 - lo[c] / scale[c])))
    }
  }
  const data = new Int8Array(rows * cols)
  const qmin = symmetric ? -127 : -128
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const c = ch(i, j)
      const zp = zeroPoint ? zeroPoint[c] : 0
      const q = roundHalfEven(t.data[i * cols + j] / scale[c]) + zp
      data[i * cols + j] = Math.max(qmin, Math.min(127, q))
    }
  }
  return {kind: 'int8', shape: [...t.shape], data, scale, zeroPoint, axis}
}

/** int4 row-wise symmetric: s = max|row| / 7, q = round(x / s) in [-7, 7], packed two a byte as q + 8 (low nibble first) */
export function quantizeInt4Rows(t: Tensor32): Extract<StoredTensor, {kind: 'int4'}> {
  const [rows, cols] = t.shape
  const bpr = Math.ceil(cols / 2)
  const scale = new Float32Array(rows)
  const data = new Uint8Array(rows * bpr)
  for (let i = 0; i < rows; i++) {
    let m = 0
    for (let j = 0; j < cols; j++) m = Math.max(m, Math.abs(t.data[i * cols + j]))
    scale[i] = m > 0 ? m / 7 : 1
    for (let j = 0; j < cols; j++) {
      const q = Math.max(-7, Math.min(7, roundHalfEven(t.data[i * cols + j] / scale[i])))
      const nibble = q + 8
      data[i * bpr + (j >> 1)] |= (j & 1) === 0 ? nibble : nibble << 4
    }
  }
  return {kind: 'int4', shape: [...t.shape], data, scale}
}

/**
 * Quantize the targeted float32 tensors: embedding tables (row-wise for per_channel, axis 0) and dense
 * kernels (per output channel, axis 1). Biases stay float32 (the int32 accumulator is rescaled to float
 * before the bias is added). Tensors already in another form (low-rank factors, float16) are left as they are.
 */
export function quantize(model: CompressedModel, p: QuantizeParams): {model: CompressedModel; notes: string[]} {
  const notes: string[] = []
  const tensors: Record<string, StoredTensor> = {}
  const skipped: string[] = []
  let count = 0
  for (const [name, s] of Object.entries(model.tensors)) {
    const role = tensorRole(model.kind, name)
    // int4 is row-wise for embedding tables only
    const wanted = isTarget(model.kind, name, p.target) && !(p.dtype === 'int4' && role === 'dense')
    if (!wanted) {
      tensors[name] = s
      continue
    }
    if (s.kind !== 'float32') {
      tensors[name] = s
      skipped.push(`${name} (${s.kind})`)
      continue
    }
    count++
    if (p.dtype === 'float16') tensors[name] = {kind: 'float16', shape: [...s.tensor.shape], data: toFloat16Array(s.tensor.data)}
    else if (p.dtype === 'int4') tensors[name] = quantizeInt4Rows(s.tensor)
    else {
      const axis = p.granularity === 'per_tensor' ? null : role === 'embedding' ? 0 : 1
      tensors[name] = quantizeInt8(s.tensor, axis, p.symmetric)
    }
  }
  if (p.dtype === 'int4' && p.target === 'all') notes.push('int4 applies to embedding tables only: dense kernels stay float32')
  if (p.dtype === 'int4' && (p.granularity === 'per_tensor' || !p.symmetric)) notes.push('int4 is always row-wise symmetric')
  if (skipped.length > 0) notes.push(`left in their current form: ${skipped.join(', ')}`)
  notes.push(`${count} tensors stored as ${p.dtype}; biases stay float32`)
  return {model: {...model, tensors, steps: [...model.steps, {method: 'quantize', params: {...p}}]}, notes}
}
