import type * as TfApi from '@tensorflow/tfjs'

/**
 * What the JS-loop kernels (gelu.ts, layernorm.ts) share: the slice of a tfjs backend they use,
 * outputs allocated on the backend (wasm: written on its heap in place; cpu: JS arrays handed over),
 * and idempotent registration per tfjs instance and backend.
 */
export interface TensorInfoLike {
  dataId: object
  shape: number[]
  dtype: string
}

interface BackendLike {
  readSync(dataId: object): unknown
  makeTensorInfo?(shape: number[], dtype: string, values: Float32Array): TensorInfoLike
  makeOutput?(shape: number[], dtype: string): TensorInfoLike
  typedArrayFromHeap?(t: TensorInfoLike): Float32Array
}

export type KernelArgs = {inputs: Record<string, TensorInfoLike>; backend: unknown; attrs?: Record<string, unknown>}

/** float32 outputs of these shapes, filled by `fill` (which reads inputs through `read`) */
export function outputs(backend: unknown, shapes: number[][], fill: (arrays: Float32Array[], read: (t: TensorInfoLike) => Float32Array) => void): TensorInfoLike[] {
  const b = backend as BackendLike
  if (b.makeOutput && b.typedArrayFromHeap) {
    const outs = shapes.map((s) => b.makeOutput!(s, 'float32'))
    // views taken after every allocation (an allocation may grow the heap and detach older views)
    fill(
      outs.map((o) => b.typedArrayFromHeap!(o)),
      (t) => b.typedArrayFromHeap!(t),
    )
    return outs
  }
  const arrays = shapes.map((s) => new Float32Array(s.reduce((x, y) => x * y, 1)))
  fill(arrays, (t) => b.readSync(t.dataId) as Float32Array)
  return shapes.map((s, k) => b.makeTensorInfo!(s, 'float32', arrays[k]))
}

const registered = new WeakMap<object, Set<string>>()

/** registers the kernels for a backend of this tfjs instance, once (kernels already there are kept) */
export function registerKernelsOnce(tf: typeof TfApi, backendName: string, group: string, kernels: Record<string, (args: KernelArgs) => TensorInfoLike | TensorInfoLike[]>): void {
  let done = registered.get(tf)
  if (!done) registered.set(tf, (done = new Set()))
  const key = `${group}/${backendName}`
  if (done.has(key)) return
  done.add(key)
  for (const [kernelName, f] of Object.entries(kernels)) {
    if (!tf.getKernel(kernelName, backendName)) tf.registerKernel({kernelName, backendName, kernelFunc: f as unknown as TfApi.KernelFunc})
  }
}
