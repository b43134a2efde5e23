/**
 * What int8 buys SASRec as the model grows: random SASRec weights (2 blocks, 2 heads, inner 4h,
 * max_len 50, 1682 items) at hidden 64 / 128 / 256, exported as float32 and as int8 (per-channel,
 * static activation scales, src/onnx/export-sasrec.ts), one request (a random history) at a time in
 * ONNX Runtime on one thread, the two graphs interleaved request by request; p50 of 1000 requests
 * after 100 warm-up.
 *
 *   npx tsx bench/sasrec-int8-scaling.ts
 */
import * as ort from 'onnxruntime-node'
import {randomSasrecWeights} from '../src/models/sasrec-reference.js'
import {compressVariant} from '../src/compress/registry.js'
import {fromWeights} from '../src/compress/tensors.js'
import {exportOnnx} from '../src/onnx/export.js'
import {Rng} from '../src/rng.js'

const I = 1682, L = 50
for (const h of [64, 128, 256]) {
  const ref = randomSasrecWeights(I, {hidden: h, layers: 2, heads: 2, inner: 4 * h, max_len: L}, 7, {std: 0.05})
  const w = {kind: 'sasrec' as const, numUsers: 10, numItems: I, params: {...ref.params, dropout: 0.5, loss: 'ce'}, tensors: ref.tensors}
  const f32 = exportOnnx(fromWeights(w))
  const q = compressVariant(w, {name: 'int8', steps: [{method: 'quantize', params: {dtype: 'int8', granularity: 'per_channel', symmetric: true, target: 'all'}}]}).model
  const i8 = exportOnnx(q)
  const opts = {executionProviders: ['cpu'], graphOptimizationLevel: 'all' as const, intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const}
  const s = [await ort.InferenceSession.create(f32, opts), await ort.InferenceSession.create(i8, opts)]
  const rng = new Rng(1)
  const times: number[][] = [[], []]
  for (let r = 0; r < 1100; r++) {
    const seq = new BigInt64Array(L)
    const n = 5 + rng.int(45)
    for (let t = L - n; t < L; t++) seq[t] = BigInt(1 + rng.int(I))
    for (let k = 0; k < 2; k++) {
      const t0 = performance.now()
      await s[k].run({seqs: new ort.Tensor('int64', seq, [1, L])})
      if (r >= 100) times[k].push(performance.now() - t0)
    }
  }
  const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]
  console.log(`hidden ${h}: float32 ${(f32.length / 1024).toFixed(0)} KiB p50 ${med(times[0]).toFixed(3)} ms; int8 ${(i8.length / 1024).toFixed(0)} KiB p50 ${med(times[1]).toFixed(3)} ms; ratio ${(med(times[1]) / med(times[0])).toFixed(2)}`)
}
