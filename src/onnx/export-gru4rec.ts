import type {Gru4recWeights} from '../models/gru4rec.js'
import {DataType, GraphBuilder, onnx, valueInfo} from './graph.js'

export const GRU4REC_OPSET = 17

/**
 * GRU4Rec as an ONNX graph (ir 8, opset 17): `seqs` int64 [B, L] (L = maxLen; left-padded shifted
 * ids, as src/data/sequences.ts writes them) → `scores` float32 [B, I].
 *
 * - len = number of non-zero ids per row; the ONNX GRU op wants RIGHT-padded input with
 *   sequence_lens, so the row is rotated in-graph: GatherElements with index (t + L − len) mod L
 *   puts the len real items first and the padding after them.
 * - Gather(item_emb) → [B, L, e] → Transpose → [L, B, e] → GRU (linear_before_reset = 1, gates
 *   z, r, n: W / R / B exactly as stored) per layer, the Y of one layer feeding the next; the last
 *   layer's Y_h [1, B, h] is the state.
 * - len = 0: sequence_lens gets max(len, 1) (one step over the zero padding row), and the state is
 *   multiplied by min(len, 1), so an empty history has h = 0 and scores dense.bias · item_emb[j+1],
 *   as in the tfjs model and the reference.
 * - state·dense.kernel + dense.bias, then · item_emb[1..I]ᵀ (Slice + Transpose of the one stored
 *   table: constants, folded by ORT at session load).
 * Rows are independent: a row's scores do not depend on the other rows of the request.
 */
export function exportGru4recOnnx(w: Gru4recWeights): Uint8Array {
  const {embedding: e, hidden: H, layers, maxLen: L} = w.params
  const I = w.numItems
  const g = new GraphBuilder()
  const t32 = (name: string) => g.init(name, w.tensors[name].shape, w.tensors[name].data)

  const seqs = 'seqs'
  const nonPad = g.op('Cast', [g.op('Greater', [seqs, g.init('zero_i64', [], BigInt64Array.of(0n))])], {to: DataType.INT64})
  const len = g.op('ReduceSum', [nonPad, g.int64([1])], {keepdims: 1}) // [B, 1]
  const one = g.init('one_i64', [], BigInt64Array.of(1n))
  const lenSafe = g.op('Max', [len, one])
  const steps = g.init('steps', [1, L], BigInt64Array.from({length: L}, (_, t) => BigInt(t)))
  const Lc = g.init('max_len', [], BigInt64Array.of(BigInt(L)))
  // (t + L − len) mod L: left padding → right padding (len = 0 gives the identity: all padding anyway)
  const index = g.op('Mod', [g.op('Add', [steps, g.op('Sub', [Lc, len])]), Lc])
  const right = g.op('GatherElements', [seqs, index], {axis: 1})
  const seqLens = g.op('Cast', [g.op('Reshape', [lenSafe, g.int64([-1])])], {to: DataType.INT32}) // [B]

  const table = t32('item_emb')
  let x = g.op('Transpose', [g.op('Gather', [table, right], {axis: 0})], {perm: [1, 0, 2]}) // [L, B, e]
  let yh = ''
  for (let k = 0; k < layers; k++) {
    const W = g.init(`gru_${k}.w`, [1, 3 * H, k === 0 ? e : H], w.tensors[`gru_${k}.w`].data)
    const R = g.init(`gru_${k}.r`, [1, 3 * H, H], w.tensors[`gru_${k}.r`].data)
    const B = g.init(`gru_${k}.b`, [1, 6 * H], w.tensors[`gru_${k}.b`].data)
    const last = k === layers - 1
    // the last layer's Y is not needed: its output name is left empty (an omitted optional output)
    const y = last ? '' : g.fresh('gru_y')
    yh = last ? g.fresh('gru_yh') : ''
    const A = onnx.AttributeProto.AttributeType
    g.nodes.push(
      onnx.NodeProto.create({
        opType: 'GRU',
        name: `gru_${k}`,
        input: [x, W, R, B, seqLens],
        output: last ? [y, yh] : [y],
        attribute: [onnx.AttributeProto.create({name: 'hidden_size', type: A.INT, i: H}), onnx.AttributeProto.create({name: 'linear_before_reset', type: A.INT, i: 1})],
      }),
    )
    if (!last) x = g.op('Squeeze', [y, g.int64([1])]) // Y [L, 1, B, h] → [L, B, h]
  }
  // Y_h [1, B, h] → [B, h], zeroed for empty histories
  const nonEmpty = g.op('Cast', [g.op('Min', [len, one])], {to: DataType.FLOAT}) // [B, 1]
  const state = g.op('Mul', [g.op('Squeeze', [yh, g.int64([0])]), nonEmpty])
  const q = g.op('Add', [g.op('MatMul', [state, t32('dense.kernel')]), t32('dense.bias')])
  const items = g.op('Transpose', [g.op('Slice', [table, g.int64([1]), g.int64([I + 1]), g.int64([0])])], {perm: [1, 0]}) // [e, I]
  const scores = g.op('MatMul', [q, items])
  g.renameOutput(scores, 'scores')
  return g.model({
    name: 'rec-gru4rec',
    opset: GRU4REC_OPSET,
    inputs: [valueInfo('seqs', DataType.INT64, ['batch', L])],
    outputs: [valueInfo('scores', DataType.FLOAT, ['batch', I])],
    metadata: {
      'rec.kind': 'gru4rec',
      'rec.num_items': String(I),
      'rec.max_len': String(L),
      'rec.probabilities': 'false',
      'rec.params': JSON.stringify(w.params),
    },
    doc: 'rec scoring graph: seqs int64 [B, maxLen] (left-padded shifted item ids, 0 = padding) → scores float32 [B, numItems]',
  })
}
