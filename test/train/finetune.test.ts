import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend, tf} from '../../src/backend/index.js'
import {initWeights} from '../../src/models/registry.js'
import {trainModel} from '../../src/train/train.js'
import {modelConfig, plantedSplit, trainConfig, uniformNegatives} from '../models/synthetic.js'

const split = plantedSplit(60, 40)

beforeAll(async () => {
  await initBackend('wasm')
})

describe('fine-tuning', () => {
  it('starts from the given weights and holds masked weights at exactly zero, without leaking tensors', async () => {
    const cfg = modelConfig('neumf')
    const init = initWeights(cfg, {numUsers: 60, numItems: 40}, 5)
    const kernel = init.tensors['mlp_0.kernel']
    // prune every other weight of the first MLP layer
    const mask = Uint8Array.from(kernel.data, (_, j) => j % 2)
    const before = tf.memory().numTensors
    let calls = 0
    const r = await trainModel({
      model: cfg,
      train: trainConfig({epochs: 2, lr: 0.02}),
      negatives: uniformNegatives,
      split,
      seed: 1,
      init,
      masks: () => {
        calls++
        return {'mlp_0.kernel': mask}
      },
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(calls).toBe(2)
    const out = r.weights.tensors['mlp_0.kernel'].data
    for (let j = 0; j < out.length; j++) {
      if (mask[j] === 0) expect(out[j] === 0).toBe(true) // -0 or +0
    }
    // the kept weights did move: training happened from `init`, not from a fresh start
    const moved = out.some((x, j) => mask[j] === 1 && x !== kernel.data[j])
    expect(moved).toBe(true)
    expect(r.weights.tensors['gmf_user'].shape).toEqual(init.tensors['gmf_user'].shape)
  })
})
