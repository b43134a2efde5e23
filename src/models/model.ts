import {tf} from '../backend/index.js'
import {type Collect, pairScores, type TensorMap} from './forward.js'
import type {ModelKind, ModelWeights, Tensor32} from './types.js'

type Variable = import('@tensorflow/tfjs').Variable
type Tensor1D = import('@tensorflow/tfjs').Tensor1D

/** a model whose tensors are tf.Variables, for training */
export interface TrainableModel {
  readonly kind: ModelKind
  readonly numUsers: number
  readonly numItems: number
  readonly params: Record<string, unknown>
  readonly vars: Record<string, Variable>
  /** raw scores of pairs (logits for neumf); call inside tf.tidy or a gradient closure */
  scorePairs(users: Tensor1D, items: Tensor1D, collect?: Collect): Tensor1D
  /** a copy of the current weights */
  toWeights(): ModelWeights
  /** overwrite the variables with these weights (same shapes) */
  assign(weights: ModelWeights): void
  dispose(): void
}

/** tf.Variables made from weights (copied); `trainable` false for pop */
export function modelFromWeights(w: ModelWeights, trainable = true): TrainableModel {
  const vars: Record<string, Variable> = {}
  for (const [name, t] of Object.entries(w.tensors)) {
    vars[name] = tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), trainable))
  }
  const params = structuredClone(w.params)
  return {
    kind: w.kind,
    numUsers: w.numUsers,
    numItems: w.numItems,
    params,
    vars,
    scorePairs: (users, items, collect) => pairScores(w.kind, vars as TensorMap, users, items, collect),
    toWeights() {
      const tensors: Record<string, Tensor32> = {}
      for (const [name, v] of Object.entries(vars)) tensors[name] = {shape: [...v.shape], data: new Float32Array(v.dataSync() as Float32Array)}
      return {kind: w.kind, numUsers: w.numUsers, numItems: w.numItems, params: structuredClone(params), tensors}
    },
    assign(next) {
      for (const [name, v] of Object.entries(vars)) {
        const t = next.tensors[name]
        if (!t) throw new Error(`assign: missing tensor ${name}`)
        tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, 'float32')))
      }
    },
    dispose() {
      for (const v of Object.values(vars)) v.dispose()
    },
  }
}
