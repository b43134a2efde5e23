import type {ModelKind, ModelWeights, Tensor32} from '../../src/models/types.js'
import {Rng} from '../../src/rng.js'

export function randomTensor(rng: Rng, shape: number[], std = 0.3, mean = 0): Tensor32 {
  const n = shape.reduce((a, b) => a * b, 1)
  return {shape, data: Float32Array.from({length: n}, () => mean + std * rng.normal())}
}

/** a tiny random model of each architecture, built directly as ModelWeights */
export function tinyModel(kind: ModelKind, opts: {users?: number; items?: number; d?: number; mlp?: number[]; tower?: number[]; seed?: number} = {}): ModelWeights {
  const U = opts.users ?? 30
  const I = opts.items ?? 20
  const d = opts.d ?? 8
  const rng = new Rng(opts.seed ?? 1)
  const tensors: Record<string, Tensor32> = {}
  const params: Record<string, unknown> = {factors: d}
  if (kind === 'pop') tensors.item_pop = randomTensor(rng, [I], 1)
  if (kind === 'mf') {
    tensors.user_emb = randomTensor(rng, [U, d])
    tensors.item_emb = randomTensor(rng, [I, d])
  }
  if (kind === 'neumf') {
    const mlp = opts.mlp ?? [16, 8]
    params.mlp_layers = mlp
    const e = mlp[0] / 2
    tensors.gmf_user = randomTensor(rng, [U, d])
    tensors.gmf_item = randomTensor(rng, [I, d])
    tensors.mlp_user = randomTensor(rng, [U, e])
    tensors.mlp_item = randomTensor(rng, [I, e])
    const widths = [mlp[0], ...mlp]
    for (let k = 0; k < mlp.length; k++) {
      tensors[`mlp_${k}.kernel`] = randomTensor(rng, [widths[k], widths[k + 1]], Math.sqrt(2 / widths[k]))
      tensors[`mlp_${k}.bias`] = randomTensor(rng, [widths[k + 1]], 0.1)
    }
    tensors['out.kernel'] = randomTensor(rng, [d + mlp.at(-1)!, 1], 0.3)
    tensors['out.bias'] = randomTensor(rng, [1], 0.1)
  }
  if (kind === 'two_tower') {
    const tower = opts.tower ?? [16, 8]
    params.tower_layers = tower
    for (const side of ['user', 'item']) {
      tensors[`${side}_emb`] = randomTensor(rng, [side === 'user' ? U : I, d])
      const widths = [d, ...tower]
      for (let k = 0; k < tower.length; k++) {
        tensors[`${side}_tower_${k}.kernel`] = randomTensor(rng, [widths[k], widths[k + 1]], Math.sqrt(2 / widths[k]))
        tensors[`${side}_tower_${k}.bias`] = randomTensor(rng, [widths[k + 1]], 0.1)
      }
    }
  }
  return {kind, numUsers: U, numItems: I, params, tensors}
}

export const someUsers = (n: number) => Int32Array.from({length: n}, (_, i) => (i * 7) % 30)
