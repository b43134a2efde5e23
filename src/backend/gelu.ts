import type * as TfApi from '@tensorflow/tfjs'

import {outputs, registerKernelsOnce, type KernelArgs, type TensorInfoLike} from './js-kernels.js'

/**
 * Exact GELU, 0.5·z·(1 + erf(z/√2)), and its gradient as two elementwise kernels for the cpu and
 * wasm backends. Composed from tfjs ops it is ~6 kernels forward and ~8 backward over the [N, f]
 * feed-forward activations, with the wasm Erf and Exp kernels at ~10–20 ns an element; these loops
 * need one Math.exp per element each way.
 *
 * Kernels (new names; no stock kernel is replaced):
 * - SasrecGelu {x} → y
 * - SasrecGeluGrad {dy, x} → dx = dy·(Φ(x) + x·φ(x))
 * erf is Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, below float32 resolution near 1).
 */
export const GELU = 'SasrecGelu'
export const GELU_GRAD = 'SasrecGeluGrad'

const P = 0.3275911
const A1 = 0.254829592
const A2 = -0.284496736
const A3 = 1.421413741
const A4 = -1.453152027
const A5 = 1.061405429
const INV_SQRT2 = Math.SQRT1_2
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

/** y[k] = gelu(x[k]); with dy, the gradient dy[k]·gelu'(x[k]) instead */
export function geluInto(x: ArrayLike<number>, out: Float32Array, dy?: ArrayLike<number>): void {
  const n = out.length
  for (let k = 0; k < n; k++) {
    const z = x[k]
    const u = z * INV_SQRT2
    const a = u < 0 ? -u : u
    const t = 1 / (1 + P * a)
    // e = exp(−u²) = exp(−z²/2): erf's factor and, up to 1/√(2π), the normal density
    const e = Math.exp(-u * u)
    const erfAbs = 1 - ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t * e
    const phiCdf = 0.5 * (1 + (u < 0 ? -erfAbs : erfAbs))
    out[k] = dy ? dy[k] * (phiCdf + z * e * INV_SQRT_2PI) : z * phiCdf
  }
}

function geluKernel(args: KernelArgs): TensorInfoLike {
  const {x} = args.inputs
  return outputs(args.backend, [x.shape], ([out], read) => geluInto(read(x), out))[0]
}

function geluGradKernel(args: KernelArgs): TensorInfoLike {
  const {dy, x} = args.inputs
  return outputs(args.backend, [x.shape], ([out], read) => geluInto(read(x), out, read(dy)))[0]
}

/** registers both kernels for a backend of this tfjs instance (idempotent) */
export function registerGeluKernels(tf: typeof TfApi, backendName: string): void {
  registerKernelsOnce(tf, backendName, 'gelu', {[GELU]: geluKernel, [GELU_GRAD]: geluGradKernel})
}
