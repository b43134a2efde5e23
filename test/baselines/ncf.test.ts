import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {tf} from '../../src/backend/index.js'
import {fromWeights} from '../../src/compress/tensors.js'
import {resolveConfigFromObject} from '../../src/config/load.js'
import {configSchema, type ModelConfig} from '../../src/config/schema.js'
import {pairScores, type TensorMap} from '../../src/models/forward.js'
import {loadModel} from '../../src/models/io.js'
import {neumfFromPretrained} from '../../src/models/ncf.js'
import {initWeights} from '../../src/models/registry.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import type {ModelWeights, Scorer} from '../../src/models/types.js'
import {exportOnnx} from '../../src/onnx/export.js'
import {compareWithReference, createOnnxScorer} from '../../src/onnx/scorer.js'
import {Rng} from '../../src/rng.js'
import {findDirs, loadSchema, parseJson, tempDir} from '../commands/fixtures.js'
import {runCli} from '../helpers/cli.js'
import {checkSchema} from '../commands/schema-check.js'

const dims = {numUsers: 9, numItems: 14}
const model = (m: Record<string, unknown>): ModelConfig => configSchema.parse({models: [m]}).models[0]

/** random weights of the registry's shapes (init is near zero: N(0, 0.01²)), so that scores differ visibly */
function randomized(w: ModelWeights, seed: number): ModelWeights {
  const rng = new Rng(seed)
  const tensors = Object.fromEntries(Object.entries(w.tensors).map(([k, t]) => [k, {shape: t.shape, data: Float32Array.from(t.data, () => rng.normal() * 0.5)}]))
  return {...w, tensors}
}

/** raw logits of every (user, item) pair by the training forward pass */
function logits(w: ModelWeights): Float32Array {
  return tf.tidy(() => {
    const T: TensorMap = Object.fromEntries(Object.entries(w.tensors).map(([k, t]) => [k, tf.tensor(t.data, t.shape, 'float32')]))
    const users = tf.tensor1d(Int32Array.from({length: w.numUsers * w.numItems}, (_, p) => Math.floor(p / w.numItems)), 'int32')
    const items = tf.tensor1d(Int32Array.from({length: w.numUsers * w.numItems}, (_, p) => p % w.numItems), 'int32')
    return pairScores(w.kind, T, users, items).dataSync() as Float32Array
  })
}

const open: Scorer[] = []
afterAll(() => open.forEach((s) => s.dispose()))
const allUsers = Int32Array.from({length: dims.numUsers}, (_, u) => u)

describe('gmf and mlp (NeuMF\'s towers alone)', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['gmf', {model: 'gmf', factors: 4}],
    ['mlp', {model: 'mlp', mlp_layers: [8, 6, 4]}],
    ['mlp without hidden layers', {model: 'mlp', mlp_layers: [8]}],
  ]
  for (const [label, m] of cases) {
    it(`${label}: tfjs scorer = σ(training forward); the ONNX graph scores the same`, async () => {
      const w = randomized(initWeights(model(m), dims, 1), 2)
      const tfjs = createTfjsScorer(w, {maxPairs: 30}) // several user chunks
      open.push(tfjs)
      const full = await tfjs.scoreUsers(allUsers)
      const z = logits(w)
      for (let p = 0; p < z.length; p++) expect(full[p]).toBeCloseTo(1 / (1 + Math.exp(-z[p])), 5)
      const onnx = await createOnnxScorer(exportOnnx(fromWeights(w)), w.numItems)
      open.push(onnx)
      expect(onnx.probabilities).toBe(true)
      expect(await compareWithReference(onnx, tfjs, allUsers)).toBeLessThan(1e-5)
    })
  }

  it("the gmf logit is the output layer over the element-wise product: Σ_j h_j·p_uj·q_ij + b", () => {
    const w = randomized(initWeights(model({model: 'gmf', factors: 3}), dims, 1), 3)
    const t = w.tensors
    const z = logits(w)
    const u = 4
    const i = 7
    let want = t['out.bias'].data[0]
    for (let j = 0; j < 3; j++) want += t['out.kernel'].data[j] * t.gmf_user.data[u * 3 + j] * t.gmf_item.data[i * 3 + j]
    expect(z[u * dims.numItems + i]).toBeCloseTo(want, 5)
  })
})

describe('neumf init_from (the NCF paper\'s pre-training)', () => {
  it('copies the towers; its logit is α·logit_gmf + (1 − α)·logit_mlp', () => {
    const g = randomized(initWeights(model({model: 'gmf', factors: 4}), dims, 1), 4)
    const m = randomized(initWeights(model({model: 'mlp', mlp_layers: [8, 4]}), dims, 1), 5)
    for (const alpha of [0.5, 0.2]) {
      const n = neumfFromPretrained(g, m, alpha)
      expect(Object.keys(n.tensors).sort()).toEqual(Object.keys(initWeights(model({model: 'neumf', factors: 4, mlp_layers: [8, 4]}), dims, 1).tensors).sort())
      const [zn, zg, zm] = [logits(n), logits(g), logits(m)]
      for (let p = 0; p < zn.length; p++) expect(zn[p]).toBeCloseTo(alpha * zg[p] + (1 - alpha) * zm[p], 4)
    }
  })

  it('rec run trains gmf, mlp, then neumf from them', {timeout: 120_000}, async () => {
    const dir = tempDir('ncf')
    mkdirSync(join(dir, 'runs'))
    const head = ['seed: 42', 'data:', '  format: synth', '  synth: {users: 60, items: 40, interactions: 1200, factors: 4, seed: 7}', 'eval:', '  latency: {requests: 2, warmup: 1, batch: 4}']
    const models = [
      'models:',
      '  - {model: gmf, factors: 4, train: {epochs: 1}}',
      '  - {model: mlp, mlp_layers: [8, 4], train: {epochs: 1}}',
      // a learning rate too small to move float32 weights: the trained neumf is its initialisation
      '  - {model: neumf, name: neumf-pre, factors: 4, mlp_layers: [8, 4], init_from: {gmf: gmf, mlp: mlp}, train: {epochs: 1, optimizer: sgd, lr: 1.0e-12}}',
    ]
    writeFileSync(join(dir, 'ncf.yaml'), [...head, ...models, 'train: {batch_size: 256}', ''].join('\n'))
    const r = await runCli(['run', join(dir, 'ncf.yaml'), '--json', '--out', join(dir, 'runs')], {cwd: dir, timeoutMs: 110_000})
    expect(r.code, r.stderr).toBe(0)
    const res = parseJson(r.stdout)
    expect(res.variants.map((v: any) => v.model)).toEqual(['gmf', 'mlp', 'neumf-pre'])
    expect(checkSchema(res, loadSchema('run-result'))).toEqual([])
    const base = (label: string) => loadModel(join(res.runDir, 'models', label, 'base')).weights
    const [g, m, n] = [base('gmf'), base('mlp'), base('neumf-pre')]
    expect(Array.from(n.tensors.gmf_user.data)).toEqual(Array.from(g.tensors.gmf_user.data))
    expect(Array.from(n.tensors['mlp_0.kernel'].data)).toEqual(Array.from(m.tensors['mlp_0.kernel'].data))
    expect(Array.from(n.tensors['out.kernel'].data)).toEqual([...Array.from(g.tensors['out.kernel'].data, (x) => Math.fround(0.5 * x)), ...Array.from(m.tensors['out.kernel'].data, (x) => Math.fround(0.5 * x))])
    expect(findDirs(join(dir, 'runs'), 'neumf-pre')).toHaveLength(1)

  })

  it('an init_from that names a model later in models[] (or of another kind) is a config error', () => {
    let err: any
    try {
      resolveConfigFromObject({models: [{model: 'neumf', factors: 4, mlp_layers: [8, 4], init_from: {gmf: 'g', mlp: 'mlp'}}, {model: 'gmf', name: 'g', factors: 4}, {model: 'mf', name: 'mlp'}]})
    } catch (e) {
      err = e
    }
    expect(err?.exitCode).toBe(2)
    expect(err.details.join('\n')).toContain('models.0.init_from.gmf: no gmf model labelled "g" before this entry')
    expect(err.details.join('\n')).toContain('models.0.init_from.mlp: no mlp model labelled "mlp" before this entry')
    const kind = (() => {
      try {
        resolveConfigFromObject({models: [{model: 'mf', name: 'g'}, {model: 'mlp', mlp_layers: [8, 4]}, {model: 'neumf', factors: 4, mlp_layers: [8, 4], init_from: {gmf: 'g', mlp: 'mlp'}}]})
      } catch (e) {
        return e as any
      }
    })()
    expect(kind?.details.join('\n')).toContain('"g" is a mf model, not gmf')
  })
})
