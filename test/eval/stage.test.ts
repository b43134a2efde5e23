/**
 * evaluateVariant (src/run/evaluate-stage.ts) on a tiny saved MF model, in-process (no CLI spawn):
 * the float32 ONNX check, and the files a run keeps so that every number can be recomputed.
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {configSchema, type RecConfig} from '../../src/config/schema.js'
import type {Split} from '../../src/data/types.js'
import {isRecError} from '../../src/errors.js'
import {saveModel} from '../../src/models/io.js'
import type {ModelWeights} from '../../src/models/types.js'
import {silentProgress} from '../../src/progress.js'
import {saveBaseOnnx} from '../../src/run/compress-stage.js'
import {evaluateVariant} from '../../src/run/evaluate-stage.js'
import {saveSplit} from '../../src/run/split-io.js'
import {repoRoot} from '../helpers/cli.js'
import {tinyModel} from '../compress/fixtures.js'
import {interactions} from './fixtures.js'

const USERS = 30
/** 120 items: sampled evaluation needs 99 distinct negatives per positive */
const ITEMS = 120

/** user u: train (u, u+1, u+2), validation u+4, test u+3 and u+5 (mod ITEMS) */
function ringSplit(): Split {
  const pairs = (offsets: number[]) => Array.from({length: USERS}, (_, u) => offsets.map((o) => [u, (u + o) % ITEMS] as [number, number])).flat()
  return {train: interactions(pairs([0, 1, 2]), USERS, ITEMS), valid: interactions(pairs([4]), USERS, ITEMS), test: interactions(pairs([3, 5]), USERS, ITEMS)}
}

function config(evalOver: Record<string, unknown> = {}): RecConfig {
  return configSchema.parse({name: 'stage', models: [{model: 'mf', factors: 8}], eval: {k: [10], latency: {requests: 4, warmup: 1, batch: 4}, ...evalOver}})
}

/** a run directory with the split and one base model whose ONNX file is exported from `exported` */
function runDir(saved: ModelWeights, exported: ModelWeights = saved): {root: string; dir: string} {
  const root = mkdtempSync(join(tmpdir(), 'rec-stage-'))
  saveSplit(join(root, 'data', 'split'), ringSplit())
  const dir = join(root, 'models', 'mf', 'base')
  saveModel(dir, saved)
  saveBaseOnnx(dir, exported)
  return {root, dir}
}

const variant = (dir: string) => ({model: 'mf', variant: 'base', dir})

beforeAll(async () => {
  await initBackend('wasm')
})

describe('float32 ONNX check', () => {
  it('an ONNX file that agrees with its weights is evaluated, its difference reported', async () => {
    const w = tinyModel('mf', {users: USERS, items: ITEMS})
    const {dir} = runDir(w)
    const {result} = await evaluateVariant(config(), ringSplit(), variant(dir), 'wasm', silentProgress)
    expect(result.execution).toBe('float32')
    expect(result.onnxMaxAbsDiff).toBeLessThanOrEqual(1e-4)
  })

  it('a float32 ONNX that disagrees with its weights beyond 1e-4 is a data error naming the file, the difference and the fix', async () => {
    const w = tinyModel('mf', {users: USERS, items: ITEMS})
    // the weights moved after the export (a stale model.onnx): user 0's first factor + 0.01
    const moved: ModelWeights = {...w, tensors: {...w.tensors, user_emb: {...w.tensors.user_emb, data: w.tensors.user_emb.data.map((x, j) => (j === 0 ? x + 0.01 : x))}}}
    const {dir} = runDir(moved, w)
    let err: unknown
    try {
      await evaluateVariant(config(), ringSplit(), variant(dir), 'wasm', silentProgress)
    } catch (e) {
      err = e
    }
    expect(isRecError(err) && err.exitCode).toBe(3)
    expect(isRecError(err) && err.code).toBe('model.onnx_mismatch')
    const message = (err as Error).message
    expect(message).toContain(join(dir, 'model.onnx'))
    // |Δscore| of user 0 = 0.01 · |item_emb[i][0]|, at most 0.01 · max_i |item_emb[i][0]|
    const diff = Number(/max \|ONNX − tfjs\| = ([0-9.e+-]+)/.exec(message)?.[1])
    const col0 = Array.from({length: ITEMS}, (_, i) => Math.abs(w.tensors.item_emb.data[i * 8]))
    expect(diff).toBeCloseTo(0.01 * Math.max(...col0), 5)
    expect((err as {hint?: string}).hint).toMatch(/rec run --from compress.*--from train/)
  })
})

/** the script of the README's "Auditing a run", between its markers, as a file */
function auditScript(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const m = /<!-- AUDIT-SCRIPT:BEGIN -->\n```js\n([\s\S]*?)```\n<!-- AUDIT-SCRIPT:END -->/.exec(readme)
  if (!m) throw new Error('README.md has no AUDIT-SCRIPT block')
  const file = join(mkdtempSync(join(tmpdir(), 'rec-audit-')), 'audit.mjs')
  writeFileSync(file, m[1])
  return file
}

describe('auditing a run: the README recipe recomputes the reported numbers exactly', () => {
  for (const mode of ['full', 'sampled'] as const) {
    it(`${mode}: NDCG@10, accuracy, precision, recall and F1 from draws/ and data/split`, async () => {
      const {root, dir} = runDir(tinyModel('mf', {users: USERS, items: ITEMS}))
      const {result} = await evaluateVariant(config({mode}), ringSplit(), variant(dir), 'wasm', silentProgress)
      const out = execFileSync(process.execPath, [auditScript(), root, 'mf/base'], {encoding: 'utf8'})
      const lines = out.trim().split('\n').map((l) => l.split(' '))
      expect(lines.map((l) => l[0])).toEqual(['ndcg@10', 'accuracy', 'precision', 'recall', 'f1'])
      for (const [name, recomputed, , verdict] of lines) {
        expect(Number(recomputed), name).toBe(result.metrics[name])
        expect(verdict).toBe('same')
      }
      // a model that is neither perfect nor useless: the recomputation is not trivially 0 or 1
      expect(result.metrics['ndcg@10']).toBeGreaterThan(0)
      expect(result.metrics['ndcg@10']).toBeLessThan(1)
      expect(readdirSync(join(dir, 'draws')).sort()).toEqual([mode === 'full' ? 'topk.bin' : 'sampled.bin', 'latency.bin', 'onnx-check.bin', 'pointwise.bin'].sort())
      expect(result.measurement.drawFiles).toEqual(readdirSync(join(dir, 'draws')).sort())
    })
  }

  it('latency.bin holds the raw samples the percentiles come from, and the measurement conditions are recorded', async () => {
    const {dir} = runDir(tinyModel('mf', {users: USERS, items: ITEMS}))
    const {result} = await evaluateVariant(config(), ringSplit(), variant(dir), 'wasm', silentProgress)
    const b = readFileSync(join(dir, 'draws', 'latency.bin'))
    expect(b.toString('latin1', 0, 8)).toBe('RECLATN1')
    const n = b.readUInt32LE(8)
    const m = b.readUInt32LE(12)
    expect([n, m]).toEqual([4, 3 * 4]) // 4 requests; 3 timed throughput batches of 4 users
    expect(b.length).toBe(16 + 8 * n + 4 * n + 4 * m)
    const ms = Array.from({length: n}, (_, r) => b.readDoubleLE(16 + 8 * r)).sort((x, y) => x - y)
    expect(result.latency.p50Ms).toBe(ms[1]) // nearest rank ⌈0.5 · 4⌉ = 2
    expect(result.latency.p99Ms).toBe(ms[3])
    const users = Array.from({length: n + m}, (_, r) => b.readInt32LE(16 + 8 * n + 4 * r))
    expect(users.every((u) => u >= 0 && u < USERS)).toBe(true)
    expect(result.measurement).toMatchObject({runtime: 'onnxruntime-cpu', threads: 1, latencyRequests: 4, latencyWarmup: 1, latencyBatch: 4, metricsBatchUsers: 256, onnxBatchUsers: 256, pointwisePairChunk: 65536})
    expect(result.measurement.loadAverageBefore).toHaveLength(3)
    expect(result.measurement.loadAverageAfter).toHaveLength(3)
    const check = readFileSync(join(dir, 'draws', 'onnx-check.bin'))
    expect([check.toString('latin1', 0, 8), check.readUInt32LE(8), check.length]).toEqual(['RECUSER1', USERS, 16 + 4 * USERS])
  })
})
