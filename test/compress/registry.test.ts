import {describe, expect, it} from 'vitest'
import type {VariantConfig} from '../../src/config/schema.js'
import {variantSchema} from '../../src/config/schema.js'
import {compressVariant, expandVariants, validateVariants} from '../../src/compress/registry.js'
import {shapesOf} from '../../src/compress/tensors.js'
import {RecError} from '../../src/errors.js'
import {tinyModel} from './fixtures.js'

const V = (v: unknown): VariantConfig => variantSchema.parse(v)

function configFailure(fn: () => unknown, pattern: RegExp) {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(RecError)
    expect((err as RecError).kind).toBe('config')
    expect((err as RecError).exitCode).toBe(2)
    expect((err as RecError).message).toMatch(pattern)
    return
  }
  throw new Error('expected a config error')
}

describe('variant expansion', () => {
  it('expands lists into one variant each with generated names', () => {
    const specs = expandVariants([
      V({name: 'int8', quantize: {dtype: 'int8'}}),
      V({quantize: {dtype: 'int4', target: 'embeddings'}}),
      V({prune: {method: 'magnitude', sparsity: [0.5, 0.7, 0.9], scope: 'global'}}),
      V({lowrank: {rank: [8, 16]}}),
      V({lowrank: {energy: 0.9}}),
      V({name: 'sp', prune: {method: 'structured', sparsity: [0.25, 0.5], target: 'mlp'}}),
      V({pipeline: [{prune: {method: 'structured', sparsity: 0.5}}, {quantize: {dtype: 'int8'}}]}),
    ])
    expect(specs.map((s) => s.name)).toEqual([
      'int8', 'int4-emb', 'magnitude-0.5', 'magnitude-0.7', 'magnitude-0.9', 'lowrank-r8', 'lowrank-r16', 'lowrank-e0.9', 'sp-0.25', 'sp-0.5', 'structured-0.5+int8',
    ])
    expect(specs.at(-1)!.steps.map((s) => s.method)).toEqual(['prune', 'quantize'])
  })

  it('rejects duplicate names and lists inside a pipeline', () => {
    configFailure(() => expandVariants([V({quantize: {dtype: 'int8'}}), V({quantize: {dtype: 'int8', granularity: 'per_channel'}})]), /two compression variants are named "int8"/)
    configFailure(() => expandVariants([V({pipeline: [{prune: {method: 'magnitude', sparsity: [0.5, 0.6]}}]})]), /one value, not a list/)
    configFailure(() => expandVariants([V({})]), /exactly one of/)
  })
})

describe('validation before any work (config errors, exit 2)', () => {
  const neumf = tinyModel('neumf')
  const mf = tinyModel('mf', {d: 8})
  const pop = tinyModel('pop')
  it('impossible values', () => {
    // the schema already refuses sparsity 1.0; the registry refuses it too when given unparsed values
    expect(variantSchema.safeParse({prune: {method: 'magnitude', sparsity: 1}}).success).toBe(false)
    configFailure(() => validateVariants([{prune: {method: 'magnitude', sparsity: 1, scope: 'layer', target: 'all', norm: 'l2', schedule: 'oneshot'}}], 'mf', shapesOf(mf)), /sparsity must be in \[0, 1\)/)
    configFailure(() => validateVariants([V({lowrank: {rank: 9}})], 'mf', shapesOf(mf)), /rank 9 is above the smaller dimension/)
    configFailure(() => validateVariants([V({lowrank: {rank: 17}})], 'neumf', shapesOf(neumf)), /rank 17/)
  })

  it('methods that do not apply to the model', () => {
    configFailure(() => validateVariants([V({lowrank: {rank: 2}})], 'pop', shapesOf(pop)), /lowrank does not apply to model pop/)
    configFailure(() => validateVariants([V({prune: {method: 'magnitude', sparsity: 0.5}})], 'pop', shapesOf(pop)), /does not apply to model pop/)
    configFailure(() => validateVariants([V({prune: {method: 'structured', sparsity: 0.5, target: 'mlp'}})], 'mf', shapesOf(mf)), /no dense layers/)
    configFailure(() => validateVariants([V({lowrank: {rank: 2, target: 'dense'}})], 'mf', shapesOf(mf)), /no dense layers/)
    configFailure(() => validateVariants([V({quantize: {dtype: 'int4', target: 'dense'}})], 'neumf', shapesOf(neumf)), /int4 is for embedding tables/)
    configFailure(() => validateVariants([V({prune: {method: 'structured', sparsity: 0.5, scope: 'global'}})], 'neumf', shapesOf(neumf)), /scope global/)
  })

  it('pipeline order', () => {
    configFailure(() => validateVariants([V({pipeline: [{quantize: {dtype: 'int8'}}, {prune: {method: 'magnitude', sparsity: 0.5}}]})], 'neumf', shapesOf(neumf)), /quantize must be the last step/)
    configFailure(() => validateVariants([V({pipeline: [{lowrank: {rank: 2}}, {prune: {method: 'structured', sparsity: 0.5}}]})], 'neumf', shapesOf(neumf)), /structured pruning must come before/)
  })

  it('valid variants pass and come back expanded', () => {
    const specs = validateVariants([V({lowrank: {rank: [2, 4]}}), V({quantize: {dtype: 'float16'}})], 'neumf', shapesOf(neumf))
    expect(specs).toHaveLength(3)
  })
})

describe('variant reports', () => {
  const w = tinyModel('neumf', {users: 40, items: 30, d: 8, mlp: [16, 8]})
  const run = (v: unknown) => {
    const [spec] = expandVariants([V(v)])
    return compressVariant(w, spec).report
  }
  it('magnitude 0.9: non-zero ≈ 10% of prunable params, sparse-zeros, same FLOPs', () => {
    const base = run({quantize: {dtype: 'float16'}})
    const r = run({prune: {method: 'magnitude', sparsity: 0.9, scope: 'global'}})
    expect(r.execution).toBe('sparse-zeros')
    const biases = 16 + 8 + 1 // mlp_0.bias, mlp_1.bias, out.bias: not pruned
    expect(r.paramsNonZero - biases).toBe(Math.round((r.paramsTotal - biases) * 0.1))
    expect(r.flopsPerPair).toBe(base.flopsPerPair)
    expect(r.notes.join(' ')).toMatch(/no speed-up claimed/)
  })
  it('execution names what runs', () => {
    expect(run({quantize: {dtype: 'int8'}}).execution).toBe('int8-kernel')
    expect(run({quantize: {dtype: 'int4', target: 'embeddings'}}).execution).toBe('dequantized-at-load')
    expect(run({quantize: {dtype: 'float16'}}).execution).toBe('fp16-storage')
    expect(run({lowrank: {rank: 2}}).execution).toBe('factorized')
    expect(run({prune: {method: 'structured', sparsity: 0.5}}).execution).toBe('shrunk')
    const p = run({pipeline: [{prune: {method: 'structured', sparsity: 0.5}}, {quantize: {dtype: 'int8'}}]})
    expect(p.method).toBe('pipeline')
    expect(p.execution).toBe('int8-kernel')
    expect(p.notes.some((n) => n.startsWith('structured-0.5: '))).toBe(true)
    expect(p.compressSeconds).toBeGreaterThanOrEqual(0)
  })
})
