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

/** the graph ORT really runs: after its optimisations (level all, as the scorer uses) */
async function optimizedGraph(c: CompressedModel) {
  const path = join(mkdtempSync(join(tmpdir(), 'rec-opt-')), 'model.onnx')
  const s = await ort.InferenceSession.create(exportOnnx(c), {graphOptimizationLevel: 'all', optimizedModelFilePath: path, intraOpNumThreads: 1, logSeverityLevel: 3})
  await s.release()
  const graph = onnx.ModelProto.decode(readFileSync(path)).graph!
  return {nodes: graph.node, ops: graph.node.map((n) => n.opType), initializers: new Map(graph.initializer.map((t) => [t.name, t]))}
}
const optimizedOps = async (c: CompressedModel) => (await optimizedGraph(c)).ops

const variant = (v: unknown) => expandVariants([variantSchema.parse(v)])[0]
const count = (ops: string[], op: string) => ops.filter((o) => o === op).length

describe('the execution claims hold in the graph ORT runs', () => {
  it('int8 kernels stay integer matmuls (MatMulIntegerToFloat on int8 weights) with constant activation scales', async () => {
    const mf = await optimizedGraph(compressVariant(tinyModel('mf'), variant({quantize: {dtype: 'int8'}})).model)
    expect(count(mf.ops, 'MatMulIntegerToFloat')).toBe(1)
    expect(mf.ops).not.toContain('MatMul')
    const neumf = await optimizedGraph(compressVariant(tinyModel('neumf'), variant({quantize: {dtype: 'int8'}})).model)
    expect(count(neumf.ops, 'MatMulIntegerToFloat')).toBe(3) // gmf_item, mlp_0 user half, mlp_1
    // per request: no dequantize / quantize of gathered user rows (quantized at load); the only QuantizeLinear is the
    // first MLP layer's user half ([B, h1]), added to the item half (quantized at load) by one QLinearAdd straight
    // into mlp_1's uint8 input; out.bias rides on the GMF matmul (the one Add left: GMF + MLP)
    expect(count(neumf.ops, 'QuantizeLinear')).toBe(1)
    expect(count(neumf.ops, 'QLinearAdd')).toBe(1)
    expect(count(neumf.ops, 'Expand')).toBe(1) // the uint8 user half, to [B, I, h1]: QLinearAdd broadcasts in long spans
    expect(neumf.ops).not.toContain('DequantizeLinear')
    expect(count(neumf.ops, 'Add')).toBe(1)
    // one activation scale per tensor is all MatMulIntegerToFloat takes: it must be a constant (calibrated), never computed from the call
    for (const g of [mf, neumf]) {
      for (const n of g.nodes.filter((n) => n.opType === 'MatMulIntegerToFloat')) {
        const aScale = g.initializers.get(n.input[2])
        expect(aScale, `${n.name}: activation scale ${n.input[2]} is a constant`).toBeDefined()
        expect(aScale!.dims.length).toBe(0)
      }
      expect(g.ops).not.toContain('DynamicQuantizeLinear')
      expect(g.ops).not.toContain('DynamicQuantizeMatMul')
      expect(g.ops).not.toContain('ReduceMax') // no per-row (or per-call) range computed at run time
      expect(g.ops).not.toContain('MatMulInteger') // the integer matmul and its rescale are one op
    }
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
