import {describe, expect, it} from 'vitest'

import {modelSchema} from '../../src/config/schema.js'
import {halfStudent, searchSpace} from '../../src/search/space.js'
import {whySkip, type Try} from '../../src/search/search.js'

const neumf = modelSchema.parse({model: 'neumf', factors: 64, mlp_layers: [128, 64, 32]})

describe('searchSpace', () => {
  it('neumf: int8, the structured and low-rank ramps mildest first, ramp steps + int8, then a half-size student', () => {
    const space = searchSpace(neumf, {studentEpochs: 12, distill: true})
    expect(space.map((c) => c.spec.name)).toEqual([
      'int8',
      'structured-0.25-mlp',
      'structured-0.5-mlp',
      'structured-0.75-mlp',
      'lowrank-r32',
      'lowrank-r16',
      'lowrank-r8',
      'structured-0.25-mlp+int8',
      'structured-0.5-mlp+int8',
      'structured-0.75-mlp+int8',
      'lowrank-r32+int8',
      'lowrank-r16+int8',
      'lowrank-r8+int8',
      'distill-neumf-f32',
      'distill-neumf-f32+int8',
    ])
    const by = Object.fromEntries(space.map((c) => [c.spec.name, c]))
    expect(by['structured-0.5-mlp'].parents).toEqual(['structured-0.25-mlp'])
    expect(by['lowrank-r16+int8'].parents).toEqual(['lowrank-r16', 'int8', 'lowrank-r32+int8'])
    expect(by['distill-neumf-f32'].trains).toBe(true)
    expect(by['distill-neumf-f32'].spec.steps[0]).toMatchObject({method: 'distill', params: {epochs: 12, baseline: false, student: {model: 'neumf', factors: 32, mlp_layers: [64, 32, 16]}}})
    expect(searchSpace(neumf, {studentEpochs: 12, distill: false}).some((c) => c.family === 'distill')).toBe(false)
  })

  it('mf prunes embedding dimensions; sasrec feed-forward units, its student keeps heads dividing hidden', () => {
    expect(searchSpace(modelSchema.parse({model: 'mf', factors: 16}), {studentEpochs: 1, distill: false})[1].spec.name).toBe('structured-0.25-embeddings')
    expect(searchSpace(modelSchema.parse({model: 'sasrec', hidden: 64}), {studentEpochs: 1, distill: false})[1].spec.name).toBe('structured-0.25-ffn')
    expect(halfStudent(modelSchema.parse({model: 'sasrec', hidden: 48, heads: 4}))).toMatchObject({hidden: 24, inner: 128})
  })

  it('pop and gru4rec are config errors', () => {
    expect(() => searchSpace(modelSchema.parse({model: 'pop'}), {studentEpochs: 1, distill: true})).toThrow(/no weights to compress/)
    expect(() => searchSpace(modelSchema.parse({model: 'gru4rec'}), {studentEpochs: 1, distill: true})).toThrow(/no compression method/)
  })
})

describe('whySkip', () => {
  const space = Object.fromEntries(searchSpace(neumf, {studentEpochs: 1, distill: true}).map((c) => [c.spec.name, c]))
  const t = (name: string, decision: Try['decision'], valid?: number, drop?: number): Try => ({step: 1, name, family: 'x', steps: [], decision, reason: '', seconds: {compress: 0, validate: 0, latency: 0, total: 0}, valid, drop})
  const feasible = (x: Try | undefined) => x?.decision === 'best-so-far' || x?.decision === 'feasible'
  const skip = (name: string, tries: Try[], best?: Try) => whySkip(space[name], new Map(tries.map((x) => [x.name, x])), best, 0.3, 0.01, feasible)

  it('nothing measured: make it', () => {
    expect(skip('int8', [])).toBeUndefined()
    expect(skip('distill-neumf-f32', [])).toBeUndefined()
  })

  it('a milder form that lost too much, was skipped or failed ends its ramp and its pipelines', () => {
    const lossy = t('structured-0.25-mlp', 'too-lossy', 0.29, 0.033)
    expect(skip('structured-0.5-mlp', [lossy])).toBe('its milder form structured-0.25-mlp already drops 3.3% > 1.0%')
    expect(skip('structured-0.25-mlp+int8', [lossy])).toMatch(/structured-0.25-mlp already drops/)
    expect(skip('structured-0.75-mlp', [t('structured-0.5-mlp', 'skipped')])).toBe('its milder form structured-0.5-mlp was skipped')
    expect(skip('lowrank-r16', [t('lowrank-r32', 'failed')])).toBe('its milder form lowrank-r32 failed')
  })

  it('a milder form that already fits: a stronger one can only lose metric', () => {
    const fits = t('lowrank-r32', 'best-so-far', 0.299, 0.003)
    expect(skip('lowrank-r16', [fits], fits)).toMatch(/lowrank-r32 already meets the budget/)
    // int8 fits: no pipeline adds anything
    const int8 = t('int8', 'best-so-far', 0.2995, 0.002)
    expect(skip('lowrank-r32+int8', [int8, t('lowrank-r32', 'over-budget', 0.2999, 0.0003)], int8)).toMatch(/int8 already meets the budget/)
  })

  it('cannot beat the best: bounded by its milder forms, else by the base; a student is not trained once something fits', () => {
    const best = t('lowrank-r32', 'best-so-far', 0.2985, 0.005)
    const over = t('structured-0.25-mlp', 'over-budget', 0.298, 0.0067)
    expect(skip('structured-0.5-mlp', [over, best], best)).toBe("cannot beat lowrank-r32 (0.2985): expected at most 0.2980, its milder form structured-0.25-mlp's")
    // no measured milder form: bounded by the base (0.3), which a best of 0.2985 does not reach
    expect(skip('structured-0.25-mlp', [best], best)).toBeUndefined()
    expect(skip('structured-0.25-mlp', [t('int8', 'best-so-far', 0.3, 0)], t('int8', 'best-so-far', 0.3, 0))).toBe("cannot beat int8 (0.3000): expected at most 0.3000, the base's")
    expect(skip('distill-neumf-f32', [best], best)).toBe('a feasible variant (lowrank-r32) is known and a student costs a full training')
  })
})
