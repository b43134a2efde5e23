import {tf} from '../backend/index.js'
import type {ModelKind} from './types.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor1D = import('@tensorflow/tfjs').Tensor1D
type Tensor2D = import('@tensorflow/tfjs').Tensor2D

/** named tensors (tf.Variables while training, plain tensors when scoring) */
export type TensorMap = Record<string, Tensor>

/** where the batch's embedding rows go for the L2 penalty, and which sides to collect */
export interface Collect {
  out: Tensor[]
  users: boolean
  items: boolean
}

/** number of dense layers `<prefix>_0 .. <prefix>_{n-1}` present in the map */
export function countLayers(names: Iterable<string> | TensorMap, prefix: string): number {
  const set = new Set(Symbol.iterator in Object(names) ? (names as Iterable<string>) : Object.keys(names as TensorMap))
  let n = 0
  while (set.has(`${prefix}_${n}.kernel`)) n++
  return n
}

/** dense layers `<prefix>_k` with ReLU after each one, or after all but the last when `lastLinear` */
export function dense(T: TensorMap, prefix: string, n: number, x: Tensor2D, lastLinear: boolean): Tensor2D {
  let h = x
  for (let k = 0; k < n; k++) {
    const kernel = T[`${prefix}_${k}.kernel`] as Tensor2D
    const bias = T[`${prefix}_${k}.bias`]
    const linear = lastLinear && k === n - 1
    h = tf.fused.matMul({a: h, b: kernel, bias, activation: linear ? 'linear' : 'relu'}) as Tensor2D
  }
  return h
}

function gather2(table: Tensor, idx: Tensor1D, collect: Collect | undefined, side: 'users' | 'items'): Tensor2D {
  const rows = tf.gather(table, idx) as Tensor2D
  if (collect?.[side]) collect.out.push(rows)
  return rows
}

/**
 * Raw scores of (users[j], items[j]) pairs: logits for neumf (sigmoid gives the probability),
 * dot products for mf and two_tower, counts for pop. Call inside tf.tidy / a gradient closure.
 */
export function pairScores(kind: ModelKind, T: TensorMap, users: Tensor1D, items: Tensor1D, collect?: Collect): Tensor1D {
  switch (kind) {
    case 'pop': {
      return tf.gather(T.item_pop, items) as Tensor1D
    }
    case 'mf':
    case 'itemknn':
    case 'ease': {
      const u = gather2(T.user_emb, users, collect, 'users')
      const i = gather2(T.item_emb, items, collect, 'items')
      return tf.sum(tf.mul(u, i), 1)
    }
    case 'two_tower': {
      const u = gather2(T.user_emb, users, collect, 'users')
      const i = gather2(T.item_emb, items, collect, 'items')
      const tu = dense(T, 'user_tower', countLayers(T, 'user_tower'), u, true)
      const ti = dense(T, 'item_tower', countLayers(T, 'item_tower'), i, true)
      return tf.sum(tf.mul(tu, ti), 1)
    }
    case 'neumf':
    case 'gmf': // NeuMF's towers alone: the same names, one tower absent
    case 'mlp': {
      const parts: Tensor2D[] = []
      if (kind !== 'mlp') {
        const gu = gather2(T.gmf_user, users, collect, 'users')
        const gi = gather2(T.gmf_item, items, collect, 'items')
        parts.push(tf.mul(gu, gi))
      }
      if (kind !== 'gmf') {
        const mu = gather2(T.mlp_user, users, collect, 'users')
        const mi = gather2(T.mlp_item, items, collect, 'items')
        parts.push(dense(T, 'mlp', countLayers(T, 'mlp'), tf.concat([mu, mi], 1), false))
      }
      const logit = tf.fused.matMul({a: parts.length === 1 ? parts[0] : tf.concat(parts, 1), b: T['out.kernel'] as Tensor2D, bias: T['out.bias']})
      return tf.reshape(logit, [-1])
    }
    default:
      throw new Error(`pairScores: unknown model kind ${String(kind)}`)
  }
}
