/**
 * Distillation variants as config: expansion (names, the scratch baseline), the method labels, and
 * the combinations that cannot work, each a config error (exit 2) naming what does.
 */
import {describe, expect, it} from 'vitest'

import {studentModelConfig} from '../../src/compress/distill.js'
import {expandVariants, methodLabel, validateVariants} from '../../src/compress/registry.js'
import {ignoredOptions} from '../../src/config/ignored.js'
import {resolveConfigFromObject} from '../../src/config/load.js'
import {variantSchema, type ModelConfig, type VariantConfig} from '../../src/config/schema.js'
import {RecError} from '../../src/errors.js'
import {getModelSpec} from '../../src/models/registry.js'

const V = (v: unknown): VariantConfig => variantSchema.parse(v)
const DIMS = {numUsers: 100, numItems: 100}
const model = (m: Partial<ModelConfig> & {model: ModelConfig['model']}): ModelConfig => ({factors: 64, loss: 'bpr', mlp_layers: [64, 32, 16], tower_layers: [64, 32], ...m})

/** validate variants against a teacher model config, as the config checks do */
function validate(teacher: ModelConfig, variants: unknown[]) {
  const shapes = getModelSpec(teacher.model).shapes(teacher, DIMS)
  return validateVariants(variants.map(V), teacher.model, shapes, {config: teacher, dims: DIMS})
}

function configFailure(fn: () => unknown, pattern: RegExp): RecError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(RecError)
    expect((err as RecError).kind).toBe('config')
    expect((err as RecError).exitCode).toBe(2)
    expect(`${(err as RecError).message} ${(err as RecError).hint ?? ''} ${(err as RecError).details.join(' ')}`).toMatch(pattern)
    return err as RecError
  }
  throw new Error('expected a config error')
}

const sasrec = model({model: 'sasrec'})
const mf = model({model: 'mf'})

describe('distill variants', () => {
  it('a distill variant is followed by its scratch baseline (alpha 1, no teacher), unless baseline: false', () => {
    const specs = expandVariants([
      V({distill: {student: {model: 'sasrec', hidden: 32, layers: 1}, epochs: 3}}),
      V({name: 'small', distill: {student: {model: 'mf', factors: 16}, baseline: false}}),
    ])
    expect(specs.map((s) => s.name)).toEqual(['distill-sasrec-h32-l1', 'distill-sasrec-h32-l1-scratch', 'small'])
    expect(specs.map(methodLabel)).toEqual(['distill', 'distill.scratch', 'distill'])
    const [kd, scratch] = specs
    expect(kd.steps[0]).toMatchObject({method: 'distill', params: {temperature: 2, alpha: 0.5, epochs: 3, baseline: true}})
    expect(scratch.steps[0]).toMatchObject({method: 'distill', params: {alpha: 1, temperature: 1, scratch: true, baseline: false, epochs: 3, student: kd.steps[0].params.student}})
    // another T or alpha: the same baseline (its stage key does not change, it is not retrained)
    const other = expandVariants([V({distill: {student: {model: 'sasrec', hidden: 32, layers: 1}, epochs: 3, temperature: 4, alpha: 0.1}})])
    expect(other[1]).toEqual(scratch)
  })

  it('a pipeline starting with distill compresses the student; its baseline runs the same steps on the scratch student', () => {
    const specs = expandVariants([V({pipeline: [{distill: {student: {model: 'mf', factors: 16}}}, {quantize: {dtype: 'int8'}}]})])
    expect(specs.map((s) => s.name)).toEqual(['distill-mf-f16+int8', 'distill-mf-f16+int8-scratch'])
    expect(specs.map(methodLabel)).toEqual(['pipeline', 'pipeline'])
    expect(specs[1].steps.map((s) => s.method)).toEqual(['distill', 'quantize'])
    // the steps after distill are checked against the student: rank 8 fits the teacher (64), not the student (4)
    configFailure(() => validate(mf, [{pipeline: [{distill: {student: {model: 'mf', factors: 4}}}, {lowrank: {rank: 8}}]}]), /rank 8 .*at most 4/)
    expect(validate(mf, [{pipeline: [{distill: {student: {model: 'mf', factors: 16}}}, {lowrank: {rank: 8}}]}])).toHaveLength(2)
  })

  it('distill must be the first step of a pipeline', () => {
    configFailure(() => validate(mf, [{pipeline: [{prune: {method: 'magnitude', sparsity: 0.5}}, {distill: {student: {model: 'mf', factors: 16}}}]}]), /distill must be the first step/)
    configFailure(() => validate(mf, [{pipeline: [{distill: {student: {model: 'mf', factors: 16}}}, {distill: {student: {model: 'mf', factors: 8}}}]}]), /distill must be the first step/)
    // structured pruning of the student after distill is fine
    expect(validate(model({model: 'neumf', mlp_layers: [16, 8]}), [{pipeline: [{distill: {student: {model: 'neumf', factors: 8, mlp_layers: [16, 8]}}}, {prune: {method: 'structured', sparsity: 0.5}}]}])).toHaveLength(2)
  })

  it('teacher and student must share the protocol: the message names what works', () => {
    const works = /sequential teacher \(sasrec, gru4rec\) teaches a sequential student .*pair teacher \(mf, neumf, two_tower\) teaches a pair student/
    const a = configFailure(() => validate(sasrec, [{distill: {student: {model: 'mf', factors: 16}}}]), /a sasrec teacher \(sequential.*cannot teach a mf student/)
    expect(a.hint).toMatch(works)
    configFailure(() => validate(mf, [{distill: {student: {model: 'sasrec', hidden: 32}}}]), /a mf teacher \(pair.*cannot teach a sasrec student/)
    configFailure(() => validate(model({model: 'neumf'}), [{distill: {student: {model: 'gru4rec'}}}]), works)
    configFailure(() => validate(model({model: 'pop'}), [{distill: {student: {model: 'mf'}}}]), /pop has no scores to learn from/)
    configFailure(() => validate(mf, [{distill: {student: {model: 'pop'}}}]), /pop student is not trained/)
    // mixed architectures within a protocol work
    expect(validate(sasrec, [{distill: {student: {model: 'gru4rec', hidden: 32}}}])).toHaveLength(2)
    expect(validate(model({model: 'neumf'}), [{distill: {student: {model: 'mf', factors: 8}}}])).toHaveLength(2)
  })

  it('a sequential student trains with a softmax, reads the teacher\'s max_len, and passes its model\'s own checks', () => {
    configFailure(() => validate(sasrec, [{distill: {student: {model: 'sasrec', loss: 'bce'}}}]), /loss ce/)
    configFailure(() => validate(model({model: 'sasrec', max_len: 30}), [{distill: {student: {model: 'sasrec', max_len: 50}}}]), /max_len must be the teacher's 30/)
    configFailure(() => validate(sasrec, [{distill: {student: {model: 'sasrec', hidden: 30, heads: 4}}}]), /student: sasrec hidden \(30\) must be divisible by heads \(4\)/)
    expect(studentModelConfig({student: V({distill: {student: {model: 'sasrec'}}}).distill!.student}, {max_len: 30}).max_len).toBe(30)
  })

  it('the config loader reports bad values and combinations with their path (exit 2)', () => {
    const cfg = (variant: unknown, m: unknown = {model: 'sasrec'}) => () =>
      resolveConfigFromObject({models: [m], split: {method: 'leave_one_out'}, compress: {variants: [variant]}})
    configFailure(cfg({distill: {student: {model: 'sasrec'}, alpha: 1.5}}), /alpha/)
    configFailure(cfg({distill: {student: {model: 'sasrec'}, temperature: 0}}), /temperature/)
    configFailure(cfg({distill: {student: {model: 'sasrec', name: 'x'}}}), /name/)
    configFailure(cfg({distill: {student: {model: 'mf'}}}), /compress\.variants\.0.*cannot teach a mf student/)
    expect(() => cfg({distill: {student: {model: 'sasrec', hidden: 32, layers: 1}}})()).not.toThrow()
  })

  it('config show marks the student options its architecture ignores', () => {
    const {config} = resolveConfigFromObject({
      models: [{model: 'neumf'}],
      compress: {variants: [{distill: {student: {model: 'mf', factors: 8}, alpha: 1}}, {pipeline: [{distill: {student: {model: 'neumf', loss: 'bpr'}}}, {quantize: {dtype: 'int8'}}]}]},
    })
    const ignored = ignoredOptions(config)
    expect(ignored['compress.variants.0.distill.student.mlp_layers']).toBe('only neumf uses mlp_layers')
    expect(ignored['compress.variants.0.distill.student.loss']).toBeUndefined()
    expect(ignored['compress.variants.0.distill.temperature']).toBe('alpha 1 gives the teacher no weight')
    expect(ignored['compress.variants.1.pipeline.0.distill.student.loss']).toBe('neumf always trains with bce')
    expect(ignored['compress.variants.1.pipeline.0.distill.student.mlp_layers']).toBeUndefined()
  })
})
