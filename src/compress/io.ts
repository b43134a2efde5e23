import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {dataError} from '../errors.js'
import type {Tensor32} from '../models/types.js'
import {writeFileAtomic, writeJsonAtomic} from '../run/atomic.js'
import type {CompressedModel, StoredTensor} from './types.js'

/**
 * A compressed variant on disk, in its stored form (what tfjs loads and dequantizes; the ONNX file
 * sits beside it): `variant.json` (architecture, steps, each tensor's form and where its bytes are)
 * and `variant.bin` (the bytes, each blob 8-byte aligned). int8 stays int8, int4 stays packed,
 * float16 stays 16-bit, low-rank stores its two factors: the file size is the real one.
 */
export const VARIANT_JSON = 'variant.json'
export const VARIANT_BIN = 'variant.bin'

type Blob = {offset: number; length: number; dtype: 'float32' | 'uint16' | 'int8' | 'uint8'}
type StoredMeta =
  | {kind: 'float32'; shape: number[]; data: Blob; pruned?: {mask: Blob; sparsity: number}}
  | {kind: 'float16'; shape: number[]; data: Blob}
  | {kind: 'int8'; shape: number[]; data: Blob; scale: Blob; zeroPoint?: Blob; axis: 0 | 1 | null}
  | {kind: 'int4'; shape: number[]; data: Blob; scale: Blob}
  | {kind: 'lowrank'; a: {shape: number[]; data: Blob}; b: {shape: number[]; data: Blob}}

interface VariantJson {
  format: 'rec-compressed/1'
  kind: CompressedModel['kind']
  numUsers: number
  numItems: number
  params: Record<string, unknown>
  steps: CompressedModel['steps']
  tensors: Record<string, StoredMeta>
}

const ctor = {float32: Float32Array, uint16: Uint16Array, int8: Int8Array, uint8: Uint8Array} as const

export function saveCompressed(dir: string, model: CompressedModel): void {
  const chunks: Uint8Array[] = []
  let size = 0
  const put = (arr: Float32Array | Uint16Array | Int8Array | Uint8Array, dtype: Blob['dtype']): Blob => {
    const pad = (8 - (size % 8)) % 8
    if (pad) {
      chunks.push(new Uint8Array(pad))
      size += pad
    }
    const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)
    chunks.push(bytes)
    const blob = {offset: size, length: arr.length, dtype}
    size += bytes.byteLength
    return blob
  }
  const t32 = (t: Tensor32) => ({shape: t.shape, data: put(t.data, 'float32')})
  const tensors: Record<string, StoredMeta> = {}
  for (const [name, s] of Object.entries(model.tensors)) {
    switch (s.kind) {
      case 'float32':
        tensors[name] = {kind: 'float32', ...t32(s.tensor), ...(s.pruned ? {pruned: {mask: put(s.pruned.mask, 'uint8'), sparsity: s.pruned.sparsity}} : {})}
        break
      case 'float16':
        tensors[name] = {kind: 'float16', shape: s.shape, data: put(s.data, 'uint16')}
        break
      case 'int8':
        tensors[name] = {kind: 'int8', shape: s.shape, data: put(s.data, 'int8'), scale: put(s.scale, 'float32'), ...(s.zeroPoint ? {zeroPoint: put(s.zeroPoint, 'int8')} : {}), axis: s.axis}
        break
      case 'int4':
        tensors[name] = {kind: 'int4', shape: s.shape, data: put(s.data, 'uint8'), scale: put(s.scale, 'float32')}
        break
      case 'lowrank':
        tensors[name] = {kind: 'lowrank', a: t32(s.a), b: t32(s.b)}
        break
    }
  }
  const bin = new Uint8Array(size)
  let o = 0
  for (const c of chunks) {
    bin.set(c, o)
    o += c.byteLength
  }
  const meta: VariantJson = {format: 'rec-compressed/1', kind: model.kind, numUsers: model.numUsers, numItems: model.numItems, params: model.params, steps: model.steps, tensors}
  writeFileAtomic(join(dir, VARIANT_BIN), bin)
  writeJsonAtomic(join(dir, VARIANT_JSON), meta)
}

export function loadCompressed(dir: string): CompressedModel {
  const jsonFile = join(dir, VARIANT_JSON)
  const binFile = join(dir, VARIANT_BIN)
  let meta: VariantJson
  let bin: Uint8Array
  try {
    meta = JSON.parse(readFileSync(jsonFile, 'utf8'))
  } catch (err) {
    throw dataError('model.corrupt', `cannot read the compressed model ${jsonFile}: ${(err as Error).message}`, {hint: 're-run `rec compress` for this run'})
  }
  try {
    bin = new Uint8Array(readFileSync(binFile))
  } catch (err) {
    throw dataError('model.corrupt', `cannot read ${binFile}: ${(err as Error).message}`)
  }
  if (meta.format !== 'rec-compressed/1') throw dataError('model.corrupt', `${jsonFile}: unknown format ${String(meta.format)}`)
  const get = (b: Blob) => {
    const C = ctor[b.dtype]
    if (!C || b.offset + b.length * C.BYTES_PER_ELEMENT > bin.byteLength) throw dataError('model.corrupt', `${binFile} is truncated or does not match ${jsonFile}`, {hint: 're-run `rec compress` for this run'})
    return new C(bin.slice(b.offset, b.offset + b.length * C.BYTES_PER_ELEMENT).buffer as ArrayBuffer) as never
  }
  const t32 = (x: {shape: number[]; data: Blob}): Tensor32 => ({shape: x.shape, data: get(x.data)})
  const tensors: Record<string, StoredTensor> = {}
  for (const [name, s] of Object.entries(meta.tensors)) {
    switch (s.kind) {
      case 'float32':
        tensors[name] = {kind: 'float32', tensor: t32(s), ...(s.pruned ? {pruned: {mask: get(s.pruned.mask), sparsity: s.pruned.sparsity}} : {})}
        break
      case 'float16':
        tensors[name] = {kind: 'float16', shape: s.shape, data: get(s.data)}
        break
      case 'int8':
        tensors[name] = {kind: 'int8', shape: s.shape, data: get(s.data), scale: get(s.scale), zeroPoint: s.zeroPoint ? get(s.zeroPoint) : undefined, axis: s.axis}
        break
      case 'int4':
        tensors[name] = {kind: 'int4', shape: s.shape, data: get(s.data), scale: get(s.scale)}
        break
      case 'lowrank':
        tensors[name] = {kind: 'lowrank', a: t32(s.a), b: t32(s.b)}
        break
      default:
        throw dataError('model.corrupt', `${jsonFile}: unknown tensor form for ${name}`)
    }
  }
  return {kind: meta.kind, numUsers: meta.numUsers, numItems: meta.numItems, params: meta.params, steps: meta.steps, tensors}
}

export function compressedBytes(dir: string): number {
  return statSync(join(dir, VARIANT_JSON)).size + statSync(join(dir, VARIANT_BIN)).size
}
