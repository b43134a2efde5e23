/**
 * How often training writes checkpoints (src/train/train.ts): every `every` epochs when asked,
 * else at most one per `seconds` of training plus the last epoch; Ctrl-C mid-epoch still leaves the
 * last completed epoch on disk; best weights that are the checkpoint's own are not written twice.
 * The byte counts are the files' sizes on disk.
 */
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {trainModel} from '../../src/train/train.js'
import {modelConfig, plantedSplit, trainConfig, uniformNegatives} from '../models/synthetic.js'

const split = plantedSplit(30, 24, 6, 1)
const base = {model: modelConfig('mf'), negatives: uniformNegatives, split, seed: 2}
const bytesIn = (d: string) => readdirSync(d).reduce((a, f) => a + statSync(join(d, f)).size, 0)

let dir: string
beforeAll(async () => {
  await initBackend('wasm')
  dir = mkdtempSync(join(tmpdir(), 'rec-ckpt-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('checkpoint cadence', () => {
  it('every: 1 writes each epoch; the default writes only the last of a short run, with the same resume state', async () => {
    const each = await trainModel({...base, train: trainConfig({epochs: 4}), checkpoint: {dir: join(dir, 'each'), every: 1}})
    const lazy = await trainModel({...base, train: trainConfig({epochs: 4}), checkpoint: {dir: join(dir, 'lazy')}})
    expect(each.checkpoints!.count).toBe(4)
    expect(lazy.checkpoints!.count).toBe(1)
    // one checkpoint: weights (2 tables) + Adam's two moments + step count, as written on disk
    const one = bytesIn(join(dir, 'lazy', 'epoch-0004'))
    expect(lazy.checkpoints!.bytes).toBe(one)
    // (model.json's text differs by a few bytes between epochs)
    expect(Math.abs(each.checkpoints!.bytes - 4 * one)).toBeLessThan(one / 100)
    const floats = (30 + 24) * 8
    expect(one).toBeGreaterThan(3 * floats * 4)
    for (const d of ['each', 'lazy']) {
      expect(readdirSync(join(dir, d)).sort()).toEqual(['epoch-0004', 'state.json'])
    }
    const state = (d: string) => JSON.parse(readFileSync(join(dir, d, 'state.json'), 'utf8'))
    expect(state('lazy').epoch).toBe(4)
    expect(readFileSync(join(dir, 'lazy', 'epoch-0004', 'optimizer.bin'))).toEqual(readFileSync(join(dir, 'each', 'epoch-0004', 'optimizer.bin')))
  })

  it('Ctrl-C mid-epoch writes the last completed epoch, which resumes to the uninterrupted result', async () => {
    const ck = join(dir, 'sigint')
    const stop = new AbortController()
    let seen = 0
    // abort inside epoch 3: at the end-of-epoch progress line of epoch 2, the next batch stops
    const progress = {stage() {}, done() {}, info() {}, warn() {}, update: (m: string) => {
      if (/^epoch 2\/5 loss/.test(m) && seen++ === 0) stop.abort()
    }}
    const cut = await trainModel({...base, train: trainConfig({epochs: 5}), checkpoint: {dir: ck, seconds: 3600}, signal: stop.signal, progress})
    expect(cut.interrupted).toBe(true)
    expect(JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8')).epoch).toBe(2)
    const resumed = await trainModel({...base, train: trainConfig({epochs: 5}), checkpoint: {dir: ck, resume: true}})
    const straight = await trainModel({...base, train: trainConfig({epochs: 5})})
    expect(resumed.history.map((h) => h.loss)).toEqual(straight.history.map((h) => h.loss))
    expect(resumed.weights.tensors.user_emb.data).toEqual(straight.weights.tensors.user_emb.data)
  })

  it('best weights of the checkpoint epoch itself are not written a second time', async () => {
    const ck = join(dir, 'best')
    // the metric improves every epoch: the best is always the checkpoint's own weights
    let v = 0
    const r = await trainModel({...base, train: trainConfig({epochs: 3, early_stopping: {metric: 'ndcg@10', patience: 5}}), validate: async () => ++v, checkpoint: {dir: ck, every: 1}})
    const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'))
    expect(state.bestDir).toBe('epoch-0003')
    expect(readdirSync(ck).sort()).toEqual(['epoch-0003', 'state.json'])
    expect(r.checkpoints!.count).toBe(3)
  })
})
