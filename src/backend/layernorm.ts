import type * as TfApi from '@tensorflow/tfjs'

import {outputs, registerKernelsOnce, type KernelArgs, type TensorInfoLike} from './js-kernels.js'

/**
 * LayerNorm over the last axis as two kernels (forward, gradient) for the cpu and wasm backends.
 * Composed from tfjs ops a LayerNorm is ~9 kernels forward and ~20 backward, most of them
 * broadcasts, which the wasm backend runs slowly: ~70 ms forward + backward for [12800, 64],
 * against a few ms for these row loops (read and written on the wasm heap in place).
 *
 * Kernels (new names; no stock kernel is replaced):
 * - SasrecLayerNorm {x [N,h], gamma [h], beta [h]} attrs {eps} → [y [N,h], mean [N], rstd [N]]
 * - SasrecLayerNormGrad {dy [N,h], x, gamma, mean, rstd} → [dx [N,h], dgamma [h], dbeta [h]]
 * Statistics are accumulated in float64; variance is biased (PyTorch's LayerNorm).
 */
export const LAYER_NORM = 'SasrecLayerNorm'
export const LAYER_NORM_GRAD = 'SasrecLayerNormGrad'

/** forward rows: y = (x − mean)·rstd·gamma + beta */
export function layerNormRows(x: Float32Array, gamma: Float32Array, beta: Float32Array, h: number, eps: number, y: Float32Array, mean: Float32Array, rstd: Float32Array): void {
  const n = mean.length
  for (let r = 0, o = 0; r < n; r++, o += h) {
    let s = 0
    for (let c = 0; c < h; c++) s += x[o + c]
    const m = s / h
    let v = 0
    for (let c = 0; c < h; c++) {
      const d = x[o + c] - m
      v += d * d
    }
    const rs = 1 / Math.sqrt(v / h + eps)
    mean[r] = m
    rstd[r] = rs
    for (let c = 0; c < h; c++) y[o + c] = (x[o + c] - m) * rs * gamma[c] + beta[c]
  }
}

/** gradient rows: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·gamma; dgamma = Σ dy·x̂; dbeta = Σ dy */
export function layerNormGradRows(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  h: number,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const n = mean.length
  const dg = new Float64Array(h)
  const db = new Float64Array(h)
  for (let r = 0, o = 0; r < n; r++, o += h) {
    const m = mean[r]
    const rs = rstd[r]
    let sg = 0
    let sgx = 0
    for (let c = 0; c < h; c++) {
      const xh = (x[o + c] - m) * rs
      const d = dy[o + c]
      const g = d * gamma[c]
      sg += g
      sgx += g * xh
      dg[c] += d * xh
      db[c] += d
    }
    sg /= h
    sgx /= h
    for (let c = 0; c < h; c++) {
      const xh = (x[o + c] - m) * rs
      dx[o + c] = rs * (dy[o + c] * gamma[c] - sg - xh * sgx)
    }
  }
  for (let c = 0; c < h; c++) {
    dgamma[c] = dg[c]
    dbeta[c] = db[c]
  }
}

function layerNormKernel(args: KernelArgs): TensorInfoLike[] {
  const {x, gamma, beta} = args.inputs
  const eps = Number(args.attrs?.eps ?? 1e-12)
  const h = x.shape[x.shape.length - 1]
  const rows = x.shape.slice(0, -1)
  return outputs(args.backend, [x.shape, rows, rows], ([y, mean, rstd], read) => layerNormRows(read(x), read(gamma), read(beta), h, eps, y, mean, rstd))
}

function layerNormGradKernel(args: KernelArgs): TensorInfoLike[] {
  const {dy, x, gamma, mean, rstd} = args.inputs
  const h = x.shape[x.shape.length - 1]
  return outputs(args.backend, [x.shape, [h], [h]], ([dx, dgamma, dbeta], read) =>
    layerNormGradRows(read(dy), read(x), read(gamma), read(mean), read(rstd), h, dx, dgamma, dbeta),
  )
}

/** registers both kernels for a backend of this tfjs instance (idempotent) */
export function registerLayerNormKernels(tf: typeof TfApi, backendName: string): void {
  registerKernelsOnce(tf, backendName, 'layernorm', {[LAYER_NORM]: layerNormKernel, [LAYER_NORM_GRAD]: layerNormGradKernel})
}
