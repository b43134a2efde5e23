/**
 * `rec run` with the sequential models beside pop and mf under the leave-one-out protocol: one
 * results table, ONNX exports that agree with tfjs, the protocol stating the histories, and the
 * config errors a sequential model brings (a random split, heads that do not divide hidden).
 */
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {rmSync} from 'node:fs'

import type {RunResult} from '../../src/run/pipeline.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {loadSchema, parseJson, tempDir, writeExperiment} from './fixtures.js'
import {checkSchema} from './schema-check.js'

const yaml = (over: {split?: string; models?: string[]} = {}) =>
  [
    'name: tiny-seq',
    'seed: 42',
    'data: {format: synth, synth: {users: 60, items: 80, interactions: 1500, seed: 7}}',
    `split: ${over.split ?? '{method: leave_one_out, order: latest}'}`,
    'models:',
    ...(over.models ?? [
      '{model: pop}',
      '{model: mf, factors: 8}',
      '{model: sasrec, hidden: 16, layers: 1, heads: 2, inner: 32, max_len: 10, train: {batch_size: 320}}',
      '{model: gru4rec, factors: 16, hidden: 16, max_len: 12, train: {batch_size: 320}}',
    ]).map((m) => `  - ${m}`),
    'train: {epochs: 2}',
    'eval: {also_sampled: 20, latency: {requests: 5, warmup: 1, batch: 16}}',
    '',
  ].join('\n')

let tmp: string
let run: CliResult
let result: RunResult
beforeAll(async () => {
  tmp = tempDir('sequential')
  run = await runCli(['run', writeExperiment(tmp, 'seq.yaml', yaml()), '--json', '--out', join(tmp, 'runs')])
  if (run.code !== 0) throw new Error(`rec run failed (${run.code}):\n${run.stdout}\n${run.stderr}`)
  result = parseJson(run.stdout) as RunResult
}, 180_000)
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

describe('rec run with sasrec and gru4rec', () => {
  it('puts every model in one table, under the run-result schema', () => {
    expect(checkSchema(result, loadSchema('run-result'))).toEqual([])
    expect(result.variants.map((v) => `${v.model}:${v.architecture}:${v.name}`)).toEqual(['pop:pop:base', 'mf:mf:base', 'sasrec:sasrec:base', 'gru4rec:gru4rec:base'])
    for (const v of result.variants) {
      expect(v.metrics['ndcg@10']).toBeGreaterThanOrEqual(0)
      expect(v.metrics['ndcg@10']).toBeLessThanOrEqual(1)
      expect(v.latency.p50Ms).toBeGreaterThan(0)
    }
  })

  it('eval.also_sampled: each row also has the sampled protocol\'s metrics, never below the full-ranking ones, in their own column group', async () => {
    for (const v of result.variants) {
      expect(v.sampled?.negatives).toBe(20)
      expect(v.sampled?.description).toBe('1 positive + 20 sampled negatives')
      // a test item's rank among 20 sampled items is at most its rank among all items
      expect(v.sampled!.metrics['hr@10']).toBeGreaterThanOrEqual(v.metrics['hr@10'])
      expect(v.sampled!.metrics['ndcg@10']).toBeGreaterThanOrEqual(v.metrics['ndcg@10'])
    }
    const human = await runCli(['compare', result.runDir])
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('sampled 1+20')
    expect(human.stdout).toContain('Columns under "sampled 1+20" rank each test item against N sampled items the user never interacted with')
    const csv = await runCli(['compare', result.runDir, '--format', 'csv'])
    expect(csv.stdout.split('\n')[0]).toContain(',sampled_hr@10,sampled_ndcg@10')
  })

  it('exports sasrec and gru4rec to ONNX graphs that agree with tfjs within 1e-4, run in ONNX Runtime as float32', () => {
    for (const name of ['sasrec', 'gru4rec']) {
      const v = result.variants.find((x) => x.model === name)!
      expect(v.runtime).toBe('onnxruntime-cpu')
      expect(v.execution).toBe('float32')
      expect(v.onnxMaxAbsDiff).toBeLessThanOrEqual(1e-4)
      expect(v.flopsPerPair).toBeGreaterThan(0)
      expect(v.epochs).toBe(2)
    }
  })

  it('states what the sequential models see in the protocol', () => {
    expect(result.protocol.histories).toBe(
      "Sequential models (sasrec: last 10 items, gru4rec: last 12 items) read each user's items in time order (ties by input row), left-padded: train + validation items to predict the test item.",
    )
    expect(result.protocol.description).toContain('Sequential models (sasrec: last 10 items, gru4rec: last 12 items)')
  })
})

describe('config errors of sequential models (exit 2, before any work)', () => {
  it('a random split', async () => {
    const r = await runCli(['run', writeExperiment(tmp, 'random.yaml', yaml({split: '{method: random}'})), '--json', '--out', join(tmp, 'runs-random')])
    expect(r.code).toBe(2)
    const e = parseJson(r.stdout).error
    expect(e.code).toBe('config.sequential_split')
    expect(e.message).toMatch(/^`split\.method` at .*random\.yaml:4:\d+: /)
    expect(e.message).toContain('models sasrec, gru4rec are sequential (they predict the next item from the history in time order), but a random split has no time order')
    expect(e.hint).toContain('leave_one_out')
  })

  it('heads that do not divide hidden, and leave_one_out with random order', async () => {
    const file = writeExperiment(tmp, 'heads.yaml', yaml({split: '{method: leave_one_out, order: random}', models: ['{model: sasrec, hidden: 30, heads: 4}']}))
    const r = await runCli(['config', 'validate', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('sasrec hidden (30) must be divisible by heads (4)')
    expect(r.stderr).toContain("model sasrec is sequential (it predicts the next item from the history in time order), but leave_one_out with order random holds out random events, not each user's latest")
  })
})
