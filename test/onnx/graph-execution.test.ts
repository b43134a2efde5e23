import {existsSync, mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import {afterAll, describe, expect, it} from 'vitest'
import {activationTableNote, executionOf} from '../../src/compress/accounting.js'
import {compressVariant, expandVariants} from '../../src/compress/registry.js'
import {fromWeights} from '../../src/compress/tensors.js'
import type {CompressedModel} from '../../src/compress/types.js'
import {variantSchema} from '../../src/config/schema.js'
import type {ModelKind} from '../../src/models/types.js'
import {graphExecution, measuredExecution} from '../../src/onnx/execution.js'
import {variantReport} from '../../src/compress/registry.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {onnx} from '../../src/onnx/graph.js'
import {createOnnxScorer, type OnnxScorer} from '../../src/onnx/scorer.js'
import {someUsers, tinyModel} from '../compress/fixtures.js'

const variant = (v: unknown) => expandVariants([variantSchema.parse(v)])[0]
const compressed = (kind: ModelKind, v: unknown): CompressedModel => compressVariant(tinyModel(kind), variant(v)).model
const dir = mkdtempSync(join(tmpdir(), 'rec-graph-'))
let n = 0

const open: OnnxScorer[] = []
afterAll(() => open.forEach((s) => s.dispose()))

/** a scorer that saves ORT's optimized graph, and the execution read from it */
async function measured(c: CompressedModel) {
  const optimizedModelPath = join(dir, `model-${n++}.optimized.onnx`)
  const s = await createOnnxScorer(exportOnnx(c), c.numItems, {optimizedModelPath})
  open.push(s)
  expect(existsSync(optimizedModelPath)).toBe(true)
  return s.graph!
}

describe('execution measured from the graph ORT runs', () => {
  it('mf int8: the item table runs in an integer matmul, the user table is quantized at load to its uint8 input', async () => {
    const g = await measured(compressed('mf', {quantize: {dtype: 'int8'}}))
    expect(g.execution).toBe('int8-kernel')
    expect(g.integerMatMuls).toEqual(['item_emb'])
    expect(g.foldedToFloat).toEqual([])
    expect(g.ops.MatMulIntegerToFloat).toBe(1)
    expect(g.ops.MatMul).toBeUndefined()
    expect(g.notes).toContain(activationTableNote('user_emb', 'int8'))
    expect(g.ops.DequantizeLinear).toBeUndefined() // no per-request dequantize / quantize of the gathered rows
    expect(g.ops.QuantizeLinear).toBeUndefined()
    expect(g.notes).toContain('activations are quantized with constant scales calibrated at export (one per tensor): scores do not depend on the batch; inputs beyond the calibrated range saturate')
  })

  it('neumf int8: three integer matmuls; the item half of the first MLP layer, mlp_item and out.kernel are folded back to float at load', async () => {
    const g = await measured(compressed('neumf', {quantize: {dtype: 'int8'}}))
    expect(g.execution).toBe('int8-kernel')
    expect(g.integerMatMuls).toEqual(['gmf_item', 'mlp_0.kernel.user', 'mlp_1.kernel'])
    expect(g.foldedToFloat).toEqual(['mlp_0.kernel.item', 'mlp_item', 'out.kernel'])
    expect(g.ops.MatMulIntegerToFloat).toBe(3)
    expect(g.notes).toContain('mlp_0.kernel.item: int8 in the file, folded to float32 at session load (float32 compute)')
    expect(g.notes).toContain(activationTableNote('gmf_user', 'int8'))
    expect(g.notes).toContain(activationTableNote('mlp_user', 'int8'))
    expect(g.ops.QuantizeLinear).toBe(1) // the first MLP layer's output, per (user, item) pair; the user tables' at load
  })

  it('a deep neumf layer calibrated on a sample of users says so (metadata and a note); the others are exact', async () => {
    const c = compressVariant(tinyModel('neumf', {users: 400, items: 300, mlp: [64, 32, 16]}), variant({quantize: {dtype: 'int8'}})).model
    const bytes = exportOnnx(c)
    const meta = onnx.ModelProto.decode(bytes).metadataProps.find((p) => p.key === 'rec.int8_activations')!.value
    const act = JSON.parse(meta) as Record<string, {coverage: string}>
    expect(Object.fromEntries(Object.entries(act).map(([k, a]) => [k, a.coverage]))).toEqual({gmf_item: 'all', 'mlp_0.kernel': 'all', 'mlp_0.user_half': 'all', 'mlp_0.item_half': 'all', 'mlp_1.kernel': 'all', 'mlp_2.kernel': 'sample'})
    const g = await measured(c)
    expect(g.notes.filter((n) => n.includes('calibrated on a sample'))).toHaveLength(1)
    expect(g.notes.find((n) => n.includes('calibrated on a sample'))).toMatch(/^mlp_2\.kernel: /)
  })

  it('int8 kernels on float32 user tables (quantize target dense): the tables are quantized at load too, and the claim agrees', async () => {
    const c = compressed('neumf', {quantize: {dtype: 'int8', target: 'dense'}})
    const g = await measured(c)
    expect(g.execution).toBe('int8-kernel')
    expect(g.ops.QuantizeLinear).toBe(1)
    expect(executionOf(c).execution).toBe('int8-kernel')
  })

  it('two_tower int8 embeddings only: no integer matmul, so dequantized-at-load', async () => {
    const g = await measured(compressed('two_tower', {quantize: {dtype: 'int8', target: 'embeddings'}}))
    expect(g.execution).toBe('dequantized-at-load')
    expect(g.integerMatMuls).toEqual([])
    expect(g.foldedToFloat).toEqual(['item_emb'])
  })

  it('int4 tables: dequantized-at-load (item table folded, user rows unpacked after the gather)', async () => {
    const g = await measured(compressed('mf', {quantize: {dtype: 'int4', target: 'embeddings'}}))
    expect(g.execution).toBe('dequantized-at-load')
    expect(g.foldedToFloat).toEqual(['item_emb'])
    expect(g.ops.Mod).toBe(1)
    expect(g.notes).toContain('user_emb: int4 in the file, dequantized to float32 after the gather (the requested rows only)')
  })

  it('fp16: fp16-storage, every item-side weight cast once at load', async () => {
    const g = await measured(compressed('neumf', {quantize: {dtype: 'float16'}}))
    expect(g.execution).toBe('fp16-storage')
    expect(g.integerMatMuls).toEqual([])
    expect(g.foldedToFloat).toEqual(['gmf_item', 'mlp_0.kernel.item', 'mlp_0.kernel.user', 'mlp_1.kernel', 'mlp_item', 'out.kernel'])
    expect(g.notes).toContain('gmf_user: float16 in the file, cast to float32 after the gather; float32 compute')
  })

  it('float32, low-rank, structured and magnitude pruning keep their vocabulary', async () => {
    expect((await measured(fromWeights(tinyModel('neumf')))).execution).toBe('float32')
    const lr = await measured(compressed('mf', {lowrank: {rank: 2, target: 'embeddings'}}))
    expect(lr.execution).toBe('factorized')
    expect(lr.notes).toContain('item_emb: rank 2 factors, executed as two MatMuls')
    expect((await measured(compressed('neumf', {prune: {method: 'structured', sparsity: 0.5}}))).execution).toBe('shrunk')
    expect((await measured(compressed('neumf', {prune: {method: 'magnitude', sparsity: 0.5}}))).execution).toBe('sparse-zeros')
  })

  it('agrees with the compress-stage claim (executionOf) for every method on every architecture', async () => {
    const vs = [{quantize: {dtype: 'int8'}}, {quantize: {dtype: 'int8', target: 'embeddings'}}, {quantize: {dtype: 'float16'}}, {quantize: {dtype: 'int4', target: 'embeddings'}}, {lowrank: {rank: 2}}, {prune: {method: 'structured', sparsity: 0.5}}]
    for (const kind of ['mf', 'neumf', 'two_tower'] as const)
      for (const v of vs) {
        const c = compressed(kind, v)
        expect((await measured(c)).execution, `${kind} ${JSON.stringify(v)}`).toBe(executionOf(c).execution)
      }
  })

  it('reads the nodes, not the stored types: in the unoptimized graph the int8 item half is dequantized per request', () => {
    const bytes = exportOnnx(compressed('neumf', {quantize: {dtype: 'int8'}}))
    const model = onnx.ModelProto.decode(bytes)
    const g = graphExecution(model, model)
    expect(g.foldedToFloat).toEqual([])
    expect(g.notes).toContain('mlp_0.kernel.item: int8 in the file, dequantized to float32 on every request')
  })

  it('the scorer without optimizedModelPath writes nothing and scores as before', async () => {
    const c = compressed('mf', {quantize: {dtype: 'int8'}})
    const plain = await createOnnxScorer(exportOnnx(c), c.numItems)
    open.push(plain)
    expect(plain.graph).toBeUndefined()
    const path = join(dir, 'saved.optimized.onnx')
    const saving = await createOnnxScorer(exportOnnx(c), c.numItems, {optimizedModelPath: path})
    open.push(saving)
    expect(Array.from(await saving.scoreUsers(someUsers(5)))).toEqual(Array.from(await plain.scoreUsers(someUsers(5))))
    // the saved file is a loadable ONNX model
    const s = await ort.InferenceSession.create(readFileSync(path), {logSeverityLevel: 3})
    await s.release()
  })

  it('measuredExecution: the measured execution and per-weight notes replace the claimed ones; other notes stay; a disagreement is said', async () => {
    const spec = variant({quantize: {dtype: 'int8'}})
    const c = compressVariant(tinyModel('neumf'), spec).model
    const claim = variantReport(c, spec, ['5 tensors stored as int8; biases stay float32'], 0)
    const g = await measured(c)
    const m = measuredExecution(claim, g)
    expect(m.execution).toBe('int8-kernel')
    expect(m.notes).toContain('5 tensors stored as int8; biases stay float32')
    expect(m.notes).toContain('mlp_0.kernel.item: int8 in the file, folded to float32 at session load (float32 compute)')
    expect(m.notes.filter((n) => n.startsWith('mlp_item:'))).toEqual(['mlp_item: int8 in the file, folded to float32 at session load (float32 compute)'])
    const wrong = measuredExecution({execution: 'fp16-storage', notes: []}, g)
    expect(wrong.execution).toBe('int8-kernel')
    expect(wrong.notes).toContain('execution measured in ONNX Runtime (int8-kernel) differs from the compress-stage claim (fp16-storage)')
  })
})
