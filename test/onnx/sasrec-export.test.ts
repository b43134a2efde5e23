import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {maxAbsDiff} from '../../src/compress/reference.js'
import {erf, randomSasrecWeights, sasrecReferenceScores, type SasrecParams, type SasrecWeights} from '../../src/models/sasrec-reference.js'
import {exportSasrecOnnx} from '../../src/onnx/export-sasrec.js'
import {onnx} from '../../src/onnx/graph.js'

/** float32 export vs float64 reference */
const FLOAT_TOL = 1e-4
const I = 30
const params: SasrecParams = {hidden: 16, layers: 2, heads: 2, inner: 32, max_len: 8}
const L = params.max_len
// larger init than RecBole's 0.02 and drawn biases / LayerNorm parameters: every tensor moves the scores, which are O(1)
const w: SasrecWeights = randomSasrecWeights(I, params, 7, {std: 0.3, perturb: 0.2})

/** sequences of item ids (0..I-1), encoded as the model input: ids + 1, left-padded with 0 to L */
function encode(histories: number[][]): Int32Array {
  const out = new Int32Array(histories.length * L)
  histories.forEach((hist, b) => {
    const lastL = hist.slice(-L)
    lastL.forEach((item, i) => (out[b * L + L - lastL.length + i] = item + 1))
  })
  return out
}
const histories = [
  [], // all padding
  [4], // one item
  [3, 17, 29], // short, left-padded
  [0, 1, 2, 3, 4, 5, 6, 7], // full
  [9, 9, 9, 2, 28, 11, 5, 0, 14, 22, 3], // longer than L: the last L
  [29, 0, 15, 15, 8, 1],
]
const seqs = encode(histories)
const B = histories.length

const sessions: ort.InferenceSession[] = []
afterAll(async () => {
  for (const s of sessions) await s.release()
})
async function session(bytes: Uint8Array, optimizedModelFilePath?: string): Promise<ort.InferenceSession> {
  const s = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    ...(optimizedModelFilePath ? {optimizedModelFilePath, logSeverityLevel: 3 as const} : {}),
  })
  sessions.push(s)
  return s
}
async function run(s: ort.InferenceSession, x: Int32Array): Promise<Float32Array> {
  const out = await s.run({seqs: new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), [x.length / L, L])})
  expect(out.scores.dims).toEqual([x.length / L, I])
  return out.scores.data as Float32Array
}

describe('SASRec reference forward', () => {
  it('erf is exact to float64 rounding (vs its Taylor series)', () => {
    const series = (x: number) => {
      let s = 0
      let term = x
      for (let n = 0; n < 120; n++) {
        s += term / (2 * n + 1)
        term *= (-x * x) / (n + 1)
      }
      return (2 / Math.sqrt(Math.PI)) * s
    }
    for (let x = -2.5; x <= 2.5; x += 0.01) expect(Math.abs(erf(x) - series(x))).toBeLessThan(1e-14)
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 15)
    expect(erf(4.5)).toBeCloseTo(0.9999999998033839, 15)
    expect(erf(-30)).toBe(-1)
  })

  it('is causal and reads only the last L ids: changing the oldest item of a full sequence changes the scores', () => {
    const full = encode([[0, 1, 2, 3, 4, 5, 6, 7]])
    const changed = full.slice()
    changed[0] = 21
    expect(maxAbsDiff(sasrecReferenceScores(w, full), sasrecReferenceScores(w, changed))).toBeGreaterThan(1e-3)
    // history longer than L: only the last L count
    expect(maxAbsDiff(sasrecReferenceScores(w, encode([[5, 6, 0, 1, 2, 3, 4, 5, 6, 7]])), sasrecReferenceScores(w, full))).toBe(0)
  })

  it('padding is masked: the padding row and padded positions do not change a short sequence’s scores', () => {
    const short = encode([[3, 17, 29]])
    const w2: SasrecWeights = {...w, tensors: {...w.tensors, item_emb: {shape: w.tensors.item_emb.shape, data: w.tensors.item_emb.data.slice()}}}
    for (let i = 0; i < params.hidden; i++) w2.tensors.item_emb.data[i] = 5 * Math.sin(i) // a non-zero padding row
    // the padded positions' states change, but no real position attends to them
    expect(maxAbsDiff(sasrecReferenceScores(w, short), sasrecReferenceScores(w2, short))).toBeLessThan(1e-9)
  })

  it('RecBole initialisation: kernels and embeddings ~ N(0, 0.02), biases 0, gamma 1, padding row 0', () => {
    const r = randomSasrecWeights(I, params, 1)
    expect(r.tensors.item_emb.data.subarray(0, params.hidden).every((v) => v === 0)).toBe(true)
    expect(r.tensors['layer_1.q.bias'].data.every((v) => v === 0)).toBe(true)
    expect(r.tensors['layer_0.ln2.gamma'].data.every((v) => v === 1)).toBe(true)
    const k = r.tensors['layer_0.ffn1.kernel'].data
    const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length)
    expect(std).toBeGreaterThan(0.017)
    expect(std).toBeLessThan(0.023)
    expect(maxAbsDiff(randomSasrecWeights(I, params, 1).tensors.pos_emb.data, r.tensors.pos_emb.data)).toBe(0)
  })
})

describe('SASRec ONNX export', () => {
  const bytes = exportSasrecOnnx(w)
  const literal = exportSasrecOnnx(w, {lastPositionOnly: false})
  let s: ort.InferenceSession
  let ref: Float32Array
  beforeAll(async () => {
    s = await session(bytes)
    ref = sasrecReferenceScores(w, seqs)
  })

  it(`ORT scores equal the reference within ${FLOAT_TOL} (padding-only, short, full, longer histories)`, async () => {
    const got = await run(s, seqs)
    const diff = maxAbsDiff(got, ref)
    expect(diff).toBeLessThan(FLOAT_TOL)
    // every sequence is at float32 rounding (~1e-6), the empty history too: its state comes from fully masked
    // attention rows, which the export writes without the −10000 shift (with it, float32 rounding alone gave 1e-4)
    for (let b = 0; b < B; b++) expect(maxAbsDiff(got.subarray(b * I, (b + 1) * I), ref.subarray(b * I, (b + 1) * I)), `sequence ${b}`).toBeLessThan(1e-5)
    // the scores are not degenerate: they spread over items
    expect(Math.max(...ref) - Math.min(...ref)).toBeGreaterThan(1)
    // the literal all-positions graph computes the same function
    expect(maxAbsDiff(await run(await session(literal), seqs), ref)).toBeLessThan(FLOAT_TOL)
  })

  it('other shapes (one layer, four heads, three layers of one head) match the reference too', async () => {
    for (const shape of [{hidden: 16, layers: 1, heads: 4, inner: 8, max_len: 5}, {hidden: 8, layers: 3, heads: 1, inner: 16, max_len: 6}]) {
      const w2 = randomSasrecWeights(11, shape, 3, {std: 0.3, perturb: 0.2})
      const x = Int32Array.from({length: 4 * shape.max_len}, (_, i) => (i < shape.max_len || i % shape.max_len < 2 ? 0 : 1 + ((i * 7) % 11)))
      const ref2 = sasrecReferenceScores(w2, x)
      for (const lastPositionOnly of [true, false]) {
        const s2 = await session(exportSasrecOnnx(w2, {lastPositionOnly}))
        const out = await s2.run({seqs: new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), [4, shape.max_len])})
        expect(maxAbsDiff(out.scores.data as Float32Array, ref2), JSON.stringify(shape)).toBeLessThan(FLOAT_TOL)
      }
    }
  })

  it('batch independence: each sequence scored alone equals its row of the batch, exactly', async () => {
    const all = await run(s, seqs)
    for (let b = 0; b < B; b++) {
      const alone = await run(s, seqs.subarray(b * L, (b + 1) * L))
      expect(maxAbsDiff(alone, all.subarray(b * I, (b + 1) * I)), `sequence ${b}`).toBe(0)
    }
    // and in a bigger batch, in another order
    const reordered = encode([...histories].reverse().concat(histories))
    const big = await run(s, reordered)
    for (let b = 0; b < B; b++) expect(maxAbsDiff(big.subarray((B - 1 - b) * I, (B - b) * I), all.subarray(b * I, (b + 1) * I))).toBe(0)
  })

  it('causality follows the reference: changing the oldest item of a full sequence changes the export’s scores the same way', async () => {
    const full = encode([[0, 1, 2, 3, 4, 5, 6, 7]])
    const changed = full.slice()
    changed[0] = 21
    const [a, b] = [await run(s, full), await run(s, changed)]
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3)
    expect(maxAbsDiff(b, sasrecReferenceScores(w, changed))).toBeLessThan(FLOAT_TOL)
  })

  it('declares its interface: seqs int64 [batch, L] → scores [batch, I], rec.* metadata', () => {
    const m = onnx.ModelProto.decode(bytes)
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]])
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]))
    expect(meta['rec.kind']).toBe('sasrec')
    expect(meta['rec.max_len']).toBe(String(L))
    expect(meta['rec.num_items']).toBe(String(I))
    expect(JSON.parse(meta['rec.params'])).toEqual(params)
    const input = m.graph!.input[0]
    expect(input.name).toBe('seqs')
    expect(input.type!.tensorType!.shape!.dim.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', L])
    expect(m.graph!.output[0].name).toBe('scores')
    const ops = new Set(m.graph!.node.map((n) => n.opType))
    for (const op of ['Gather', 'LayerNormalization', 'Softmax', 'Erf', 'Equal', 'ReduceMax']) expect(ops).toContain(op)
    expect(m.graph!.node.filter((n) => n.opType === 'LayerNormalization')).toHaveLength(1 + 2 * params.layers)
    for (const model of [m, onnx.ModelProto.decode(literal)]) {
      const names = model.graph!.initializer.map((t) => t.name)
      expect(new Set(names).size, 'initializer names are unique').toBe(names.length)
      const used = new Set(model.graph!.node.flatMap((n) => n.input))
      expect(names.filter((n) => !used.has(n)), 'every initializer is used').toEqual([])
    }
  })

  it('the graph ORT runs (level all): Gemms with their biases, Gelu, the attention core unfused; fusions listed', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'rec-sasrec-opt-')), 'sasrec.onnx')
    await session(bytes, path)
    const nodes = onnx.ModelProto.decode(readFileSync(path)).graph!.node
    const count = (op: string) => nodes.filter((n) => n.opType === op).length
    const histogram: Record<string, number> = {}
    for (const n of nodes) histogram[`${n.domain ? n.domain + ':' : ''}${n.opType}`] = (histogram[`${n.domain ? n.domain + ':' : ''}${n.opType}`] ?? 0) + 1
    console.log('SASRec optimized graph ops:', JSON.stringify(histogram))
    // attention either fused (com.microsoft Attention / MultiHeadAttention) or as its parts: a softmax per layer
    const fusedAttention = count('Attention') + count('MultiHeadAttention')
    if (fusedAttention === 0) expect(count('Softmax')).toBe(params.layers)
    // LayerNormalization (possibly fused with the residual Add as SkipLayerNormalization)
    expect(count('LayerNormalization') + count('SkipLayerNormalization') + count('SimplifiedLayerNormalization')).toBe(1 + 2 * params.layers)
    // the exact-GELU pattern is one op (Gelu or BiasGelu), never a tanh approximation
    expect(count('Erf')).toBe(0)
    expect(count('Gelu') + count('BiasGelu')).toBe(params.layers)
    expect(count('FastGelu')).toBe(0)
    // activations are 2-D between attention cores: every projection is a Gemm with its bias (fused QKV, KV + Q in the
    // last-position-only layer, attn_out, ffn1, ffn2); MatMuls left: probs·V per layer and the final scores
    expect(count('Gemm')).toBe(4 * params.layers + 1)
    expect(count('MatMul')).toBe(params.layers + 1)
    expect(count('FusedMatMul')).toBe(params.layers) // Q·Kᵀ with the 1/√d scale folded in
  })
})
