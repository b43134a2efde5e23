import {tf} from '../backend/index.js'
import {countLayers, dense, pairScores, type TensorMap} from './forward.js'
import type {ModelWeights, Scorer} from './types.js'
import {modelRegistry} from './registry.js'
import {isDotModel} from './itemitem.js'
import {createSequenceScoring, historyRows, isSequential} from './sequential.js'
import type {Sequences} from '../data/sequences.js'

type Tensor = import('@tensorflow/tfjs').Tensor
type Tensor1D = import('@tensorflow/tfjs').Tensor1D
type Tensor2D = import('@tensorflow/tfjs').Tensor2D

export interface TfjsScorerOptions {
  /** neumf: items per chunk when scoring a user against all items (default: all items) */
  batchItems?: number
  /** users per matMul in scoreUsers (default 256) */
  batchUsers?: number
  /** neumf: bound on user × item pairs per chunk (default 131072) */
  maxPairs?: number
  /**
   * sequential models (sasrec, gru4rec): each user's items in time order, the history a request is
   * built from (its last max_len items): train for validation, train + validation for test
   */
  histories?: Sequences
}

/** (user batch) → [B × numItems] scores, row-major, written at out[offset..] */
type UserBlock = (users: Tensor1D, out: Float32Array, offset: number) => void

/**
 * A Scorer over float32 weights on the current tfjs backend.
 * - mf / two_tower: item representations (item_emb, or the item tower's output) are computed
 *   once; scoring a batch of users is one matMul, user vectors × item matrixᵀ.
 * - neumf: GMF is also one matMul (the output weights of the GMF half are folded into the item
 *   vectors); the MLP's first layer is split into its user and item halves, the item half
 *   precomputed, so per user × item pair only the broadcast add, the remaining layers and the
 *   output remain; chunks are bounded by `maxPairs`.
 * - pop: the count vector, copied per user.
 * Every intermediate lives inside tf.tidy; dispose() frees the resident tensors.
 */
export function createTfjsScorer(weights: ModelWeights, options: TfjsScorerOptions = {}): Scorer {
  if (isSequential(weights.kind)) return sequenceScorer(weights, options)
  const {kind, numItems} = weights
  const batchUsers = Math.max(1, options.batchUsers ?? 256)
  const batchItems = Math.max(1, Math.min(numItems, options.batchItems ?? numItems))
  const maxPairs = Math.max(1, options.maxPairs ?? 131_072)
  const resident: Tensor[] = []
  const keep = <T extends Tensor>(t: T): T => {
    resident.push(tf.keep(t))
    return t
  }
  const T: TensorMap = {}
  for (const [name, t] of Object.entries(weights.tensors)) T[name] = keep(tf.tensor(t.data, t.shape, 'float32'))
  const probabilities = modelRegistry[kind].probabilities
  let block: UserBlock

  if (kind === 'pop') {
    const pop = weights.tensors.item_pop.data
    block = (users, out, offset) => {
      for (let b = 0; b < users.shape[0]; b++) out.set(pop, offset + b * numItems)
    }
  } else if (isDotModel(kind) || kind === 'two_tower') {
    const tower = kind === 'two_tower'
    const nu = tower ? countLayers(T, 'user_tower') : 0
    // [k, numItems]: stored transposed so that the per-request matMul needs no transpose
    const itemMatT = keep(
      tf.tidy(() => tf.transpose(tower ? dense(T, 'item_tower', countLayers(T, 'item_tower'), T.item_emb as Tensor2D, true) : T.item_emb) as Tensor2D),
    )
    block = (users, out, offset) => {
      const s = tf.tidy(() => {
        let u = tf.gather(T.user_emb, users) as Tensor2D
        if (tower) u = dense(T, 'user_tower', nu, u, true)
        return tf.matMul(u, itemMatT)
      })
      out.set(s.dataSync() as Float32Array, offset)
      s.dispose()
    }
  } else if (kind === 'neumf') {
    const f = T.gmf_user.shape[1]!
    const e = T.mlp_user.shape[1]!
    const n = countLayers(T, 'mlp')
    // out.kernel = [w_gmf (f) ; w_mlp (last)]
    const [gmfItemW, itemPart, wu, wm] = tf.tidy(() => {
      const outK = T['out.kernel'] as Tensor2D
      const last = outK.shape[0] - f
      const wg = tf.slice(outK, [0, 0], [f, 1])
      const wmlp = tf.slice(outK, [f, 0], [last, 1])
      const gmfW = tf.transpose(tf.mul(T.gmf_item, tf.reshape(wg, [1, f]))) // [f, numItems]
      if (n === 0) {
        // no hidden layer: the MLP output is [mlp_user, mlp_item] itself, linear in each half
        const wmu = tf.slice(wmlp, [0, 0], [e, 1])
        const wmi = tf.slice(wmlp, [e, 0], [e, 1])
        const item = tf.add(tf.reshape(tf.matMul(T.mlp_item as Tensor2D, wmi), [1, -1]), T['out.bias'])
        return [gmfW, item, wmu, wmlp]
      }
      const k0 = T['mlp_0.kernel'] as Tensor2D
      const h1 = k0.shape[1]
      const wuser = tf.slice(k0, [0, 0], [e, h1])
      const witem = tf.slice(k0, [e, 0], [e, h1])
      const item = tf.add(tf.matMul(T.mlp_item as Tensor2D, witem), T['mlp_0.bias'])
      return [gmfW, item, wuser, wmlp]
    }) as [Tensor2D, Tensor2D, Tensor2D, Tensor2D]
    keep(gmfItemW)
    keep(itemPart)
    keep(wu)
    keep(wm)
    const usersPerChunk = Math.max(1, Math.floor(maxPairs / batchItems))
    block = (users, out, offset) => {
      const B = users.shape[0]
      for (let u0 = 0; u0 < B; u0 += usersPerChunk) {
        const ub = Math.min(usersPerChunk, B - u0)
        for (let i0 = 0; i0 < numItems; i0 += batchItems) {
          const ib = Math.min(batchItems, numItems - i0)
          const s = tf.tidy(() => {
            const uids = ub === B ? users : tf.slice(users, [u0], [ub])
            const gu = tf.gather(T.gmf_user, uids) as Tensor2D
            const mu = tf.gather(T.mlp_user, uids) as Tensor2D
            const gi = ib === numItems ? gmfItemW : tf.slice(gmfItemW, [0, i0], [f, ib])
            const gmf = tf.matMul(gu, gi) // [ub, ib]
            let mlp: Tensor2D
            if (n === 0) {
              const ip = ib === numItems ? itemPart : tf.slice(itemPart, [0, i0], [1, ib])
              mlp = tf.add(tf.matMul(mu, wu), ip) as Tensor2D
            } else {
              const h1 = itemPart.shape[1]
              const ip = ib === numItems ? itemPart : tf.slice(itemPart, [i0, 0], [ib, h1])
              const up = tf.matMul(mu, wu) // [ub, h1]
              let h = tf.relu(tf.add(tf.reshape(up, [ub, 1, h1]), tf.reshape(ip, [1, ib, h1]))).reshape([ub * ib, h1]) as Tensor2D
              for (let k = 1; k < n; k++) {
                h = tf.fused.matMul({a: h, b: T[`mlp_${k}.kernel`] as Tensor2D, bias: T[`mlp_${k}.bias`], activation: 'relu'}) as Tensor2D
              }
              mlp = tf.add(tf.reshape(tf.matMul(h, wm), [ub, ib]), T['out.bias']) as Tensor2D
            }
            return tf.sigmoid(tf.add(gmf, mlp))
          })
          const data = s.dataSync() as Float32Array
          s.dispose()
          if (ib === numItems) out.set(data, offset + u0 * numItems)
          else for (let r = 0; r < ub; r++) out.set(data.subarray(r * ib, (r + 1) * ib), offset + (u0 + r) * numItems + i0)
        }
      }
    }
  } else if (kind === 'gmf' || kind === 'mlp') {
    // NeuMF's towers alone: every (user, item) pair through the forward pass, users in chunks of ⌊maxPairs / numItems⌋
    const allItems = keep(tf.range(0, numItems, 1, 'int32') as Tensor1D)
    const usersPerChunk = Math.max(1, Math.floor(maxPairs / numItems))
    block = (users, out, offset) => {
      const B = users.shape[0]
      for (let u0 = 0; u0 < B; u0 += usersPerChunk) {
        const ub = Math.min(usersPerChunk, B - u0)
        const s = tf.tidy(() => {
          const uids = tf.reshape(tf.tile(tf.reshape(tf.slice(users, [u0], [ub]), [ub, 1]), [1, numItems]), [-1]) as Tensor1D
          return tf.sigmoid(pairScores(kind, T, uids, tf.tile(allItems, [ub])))
        })
        out.set(s.dataSync() as Float32Array, offset + u0 * numItems)
        s.dispose()
      }
    }
  } else {
    for (const t of resident) t.dispose()
    throw new Error(`createTfjsScorer: unknown model kind ${String(kind)}`)
  }

  let disposed = false
  const check = () => {
    if (disposed) throw new Error('scorer used after dispose()')
  }
  return {
    numItems,
    get runtime() {
      return tf.getBackend()
    },
    probabilities,
    async scoreUsers(users: Int32Array): Promise<Float32Array> {
      check()
      const out = new Float32Array(users.length * numItems)
      for (let b0 = 0; b0 < users.length; b0 += batchUsers) {
        const ids = users.subarray(b0, Math.min(users.length, b0 + batchUsers))
        const t = tf.tensor1d(ids, 'int32')
        try {
          block(t, out, b0 * numItems)
        } finally {
          t.dispose()
        }
      }
      return out
    },
    async scorePairs(users: Int32Array, items: Int32Array): Promise<Float32Array> {
      check()
      if (users.length !== items.length) throw new Error(`scorePairs: ${users.length} users but ${items.length} items`)
      const out = new Float32Array(users.length)
      const chunk = 65_536
      for (let p0 = 0; p0 < users.length; p0 += chunk) {
        const p1 = Math.min(users.length, p0 + chunk)
        const s = tf.tidy(() => {
          const raw = pairScores(kind, T, tf.tensor1d(users.subarray(p0, p1), 'int32'), tf.tensor1d(items.subarray(p0, p1), 'int32'))
          return probabilities ? tf.sigmoid(raw) : raw
        })
        out.set(s.dataSync() as Float32Array, p0)
        s.dispose()
      }
      return out
    },
    dispose() {
      if (disposed) return
      disposed = true
      for (const t of resident) t.dispose()
    },
  }
}

/**
 * A sequential model's scorer: a request for user u builds u's history row (the last max_len items
 * of `histories`, inside the timed call) and scores it against every item; pairs are picked from
 * the distinct users' full rows.
 */
function sequenceScorer(weights: ModelWeights, options: TfjsScorerOptions): Scorer {
  const scoring = createSequenceScoring(weights)
  const batchUsers = Math.max(1, options.batchUsers ?? 256)
  const I = weights.numItems
  const scoreUsers = async (users: Int32Array): Promise<Float32Array> => {
    const out = new Float32Array(users.length * I)
    for (let b0 = 0; b0 < users.length; b0 += batchUsers) {
      const ids = users.subarray(b0, Math.min(users.length, b0 + batchUsers))
      out.set(scoring.score(historyRows(options.histories, ids, scoring.maxLen, weights.kind)), b0 * I)
    }
    return out
  }
  return {
    numItems: I,
    get runtime() {
      return tf.getBackend()
    },
    probabilities: false,
    scoreUsers,
    scorePairs: (users, items) => pickPairs(scoreUsers, I, users, items),
    dispose: () => scoring.dispose(),
  }
}

/** scores of (users[j], items[j]) pairs from full rows: each distinct user scored once against every item */
export async function pickPairs(scoreUsers: (users: Int32Array) => Promise<Float32Array>, numItems: number, users: Int32Array, items: Int32Array): Promise<Float32Array> {
  if (users.length !== items.length) throw new Error(`scorePairs: ${users.length} users but ${items.length} items`)
  const distinct = Int32Array.from(new Set(users))
  const row = new Map<number, number>()
  for (const [i, u] of distinct.entries()) row.set(u, i)
  const out = new Float32Array(users.length)
  // in blocks of distinct users: [block × numItems] scores at a time
  const block = 256
  for (let d0 = 0; d0 < distinct.length; d0 += block) {
    const part = distinct.subarray(d0, Math.min(distinct.length, d0 + block))
    const all = await scoreUsers(part)
    for (let j = 0; j < users.length; j++) {
      const r = row.get(users[j])! - d0
      if (r >= 0 && r < part.length) out[j] = all[r * numItems + items[j]]
    }
  }
  return out
}
