import {dataError} from '../errors.js'
import {countLayers} from '../models/forward.js'
import type {Loss} from '../models/registry.js'
import type {ModelWeights, Tensor32} from '../models/types.js'
import {type Engine, pairBatches} from './engine.js'
import {readOptimizerFiles} from './optimizer-files.js'
import type {TrainArgs} from './train.js'
import {type AdamHyper, arenaFloats, createArena, kernelsAvailable, type KernelArena} from './wasm-kernels.js'

/**
 * Pair training of mf and neumf by hand over typed arrays: the forward pass, the backward pass and
 * the optimizer step written out for these two models, the dense layers and Adam in WebAssembly
 * SIMD (kernels.wat). It computes what the tfjs step computes (the same batches, objective, L2
 * term, dense Adam with tfjs' constants and op order, masks), without tfjs' per-op dispatch, which
 * is most of a small batch's time. Checkpoints are in the tfjs optimizer's layout, so either
 * engine resumes the other's.
 *
 * Layout: all parameters live in one buffer of the arena (each tensor a padded sub-view), the
 * gradients, first and second moments in three more of the same layout, so one Adam call updates
 * the whole model. Only the touched embedding rows of the gradient are cleared after a step.
 */

/** why the kernel engine cannot train this, or undefined when it can */
export function kernelIneligible(args: TrainArgs, loss: Loss): string | undefined {
  const kind = args.model.model
  if (kind !== 'mf' && kind !== 'neumf') return `${kind} has no hand-written step`
  if (args.distill && args.distill.alpha < 1) return 'distillation runs the teacher in tfjs'
  if (kind === 'neumf') {
    if (loss !== 'bce') return 'neumf trains with bce'
    const layers = args.model.mlp_layers
    if (layers.length < 2) return 'the hand-written neumf step needs at least one dense layer'
    if (layers.some((w) => w % 4 !== 0) || layers[0] % 8 !== 0) return 'the SIMD dense layers need widths that are multiples of 4 (8 for the first)'
  }
  if (!kernelsAvailable()) return 'WebAssembly SIMD is not available'
  return undefined
}

interface Param {
  name: string
  shape: number[]
  /** view of the parameter, gradient and moments (the arena's padded sub-views) */
  w: Float32Array
  g: Float32Array
  m: Float32Array
  v: Float32Array
  size: number
}

/** rows per panel of the kernel-gradient product (a panel of inputs and gradients fits in L1) */
const PANEL = 32

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

export function kernelPairEngine(initial: ModelWeights, args: TrainArgs, loss: Loss): Engine {
  const tc = args.train
  const batches = pairBatches(args, tc, loss)
  const B = batches.maxRows
  const names = Object.keys(initial.tensors)
  const kind = initial.kind

  // neumf's shape
  const nDense = kind === 'neumf' ? countLayers(names, 'mlp') : 0
  const widths: number[] = [] // input width of each dense layer, then the last output
  if (kind === 'neumf') {
    for (let k = 0; k < nDense; k++) widths.push(initial.tensors[`mlp_${k}.kernel`].shape[0])
    widths.push(nDense > 0 ? initial.tensors[`mlp_${nDense - 1}.kernel`].shape[1] : initial.tensors.mlp_user.shape[1] * 2)
  }
  const f = kind === 'neumf' ? initial.tensors.gmf_user.shape[1] : initial.tensors.user_emb.shape[1]
  const e = kind === 'neumf' ? initial.tensors.mlp_user.shape[1] : 0

  // the arena: parameters, gradients and moments (4 × the padded model), then the workspaces
  const sizes = names.map((n) => initial.tensors[n].data.length)
  const modelFloats = arenaFloats(sizes)
  const work: number[] = []
  if (kind === 'neumf') {
    for (let k = 0; k <= nDense; k++) work.push(B * widths[k]) // activations: input, then each layer's output
    for (let k = 0; k < nDense; k++) work.push(widths[k] * widths[k + 1]) // transposed kernels
    const wmax = Math.max(...widths)
    work.push(B * wmax, B * wmax) // two gradient ping-pong buffers
    work.push(B * widths[1], B * widths[1]) // the first layer's user part and its gradient, per user
    work.push(B, B, B) // row indices: items, each run's user, each row's run
  }
  const arena: KernelArena = createArena(4 * modelFloats + arenaFloats(work))
  const W = arena.alloc(modelFloats)
  const G = arena.alloc(modelFloats)
  const M1 = arena.alloc(modelFloats)
  const V2 = arena.alloc(modelFloats)
  const params: Record<string, Param> = {}
  {
    let off = 0
    names.forEach((name, k) => {
      const t = initial.tensors[name]
      const size = sizes[k]
      const sub = (a: Float32Array) => a.subarray(off, off + size)
      const p: Param = {name, shape: [...t.shape], size, w: sub(W), g: sub(G), m: sub(M1), v: sub(V2)}
      p.w.set(t.data)
      params[name] = p
      off += Math.ceil(size / 4) * 4
    })
  }
  const acts: Float32Array[] = []
  const kernT: Float32Array[] = []
  let dA: Float32Array = new Float32Array(0)
  let dB: Float32Array = new Float32Array(0)
  let userPart: Float32Array = new Float32Array(0)
  let userGrad: Float32Array = new Float32Array(0)
  let itemIdx: Int32Array = new Int32Array(0)
  let groupUser: Int32Array = new Int32Array(0)
  let rowGroup: Int32Array = new Int32Array(0)
  if (kind === 'neumf') {
    for (let k = 0; k <= nDense; k++) acts.push(arena.alloc(B * widths[k]))
    for (let k = 0; k < nDense; k++) kernT.push(arena.alloc(widths[k] * widths[k + 1]))
    const wmax = Math.max(...widths)
    dA = arena.alloc(B * wmax)
    dB = arena.alloc(B * wmax)
    userPart = arena.alloc(B * widths[1])
    userGrad = arena.alloc(B * widths[1])
    itemIdx = arena.allocIndex(B)
    groupUser = arena.allocIndex(B)
    rowGroup = arena.allocIndex(B)
  }
  const logits = new Float64Array(B)
  const dlogit = new Float64Array(B)

  // optimizer state, as tfjs keeps it: step count and the float32 running products β^t
  const adam = tc.optimizer !== 'sgd'
  const fr = Math.fround
  const beta1 = fr(0.9)
  const beta2 = fr(0.999)
  let iterations = 0
  let accBeta1 = beta1
  let accBeta2 = beta2
  const l2 = tc.l2

  // pruning masks: (parameter, mask) pairs applied after each step
  let masks: {p: Param; mask: Uint8Array}[] = []

  const step = (users: Int32Array, items: Int32Array, negItems: Int32Array, labels: Float32Array, m: number): number => {
    const objective = kind === 'mf' ? (loss === 'bpr' ? mfBpr(users, items, negItems, m) : mfBce(users, items, labels, m)) : neumfBce(users, items, labels, m)
    update()
    clearGradients(users, items, negItems, m)
    return objective
  }

  /** Σ‖row‖² of the collected rows and their L2 gradient 2·l2/m·row, as the tfjs objective adds it */
  const l2Row = (p: Param, row: number, d: number, scale: number): number => {
    const w = p.w
    const g = p.g
    const o = row * d
    let s = 0
    for (let k = 0; k < d; k++) {
      const x = w[o + k]
      s += x * x
      g[o + k] += scale * x
    }
    return s
  }

  function mfBce(users: Int32Array, items: Int32Array, labels: Float32Array, m: number): number {
    const U = params.user_emb
    const I = params.item_emb
    const uw = U.w
    const iw = I.w
    const ug = U.g
    const ig = I.g
    let total = 0
    for (let r = 0; r < m; r++) {
      const uo = users[r] * f
      const io = items[r] * f
      let s = 0
      for (let k = 0; k < f; k++) s += uw[uo + k] * iw[io + k]
      s = fr(s)
      const y = labels[r]
      total += softplus(s) - s * y
      const dl = (sigmoid(s) - y) / m
      for (let k = 0; k < f; k++) {
        const a = uw[uo + k]
        ug[uo + k] += dl * iw[io + k]
        ig[io + k] += dl * a
      }
    }
    let obj = total / m
    if (l2 > 0) {
      const scale = (2 * l2) / m
      let sq = 0
      for (let r = 0; r < m; r++) sq += l2Row(U, users[r], f, scale) + l2Row(I, items[r], f, scale)
      obj += (sq * l2) / m
    }
    return obj
  }

  function mfBpr(users: Int32Array, items: Int32Array, negItems: Int32Array, m: number): number {
    const U = params.user_emb
    const I = params.item_emb
    const uw = U.w
    const iw = I.w
    const ug = U.g
    const ig = I.g
    let total = 0
    for (let r = 0; r < m; r++) {
      const uo = users[r] * f
      const io = items[r] * f
      const jo = negItems[r] * f
      let sp = 0
      let sn = 0
      for (let k = 0; k < f; k++) {
        sp += uw[uo + k] * iw[io + k]
        sn += uw[uo + k] * iw[jo + k]
      }
      // −log σ(s⁺ − s⁻) = softplus(s⁻ − s⁺)
      const x = fr(fr(sn) - fr(sp))
      total += softplus(x)
      const dx = sigmoid(x) / m // d/d s⁻; d/d s⁺ is its negative
      for (let k = 0; k < f; k++) {
        const a = uw[uo + k]
        ug[uo + k] += dx * (iw[jo + k] - iw[io + k])
        ig[io + k] -= dx * a
        ig[jo + k] += dx * a
      }
    }
    let obj = total / m
    if (l2 > 0) {
      // the positive scores collect users and items, the negative ones items only
      const scale = (2 * l2) / m
      let sq = 0
      for (let r = 0; r < m; r++) sq += l2Row(U, users[r], f, scale) + l2Row(I, items[r], f, scale) + l2Row(I, negItems[r], f, scale)
      obj += (sq * l2) / m
    }
    return obj
  }

  function neumfBce(users: Int32Array, items: Int32Array, labels: Float32Array, m: number): number {
    const gu = params.gmf_user
    const gi = params.gmf_item
    const mu = params.mlp_user
    const mi = params.mlp_item
    const ok = params['out.kernel'].w
    const okg = params['out.kernel'].g
    const ob = params['out.bias']
    // the first dense layer splits over concat(mlp_user[u], mlp_item[i]): x · kernel =
    // mlp_user[u] · kernel[:e] + mlp_item[i] · kernel[e:], and the user part is computed once
    // per run of rows with the same user (a positive and its negatives), not once per row
    // runs of consecutive rows with the same user (a positive and its negatives): G of them
    let G = 0
    for (let r = 0; r < m; r++) {
      if (r === 0 || users[r] !== users[r - 1]) {
        groupUser[G++] = users[r]
      }
      rowGroup[r] = G - 1
      itemIdx[r] = items[r]
    }
    const out0 = widths[1]
    const xi = acts[0].subarray(0, B * e) // item rows, m × e
    const xu = acts[0].subarray(B * e) // user rows, G × e
    arena.gatherRows(xu, mu.w, groupUser, G, e, false)
    arena.gatherRows(xi, mi.w, itemIdx, m, e, false)
    const k0 = params['mlp_0.kernel']
    const h1 = acts[1]
    arena.gemm(userPart, xu, k0.w, G, e, out0, e, 1, false)
    arena.gemm(h1, xi, k0.w.subarray(e * out0), m, e, out0, e, 1, false)
    arena.gatherRows(h1, userPart, rowGroup, m, out0, true)
    arena.biasRelu(h1, params['mlp_0.bias'].w, m, out0)
    // the other dense layers: relu(x · kernel + bias)
    for (let k = 1; k < nDense; k++) {
      const inW = widths[k]
      const outW = widths[k + 1]
      const h = acts[k + 1]
      arena.gemm(h, acts[k], params[`mlp_${k}.kernel`].w, m, inW, outW, inW, 1, false)
      arena.biasRelu(h, params[`mlp_${k}.bias`].w, m, outW)
    }
    // logit = concat(gmf_user[u] ⊙ gmf_item[i], mlp) · out.kernel + out.bias
    const hl = acts[nDense]
    const wl = widths[nDense]
    const guw = gu.w
    const giw = gi.w
    const bias = ob.w[0]
    let total = 0
    let dbias = 0
    for (let r = 0; r < m; r++) {
      const uo = users[r] * f
      const io = items[r] * f
      let s = 0
      for (let k = 0; k < f; k++) s += guw[uo + k] * giw[io + k] * ok[k]
      const ho = r * wl
      for (let k = 0; k < wl; k++) s += hl[ho + k] * ok[f + k]
      s = fr(s + bias)
      logits[r] = s
      const y = labels[r]
      total += softplus(s) - s * y
      const dl = (sigmoid(s) - y) / m
      dlogit[r] = dl
      dbias += dl
    }
    ob.g[0] += dbias
    // back through the output layer: GMF part (and its embeddings), MLP part
    const gug = gu.g
    const gig = gi.g
    let dh = dA
    for (let r = 0; r < m; r++) {
      const dl = dlogit[r]
      const uo = users[r] * f
      const io = items[r] * f
      for (let k = 0; k < f; k++) {
        const a = guw[uo + k]
        const b = giw[io + k]
        okg[k] += dl * a * b
        const dg = dl * ok[k]
        gug[uo + k] += dg * b
        gig[io + k] += dg * a
      }
      const ho = r * wl
      for (let k = 0; k < wl; k++) {
        const h = hl[ho + k]
        okg[f + k] += dl * h
        dh[ho + k] = dl * ok[f + k]
      }
    }
    arena.reluGrad(dh, hl, m * wl)
    // back through the dense layers above the first
    let dx = dB
    for (let k = nDense - 1; k >= 1; k--) {
      const inW = widths[k]
      const outW = widths[k + 1]
      const kern = params[`mlp_${k}.kernel`]
      accumulateKernelGrad(kern.g, acts[k], dh, m, inW, outW)
      arena.colSum(params[`mlp_${k}.bias`].g, dh, m, outW)
      // input gradient: dh · kernelᵀ, then through the previous layer's relu
      const kt = kernT[k]
      transpose(kern.w, inW, outW, kt)
      arena.gemm(dx, dh, kt, m, outW, inW, outW, 1, false)
      arena.reluGrad(dx, acts[k], m * inW)
      const t = dh
      dh = dx
      dx = t
    }
    // the first layer: item part per row, user part per run of rows (its gradient summed over them)
    arena.colSum(params['mlp_0.bias'].g, dh, m, out0)
    userGrad.fill(0, 0, G * out0)
    arena.scatterAddRows(userGrad, dh, rowGroup, m, out0)
    accumulateKernelGrad(k0.g, xu, userGrad, G, e, out0)
    accumulateKernelGrad(k0.g.subarray(e * out0), xi, dh, m, e, out0)
    const ktTop = kernT[0].subarray(0, out0 * e)
    const ktBottom = kernT[0].subarray(out0 * e)
    transpose(k0.w, e, out0, ktTop)
    transpose(k0.w.subarray(e * out0), e, out0, ktBottom)
    const dxi = dx.subarray(0, B * e)
    const dxu = dx.subarray(B * e)
    arena.gemm(dxi, dh, ktBottom, m, out0, e, out0, 1, false)
    arena.gemm(dxu, userGrad, ktTop, G, out0, e, out0, 1, false)
    // scatter the input gradients to the embedding rows
    arena.scatterAddRows(mu.g, dxu, groupUser, G, e)
    arena.scatterAddRows(mi.g, dxi, itemIdx, m, e)
    let obj = total / m
    if (l2 > 0) {
      const scale = (2 * l2) / m
      let sq = 0
      for (let r = 0; r < m; r++) sq += l2Row(gu, users[r], f, scale) + l2Row(gi, items[r], f, scale) + l2Row(mu, users[r], e, scale) + l2Row(mi, items[r], e, scale)
      obj += (sq * l2) / m
    }
    return obj
  }

  /** kernel gradient += xᵀ · dy (x read transposed through its strides), in panels of rows that stay in cache */
  function accumulateKernelGrad(kg: Float32Array, x: Float32Array, dy: Float32Array, rows: number, inW: number, outW: number): void {
    for (let r0 = 0; r0 < rows; r0 += PANEL) {
      arena.gemm(kg, x.subarray(r0 * inW), dy.subarray(r0 * outW), inW, Math.min(PANEL, rows - r0), outW, 1, inW, true)
    }
  }

  /** t (outW × inW) ← kernelᵀ for a kernel of inW × outW */
  function transpose(kw: Float32Array, inW: number, outW: number, t: Float32Array): void {
    for (let a = 0; a < inW; a++) for (let c = 0; c < outW; c++) t[c * inW + a] = kw[a * outW + c]
  }

  const hyper: AdamHyper = {neglr: fr(-tc.lr), b1: beta1, b2: beta2, c1: fr(1 - 0.9), c2: fr(1 - 0.999), d1: 0, d2: 0, eps: fr(1e-7)}
  function update(): void {
    if (adam) {
      hyper.d1 = fr(1 - accBeta1)
      hyper.d2 = fr(1 - accBeta2)
      arena.adam(W, G, M1, V2, hyper)
      accBeta1 = fr(accBeta1 * beta1)
      accBeta2 = fr(accBeta2 * beta2)
    } else {
      // tfjs SGD: w ← (−lr)·g + w
      const c = fr(-tc.lr)
      for (let q = 0; q < W.length; q++) W[q] = fr(c * G[q]) + W[q]
    }
    iterations++
  }

  /** the gradient buffer back to zeros: the embedding rows this batch touched, the dense part whole */
  function clearGradients(users: Int32Array, items: Int32Array, negItems: Int32Array, m: number): void {
    for (const p of Object.values(params)) {
      const d = p.shape.length === 2 ? p.shape[1] : 0
      const isUser = p.name === 'user_emb' || p.name === 'gmf_user' || p.name === 'mlp_user'
      const isItem = p.name === 'item_emb' || p.name === 'gmf_item' || p.name === 'mlp_item'
      if (!isUser && !isItem) {
        p.g.fill(0)
        continue
      }
      const g = p.g
      const rows = isUser ? users : items
      for (let r = 0; r < m; r++) g.fill(0, rows[r] * d, rows[r] * d + d)
      if (isItem && loss === 'bpr') for (let r = 0; r < m; r++) g.fill(0, negItems[r] * d, negItems[r] * d + d)
    }
  }

  const applyMasks = () => {
    for (const {p, mask} of masks) {
      const w = p.w
      for (let q = 0; q < p.size; q++) if (!mask[q]) w[q] = 0
    }
  }

  return {
    rowName: 'rows',
    implementation: 'kernels',
    *epoch(stream) {
      for (const b of batches.epoch(stream)) {
        const v = step(b.users, b.items, b.negItems, b.labels, b.m)
        yield {loss: v, rows: b.m, fraction: b.fraction}
      }
    },
    shapes: () => Object.fromEntries(Object.values(params).map((p) => [p.name, [...p.shape]])),
    setMasks(next) {
      masks = Object.entries(next).map(([name, mask]) => {
        const p = params[name]
        if (!p) throw new Error(`mask for unknown tensor ${name}`)
        return {p, mask}
      })
      applyMasks()
    },
    applyMasks,
    toWeights() {
      const tensors: Record<string, Tensor32> = {}
      for (const p of Object.values(params)) tensors[p.name] = {shape: [...p.shape], data: new Float32Array(p.w)}
      return {kind, numUsers: initial.numUsers, numItems: initial.numItems, params: structuredClone(initial.params), tensors}
    },
    async optimizerState() {
      const list = Object.values(params)
      const entries = [{name: 'iter', shape: [] as number[], length: 1}]
      const parts: ArrayLike<number>[] = [[iterations]]
      if (adam) {
        for (const p of list) entries.push({name: `${p.name}/m`, shape: [...p.shape], length: p.size})
        for (const p of list) entries.push({name: `${p.name}/v`, shape: [...p.shape], length: p.size})
        parts.push(...list.map((p) => p.m.slice()), ...list.map((p) => p.v.slice()))
      }
      return {entries, parts, ...(adam ? {acc: [accBeta1, accBeta2] as [number, number]} : {})}
    },
    async loadOptimizer(dir) {
      const saved = readOptimizerFiles(dir)
      if (!saved) return
      const {entries, arrays, acc} = saved
      iterations = arrays[0]?.[0] ?? 0
      if (!adam) return
      const list = Object.values(params)
      if (entries.length !== 1 + 2 * list.length) throw dataError('model.corrupt', `the optimizer state in ${dir} holds ${entries.length - 1} slots, not 2 × ${list.length}`, {hint: 'delete the checkpoint directory to start over'})
      list.forEach((p, k) => {
        p.m.set(arrays[1 + k])
        p.v.set(arrays[1 + list.length + k])
      })
      // as tfjs' setWeights: β^(t+1) from the step count, unless the running products were saved
      accBeta1 = acc ? fr(acc[0]) : fr(Math.pow(0.9, iterations + 1))
      accBeta2 = acc ? fr(acc[1]) : fr(Math.pow(0.999, iterations + 1))
    },
    dispose() {
      masks = []
    },
  }
}
