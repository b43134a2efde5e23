/**
 * Every stored form and every structured pruning of SASRec, three ways: the plain-JS reference, the tfjs
 * forward (the weights as tfjs scores and fine-tunes them) and the exported ONNX graph run in ONNX
 * Runtime, plus how ORT's optimized graph really executes each one.
 * - float forms (float16, int4 / low-rank, structured pruning): ORT = reference = tfjs within 1e-4
 * - int8: ORT = the reference with the graph's static activation quantization (its scales read from the
 *   model's metadata) within INT8_SIM_TOL; ORT vs the float model within INT8_FLOAT_TOL of the score range;
 *   execution int8-kernel read from the optimized graph; batch-independent
 */
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {executionOf, flopsPerPair, paramCounts} from '../../src/compress/accounting.js'
import {maxAbsDiff} from '../../src/compress/reference.js'
import {compressVariant, type Step} from '../../src/compress/registry.js'
import {randomHistories, staticInt8Hook, type SasrecActivationQuant} from '../../src/compress/sasrec-calibrate.js'
import {fromWeights, toFloatWeights} from '../../src/compress/tensors.js'
import type {CompressedModel} from '../../src/compress/types.js'
import {randomSasrecWeights, sasrecReferenceScores} from '../../src/models/sasrec-reference.js'
import {scoreSequences} from '../../src/models/sasrec.js'
import type {ModelWeights} from '../../src/models/types.js'
import {graphExecutionOf, measuredExecution} from '../../src/onnx/execution.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {onnx} from '../../src/onnx/graph.js'

const FLOAT_TOL = 1e-4
/** ORT int8 vs the reference simulating the same static quantization: float32 vs float64 rounding, and a rare input at a rounding boundary landing one level off */
const INT8_SIM_TOL = 2e-3
/** ORT int8 vs the float model, relative to the spread of the scores: the quantization error itself */
const INT8_FLOAT_TOL = 0.05

const I = 30
const L = 8
const base = randomSasrecWeights(I, {hidden: 16, layers: 2, heads: 4, inner: 32, max_len: L}, 7, {std: 0.3, perturb: 0.2})
const weights: ModelWeights = {kind: 'sasrec', numUsers: 0, numItems: I, params: {...base.params, dropout: 0.1, loss: 'ce'}, tensors: base.tensors}
// an empty history, short and full ones
const seqs = randomHistories(I, L, 12, 99)
const B = seqs.length / L
const refFloat = sasrecReferenceScores(weights, seqs)
const spread = Math.max(...refFloat) - Math.min(...refFloat)

const q = (over: Record<string, unknown>): Step => ({method: 'quantize', params: {dtype: 'int8', granularity: 'per_channel', symmetric: true, target: 'all', ...over} as never})
const prune = (target: string, sparsity = 0.5): Step => ({method: 'prune', params: {method: 'structured', sparsity, target, scope: 'layer', norm: 'l2', schedule: 'oneshot'} as never})
const lowrank = (target: string, rank: number): Step => ({method: 'lowrank', params: {target, rank} as never})

const dir = mkdtempSync(join(tmpdir(), 'rec-sasrec-forms-'))
const sessions: ort.InferenceSession[] = []
afterAll(async () => {
  for (const s of sessions) await s.release()
})
beforeAll(async () => {
  await initBackend('wasm')
})

async function runOnnx(bytes: Uint8Array, x: Int32Array, name: string): Promise<{scores: Float32Array; optimized: Uint8Array}> {
  const path = join(dir, `${name}.onnx`)
  const s = await ort.InferenceSession.create(bytes, {graphOptimizationLevel: 'all', optimizedModelFilePath: path, intraOpNumThreads: 1, logSeverityLevel: 3})
  sessions.push(s)
  const out = await s.run({seqs: new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), [x.length / L, L])})
  return {scores: out.scores.data as Float32Array, optimized: readFileSync(path)}
}

function metadata(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key, p.value]))
}

function make(steps: Step[]): CompressedModel {
  return steps.length === 0 ? fromWeights(weights) : compressVariant(weights, {name: 'v', steps}).model
}

describe('SASRec compressed forms: reference, tfjs and ONNX Runtime agree', () => {
  const floatForms: [string, Step[], string][] = [
    ['float32', [], 'float32'],
    ['float16', [q({dtype: 'float16'})], 'fp16-storage'],
    ['int4 tables', [q({dtype: 'int4', target: 'embeddings'})], 'dequantized-at-load'],
    ['low-rank projections', [lowrank('dense', 4)], 'factorized'],
    ['low-rank tables', [lowrank('embeddings', 4)], 'factorized'],
    ['heads 0.5', [prune('heads')], 'shrunk'],
    ['ffn 0.5', [prune('ffn')], 'shrunk'],
    ['layers 0.5', [prune('layers')], 'shrunk'],
    ['heads 0.5 + ffn 0.75 + layers 0.5', [prune('heads'), prune('ffn', 0.75), prune('layers')], 'shrunk'],
  ]
  for (const [name, steps, execution] of floatForms) {
    it(`${name}: ORT = reference = tfjs within ${FLOAT_TOL}; ${execution} in the optimized graph`, async () => {
      const c = make(steps)
      const fw = toFloatWeights(c)
      const ref = sasrecReferenceScores(fw, seqs)
      const bytes = exportOnnx(c)
      const {scores, optimized} = await runOnnx(bytes, seqs, name.replace(/\W+/g, '-'))
      expect(maxAbsDiff(scores, ref)).toBeLessThan(FLOAT_TOL)
      expect(maxAbsDiff(scoreSequences({...fw, kind: 'sasrec'}, seqs), ref)).toBeLessThan(FLOAT_TOL)
      const graph = graphExecutionOf(optimized, bytes)
      expect(graph.execution).toBe(execution)
      expect(executionOf(c).execution).toBe(execution)
      expect(graph.integerMatMuls).toEqual([])
      // the compress-stage account and the measured graph agree, weight by weight (no stale claim left beside a measured note)
      const claim = executionOf(c)
      expect(measuredExecution(claim, graph).notes).toEqual([...new Set(graph.notes)])
      if (execution === 'factorized') {
        // the factors are multiplied per request, not rebuilt at load
        expect(graph.notes.some((n) => /executed as two MatMuls/.test(n))).toBe(true)
        if (name.includes('tables')) expect(graph.notes).toContain('item_emb: rank 4 factors, executed as two MatMuls')
      }
      if (execution === 'fp16-storage') expect(graph.notes).toContain('item_emb: float16 in the file, cast to float32 at session load; float32 compute')
    })
  }

  const DENSE_INT8 = ['layer_0.qkv.kernel', 'layer_0.attn_out.kernel', 'layer_0.ffn1.kernel', 'layer_0.ffn2.kernel', 'layer_1.kv.kernel']
  const int8Forms: [string, Step[], string[]][] = [
    // the last block's single-row projections (its query, attention output, feed-forward) are dequantized at load
    ['int8 per channel, all', [q({})], ['item_emb', ...DENSE_INT8]],
    ['int8 per tensor asymmetric, all', [q({granularity: 'per_tensor', symmetric: false})], ['item_emb', ...DENSE_INT8]],
    ['int8 dense only', [q({target: 'dense'})], DENSE_INT8],
    ['int8 tables only', [q({target: 'embeddings'})], ['item_emb']],
    ['heads 0.5, then int8', [prune('heads'), q({})], ['item_emb', ...DENSE_INT8]],
  ]
  for (const [name, steps, kernels] of int8Forms) {
    it(`${name}: ORT = the static-int8 reference within ${INT8_SIM_TOL}, the float model within ${INT8_FLOAT_TOL} of the score spread; int8-kernel`, async () => {
      const c = make(steps)
      const bytes = exportOnnx(c)
      const meta = metadata(bytes)
      const act = JSON.parse(meta['rec.int8_activations']) as Record<string, SasrecActivationQuant>
      expect(Object.values(act).every((a) => a.coverage === 'random-histories')).toBe(true)
      expect(meta['rec.int8_calibration']).toMatch(/128 seeded random histories/)
      const {scores, optimized} = await runOnnx(bytes, seqs, name.replace(/\W+/g, '-'))
      const fw = toFloatWeights(c)
      const simulated = sasrecReferenceScores(fw, seqs, {activation: staticInt8Hook(act)})
      expect(maxAbsDiff(scores, simulated)).toBeLessThan(INT8_SIM_TOL)
      const unpruned = steps.length === 1 ? refFloat : sasrecReferenceScores(toFloatWeights(make(steps.slice(0, -1))), seqs)
      const err = maxAbsDiff(scores, unpruned)
      expect(err).toBeGreaterThan(0)
      expect(err / spread).toBeLessThan(INT8_FLOAT_TOL)

      const graph = graphExecutionOf(optimized, bytes)
      expect(graph.execution).toBe('int8-kernel')
      const claim = executionOf(c)
      const measured = measuredExecution(claim, graph).notes
      // every note about a weight is the graph's; the claim adds only its general notes (calibration, attention core)
      expect(measured.filter((n) => !graph.notes.includes(n))).toEqual(claim.notes.filter((n) => !/^[\w.]+: /.test(n)))
      expect(executionOf(c).execution).toBe('int8-kernel')
      expect([...graph.integerMatMuls].sort()).toEqual([...kernels].sort())
      expect(graph.ops.MatMulIntegerToFloat).toBe(graph.integerMatMuls.length)
      if (kernels.includes('layer_1.kv.kernel')) for (const k of ['q', 'attn_out', 'ffn1', 'ffn2']) expect(graph.foldedToFloat).toContain(`layer_1.${k}.kernel`)
      expect(graph.ops.DynamicQuantizeLinear ?? 0).toBe(0)
      expect(graph.notes).toContain('activations are quantized with constant scales calibrated at export (one per tensor): scores do not depend on the batch; inputs beyond the calibrated range saturate')
      if (steps.length === 1 && (steps[0].params as {target: string}).target === 'all') expect(graph.notes).toContain('pos_emb: int8 in the file, folded to float32 at session load (float32 compute)')

      // batch independence: each history alone gives its row of the batch exactly
      for (const b of [0, 5, B - 1]) {
        const alone = await runOnnx(bytes, seqs.subarray(b * L, (b + 1) * L), `${name.replace(/\W+/g, '-')}-${b}`)
        expect(maxAbsDiff(alone.scores, scores.subarray(b * I, (b + 1) * I))).toBe(0)
      }
    })
  }

  it('int8 calibrates on the histories it is given: ranges and metadata say so, and the graph follows them', async () => {
    const c = make([q({})])
    const calibration = randomHistories(I, L, 40, 5)
    const bytes = exportOnnx(c, {calibration})
    const meta = metadata(bytes)
    const act = JSON.parse(meta['rec.int8_activations']) as Record<string, SasrecActivationQuant>
    expect(meta['rec.int8_calibration']).toMatch(/40 of the given histories/)
    // the last block's keys and values read x; its query, attention output and feed-forward are float32 (one row)
    expect(Object.keys(act).sort()).toEqual(['item_emb', ...['attn_out', 'ffn1', 'ffn2', 'qkv'].map((s) => `layer_0.${s}.kernel`), 'layer_1.qkv.kernel'].sort())
    expect(Object.values(act).every((a) => a.coverage === 'histories' && a.lo <= 0 && a.hi >= 0 && a.scale > 0)).toBe(true)
    const other = JSON.parse(metadata(exportOnnx(c))['rec.int8_activations']) as Record<string, SasrecActivationQuant>
    expect(act['layer_0.ffn2.kernel'].hi).not.toBe(other['layer_0.ffn2.kernel'].hi)
    const {scores} = await runOnnx(bytes, seqs, 'calibrated')
    expect(maxAbsDiff(scores, sasrecReferenceScores(toFloatWeights(c), seqs, {activation: staticInt8Hook(act)}))).toBeLessThan(INT8_SIM_TOL)
  })

  it('int8 files hold under a third of the float32 bytes (scales and the graph are the rest); float16 about half', () => {
    // the item table dominates, as at ml-100k sizes; it is stored once in every form
    const big = randomSasrecWeights(1200, {hidden: 64, layers: 2, heads: 2, inner: 128, max_len: L}, 3)
    const w: ModelWeights = {kind: 'sasrec', numUsers: 0, numItems: 1200, params: big.params, tensors: big.tensors}
    const f32 = exportOnnx(fromWeights(w)).length
    const i8 = exportOnnx(compressVariant(w, {name: 'i8', steps: [q({})]}).model).length
    const f16 = exportOnnx(compressVariant(w, {name: 'f16', steps: [q({dtype: 'float16'})]}).model).length
    expect(f32 / i8).toBeGreaterThan(3.3)
    expect(f32 / f16).toBeGreaterThan(1.9)
  })

  it('FLOPs and params follow what the graph runs: pruning lowers both, int8 keeps them', () => {
    const f = (steps: Step[]) => flopsPerPair(make(steps))
    const p = (steps: Step[]) => paramCounts(make(steps)).total
    expect(f([q({})])).toBe(f([]))
    expect(p([q({})])).toBe(p([]))
    for (const s of [[prune('heads')], [prune('ffn')], [prune('layers')], [lowrank('dense', 2)]]) {
      expect(f(s)).toBeLessThan(f([]))
      expect(p(s)).toBeLessThan(p([]))
    }
  })
})
