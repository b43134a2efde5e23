/**
 * SASRec's two implementations of one layout agree: the tfjs model (training, tfjs scoring) and the
 * ONNX export (serving) score the same weights within 1e-5 (the issue asks 1e-4), including a history that is all padding.
 */
import * as ort from 'onnxruntime-node'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {maxAbsDiff} from '../../src/compress/reference.js'
import {initSasrec, scoreSequences, type SasrecConfig} from '../../src/models/sasrec.js'
import {exportSasrecOnnx} from '../../src/onnx/export-sasrec.js'
import {Rng} from '../../src/rng.js'

const cfg: SasrecConfig = {hidden: 16, layers: 2, heads: 2, inner: 32, maxLen: 8, dropout: 0.5}
const I = 30

beforeAll(async () => {
  await initBackend('wasm')
})

describe('SASRec: tfjs and ONNX agree', () => {
  // the issue asks 1e-4; 1e-5 also catches the float32 loss of a −10000 mask on an empty history (~1e-4)
  it('on every kind of history, within 1e-5', async () => {
    const w = initSasrec(I, cfg, 5)
    // larger-than-init weights, so that biases, LayerNorm parameters and every layer matter
    const rng = new Rng(9)
    for (const [name, t] of Object.entries(w.tensors)) for (let k = 0; k < t.data.length; k++) if (!(name === 'item_emb' && k < cfg.hidden)) t.data[k] += 0.2 * rng.normal()
    const L = cfg.maxLen
    const rows = [
      [0, 0, 0, 0, 0, 0, 0, 0], // no history
      [0, 0, 0, 0, 0, 0, 0, 4], // one item
      [0, 0, 0, 7, 3, 12, 30, 1], // short, left-padded
      [2, 9, 14, 21, 5, 17, 8, 26], // full
    ]
    const seqs = Int32Array.from(rows.flat())
    const tfjsScores = scoreSequences(w, seqs)
    const onnx = exportSasrecOnnx({numItems: I, params: w.params, tensors: w.tensors})
    const session = await ort.InferenceSession.create(onnx, {graphOptimizationLevel: 'all', intraOpNumThreads: 1})
    const out = await session.run({seqs: new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, L])})
    const ortScores = out.scores.data as Float32Array
    await session.release()
    expect(ortScores.length).toBe(rows.length * I)
    for (let r = 0; r < rows.length; r++) {
      const d = maxAbsDiff(tfjsScores.subarray(r * I, (r + 1) * I), ortScores.subarray(r * I, (r + 1) * I))
      expect(d, `row ${r} (${rows[r].join(' ')})`).toBeLessThan(1e-5)
    }
  })
})
