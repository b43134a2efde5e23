/**
 * Distillation through the CLI (`rec run --json`, as a user runs it): a distilled student and its
 * scratch baseline are rows of the results, under the run-result schema, with what distillation
 * bought against the baseline; a pipeline compresses the student further; a teacher and student of
 * different protocols stop the run before training (exit 2).
 */
import {mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {RunResult, VariantResult} from '../../src/run/pipeline.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {findDirs, loadSchema, parseJson, tempDir, tinyYaml, writeExperiment} from '../commands/fixtures.js'
import {checkSchema} from '../commands/schema-check.js'

let tmp: string
let pair: CliResult
let seq: CliResult
let bad: CliResult
let badOut: string

const SEQ_YAML = [
  'name: seqtiny',
  'seed: 42',
  'data:',
  '  format: synth',
  '  synth: {users: 80, items: 60, interactions: 2000, factors: 8, seed: 7}',
  'split: {method: leave_one_out, order: latest}',
  'models:',
  '  - {model: sasrec, hidden: 16, layers: 1, heads: 2, inner: 32, max_len: 10}',
  'train: {epochs: 2, batch_size: 320}',
  'eval:',
  '  latency: {requests: 5, warmup: 1, batch: 16}',
  'compress:',
  '  variants:',
  '    - {name: small, distill: {student: {model: sasrec, hidden: 8, layers: 1, heads: 1, inner: 16}, epochs: 2}}',
  '',
].join('\n')

beforeAll(async () => {
  tmp = tempDir('distill')
  const pairFile = writeExperiment(
    tmp,
    'pair.yaml',
    tinyYaml({
      name: 'kd',
      models: ['{model: mf, factors: 16}'],
      variants: ['{distill: {student: {model: mf, factors: 4}, temperature: 2, alpha: 0.5}}', '{name: kd-int8, pipeline: [{distill: {student: {model: mf, factors: 4}, baseline: false}}, {quantize: {dtype: int8}}]}'],
    }),
  )
  const seqFile = writeExperiment(tmp, 'seq.yaml', SEQ_YAML)
  mkdirSync(join(tmp, 'bad'))
  const badFile = writeExperiment(join(tmp, 'bad'), 'bad.yaml', SEQ_YAML.replace('{model: sasrec, hidden: 8, layers: 1, heads: 1, inner: 16}', '{model: mf, factors: 8}'))
  badOut = join(tmp, 'bad', 'runs')
  ;[pair, seq, bad] = await Promise.all([
    runCli(['run', pairFile, '--json', '--out', join(tmp, 'runs')]),
    runCli(['run', seqFile, '--json', '--out', join(tmp, 'runs')]),
    runCli(['run', badFile, '--json', '--out', badOut]),
  ])
}, 90_000)

afterAll(() => {
  if (tmp) rmSync(tmp, {recursive: true, force: true})
})

const byName = (r: RunResult) => Object.fromEntries(r.variants.map((v) => [v.name, v])) as Record<string, VariantResult>

describe('rec run with distillation variants', () => {
  it('pair models: the distilled student and its scratch baseline are rows, under the run-result schema', () => {
    if (pair.code !== 0) throw new Error(`rec run failed (${pair.code}):\n${pair.stdout}\n${pair.stderr}`)
    const result = parseJson(pair.stdout) as RunResult
    expect(checkSchema(result, loadSchema('run-result'))).toEqual([])
    expect(result.variants.map((v) => v.name)).toEqual(['base', 'distill-mf-f4', 'distill-mf-f4-scratch', 'kd-int8'])
    const v = byName(result)
    const kd = v['distill-mf-f4']
    const scratch = v['distill-mf-f4-scratch']
    expect(kd).toMatchObject({method: 'distill', architecture: 'mf', execution: 'float32', params: (150 + 100) * 4, epochs: 3})
    expect(kd.distill).toMatchObject({teacher: 'mf', student: 'mf', scratch: false, temperature: 2, alpha: 0.5, epochs: 3, scratchVariant: 'distill-mf-f4-scratch'})
    expect(kd.notes[0]).toBe('distilled from mf (T 2, alpha 0.5, 3 epochs)')
    expect(scratch).toMatchObject({method: 'distill.scratch', architecture: 'mf', execution: 'float32', params: kd.params})
    expect(scratch.distill).toMatchObject({scratch: true, alpha: 1, distilledVariant: 'distill-mf-f4'})
    // what distillation bought: the student against its baseline, beside the deltas against the teacher
    expect(kd.versusScratch?.variant).toBe('distill-mf-f4-scratch')
    expect(kd.versusScratch?.deltas['ndcg@10'].abs).toBeCloseTo(kd.metrics['ndcg@10'] - scratch.metrics['ndcg@10'], 12)
    expect(kd.deltas?.['ndcg@10'].abs).toBeCloseTo(kd.metrics['ndcg@10'] - v.base.metrics['ndcg@10'], 12)
    expect(scratch.versusScratch).toBeUndefined()
    // the pipeline: the distilled student, quantized
    expect(v['kd-int8']).toMatchObject({method: 'pipeline', architecture: 'mf', execution: 'int8-kernel'})
    expect(v['kd-int8'].distill?.scratchVariant).toBeUndefined()
    expect(v['kd-int8'].sizeBytesOnnx).toBeLessThan(kd.sizeBytesOnnx)
  })

  it('sequential: a sasrec student of a sasrec teacher, smaller and cheaper per request', () => {
    if (seq.code !== 0) throw new Error(`rec run failed (${seq.code}):\n${seq.stdout}\n${seq.stderr}`)
    const result = parseJson(seq.stdout) as RunResult
    expect(checkSchema(result, loadSchema('run-result'))).toEqual([])
    expect(result.variants.map((v) => `${v.name}:${v.method}:${v.architecture}`)).toEqual(['base:none:sasrec', 'small:distill:sasrec', 'small-scratch:distill.scratch:sasrec'])
    const v = byName(result)
    expect(v.small.params).toBeLessThan(v.base.params)
    expect(v.small.flopsPerPair).toBeLessThan(v.base.flopsPerPair)
    expect(v.small.onnxMaxAbsDiff).toBeLessThanOrEqual(1e-4)
    expect(v.small.versusScratch?.variant).toBe('small-scratch')
  })

  it('a pair student for a sequential teacher: exit 2 before any training, naming what works', () => {
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe('')
    const e = parseJson(bad.stdout).error
    expect(e.exitCode).toBe(2)
    expect(`${e.message} ${e.details.join(' ')}`).toMatch(/a sasrec teacher \(sequential.*cannot teach a mf student/)
    expect(`${e.message} ${e.details.join(' ')} ${e.hint ?? ''}`).toMatch(/a sequential teacher \(sasrec, gru4rec\) teaches a sequential student/)
    expect(findDirs(badOut, 'models')).toEqual([])
  })
})
