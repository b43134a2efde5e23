import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import {describe, expect, it} from 'vitest'
import {compressVariant, expandVariants} from '../../src/compress/registry.js'
import {fromWeights} from '../../src/compress/tensors.js'
import type {CompressedModel} from '../../src/compress/types.js'
import {variantSchema} from '../../src/config/schema.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {onnx} from '../../src/onnx/graph.js'
import {tinyModel} from '../compress/fixtures.js'

/** the op types ORT really runs: the graph after its optimisations (level all, as the scorer uses) */
async function optimizedOps(c: CompressedModel): Promise<string[]> {
  const path = join(mkdtempSync(join(tmpdir(), 'rec-opt-')), 'model.onnx')
  const s = await ort.InferenceSession.create(exportOnnx(c), {graphOptimizationLevel: 'all', optimizedModelFilePath: path, intraOpNumThreads: 1, logSeverityLevel: 3})
  await s.release()
  return onnx.ModelProto.decode(readFileSync(path)).graph!.node.map((n) => n.opType)
}

const variant = (v: unknown) => expandVariants([variantSchema.parse(v)])[0]
const count = (ops: string[], op: string) => ops.filter((o) => o === op).length

describe('the execution claims hold in the graph ORT runs', () => {
  it('int8 kernels stay integer matmuls (MatMulInteger on int8 weights), none left as float MatMul on int8 weights', async () => {
    const mf = await optimizedOps(compressVariant(tinyModel('mf'), variant({quantize: {dtype: 'int8'}})).model)
    expect(count(mf, 'MatMulInteger')).toBe(1)
    expect(mf).not.toContain('MatMul')
    const neumf = await optimizedOps(compressVariant(tinyModel('neumf'), variant({quantize: {dtype: 'int8'}})).model)
    expect(count(neumf, 'MatMulInteger')).toBe(3) // gmf_item, mlp_0 user half, mlp_1
    // per-row activation scales must not be fused into an op that takes one activation scale per tensor
    expect(neumf).not.toContain('MatMulIntegerToFloat')
    expect(neumf).not.toContain('DynamicQuantizeMatMul')
  })

  it('item-only work is folded at session load (dequantized-at-load, item towers)', async () => {
    // int4 tables: only the user side unpacks per request
    const ops = await optimizedOps(compressVariant(tinyModel('mf'), variant({quantize: {dtype: 'int4', target: 'embeddings'}})).model)
    expect(count(ops, 'Mod')).toBe(1)
    // two_tower: only the user tower remains (one hidden ReLU), the item tower is a constant
    const tt = await optimizedOps(fromWeights(tinyModel('two_tower', {tower: [16, 8]})))
    expect(tt.filter((o) => o === 'Relu' || o.startsWith('Fused')).length).toBe(1)
  })

  it('low-rank runs as two MatMuls per factorized table', async () => {
    const lr = await optimizedOps(compressVariant(tinyModel('mf', {d: 8}), variant({lowrank: {rank: 2, target: 'embeddings'}})).model)
    expect(count(lr, 'MatMul')).toBe(3) // A[u]·B, then (u·Bᵀ)·Aᵀ
  })
})
