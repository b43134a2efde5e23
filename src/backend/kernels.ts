import type * as TfApi from '@tensorflow/tfjs'

type AnyArray = Float32Array | Int32Array

/** the part of a tfjs backend these kernels touch (cpu: makeTensorInfo; wasm: makeOutput + heap view) */
interface KernelBackendLike {
  readSync(dataId: object): unknown
  makeTensorInfo?(shape: number[], dtype: string, values: AnyArray): TensorInfoLike
  makeOutput?(shape: number[], dtype: string): TensorInfoLike
  typedArrayFromHeap?(t: TensorInfoLike): AnyArray
}
interface TensorInfoLike {
  dataId: object
  shape: number[]
  dtype: string
}

/** the stock kernels replaced by registerScatterKernels, by backend name (for tests and benchmarks) */
export const replacedKernels = new Map<string, unknown>()

const registered = new WeakMap<object, Set<string>>()

/**
 * out[segmentIds[r]] += x[r] for every row r (a row is x's trailing dims past segmentIds' rank).
 * Ids outside [0, numSegments) are dropped, as TensorFlow drops negative ids.
 */
export function segmentSumInto(x: ArrayLike<number>, ids: ArrayLike<number>, rowSize: number, numSegments: number, out: AnyArray): void {
  out.fill(0)
  const n = ids.length
  for (let r = 0; r < n; r++) {
    const s = ids[r]
    if (s < 0 || s >= numSegments) continue
    const src = r * rowSize
    const dst = s * rowSize
    for (let k = 0; k < rowSize; k++) out[dst + k] += x[src + k]
  }
}

function unsortedSegmentSum(args: {inputs: Record<string, TensorInfoLike>; backend: unknown; attrs?: Record<string, unknown>}): TensorInfoLike {
  const {x, segmentIds} = args.inputs
  const numSegments = Number(args.attrs?.numSegments)
  const backend = args.backend as KernelBackendLike
  const ids = backend.readSync(segmentIds.dataId) as AnyArray
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)]
  const rowSize = outShape.slice(1).reduce((a, b) => a * b, 1)
  const dtype = x.dtype === 'int32' ? 'int32' : 'float32'
  if (backend.makeOutput && backend.typedArrayFromHeap && x.dtype === dtype) {
    // wasm: read and write the heap in place; views are taken after the allocation, which may
    // grow (and detach) the heap
    const out = backend.makeOutput(outShape, dtype)
    segmentSumInto(backend.typedArrayFromHeap(x), ids, rowSize, numSegments, backend.typedArrayFromHeap(out))
    return out
  }
  const xv = backend.readSync(x.dataId) as AnyArray
  const values = dtype === 'int32' ? new Int32Array(numSegments * rowSize) : new Float32Array(numSegments * rowSize)
  segmentSumInto(xv, ids, rowSize, numSegments, values)
  return backend.makeTensorInfo!(outShape, dtype, values)
}

type KernelFuncLike = (args: {inputs: Record<string, TensorInfoLike>; backend: unknown; attrs?: Record<string, unknown>}) => TensorInfoLike

/**
 * GatherV2 along axis 0 (an embedding lookup): a row copy per index. The stock wasm kernel costs
 * time proportional to the whole table (0.8 ms for a 1682 × 64 table and 256 ids, against 0.05 ms
 * here). Other axes / batchDims go to the stock kernel.
 */
function makeGather(stock: KernelFuncLike | undefined): KernelFuncLike {
  return (args) => {
    const {x, indices} = args.inputs
    const batchDims = Number(args.attrs?.batchDims ?? 0)
    let axis = Number(args.attrs?.axis ?? 0)
    if (axis < 0) axis += x.shape.length
    const backend = args.backend as KernelBackendLike
    if ((axis !== 0 || batchDims !== 0 || (x.dtype !== 'float32' && x.dtype !== 'int32')) && stock) return stock(args)
    const ids = backend.readSync(indices.dataId) as AnyArray
    const rows = x.shape[0]
    for (let k = 0; k < ids.length; k++) {
      if (!(ids[k] >= 0 && ids[k] < rows)) throw new Error(`GatherV2: the index value ${ids[k]} is not in [0, ${rows - 1}]`)
    }
    const rowSize = x.shape.slice(1).reduce((a, b) => a * b, 1)
    const outShape = [...indices.shape, ...x.shape.slice(1)]
    if (backend.makeOutput && backend.typedArrayFromHeap) {
      const out = backend.makeOutput(outShape, x.dtype)
      // views taken after the allocation (it may grow the heap and detach older views)
      const src = backend.typedArrayFromHeap(x)
      const dst = backend.typedArrayFromHeap(out)
      gatherRows(src, ids, rowSize, dst)
      return out
    }
    const src = backend.readSync(x.dataId) as AnyArray
    const dst = x.dtype === 'int32' ? new Int32Array(ids.length * rowSize) : new Float32Array(ids.length * rowSize)
    gatherRows(src, ids, rowSize, dst)
    return backend.makeTensorInfo!(outShape, x.dtype, dst)
  }
}

/** dst[k] = src row ids[k] */
export function gatherRows(src: AnyArray, ids: ArrayLike<number>, rowSize: number, dst: AnyArray): void {
  if (rowSize === 1) {
    for (let k = 0; k < ids.length; k++) dst[k] = src[ids[k]]
    return
  }
  // a plain loop: TypedArray#set between views of the same (wasm) buffer takes a slow path
  for (let k = 0, o = 0; k < ids.length; k++) {
    const s = ids[k] * rowSize
    for (let c = 0; c < rowSize; c++, o++) dst[o] = src[s + c]
  }
}

/**
 * The wasm BatchMatMul / _FusedMatMul run ~10× slower when asked to transpose an operand (measured:
 * [2048,128]ᵀ·[2048,64] 17 ms, against 2.9 ms for an explicit transpose then a plain matMul), and
 * every dense layer's backward pass asks for one. This wrapper materialises the transposes with
 * the Transpose kernel and calls the stock kernel without them.
 */
const MIN_REUSE = 16

function makeExplicitTranspose(stock: KernelFuncLike, transpose: KernelFuncLike): KernelFuncLike {
  return (args) => {
    const attrs = args.attrs ?? {}
    if (!attrs.transposeA && !attrs.transposeB) return stock(args)
    const backend = args.backend as KernelBackendLike & {disposeData(dataId: object): void}
    const temps: TensorInfoLike[] = []
    const swap = (t: TensorInfoLike): TensorInfoLike => {
      const r = t.shape.length
      const perm = [...Array.from({length: r - 2}, (_, k) => k), r - 1, r - 2]
      const out = transpose({inputs: {x: t}, backend, attrs: {perm}})
      temps.push(out)
      return out
    }
    const inputs = {...args.inputs}
    const {a, b} = inputs
    // free (non-contracted) dimensions of each operand
    const m = attrs.transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2]
    const n = attrs.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1]
    // copying an operand pays off only when the other side is wide enough to reuse it: a user
    // vector × an item matrixᵀ (m = 1) is faster left as it is
    const ta = Boolean(attrs.transposeA) && n >= MIN_REUSE
    const tb = Boolean(attrs.transposeB) && m >= MIN_REUSE
    if (!ta && !tb) return stock(args)
    if (ta) inputs.a = swap(a)
    if (tb) inputs.b = swap(b)
    try {
      return stock({inputs, backend, attrs: {...attrs, transposeA: Boolean(attrs.transposeA) && !ta, transposeB: Boolean(attrs.transposeB) && !tb}})
    } finally {
      for (const t of temps) backend.disposeData(t.dataId)
    }
  }
}

/**
 * Registers, for one backend ('cpu' or 'wasm') of this tfjs instance, a plain scatter-add
 * UnsortedSegmentSum — the gradient of gather (every embedding lookup): the wasm backend has none,
 * and the stock cpu kernel builds a mask per segment (seconds per step on a real item table) —
 * and a row-copy GatherV2 along axis 0 (see makeGather); on wasm also matMuls with explicit
 * transposes (see makeExplicitTranspose). Call it after the backend's package has
 * registered its own kernels (those are replaced, and kept in `replacedKernels`). Idempotent.
 */
export function registerScatterKernels(tf: typeof TfApi, backendName: 'cpu' | 'wasm'): void {
  const key = `${backendName}`
  let done = registered.get(tf)
  if (!done) registered.set(tf, (done = new Set()))
  if (done.has(key)) return
  done.add(key)

  const previous = tf.getKernel('UnsortedSegmentSum', backendName)
  if (previous) {
    replacedKernels.set(backendName, previous)
    tf.unregisterKernel('UnsortedSegmentSum', backendName)
  }
  tf.registerKernel({kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: unsortedSegmentSum as unknown as TfApi.KernelFunc})

  const stockGather = tf.getKernel('GatherV2', backendName)
  if (stockGather) {
    replacedKernels.set(`GatherV2/${backendName}`, stockGather)
    tf.unregisterKernel('GatherV2', backendName)
  }
  tf.registerKernel({
    kernelName: 'GatherV2',
    backendName,
    kernelFunc: makeGather(stockGather?.kernelFunc as unknown as KernelFuncLike | undefined) as unknown as TfApi.KernelFunc,
    // the wasm kernel's setup binds its C++ entry point, needed when it is delegated to
    ...(stockGather?.setupFunc ? {setupFunc: stockGather.setupFunc} : {}),
  })

  if (backendName === 'wasm') {
    const transpose = tf.getKernel('Transpose', backendName)
    for (const name of ['BatchMatMul', '_FusedMatMul']) {
      const stock = tf.getKernel(name, backendName)
      if (!stock || !transpose) continue
      replacedKernels.set(`${name}/${backendName}`, stock)
      tf.unregisterKernel(name, backendName)
      tf.registerKernel({
        ...stock,
        kernelFunc: makeExplicitTranspose(stock.kernelFunc as unknown as KernelFuncLike, transpose.kernelFunc as unknown as KernelFuncLike) as unknown as TfApi.KernelFunc,
      })
    }
  }
}
