import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {replacedKernels} from '../../src/backend/kernels.js'
import {Rng} from '../../src/rng.js'

type Tensor = import('@tensorflow/tfjs').Tensor

/** reference: one-hot(ids)ᵀ · x, rows of x flattened (ids out of range give zero one-hot rows) */
function denseSegmentSum(x: Tensor, ids: Tensor, numSegments: number): Tensor {
  return tf.tidy(() => {
    const rows = ids.shape[0]!
    const flat = tf.reshape(x, [rows, -1])
    const oh = tf.oneHot(ids as import('@tensorflow/tfjs').Tensor1D, numSegments).toFloat()
    return tf.reshape(tf.matMul(oh, flat, true, false), [numSegments, ...x.shape.slice(1)])
  })
}

function randomCase(rng: Rng, rank: 1 | 2 | 3) {
  const rows = 1 + rng.int(12)
  const numSegments = 2 + rng.int(5)
  const shape = rank === 1 ? [rows] : rank === 2 ? [rows, 1 + rng.int(5)] : [rows, 2, 3]
  const size = shape.reduce((a, b) => a * b, 1)
  const x = Float32Array.from({length: size}, () => rng.normal())
  // repeated ids, ids absent from the output range's middle, and an occasional out-of-range id
  const ids = Int32Array.from({length: rows}, () => (rng.next() < 0.1 ? -1 : rng.int(Math.max(1, numSegments - 1))))
  return {x, shape, ids, numSegments}
}

describe('UnsortedSegmentSum scatter kernel', () => {
  beforeAll(async () => {
    await initBackend('cpu')
  })

  it('matches the stock cpu kernel on random 1-D and 2-D inputs', () => {
    const stock = replacedKernels.get('cpu') as {kernelFunc: (a: unknown) => import('@tensorflow/tfjs').TensorInfo}
    expect(stock).toBeDefined()
    const rng = new Rng(11)
    for (let t = 0; t < 30; t++) {
      const c = randomCase(rng, t % 2 === 0 ? 1 : 2)
      // the stock kernel does not handle negative ids: keep them in range for this comparison
      const ids = c.ids.map((v) => (v < 0 ? 0 : v))
      tf.tidy(() => {
        const x = tf.tensor(c.x, c.shape)
        const s = tf.tensor1d(ids, 'int32')
        const ours = tf.unsortedSegmentSum(x, s, c.numSegments)
        const info = stock.kernelFunc({inputs: {x, segmentIds: s}, backend: tf.backend(), attrs: {numSegments: c.numSegments}})
        const ref = tf.engine().makeTensorFromTensorInfo(info)
        expect(ours.shape).toEqual(ref.shape)
        const a = ours.dataSync()
        const b = ref.dataSync()
        for (let k = 0; k < a.length; k++) expect(a[k]).toBeCloseTo(b[k], 5)
      })
    }
  })

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`matches a one-hot matMul on ${backend} (1-D, 2-D, 3-D x, repeated, absent and negative ids)`, async () => {
      await initBackend(backend)
      expect(tf.getBackend()).toBe(backend)
      const rng = new Rng(5)
      for (let t = 0; t < 30; t++) {
        const c = randomCase(rng, ((t % 3) + 1) as 1 | 2 | 3)
        tf.tidy(() => {
          const x = tf.tensor(c.x, c.shape)
          const s = tf.tensor1d(c.ids, 'int32')
          const ours = tf.unsortedSegmentSum(x, s, c.numSegments)
          const ref = denseSegmentSum(x, s, c.numSegments)
          expect(ours.shape).toEqual([c.numSegments, ...c.shape.slice(1)])
          const a = ours.dataSync()
          const b = ref.dataSync()
          for (let k = 0; k < a.length; k++) expect(a[k]).toBeCloseTo(b[k], 5)
        })
      }
      // int32 input
      const r = tf.tidy(() => tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([1, 1, 0, 3], 'int32'), 4))
      expect(r.dtype).toBe('int32')
      expect(Array.from(r.dataSync())).toEqual([3, 3, 0, 4])
      r.dispose()
    })

    it(`gives the gradient of gather (an embedding lookup) on ${backend}`, async () => {
      await initBackend(backend)
      const table = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2])
      const g = tf.grad((t) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([2, 0, 2], 'int32')), tf.tensor2d([1, 1, 2, 2, 3, 3], [3, 2]))))(table)
      expect(Array.from(g.dataSync())).toEqual([2, 2, 0, 0, 4, 4])
      tf.dispose([table, g])
    })
  }

  it('wasm matMul with transposed operands (explicitly transposed by our wrapper) matches plain matMul', async () => {
    await initBackend('wasm')
    const rng = new Rng(9)
    const rand = (shape: number[]) => tf.tensor(Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => rng.normal()), shape)
    for (const [m, k, n] of [[40, 7, 33], [1, 16, 50], [20, 3, 20], [64, 8, 2]]) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          tf.tidy(() => {
            const a = rand(ta ? [k, m] : [m, k])
            const b = rand(tb ? [n, k] : [k, n])
            const ours = tf.matMul(a, b, ta, tb)
            const ref = tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b)
            const fused = tf.fused.matMul({a, b, transposeA: ta, transposeB: tb, bias: tf.ones([n]), activation: 'relu'})
            const fusedRef = tf.relu(tf.add(ref, 1))
            expect(ours.shape).toEqual([m, n])
            expect(tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]).toBeLessThan(1e-4)
            expect(tf.max(tf.abs(tf.sub(fused, fusedRef))).dataSync()[0]).toBeLessThan(1e-4)
          })
        }
      }
    }
    // batched (rank 3)
    tf.tidy(() => {
      const a = rand([3, 20, 18])
      const b = rand([3, 17, 20])
      const ref = tf.matMul(tf.transpose(a, [0, 2, 1]), tf.transpose(b, [0, 2, 1]))
      expect(tf.max(tf.abs(tf.sub(tf.matMul(a, b, true, true), ref))).dataSync()[0]).toBeLessThan(1e-4)
    })
  })
})
