/**
 * Reproducible runs (issue 5): the same experiment in two processes gives byte-identical metrics
 * and split files; a second `rec run` reuses every finished stage; eval.* changes re-run only the
 * evaluation; --force and --from re-run what they say.
 */
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {metricsBytes, runJson, tempDir, tinyYaml, writeYaml, type RunJson} from './helpers.js'

let dir: string
let exp: string
let a: RunJson
let b: RunJson

beforeAll(async () => {
  dir = tempDir('determinism')
  exp = writeYaml(dir, 'tiny.yaml', tinyYaml())
  // two separate processes, two separate output folders
  const [ra, rb] = await Promise.all([runJson(['run', exp, '--out', join(dir, 'a')]), runJson(['run', exp, '--out', join(dir, 'b')])])
  expect(ra.code, ra.stderr).toBe(0)
  expect(rb.code, rb.stderr).toBe(0)
  a = ra.json
  b = rb.json
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('determinism across processes', () => {
  it('two processes give byte-identical metrics for every variant', () => {
    expect(a.runDir).not.toBe(b.runDir)
    expect(a.cached).toEqual([])
    expect(b.cached).toEqual([])
    const ma = metricsBytes(a)
    expect(Object.keys(ma)).toEqual(['mf/base'])
    expect(metricsBytes(b)).toEqual(ma)
    // and the numbers are real numbers, not an empty or degenerate table
    const m = a.variants[0].metrics
    expect(m['ndcg@10']).toBeGreaterThan(0)
    expect(m['ndcg@10']).toBeLessThan(1)
    expect(Object.keys(m)).toContain('recall@10')
  })

  it('two processes write byte-identical split files and the same stage keys', () => {
    for (const part of ['train', 'valid', 'test']) {
      const fa = readFileSync(join(a.runDir, 'data', 'split', `${part}.bin`))
      const fb = readFileSync(join(b.runDir, 'data', 'split', `${part}.bin`))
      expect(fa.length).toBeGreaterThan(16)
      expect(fa.equals(fb), `${part}.bin differs`).toBe(true)
    }
    expect(readFileSync(join(a.runDir, 'data', 'split', 'idmap.json'), 'utf8')).toBe(readFileSync(join(b.runDir, 'data', 'split', 'idmap.json'), 'utf8'))
    expect(b.keys).toEqual(a.keys)
    // the run id is derived from what decides training: the same in both output folders
    expect(b.runDir.split('/').at(-1)).toBe(a.runDir.split('/').at(-1))
  })

  it('the manifest records what decides the result', () => {
    const m = JSON.parse(readFileSync(join(a.runDir, 'manifest.json'), 'utf8'))
    expect(m).toMatchObject({
      seed: 42,
      configHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      datasetFingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      node: process.version,
      rec: expect.any(String),
      backend: {name: expect.any(String)},
      packages: expect.objectContaining({'@tensorflow/tfjs': expect.any(String)}),
    })
    const mb = JSON.parse(readFileSync(join(b.runDir, 'manifest.json'), 'utf8'))
    expect(mb.configHash).toBe(m.configHash)
    expect(mb.datasetFingerprint).toBe(m.datasetFingerprint)
  })
})

// sequential: each step changes what the next one finds in run dir a
describe('stage cache', () => {
  const run = (...extra: string[]) => runJson(['run', exp, '--out', join(dir, 'a'), ...extra])

  it('a second run of the same experiment reuses every stage and gives identical metrics', async () => {
    const r = await run()
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.runDir).toBe(a.runDir)
    expect(r.json.cached).toEqual(['data', 'train:mf', 'eval:mf/base'])
    expect(metricsBytes(r.json)).toEqual(metricsBytes(a))
  })

  it('changing only eval.k re-runs only the evaluation', async () => {
    const r = await run('--set', 'eval.k=[5]')
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.runDir).toBe(a.runDir)
    expect(r.json.cached).toEqual(['data', 'train:mf'])
    expect(r.json.cached.some((s) => s.startsWith('eval:'))).toBe(false)
    const metrics = r.json.variants[0].metrics
    expect(Object.keys(metrics)).toContain('ndcg@5')
    expect(Object.keys(metrics)).not.toContain('ndcg@10')
    // the k-independent metrics come from the same model and protocol: unchanged
    expect(metrics.auc).toBe(a.variants[0].metrics.auc)
  })

  it('--force re-runs every stage, and the result is again the same', async () => {
    const r = await run('--force')
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.cached).toEqual([])
    expect(metricsBytes(r.json)).toEqual(metricsBytes(a))
  })

  it('--from train re-runs train and eval but reuses the data stage', async () => {
    const r = await run('--from', 'train')
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.cached).toEqual(['data'])
    expect(metricsBytes(r.json)).toEqual(metricsBytes(a))
  })
})
