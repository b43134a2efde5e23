/**
 * evaluateVariant (src/run/evaluate-stage.ts) on a tiny saved MF model, in-process (no CLI spawn):
 * the float32 ONNX check, and the files a run keeps so that every number can be recomputed.
 */
import {mkdtempSync} from 'node:fs'
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
import {tinyModel} from '../compress/fixtures.js'
import {interactions} from './fixtures.js'

const USERS = 30
const ITEMS = 20

/** user u: train (u, u+1, u+2), validation u+4, test u+3 (mod 20) */
function ringSplit(): Split {
  const pairs = (offsets: number[]) => Array.from({length: USERS}, (_, u) => offsets.map((o) => [u, (u + o) % ITEMS] as [number, number])).flat()
  return {train: interactions(pairs([0, 1, 2]), USERS, ITEMS), valid: interactions(pairs([4]), USERS, ITEMS), test: interactions(pairs([3]), USERS, ITEMS)}
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
