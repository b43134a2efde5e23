/**
 * The framework-neutral form of a trained model: named float32 tensors plus the hyper-parameters
 * that say how they combine. Training produces it from tfjs variables; compression transforms it;
 * tfjs scorers and the ONNX exporter consume it.
 *
 * Tensor names per architecture (score of user u, item i):
 * - pop:       item_pop [I]                                   score = item_pop[i]
 * - mf:        user_emb [U,d], item_emb [I,d]                 score = user_emb[u] · item_emb[i]
 * - neumf:     gmf_user [U,f], gmf_item [I,f], mlp_user [U,e], mlp_item [I,e],
 *              mlp_<k>.kernel [in,out], mlp_<k>.bias [out] (ReLU), out.kernel [f+last,1], out.bias [1]
 *              score = sigmoid(out([gmf_user[u] ⊙ gmf_item[i], mlp([mlp_user[u], mlp_item[i]])]))
 * - two_tower: user_emb [U,d], item_emb [I,d], user_tower_<k>.kernel/.bias, item_tower_<k>.kernel/.bias
 *              (ReLU between layers, none after the last)    score = towerU(u) · towerI(i)
 * - sasrec:    item_emb [I+1,h] (row 0 = padding), pos_emb [L,h], emb_ln.*, layer_k.{q,k,v,attn_out,ffn1,ffn2}.kernel/.bias,
 *              layer_k.ln1/ln2.gamma/.beta (src/models/sasrec-reference.ts)   score = state(history) · item_emb[i+1]
 * - gru4rec:   item_emb [I+1,e], gru_k.w/.r/.b, dense.kernel/.bias (src/models/gru4rec.ts)
 * - itemknn, ease: user_emb [U,I] (the user's training interaction row), item_emb [I,I] (row j: the item-item
 *              weights of target j)                            score = user_emb[u] · item_emb[i] (src/models/itemitem.ts)
 * - gmf:       gmf_user [U,f], gmf_item [I,f], out.kernel [f,1], out.bias [1]     score = sigmoid(out(gmf_user[u] ⊙ gmf_item[i]))
 * - mlp:       mlp_user [U,e], mlp_item [I,e], mlp_<k>.kernel/.bias (ReLU), out.kernel [last,1], out.bias [1]
 *              score = sigmoid(out(mlp([mlp_user[u], mlp_item[i]])))   (gmf and mlp: NeuMF's two towers alone, He et al. 2017)
 * Sequential models (sasrec, gru4rec) score a user's history (src/models/sequential.ts), not a user id:
 * numUsers is kept for the record only.
 */
export type ModelKind = 'pop' | 'mf' | 'neumf' | 'two_tower' | 'sasrec' | 'gru4rec' | 'itemknn' | 'ease' | 'gmf' | 'mlp'

export interface Tensor32 {
  shape: number[]
  data: Float32Array
}

export interface ModelWeights {
  kind: ModelKind
  numUsers: number
  numItems: number
  /** hyper-parameters needed to rebuild the forward pass (factors, layers, loss...) */
  params: Record<string, unknown>
  tensors: Record<string, Tensor32>
}

/**
 * Scores users against items. Implementations: tfjs (float weights, batched matMul) and
 * ONNX Runtime (exported variants).
 */
export interface Scorer {
  readonly numItems: number
  /** what executes: backend or runtime name, e.g. "wasm", "onnxruntime-cpu" */
  readonly runtime: string
  /** true when scores are already probabilities in [0, 1]; otherwise eval applies a sigmoid */
  readonly probabilities: boolean
  /** row-major [users.length × numItems] scores of every item for each user */
  scoreUsers(users: Int32Array): Promise<Float32Array>
  /** score of each (users[j], items[j]) pair */
  scorePairs(users: Int32Array, items: Int32Array): Promise<Float32Array>
  dispose(): void
}
