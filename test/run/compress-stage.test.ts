import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {flopsPerPair} from '../../src/compress/accounting.js'
import {pruneMagnitude} from '../../src/compress/prune.js'
import {expandVariants} from '../../src/compress/registry.js'
import {fromWeights, pruningMasks} from '../../src/compress/tensors.js'
import {configSchema, type RecConfig} from '../../src/config/schema.js'
import {initWeights} from '../../src/models/registry.js'
import {silentProgress} from '../../src/progress.js'
import {makeVariant} from '../../src/run/compress-stage.js'
import {modelConfig, plantedSplit} from '../models/synthetic.js'

const split = plantedSplit(60, 40)
const model = modelConfig('neumf')
const base = initWeights(model, {numUsers: 60, numItems: 40}, 9)
const cfg = (variants: unknown[], epochs = 2): RecConfig =>
  configSchema.parse({models: [model], train: {epochs: 5, batch_size: 64, lr: 0.01}, compress: {finetune: {epochs}, variants}})

beforeAll(async () => {
  await initBackend('wasm')
})

const make = async (c: RecConfig) => {
  const v = await makeVariant({cfg: c, model, base, spec: expandVariants(c.compress.variants)[0], split, progress: silentProgress})
  if (v.interrupted) throw new Error('not interrupted: no signal was given')
  return v
}

describe('making a variant (compress stage)', () => {
  it('fine-tuning interrupted (the signal aborted): no variant, only the checkpoint of the completed epochs; resumed from it, the variant equals an uninterrupted one', async () => {
    const c = cfg([{prune: {method: 'magnitude', sparsity: 0.5, scope: 'layer', target: 'mlp'}}], 3)
    const spec = expandVariants(c.compress.variants)[0]
    const ckpt = mkdtempSync(join(tmpdir(), 'rec-ft-ckpt-'))
    try {
      // a checkpoint of 2 of the 3 epochs, as an interrupted fine-tuning leaves it
      const twoEpochs = {...c, compress: {...c.compress, finetune: {...c.compress.finetune, epochs: 2}}}
      const partial = await makeVariant({cfg: twoEpochs, model, base, spec, split, progress: silentProgress, checkpoint: {dir: ckpt, resume: false}})
      expect(partial.interrupted).toBeFalsy()
      const aborted = new AbortController()
      aborted.abort()
      const stopped = await makeVariant({cfg: c, model, base, spec, split, progress: silentProgress, signal: aborted.signal, checkpoint: {dir: ckpt, resume: true}})
      expect(stopped).toEqual({interrupted: true})
      const resumed = await makeVariant({cfg: c, model, base, spec, split, progress: silentProgress, checkpoint: {dir: ckpt, resume: true}})
      const whole = await make(c)
      if (resumed.interrupted) throw new Error('resumed run was interrupted')
      expect(resumed.record.finetune.epochs).toBe(3)
      for (const [name, s] of Object.entries(whole.model.tensors)) {
        const r = resumed.model.tensors[name]
        if (s.kind !== 'float32' || r.kind !== 'float32') continue
        expect(Buffer.from(r.tensor.data.buffer).equals(Buffer.from(s.tensor.data.buffer)), name).toBe(true)
      }
    } finally {
      rmSync(ckpt, {recursive: true, force: true})
    }
  })

  it('magnitude pruning with a polynomial schedule ends at the target sparsity, pruned weights exactly zero, kept ones fine-tuned', async () => {
    const c = cfg([{prune: {method: 'magnitude', sparsity: 0.8, scope: 'layer', target: 'mlp', schedule: 'polynomial'}}], 3)
    const {model: v, record} = await make(c)
    expect(record.finetune.epochs).toBe(3)
    expect(record.execution).toBe('sparse-zeros')
    // the final masks are the one-shot masks at the target sparsity (by the base weights' magnitudes)
    const oneShot = pruningMasks(pruneMagnitude(fromWeights(base), {method: 'magnitude', sparsity: 0.8, scope: 'layer', target: 'mlp', norm: 'l2', schedule: 'oneshot'}).model)
    expect(Object.keys(pruningMasks(v)).sort()).toEqual(Object.keys(oneShot).sort())
    for (const [name, mask] of Object.entries(oneShot)) {
      const s = v.tensors[name]
      if (s.kind !== 'float32') throw new Error(`${name} is ${s.kind}`)
      const kept = mask.reduce((a, m) => a + m, 0)
      expect(Math.abs(kept / mask.length - 0.2)).toBeLessThan(1 / mask.length + 1e-9)
      let moved = 0
      for (let j = 0; j < mask.length; j++) {
        if (mask[j] === 0) expect(s.tensor.data[j] === 0).toBe(true)
        else if (s.tensor.data[j] !== base.tensors[name].data[j]) moved++
      }
      expect(moved).toBeGreaterThan(0)
    }
  })

  it('structured pruning is fine-tuned on the shrunk layers; quantization after it runs on the fine-tuned weights', async () => {
    const c = cfg([{pipeline: [{prune: {method: 'structured', sparsity: 0.5, target: 'mlp'}}, {quantize: {dtype: 'int8'}}]}], 1)
    const {model: v, record} = await make(c)
    expect(record.method).toBe('pipeline')
    expect(record.finetune.epochs).toBe(1)
    expect(record.execution).toBe('int8-kernel')
    // mlp_layers [16, 8]: the input is 16 wide (two 8-wide embeddings), the first layer's 8 units halve
    const k0 = v.tensors['mlp_0.kernel']
    expect(k0.kind === 'int8' ? k0.shape : k0.kind).toEqual([16, 4])
    expect(record.flopsPerPair).toBeLessThan(flopsPerPair(fromWeights(base)))
  })

  it('low-rank variants are not fine-tuned, and say so', async () => {
    const {record} = await make(cfg([{lowrank: {rank: 4}}], 2))
    expect(record.execution).toBe('factorized')
    expect(record.finetune).toMatchObject({epochs: 0, skipped: expect.stringContaining('factorized layers are not trainable')})
    expect(record.notes.some((n) => n.startsWith('fine-tuning skipped'))).toBe(true)
  })

  it('quantization alone is never fine-tuned', async () => {
    const {record} = await make(cfg([{quantize: {dtype: 'float16'}}], 2))
    expect(record.finetune).toEqual({epochs: 0, seconds: 0})
    expect(record.execution).toBe('fp16-storage')
  })
})

describe('a variant that compresses nothing', () => {
  it('is not fine-tuned (it would only be the base trained longer), and says why', async () => {
    // rank 8 equals the smaller side of every matrix of this tiny neumf: factors would store more
    // numbers than the matrix, so every tensor stays dense
    const {model: v, record} = await make(cfg([{lowrank: {rank: 8}}], 2))
    expect(record.finetune).toMatchObject({epochs: 0, skipped: 'the compression left every weight as it was'})
    expect(record.execution).toBe('float32')
    for (const [name, s] of Object.entries(v.tensors)) {
      expect(s.kind === 'float32' && Array.from(s.tensor.data)).toEqual(Array.from(base.tensors[name].data))
    }
  })
})
