import type {Interactions} from '../data/types.js'
import {configError} from '../errors.js'
import type {ModelKind, ModelWeights, Tensor32} from './types.js'
import {tf} from '../backend/index.js'

/**
 * Item-item models (itemknn, ease) in the factorised form every scorer, exporter and compression
 * method already reads: score(u, j) = Σ_i X[u, i] · W[i, j] = user_emb[u] · item_emb[j], with
 * - user_emb [U, I]: the user's training interaction row X[u] (1 for an item in train, else 0),
 * - item_emb [I, I]: Wᵀ, row j holding the weights of every source item i for target item j.
 * So scoring one user is the user's interaction row × the item-item matrix (a Gather and one MatMul
 * in ONNX, exactly as mf with d = numItems), and quantization, pruning and low-rank apply as to mf.
 */
export const DOT_KINDS: readonly ModelKind[] = ['mf', 'itemknn', 'ease']

/** scored as user_emb · item_embᵀ (mf, and the item-item models stored in that form) */
export function isDotModel(kind: ModelKind): boolean {
  return DOT_KINDS.includes(kind)
}

/**
 * Largest catalogue the item-item models accept: item_emb is a dense I × I float32 matrix (1 GB at
 * 16,384 items, more than the tensors of any other model in rec) and ease inverts an I × I float64
 * matrix in O(I³) (see `maxItemsEase`).
 */
export const MAX_ITEMS_ITEMKNN = 16_384
/** ease: (XᵀX + λI)⁻¹, 2·I³ FLOPs in float32 matMuls (`invertSpdBlocked`): the whole ML-100K fit (1,682 items) took 16-24 s on 2 cores shared at load 24-34; I³ scaling puts 8,192 items at about 115× the inverse */
export const MAX_ITEMS_EASE = 8_192

export function checkCatalogue(kind: 'itemknn' | 'ease', numItems: number): void {
  const max = kind === 'ease' ? MAX_ITEMS_EASE : MAX_ITEMS_ITEMKNN
  if (numItems > max) {
    throw configError('model.too_large', `${kind} keeps a dense ${numItems} × ${numItems} item-item matrix; it accepts at most ${max} items (this dataset has ${numItems})`, {
      hint: kind === 'ease' ? 'raise preprocess.kcore.item to drop rare items, or use itemknn / mf' : 'raise preprocess.kcore.item to drop rare items, or use mf',
    })
  }
}

/** per-user item lists of the training interactions (CSR: items of u at items[offsets[u] .. offsets[u+1])), duplicates dropped */
export function userItemLists(train: Interactions, numUsers: number, numItems: number): {offsets: Int32Array; items: Int32Array} {
  const seen = new Set<number>()
  const count = new Int32Array(numUsers + 1)
  const keep = new Uint8Array(train.length)
  for (let r = 0; r < train.length; r++) {
    const key = train.user[r] * numItems + train.item[r]
    if (seen.has(key)) continue
    seen.add(key)
    keep[r] = 1
    count[train.user[r] + 1]++
  }
  for (let u = 0; u < numUsers; u++) count[u + 1] += count[u]
  const items = new Int32Array(count[numUsers])
  const fill = count.slice(0, numUsers)
  for (let r = 0; r < train.length; r++) if (keep[r]) items[fill[train.user[r]]++] = train.item[r]
  return {offsets: count, items}
}

/** the same lists transposed: users of item i at users[offsets[i] .. offsets[i+1]) */
function itemUserLists(lists: {offsets: Int32Array; items: Int32Array}, numUsers: number, numItems: number): {offsets: Int32Array; users: Int32Array} {
  const offsets = new Int32Array(numItems + 1)
  for (const i of lists.items) offsets[i + 1]++
  for (let i = 0; i < numItems; i++) offsets[i + 1] += offsets[i]
  const users = new Int32Array(lists.items.length)
  const fill = offsets.slice(0, numItems)
  for (let u = 0; u < numUsers; u++) for (let p = lists.offsets[u]; p < lists.offsets[u + 1]; p++) users[fill[lists.items[p]]++] = u
  return {offsets, users}
}

/** X as user_emb [U, I]: 1 where the user has the item in train */
export function interactionRows(lists: {offsets: Int32Array; items: Int32Array}, numUsers: number, numItems: number): Tensor32 {
  const data = new Float32Array(numUsers * numItems)
  for (let u = 0; u < numUsers; u++) for (let p = lists.offsets[u]; p < lists.offsets[u + 1]; p++) data[u * numItems + lists.items[p]] = 1
  return {shape: [numUsers, numItems], data}
}

/**
 * Co-occurrence column j of XᵀX into `out` (length I): out[i] = number of users with both i and j.
 * O(Σ_{u has j} |items(u)|) per column, O(I) memory: the full I × I count matrix never exists.
 */
function cooccurrence(j: number, byUser: {offsets: Int32Array; items: Int32Array}, byItem: {offsets: Int32Array; users: Int32Array}, out: Float64Array): void {
  out.fill(0)
  for (let p = byItem.offsets[j]; p < byItem.offsets[j + 1]; p++) {
    const u = byItem.users[p]
    for (let q = byUser.offsets[u]; q < byUser.offsets[u + 1]; q++) out[byUser.items[q]]++
  }
}

/** indices of the k largest values (ties: the lower index first), in descending order of value */
export function topKIndices(values: Float64Array, k: number): number[] {
  // a bounded min-heap of candidate indices (k ≪ n): O(n log k)
  const heap: number[] = []
  const worse = (a: number, b: number) => values[a] < values[b] || (values[a] === values[b] && a > b)
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && worse(heap[l], heap[m])) m = l
      if (r < heap.length && worse(heap[r], heap[m])) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m], heap[i]]
      i = m
    }
  }
  for (let i = 0; i < values.length; i++) {
    if (heap.length < k) {
      heap.push(i)
      for (let c = heap.length - 1; c > 0; ) {
        const p = (c - 1) >> 1
        if (!worse(heap[c], heap[p])) break
        ;[heap[c], heap[p]] = [heap[p], heap[c]]
        c = p
      }
    } else if (k > 0 && worse(heap[0], i)) {
      heap[0] = i
      siftDown(0)
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0))
}

export interface ItemKnnParams {
  /** neighbours kept per target item (RecBole: k = 100) */
  k: number
  /** added to the cosine's denominator (RecBole: shrink = 0.0) */
  shrink: number
}

/**
 * ItemKNN as RecBole 1.2 computes it (recbole/model/general_recommender/itemknn.py, ComputeSimilarity):
 * sim(i, j) = (x_i · x_j) / (‖x_i‖·‖x_j‖ + shrink + 1e−6) over the binary training matrix X, the
 * item's similarity to itself set to 0, and for each target item j only its k most similar items
 * kept (zeros dropped). score(u, j) = Σ_i X[u, i] · sim(i, j) over those neighbours.
 */
export function fitItemKnn(train: Interactions, dims: {numUsers: number; numItems: number}, p: ItemKnnParams): ModelWeights {
  const {numUsers: U, numItems: I} = dims
  checkCatalogue('itemknn', I)
  const byUser = userItemLists(train, U, I)
  const byItem = itemUserLists(byUser, U, I)
  const norm = new Float64Array(I)
  for (let i = 0; i < I; i++) norm[i] = Math.sqrt(byItem.offsets[i + 1] - byItem.offsets[i])
  const item = new Float32Array(I * I)
  const col = new Float64Array(I)
  const k = Math.min(p.k, I)
  for (let j = 0; j < I; j++) {
    cooccurrence(j, byUser, byItem, col)
    col[j] = 0
    for (let i = 0; i < I; i++) col[i] /= norm[j] * norm[i] + p.shrink + 1e-6
    for (const i of topKIndices(col, k)) if (col[i] !== 0) item[j * I + i] = col[i]
  }
  return {
    kind: 'itemknn',
    ...dims,
    params: {k: p.k, shrink: p.shrink},
    tensors: {user_emb: interactionRows(byUser, U, I), item_emb: {shape: [I, I], data: item}},
  }
}

/**
 * In-place inverse of a symmetric positive definite n × n matrix (row-major float64) by Gauss-Jordan
 * elimination without pivoting (safe for SPD matrices: every pivot is a positive Schur complement).
 * n³ multiply-adds over contiguous rows (memory-bound: the whole matrix is streamed once per pivot):
 * 4.1 s at n = 800 where ml-matrix's `inverse` (LU over arrays of rows) took 7.2 s (same session, loaded
 * machine). Used for the small pivot blocks of `invertSpdBlocked`.
 */
export function invertSpd(a: Float64Array, n: number): void {
  for (let k = 0; k < n; k++) {
    const ok = k * n
    const pivot = a[ok + k]
    if (!(pivot > 0)) throw new Error(`invertSpd: pivot ${k} is ${pivot}; the matrix is not positive definite`)
    const inv = 1 / pivot
    a[ok + k] = 1
    for (let j = 0; j < n; j++) a[ok + j] *= inv
    for (let i = 0; i < n; i++) {
      if (i === k) continue
      const oi = i * n
      const f = a[oi + k]
      if (f === 0) continue
      a[oi + k] = 0
      for (let j = 0; j < n; j++) a[oi + j] -= f * a[ok + j]
    }
  }
}

/** pivot block of `invertSpdBlocked`: one matMul of [n, b] × [b, n] per block */
const INVERSE_BLOCK = 128

/**
 * The inverse of a symmetric positive definite n × n matrix by blocked Gauss-Jordan elimination on
 * the tfjs backend: per pivot block K of b rows (b × b inverted in float64 by `invertSpd`), the rest
 * of the matrix gets one rank-b update A ← A − A[:, K] · (A_KK⁻¹ · A[K, :]), a matMul that runs at
 * the backend's speed (XNNPACK on wasm): 3.6 s at n = 800 where the float64 loop of `invertSpd`
 * took 19.6 s (same process, load average 20 on 2 cores); EASE's ML-100K fit fell from 116-197 s to
 * 16-24 s under the same load. Float32: for λ-regularised Gram matrices (EASE; condition number
 * about (‖XᵀX‖ + λ) / λ) the relative error stays near 1e−5, far below what moves a ranking
 * (test/baselines measures it against the float64 inverse).
 */
export function invertSpdBlocked(a: Float64Array, n: number, block = INVERSE_BLOCK): Float32Array {
  let A = tf.tensor2d(Float32Array.from(a), [n, n])
  try {
    for (let s = 0; s < n; s += block) {
      const b = Math.min(block, n - s)
      const kk = Float64Array.from(tf.tidy(() => tf.slice(A, [s, s], [b, b])).dataSync())
      invertSpd(kk, b)
      const next = tf.tidy(() => {
        const pinv = tf.tensor2d(Float32Array.from(kk), [b, b])
        const rowK = tf.slice(A, [s, 0], [b, n])
        const colK = tf.slice(A, [0, s], [n, b])
        const newRow = tf.matMul(pinv, rowK) // [b, n]; its columns K are I
        const m = tf.sub(A, tf.matMul(colK, newRow))
        // rows K: A_KK⁻¹ · A[K, J], and A_KK⁻¹ itself at columns K
        const row = tf.concat([tf.slice(newRow, [0, 0], [b, s]), pinv, tf.slice(newRow, [0, s + b], [b, n - s - b])], 1)
        // columns K: −A[I, K] · A_KK⁻¹ (rows K: A_KK⁻¹ again)
        const colNew = tf.neg(tf.matMul(colK, pinv))
        const col = tf.concat([tf.slice(colNew, [0, 0], [s, b]), pinv, tf.slice(colNew, [s + b, 0], [n - s - b, b])], 0)
        const withRow = tf.concat([tf.slice(m, [0, 0], [s, n]), row, tf.slice(m, [s + b, 0], [n - s - b, n])], 0)
        return tf.concat([tf.slice(withRow, [0, 0], [n, s]), col, tf.slice(withRow, [0, s + b], [n, n - s - b])], 1) as import('@tensorflow/tfjs').Tensor2D
      })
      A.dispose()
      A = next
    }
    return A.dataSync() as Float32Array
  } finally {
    A.dispose()
  }
}

/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"), its closed form:
 * P = (XᵀX + λI)⁻¹, B = I − P · diagMat(1 / diag(P)), i.e. B[i, j] = −P[i, j] / P[j, j] off the
 * diagonal and B[j, j] = 0. score(u, j) = Σ_i X[u, i] · B[i, j]. P is symmetric, so item_emb = Bᵀ
 * has row j = −P[j, ·] / P[j, j].
 */
export function fitEase(train: Interactions, dims: {numUsers: number; numItems: number}, lambda: number): ModelWeights {
  const {numUsers: U, numItems: I} = dims
  checkCatalogue('ease', I)
  const byUser = userItemLists(train, U, I)
  const g = new Float64Array(I * I)
  for (let u = 0; u < U; u++) {
    const from = byUser.offsets[u]
    const to = byUser.offsets[u + 1]
    for (let p = from; p < to; p++) {
      const oi = byUser.items[p] * I
      for (let q = from; q < to; q++) g[oi + byUser.items[q]]++
    }
  }
  for (let i = 0; i < I; i++) g[i * I + i] += lambda
  const p = invertSpdBlocked(g, I)
  const item = new Float32Array(I * I)
  for (let j = 0; j < I; j++) {
    const oj = j * I
    const d = p[oj + j]
    for (let i = 0; i < I; i++) item[oj + i] = i === j ? 0 : -p[oj + i] / d
  }
  return {kind: 'ease', ...dims, params: {lambda}, tensors: {user_emb: interactionRows(byUser, U, I), item_emb: {shape: [I, I], data: item}}}
}
