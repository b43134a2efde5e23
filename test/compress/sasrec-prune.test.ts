/**
 * Structured pruning of SASRec: what is removed (heads by their output norm, feed-forward units by
 * weight norms, blocks by the change of the scores), that the model really shrinks (params and FLOPs
 * fall, execution shrunk), that shrunk weights fine-tune, and the config errors of targets a model lacks.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {variantSchema, type VariantConfig} from '../../src/config/schema.js'
import {executionOf, flopsPerPair, paramCounts, sasrecRequestFlops} from '../../src/compress/accounting.js'
import {compressVariant, validateVariants, type Step} from '../../src/compress/registry.js'
import {randomHistories} from '../../src/compress/sasrec-calibrate.js'
import {fromWeights, shapesOf, toFloatWeights} from '../../src/compress/tensors.js'
import {RecError} from '../../src/errors.js'
import {randomSasrecWeights, sasrecGeometry} from '../../src/models/sasrec-reference.js'
import type {ModelWeights, Tensor32} from '../../src/models/types.js'
import {trainModel} from '../../src/train/train.js'
import {modelConfig, plantedSplit, trainConfig, uniformNegatives} from '../models/synthetic.js'
import {tinyModel} from './fixtures.js'

const I = 40
const L = 8
const params = {hidden: 16, layers: 3, heads: 4, inner: 32, max_len: L}

function sasrec(seed = 7, perturb = 0.2): ModelWeights {
  const w = randomSasrecWeights(I, params, seed, {std: 0.3, perturb})
  return {kind: 'sasrec', numUsers: 60, numItems: I, params: {...w.params, dropout: 0.1, loss: 'ce'}, tensors: w.tensors}
}

const prune = (target: string, sparsity: number): Step => ({method: 'prune', params: {method: 'structured', sparsity, target, scope: 'layer', norm: 'l2', schedule: 'oneshot'} as never})
const apply = (w: ModelWeights, ...steps: Step[]) => compressVariant(w, {name: 'v', steps})
const geometry = (w: ModelWeights) => sasrecGeometry(w.params, Object.fromEntries(Object.entries(w.tensors).map(([n, t]) => [n, t.shape])))
const zero = (t: Tensor32, from: number, to: number) => t.data.fill(0, from, to)

beforeAll(async () => {
  await initBackend('wasm')
})

describe('SASRec structured pruning: what goes', () => {
  it('heads: ⌊s·a⌋ per block, the head whose output is zero first; Q/K/V columns and attn_out rows go with it', () => {
    const w = sasrec()
    // head 2 of block 1 writes nothing: its rows of attn_out are zero
    const d = params.hidden / params.heads
    zero(w.tensors['layer_1.attn_out.kernel'], 2 * d * params.hidden, 3 * d * params.hidden)
    const {model, report} = apply(w, prune('heads', 0.3))
    const fw = toFloatWeights(model)
    const g = geometry(fw)
    expect(g.blocks.map((b) => b.heads)).toEqual([3, 3, 3]) // ⌊0.3·4⌋ = 1 per block
    expect(report.notes.find((n) => n.startsWith('layer_1:'))).toMatch(/4 → 3 heads, kept \[0, 1, 3\]/)
    expect(report.notes[0]).toMatch(/mean ‖head output‖ on 128 seeded random histories/)
    // the kept columns / rows are the original ones
    const q = w.tensors['layer_1.q.kernel']
    const q2 = fw.tensors['layer_1.q.kernel']
    expect(q2.shape).toEqual([16, 12])
    for (let r = 0; r < 16; r++) expect(Array.from(q2.data.subarray(r * 12 + 2 * d, r * 12 + 3 * d))).toEqual(Array.from(q.data.subarray(r * 16 + 3 * d, r * 16 + 4 * d)))
    expect(fw.tensors['layer_1.attn_out.kernel'].shape).toEqual([12, 16])
    expect(fw.tensors['layer_1.v.bias'].shape).toEqual([12])
    expect(apply(w, prune('heads', 0.5)).model.tensors['layer_0.k.kernel']).toMatchObject({tensor: {shape: [16, 8]}})
  })

  it('heads: importance is measured on the histories it is given', () => {
    const w = sasrec()
    const calibration = randomHistories(I, L, 30, 3)
    const r = compressVariant(w, {name: 'v', steps: [prune('heads', 0.5)]}, {calibration})
    expect(r.report.notes[0]).toMatch(/on 30 calibration histories/)
  })

  it('ffn: ⌊s·f⌋ units per block by ‖ffn1 column, bias‖·‖ffn2 row‖: a unit with a zero ffn2 row first', () => {
    const w = sasrec()
    const f2 = w.tensors['layer_0.ffn2.kernel']
    zero(f2, 5 * 16, 6 * 16) // unit 5 of block 0 feeds nothing
    const {model} = apply(w, prune('ffn', 1 / 32))
    const fw = toFloatWeights(model)
    expect(geometry(fw).blocks.map((b) => b.inner)).toEqual([31, 31, 31])
    // unit 5 is gone from block 0: ffn2 rows 0..4 and 6.. remain, in order
    expect(Array.from(fw.tensors['layer_0.ffn2.kernel'].data.subarray(5 * 16, 6 * 16))).toEqual(Array.from(f2.data.subarray(6 * 16, 7 * 16)))
    expect(fw.tensors['layer_0.ffn1.bias'].data[5]).toBe(w.tensors['layer_0.ffn1.bias'].data[6])
  })

  it('layers: ⌊s·n⌋ blocks, the one whose removal changes the scores least (an identity block) first, renumbered', () => {
    // LayerNorms at gamma 1 / beta 0 and block 1 writing nothing (attn_out, ffn2 zero): block 1 is the identity
    const w = sasrec(7, 0)
    for (const n of ['attn_out.kernel', 'attn_out.bias', 'ffn2.kernel', 'ffn2.bias']) w.tensors[`layer_1.${n}`].data.fill(0)
    const {model, report} = apply(w, prune('layers', 0.5)) // ⌊0.5·3⌋ = 1
    expect(report.notes[0]).toMatch(/^removed layer_1: the smallest relative change/)
    expect(report.notes.at(-1)).toBe('3 → 2 blocks (kept layer_0, layer_2, renumbered layer_0, layer_1)')
    expect(Object.keys(model.tensors).some((n) => n.startsWith('layer_2.'))).toBe(false)
    const s = model.tensors['layer_1.ffn1.kernel']
    expect(s.kind === 'float32' && s.tensor.data).toEqual(w.tensors['layer_2.ffn1.kernel'].data)
    expect(apply(w, prune('layers', 0.7)).model.tensors['layer_1.q.kernel']).toBeUndefined() // ⌊0.7·3⌋ = 2
  })
})

describe('SASRec structured pruning: the model shrinks', () => {
  it('params and FLOPs strictly decrease with heads, units and blocks removed; execution shrunk', () => {
    const w = sasrec()
    const base = fromWeights(w)
    const flops = flopsPerPair(base)
    const total = paramCounts(base).total
    for (const target of ['heads', 'ffn', 'layers']) {
      let [f, p] = [flops, total]
      for (const s of target === 'layers' ? [0.34, 0.67] : [0.25, 0.5, 0.75]) {
        const {model, report} = apply(w, prune(target, s))
        expect(report.execution).toBe('shrunk')
        expect(executionOf(model).execution).toBe('shrunk')
        expect(report.flopsPerPair, `${target} ${s}`).toBeLessThan(f)
        expect(report.paramsTotal, `${target} ${s}`).toBeLessThan(p)
        ;[f, p] = [report.flopsPerPair, report.paramsTotal]
      }
    }
    // the per-request count follows the shapes: one block of 4 heads costs what the formula says
    const one = apply(w, prune('layers', 0.7)).model
    const h = 16
    const perBlockLast = 2 * L * (2 * h * h + h) + (2 * h * h + h) + 4 * L * h + (2 * h * h + h) + (2 * h * 32 + 32) + (2 * 32 * h + h) + 2 * h
    expect(sasrecRequestFlops(one)).toBe(L * h + perBlockLast)
  })

  it('shrunk weights fine-tune (the compress stage trains them from the pruned init)', async () => {
    const w = sasrec(5, 0)
    const pruned = toFloatWeights(apply(w, prune('heads', 0.5), prune('ffn', 0.5), prune('layers', 0.34)).model)
    expect(geometry(pruned).blocks).toEqual([{heads: 2, width: 8, inner: 16}, {heads: 2, width: 8, inner: 16}])
    const r = await trainModel({
      model: modelConfig('sasrec', {hidden: 16, layers: 3, heads: 4, inner: 32, dropout: 0.1, max_len: L, loss: 'ce'}),
      train: trainConfig({epochs: 2, lr: 0.01, batch_size: 32}),
      negatives: uniformNegatives,
      split: plantedSplit(60, I),
      seed: 1,
      init: pruned,
    })
    expect(r.epochs).toBe(2)
    for (const [name, t] of Object.entries(pruned.tensors)) expect(r.weights.tensors[name].shape, name).toEqual(t.shape)
    expect(Object.keys(r.weights.tensors).sort()).toEqual(Object.keys(pruned.tensors).sort())
    expect(r.weights.tensors['layer_1.q.kernel'].data).not.toEqual(pruned.tensors['layer_1.q.kernel'].data)
    expect(r.history.every((e) => Number.isFinite(e.loss))).toBe(true)
    expect(r.history[1].loss).toBeLessThan(r.history[0].loss)
  })
})

describe('SASRec structured pruning: config errors (exit 2)', () => {
  const V = (v: unknown): VariantConfig => variantSchema.parse(v)
  function configFailure(fn: () => unknown, code: string, pattern: RegExp) {
    try {
      fn()
    } catch (err) {
      expect(err).toBeInstanceOf(RecError)
      expect((err as RecError).exitCode).toBe(2)
      expect((err as RecError).code).toBe(code)
      expect((err as RecError).message).toMatch(pattern)
      return
    }
    throw new Error('expected a config error')
  }
  it('targets a model lacks, and targets of the other method', () => {
    const mf = tinyModel('mf')
    const s = sasrec()
    configFailure(() => validateVariants([V({prune: {method: 'structured', sparsity: 0.5, target: 'heads'}})], 'mf', shapesOf(mf)), 'compress.not_applicable', /target heads applies to sasrec.*model mf has no heads/)
    configFailure(() => validateVariants([V({prune: {method: 'structured', sparsity: 0.5, target: 'layers'}})], 'neumf', shapesOf(tinyModel('neumf'))), 'compress.not_applicable', /target layers applies to sasrec/)
    configFailure(() => validateVariants([V({prune: {method: 'structured', sparsity: 0.5, target: 'mlp'}})], 'sasrec', shapesOf(s)), 'compress.not_applicable', /structured pruning of sasrec removes attention heads.*target mlp does not apply/)
    configFailure(() => validateVariants([V({prune: {method: 'magnitude', sparsity: 0.5, target: 'ffn'}})], 'sasrec', shapesOf(s)), 'compress.bad_value', /target ffn .* is a structured-pruning target/)
    expect(variantSchema.safeParse({prune: {method: 'structured', sparsity: 0.5, target: 'neurons'}}).success).toBe(false)
    // what works: the new targets on sasrec, the old ones elsewhere, magnitude pruning of sasrec
    expect(validateVariants([V({prune: {method: 'structured', sparsity: [0.25, 0.5], target: 'heads'}}), V({prune: {method: 'structured', sparsity: 0.5, target: 'ffn'}}), V({prune: {method: 'magnitude', sparsity: 0.5}})], 'sasrec', shapesOf(s)).map((v) => v.name)).toEqual([
      'structured-0.25-heads',
      'structured-0.5-heads',
      'structured-0.5-ffn',
      'magnitude-0.5',
    ])
    expect(validateVariants([V({prune: {method: 'structured', sparsity: 0.5, target: 'embeddings'}})], 'mf', shapesOf(mf))).toHaveLength(1)
  })
})
