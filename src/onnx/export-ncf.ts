import {matmul} from '../compress/tensors.js'
import {countLayers} from '../models/forward.js'
import type {ModelWeights, Tensor32} from '../models/types.js'
import {DataType, GraphBuilder, valueInfo} from './graph.js'

export const NCF_OPSET = 17

/** rows [from, to) of a [rows, cols] tensor */
function rows(t: Tensor32, from: number, to: number): Tensor32 {
  const c = t.shape[1]
  return {shape: [to - from, c], data: t.data.slice(from * c, to * c)}
}

/**
 * GMF and MLP, NeuMF's towers alone (float32; they are not compressed in rec yet), as an ONNX graph:
 * `users` int64 [B] → `scores` float32 [B, I], sigmoid probabilities.
 * - gmf: σ(Σ_j gu_j·gi_j·h_j + b) = σ(gu · (gi ⊙ h)ᵀ + b): the item table times the output weights is
 *   precomputed at export, so a request is one Gather and one MatMul.
 * - mlp: the first layer split into its user and item halves as in NeuMF's graph (src/onnx/export.ts):
 *   the item half mlp_item·W0[e:] + b0 precomputed at export, per request the user half, a broadcast
 *   add and ReLU over [B, I, h1], then the remaining layers and the output layer on [B·I, ·].
 */
export function exportNcfOnnx(w: ModelWeights): Uint8Array {
  const g = new GraphBuilder()
  const t = w.tensors
  const I = w.numItems
  const users = 'users'
  const f32 = (name: string, x: Tensor32) => g.init(name, x.shape, x.data)
  const outK = t['out.kernel']
  const bias = f32('out.bias', t['out.bias'])
  let logits: string
  if (w.kind === 'gmf') {
    const f = t.gmf_user.shape[1]
    const itemT = new Float32Array(f * I) // (gmf_item ⊙ h)ᵀ [f, I]
    for (let i = 0; i < I; i++) for (let j = 0; j < f; j++) itemT[j * I + i] = t.gmf_item.data[i * f + j] * outK.data[j]
    const gu = g.op('Gather', [f32('gmf_user', t.gmf_user), users], {axis: 0})
    logits = g.op('Add', [g.op('MatMul', [gu, g.init('gmf_item_h.T', [f, I], itemT)]), bias])
  } else if (w.kind === 'mlp') {
    const e = t.mlp_user.shape[1]
    const n = countLayers(Object.keys(t), 'mlp')
    const mu = g.op('Gather', [f32('mlp_user', t.mlp_user), users], {axis: 0})
    if (n === 0) {
      // no hidden layer: out([mu, mi]) = mu·k_u + (mi·k_i + b)
      const itemPart = matmul(t.mlp_item, rows(outK, e, 2 * e)) // [I, 1]
      const row = g.op('Reshape', [f32('mlp_item.out', itemPart), g.int64([1, I])])
      logits = g.op('Add', [g.op('Add', [g.op('MatMul', [mu, f32('out.kernel.user', rows(outK, 0, e))]), row]), bias])
    } else {
      const w0 = t['mlp_0.kernel']
      const h1 = w0.shape[1]
      const itemHalf = matmul(t.mlp_item, rows(w0, e, 2 * e))
      for (let i = 0; i < I; i++) for (let j = 0; j < h1; j++) itemHalf.data[i * h1 + j] += t['mlp_0.bias'].data[j]
      const userHalf = g.op('MatMul', [mu, f32('mlp_0.kernel.user', rows(w0, 0, e))])
      let h = g.op('Relu', [g.op('Add', [g.op('Unsqueeze', [userHalf, g.int64([1])]), f32('mlp_0.item_half', itemHalf)])]) // [B, I, h1]
      h = g.op('Reshape', [h, g.int64([-1, h1])])
      for (let k = 1; k < n; k++) h = g.op('Relu', [g.op('Add', [g.op('MatMul', [h, f32(`mlp_${k}.kernel`, t[`mlp_${k}.kernel`])]), f32(`mlp_${k}.bias`, t[`mlp_${k}.bias`])])])
      logits = g.op('Reshape', [g.op('Add', [g.op('MatMul', [h, f32('out.kernel', outK)]), bias]), g.int64([-1, I])])
    }
  } else {
    throw new Error(`exportNcfOnnx: ${w.kind} is not gmf or mlp`)
  }
  const scores = g.op('Sigmoid', [logits])
  g.renameOutput(scores, 'scores')
  return g.model({
    name: `rec-${w.kind}`,
    opset: NCF_OPSET,
    inputs: [valueInfo('users', DataType.INT64, ['batch'])],
    outputs: [valueInfo('scores', DataType.FLOAT, ['batch', I])],
    metadata: {'rec.kind': w.kind, 'rec.num_items': String(I), 'rec.probabilities': 'true', 'rec.steps': '[]', 'rec.int8_kernels': ''},
    doc: 'rec scoring graph: users int64 [B] → scores float32 [B, numItems]',
  })
}
