import {Matrix, SingularValueDecomposition} from 'ml-matrix'
import type {VariantConfig} from '../config/schema.js'
import type {Tensor32} from '../models/types.js'
import {isTarget} from './tensors.js'
import type {CompressedModel, StoredTensor} from './types.js'

export type LowrankParams = NonNullable<VariantConfig['lowrank']>
export type LowrankOneParams = Omit<LowrankParams, 'rank'> & {rank?: number}

export interface TruncatedSvd {
  /** [m, r] = U_r · Σ_r */
  a: Tensor32
  /** [r, n] = V_rᵀ */
  b: Tensor32
  /** all singular values, descending */
  sigma: number[]
}

/** W [m, n] ≈ A·B of rank r by truncated SVD (ml-matrix); ‖W − A·B‖_F = sqrt(Σ_{i>=r} σ_i²) */
export function truncatedSvd(w: Tensor32, rank: number): TruncatedSvd {
  const [m, n] = w.shape
  const mat = new Matrix(m, n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) mat.set(i, j, w.data[i * n + j])
  const svd = new SingularValueDecomposition(mat, {autoTranspose: true})
  const u = svd.leftSingularVectors
  const v = svd.rightSingularVectors
  const sigma = svd.diagonal
  const r = Math.min(rank, sigma.length)
  const a = new Float32Array(m * r)
  const b = new Float32Array(r * n)
  for (let i = 0; i < m; i++) for (let k = 0; k < r; k++) a[i * r + k] = u.get(i, k) * sigma[k]
  for (let k = 0; k < r; k++) for (let j = 0; j < n; j++) b[k * n + j] = v.get(j, k)
  return {a: {shape: [m, r], data: a}, b: {shape: [r, n], data: b}, sigma}
}

/** smallest r with Σ_{i<r} σ_i² >= energy · Σ σ_i² */
export function rankForEnergy(sigma: number[], energy: number): number {
  const total = sigma.reduce((s, x) => s + x * x, 0)
  if (total === 0) return 1
  let acc = 0
  for (let r = 1; r <= sigma.length; r++) {
    acc += sigma[r - 1] ** 2
    if (acc >= energy * total * (1 - 1e-12)) return r
  }
  return sigma.length
}

/** a rank-r factorization of an [m, n] matrix only pays when r·(m + n) < m·n */
export const factorizationSaves = (m: number, n: number, r: number) => r * (m + n) < m * n

export function lowrankTargets(c: CompressedModel, target: LowrankParams['target']): string[] {
  return Object.keys(c.tensors).filter((name) => isTarget(c.kind, name, target))
}

/**
 * Truncated SVD of dense kernels (W [in, out] ≈ A [in, r]·B [r, out]) and embedding tables
 * (E [rows, d] ≈ A [rows, r]·B [r, d]), with a fixed rank or the smallest rank keeping `energy` of Σσ².
 * A tensor whose factorization would not store fewer numbers (r·(m+n) >= m·n) stays dense (noted).
 */
export function lowrank(model: CompressedModel, p: LowrankOneParams): {model: CompressedModel; notes: string[]} {
  const notes: string[] = []
  const tensors: Record<string, StoredTensor> = {...model.tensors}
  for (const name of lowrankTargets(model, p.target)) {
    const s = model.tensors[name]
    if (s.kind !== 'float32') {
      notes.push(`${name} is ${s.kind}: not factorized`)
      continue
    }
    const [m, n] = s.tensor.shape
    const svd = truncatedSvd(s.tensor, p.rank ?? Math.min(m, n))
    const r = p.rank ?? rankForEnergy(svd.sigma, p.energy ?? 1)
    if (!factorizationSaves(m, n, r)) {
      notes.push(`${name} [${m}×${n}] kept dense: rank ${r} would not save anything`)
      continue
    }
    const a = {shape: [m, r], data: new Float32Array(m * r)}
    const full = svd.a.shape[1]
    for (let i = 0; i < m; i++) for (let k = 0; k < r; k++) a.data[i * r + k] = svd.a.data[i * full + k]
    const b = {shape: [r, n], data: svd.b.data.slice(0, r * n)}
    tensors[name] = {kind: 'lowrank', a, b}
    const kept = svd.sigma.slice(0, r).reduce((acc, x) => acc + x * x, 0) / Math.max(1e-30, svd.sigma.reduce((acc, x) => acc + x * x, 0))
    notes.push(`${name} [${m}×${n}] → rank ${r} (${(kept * 100).toFixed(1)}% energy)`)
  }
  return {model: {...model, tensors, steps: [...model.steps, {method: 'lowrank', params: {...p}}]}, notes}
}
