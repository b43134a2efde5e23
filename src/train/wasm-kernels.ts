import {KERNELS_WASM_BASE64} from './kernels-wasm.js'

/**
 * The training kernels of kernels.wat over one WebAssembly memory: float32 buffers are allocated
 * once (16-byte aligned, padded to whole 4-float lanes) and never move, so the Float32Array views
 * handed out stay valid for the arena's life.
 */
export interface KernelArena {
  /** a zeroed buffer of n floats (padded to a multiple of 4), as a view of the arena */
  alloc(n: number): Float32Array
  /** Adam over n floats from each buffer (all allocated here, the same padded length) */
  adam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void
  /**
   * C[m, n] (+)= Σ_k A[m·sar + k·sac] · B[k·N + n] for m < M, k < K, n < N (N a multiple of 4);
   * `accumulate` false overwrites C
   */
  gemm(c: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number, sar: number, sac: number, accumulate: boolean): void
  /** h[r, c] ← max(h[r, c] + b[c], 0) for an M × N matrix (N a multiple of 4) */
  biasRelu(h: Float32Array, b: Float32Array, M: number, N: number): void
  /** d[q] ← act[q] > 0 ? d[q] : 0 for the first n floats (n a multiple of 4) */
  reluGrad(d: Float32Array, act: Float32Array, n: number): void
  /** out[c] += Σ_r x[r, c] for an M × N matrix (N a multiple of 4) */
  colSum(out: Float32Array, x: Float32Array, M: number, N: number): void
  /** a buffer of n int32 row indices in the arena, for gatherRows / scatterAddRows */
  allocIndex(n: number): Int32Array
  /** dst[r] (+)= src[idx[r]] for r < n, rows of d floats (d a multiple of 4) */
  gatherRows(dst: Float32Array, src: Float32Array, idx: Int32Array, n: number, d: number, add: boolean): void
  /** dst[idx[r]] += src[r] for r < n, rows of d floats (d a multiple of 4) */
  scatterAddRows(dst: Float32Array, src: Float32Array, idx: Int32Array, n: number, d: number): void
}

/** one Adam step's float32 constants, as tfjs computes them: c = 1 − β, d = 1 − β^t */
export interface AdamHyper {
  neglr: number
  b1: number
  b2: number
  c1: number
  c2: number
  d1: number
  d2: number
  eps: number
}

let compiled: WebAssembly.Module | undefined

function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'))
  return compiled
}

/** false where WebAssembly SIMD is missing (the tfjs step is used instead) */
export function kernelsAvailable(): boolean {
  try {
    kernelModule()
    return true
  } catch {
    return false
  }
}

const PAGE = 65_536

/** an arena holding `floats` floats in all (the sum of the padded sizes of everything allocated) */
export function createArena(floats: number): KernelArena {
  const bytes = Math.max(PAGE, floats * 4 + 64)
  const mem = new WebAssembly.Memory({initial: Math.ceil(bytes / PAGE)})
  const inst = new WebAssembly.Instance(kernelModule(), {env: {mem}})
  const adam = inst.exports.adam as (...a: number[]) => void
  const gemm = inst.exports.gemm as (...a: number[]) => void
  const gemm2 = inst.exports.gemm2 as (...a: number[]) => void
  const biasRelu = inst.exports.bias_relu as (...a: number[]) => void
  const reluGrad = inst.exports.relu_grad as (...a: number[]) => void
  const colSum = inst.exports.col_sum as (...a: number[]) => void
  const gatherRows = inst.exports.gather_rows as (...a: number[]) => void
  const scatterAddRows = inst.exports.scatter_add_rows as (...a: number[]) => void
  let top = 0
  const end = floats
  return {
    alloc(n) {
      const padded = Math.ceil(n / 4) * 4
      if (top + padded > end) throw new Error(`kernel arena: ${top + padded} floats needed, ${end} reserved`)
      const view = new Float32Array(mem.buffer, top * 4, padded)
      top += padded
      return view
    },
    adam(w, g, m, v, h) {
      adam(w.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, w.length, h.neglr, h.b1, h.b2, h.c1, h.c2, h.d1, h.d2, h.eps)
    },
    gemm(c, a, b, M, K, N, sar, sac, accumulate) {
      // rows in pairs (gemm2), the odd last one alone
      const even = M & ~1
      if (even > 0) gemm2(c.byteOffset, a.byteOffset, b.byteOffset, even, K, N, sar, sac, accumulate ? 1 : 0)
      if (even < M) gemm(c.byteOffset + even * N * 4, a.byteOffset + even * sar * 4, b.byteOffset, 1, K, N, sar, sac, accumulate ? 1 : 0)
    },
    biasRelu: (h, b, M, N) => biasRelu(h.byteOffset, b.byteOffset, M, N),
    reluGrad: (d, act, n) => reluGrad(d.byteOffset, act.byteOffset, n),
    colSum: (out, x, M, N) => colSum(out.byteOffset, x.byteOffset, M, N),
    allocIndex(n) {
      const f = this.alloc(n)
      return new Int32Array(f.buffer, f.byteOffset, n)
    },
    gatherRows: (dst, src, idx, n, d, add) => gatherRows(dst.byteOffset, src.byteOffset, idx.byteOffset, n, d, add ? 1 : 0),
    scatterAddRows: (dst, src, idx, n, d) => scatterAddRows(dst.byteOffset, src.byteOffset, idx.byteOffset, n, d),
  }
}

/** floats an arena must reserve for buffers of these sizes */
export function arenaFloats(sizes: number[]): number {
  return sizes.reduce((a, n) => a + Math.ceil(n / 4) * 4, 0)
}
