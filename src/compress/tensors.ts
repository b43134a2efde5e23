import type {ModelKind, ModelWeights, Tensor32} from '../models/types.js'
import {fromFloat16Array} from './fp16.js'
import type {CompressedModel, StoredTensor} from './types.js'

/** the role of each tensor, derived from the per-architecture naming of src/models/types.ts */
export type TensorRole = 'embedding' | 'dense' | 'bias' | 'vector'

export function tensorRole(kind: ModelKind, name: string): TensorRole {
  if (kind === 'pop') return 'vector'
  // LayerNorm scales and shifts (sasrec) are per-feature vectors, never compressed
  if (name.endsWith('.gamma') || name.endsWith('.beta')) return 'vector'
  if (name.endsWith('.bias')) return 'bias'
  if (name.endsWith('.kernel')) return 'dense'
  // gru4rec: input and recurrent gate matrices are dense layers, their concatenated biases a bias
  if (kind === 'gru4rec' && /^gru_\d+\.[wr]$/.test(name)) return 'dense'
  if (kind === 'gru4rec' && /^gru_\d+\.b$/.test(name)) return 'bias'
  return 'embedding'
}

/**
 * Whether a method's `target` covers this tensor: `embeddings` the embedding tables, `dense` (or
 * `mlp`) the dense kernels, `all` both. Biases and pop's vector are never targets.
 */
export function isTarget(kind: ModelKind, name: string, target: 'all' | 'embeddings' | 'dense' | 'mlp'): boolean {
  const role = tensorRole(kind, name)
  return (role === 'embedding' && target !== 'dense' && target !== 'mlp') || (role === 'dense' && target !== 'embeddings')
}

/** names of the MLP layers in order: mlp_0, mlp_1... (neumf) or user_tower_0... (two_tower) */
export function layerNames(tensors: Record<string, unknown>, prefix: string): string[] {
  const out: string[] = []
  for (let k = 0; `${prefix}${k}.kernel` in tensors; k++) out.push(`${prefix}${k}`)
  return out
}

/** logical [rows, cols] of a stored tensor (1-D tensors are [n]) */
export function storedShape(s: StoredTensor): number[] {
  switch (s.kind) {
    case 'float32':
      return s.tensor.shape
    case 'lowrank':
      return [s.a.shape[0], s.b.shape[1]]
    default:
      return s.shape
  }
}

export function shapeSize(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** the float32 value of a stored tensor: dequantized, or A·B reconstructed */
export function dequantize(s: StoredTensor): Tensor32 {
  switch (s.kind) {
    case 'float32':
      return s.tensor
    case 'float16':
      return {shape: [...s.shape], data: fromFloat16Array(s.data)}
    case 'int8': {
      const [rows, cols] = s.shape.length === 2 ? s.shape : [1, s.shape[0]]
      const out = new Float32Array(rows * cols)
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const c = s.axis === 0 ? i : s.axis === 1 ? j : 0
          const zp = s.zeroPoint ? s.zeroPoint[c] : 0
          out[i * cols + j] = (s.data[i * cols + j] - zp) * s.scale[c]
        }
      }
      return {shape: [...s.shape], data: out}
    }
    case 'int4': {
      const [rows, cols] = s.shape
      const bpr = Math.ceil(cols / 2)
      const out = new Float32Array(rows * cols)
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const byte = s.data[i * bpr + (j >> 1)]
          const q = ((j & 1) === 0 ? byte & 0x0f : byte >> 4) - 8
          out[i * cols + j] = q * s.scale[i]
        }
      }
      return {shape: [...s.shape], data: out}
    }
    case 'lowrank':
      return matmul(s.a, s.b)
  }
}

/** C = A·B for row-major 2-D tensors, accumulated in float64 */
export function matmul(a: Tensor32, b: Tensor32): Tensor32 {
  const [m, k] = a.shape
  const [k2, n] = b.shape
  if (k !== k2) throw new Error(`matmul: inner dimensions differ (${a.shape} · ${b.shape})`)
  const out = new Float32Array(m * n)
  const row = new Float64Array(n)
  for (let i = 0; i < m; i++) {
    row.fill(0)
    for (let p = 0; p < k; p++) {
      const av = a.data[i * k + p]
      if (av === 0) continue
      const off = p * n
      for (let j = 0; j < n; j++) row[j] += av * b.data[off + j]
    }
    out.set(row, i * n)
  }
  return {shape: [m, n], data: out}
}

export function transpose(t: Tensor32): Tensor32 {
  const [m, n] = t.shape
  const out = new Float32Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = t.data[i * n + j]
  return {shape: [n, m], data: out}
}

export function cloneTensor(t: Tensor32): Tensor32 {
  return {shape: [...t.shape], data: new Float32Array(t.data)}
}

/** wrap trained weights as an (uncompressed) CompressedModel; tensors are copied */
export function fromWeights(w: ModelWeights | CompressedModel): CompressedModel {
  if ('steps' in w) return w
  const tensors: Record<string, StoredTensor> = {}
  for (const [name, t] of Object.entries(w.tensors)) tensors[name] = {kind: 'float32', tensor: cloneTensor(t)}
  return {kind: w.kind, numUsers: w.numUsers, numItems: w.numItems, params: {...w.params}, tensors, steps: []}
}

/** float32 weights for tfjs evaluation and fine-tuning: every tensor dequantized / reconstructed (A·B) */
export function toFloatWeights(c: CompressedModel): ModelWeights {
  const tensors: Record<string, Tensor32> = {}
  for (const [name, s] of Object.entries(c.tensors)) tensors[name] = s.kind === 'float32' ? cloneTensor(s.tensor) : dequantize(s)
  return {kind: c.kind, numUsers: c.numUsers, numItems: c.numItems, params: {...c.params}, tensors}
}

/** pruning masks (1 = kept) of magnitude-pruned tensors, for fine-tuning that holds pruned weights at zero */
export function pruningMasks(c: CompressedModel): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {}
  for (const [name, s] of Object.entries(c.tensors)) if (s.kind === 'float32' && s.pruned) out[name] = s.pruned.mask
  return out
}

/** tensor shapes of a model, for `validateVariants` before any work starts */
export function shapesOf(w: ModelWeights | CompressedModel): Record<string, number[]> {
  const out: Record<string, number[]> = {}
  if ('steps' in w) for (const [name, s] of Object.entries(w.tensors)) out[name] = storedShape(s)
  else for (const [name, t] of Object.entries(w.tensors)) out[name] = t.shape
  return out
}
