import type {Gru4recWeights} from './gru4rec.js'

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

/**
 * The oracle: GRU4Rec's forward in plain JS (float64 arithmetic), straight from the equations in
 * gru4rec.ts, one sequence and one step at a time. seqs [B × maxLen] left-padded shifted ids
 * (row-major) → scores [B × I]. A padding step (id 0) leaves h unchanged; an empty history keeps
 * h = 0 and scores dense.bias · item_emb[j + 1].
 */
export function gru4recReferenceScores(w: Gru4recWeights, seqs: Int32Array): Float32Array {
  const {embedding: e, hidden: H, layers, maxLen: L} = w.params
  const I = w.numItems
  const T = w.tensors
  const emb = T.item_emb.data
  const B = seqs.length / L
  if (!Number.isInteger(B)) throw new Error(`reference: ${seqs.length} ids are not rows of ${L}`)
  const out = new Float32Array(B * I)
  for (let b = 0; b < B; b++) {
    const ids = seqs.subarray(b * L, (b + 1) * L)
    // the inputs of layer 0: the embeddings of the non-padding steps (padding steps are skipped,
    // which is what "h unchanged" means); a deeper layer's inputs are the outputs of the one below
    let xs: Float64Array[] = []
    for (const id of ids) if (id !== 0) xs.push(Float64Array.from(emb.subarray(id * e, (id + 1) * e)))
    let h = new Float64Array(H)
    for (let k = 0; k < layers; k++) {
      const W = T[`gru_${k}.w`].data
      const R = T[`gru_${k}.r`].data
      const bias = T[`gru_${k}.b`].data
      const inDim = k === 0 ? e : H
      h = new Float64Array(H)
      const ys: Float64Array[] = []
      for (const x of xs) {
        // gx[g] = W[g]·x + Wb[g], gh[g] = R[g]·h + Rb[g] for the 3H gate rows (z, r, n)
        const gx = new Float64Array(3 * H)
        const gh = new Float64Array(3 * H)
        for (let g = 0; g < 3 * H; g++) {
          let sx = bias[g]
          for (let i = 0; i < inDim; i++) sx += W[g * inDim + i] * x[i]
          let sh = bias[3 * H + g]
          for (let i = 0; i < H; i++) sh += R[g * H + i] * h[i]
          gx[g] = sx
          gh[g] = sh
        }
        const next = new Float64Array(H)
        for (let i = 0; i < H; i++) {
          const z = sigmoid(gx[i] + gh[i])
          const r = sigmoid(gx[H + i] + gh[H + i])
          const n = Math.tanh(gx[2 * H + i] + r * gh[2 * H + i])
          next[i] = (1 - z) * n + z * h[i]
        }
        h = next
        ys.push(next)
      }
      xs = ys
    }
    const K = T['dense.kernel'].data
    const db = T['dense.bias'].data
    const q = new Float64Array(e)
    for (let j = 0; j < e; j++) {
      let s = db[j]
      for (let i = 0; i < H; i++) s += h[i] * K[i * e + j]
      q[j] = s
    }
    for (let item = 0; item < I; item++) {
      let s = 0
      const row = (item + 1) * e
      for (let j = 0; j < e; j++) s += q[j] * emb[row + j]
      out[b * I + item] = s
    }
  }
  return out
}
