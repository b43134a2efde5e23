/**
 * Static activation quantization for SASRec's int8 kernels: the uint8 scale and zero point of each
 * activation that feeds an int8 weight matrix, fixed at export from calibration histories, so a
 * request's scores never depend on the other requests of a batch.
 *
 * Sites (see `ActivationSite` in src/models/sasrec-reference.ts): `layer_k.qkv.kernel` (the block input
 * x, shared by Q, K and V: one QuantizeLinear feeds the fused projection), `layer_k.attn_out.kernel`
 * (the heads' context), `layer_k.ffn1.kernel` (x after LN1), `layer_k.ffn2.kernel` (the GELU output),
 * `item_emb` (the final state, scored against the int8 item table).
 *
 * Range rule (as for mf / neumf, src/compress/reference.ts): the full min / max over the calibration
 * rows, widened to include 0, no percentile clipping; each site is calibrated with the earlier sites
 * already quantized, as the graph computes. Every position of every calibration history counts (the
 * graph quantizes padding rows too; the last block only computes position L-1, so only that row counts there).
 */
import {sasrecStates, type ActivationSite, type Mat} from '../models/sasrec-reference.js'
import type {ModelWeights} from '../models/types.js'
import {Rng} from '../rng.js'
import {activationQuant, fakeQuantStatic, type ActivationQuant} from './reference.js'

/** how the ranges were found: the histories handed to the export, or seeded random ones */
export type SasrecCoverage = 'histories' | 'random-histories'

export type SasrecActivationQuant = Omit<ActivationQuant, 'coverage'> & {coverage: SasrecCoverage}

export interface SasrecCalibration {
  act: Record<string, SasrecActivationQuant>
  coverage: SasrecCoverage
  /** histories the ranges were computed on */
  rows: number
  /** one sentence for notes and metadata */
  note: string
}

/** at most this many histories are run through the reference forward (a deterministic, evenly spaced sample of longer inputs) */
export const SASREC_CALIBRATION_MAX_ROWS = 256
/** random histories when no calibration input is given */
export const SASREC_RANDOM_HISTORIES = 128
export const SASREC_CALIBRATION_SEED = 20240917

/**
 * The activation site whose quantization feeds int8 weight `name` (a kernel or item_emb); `lastBlock`:
 * the last block, whose query reads its own site (row L-1)
 */
export function sasrecSiteOf(name: string, lastBlock?: number): string {
  const m = /^layer_(\d+)\.(q|k|v)\.kernel$/.exec(name)
  if (!m) return name
  return m[2] === 'q' && Number(m[1]) === lastBlock ? name : `layer_${m[1]}.qkv.kernel`
}

/**
 * `n` deterministic random histories (B×L shifted ids, left-padded): lengths spread evenly over 0..L
 * (one empty history, most of them long), items uniform over 1..I.
 */
export function randomHistories(numItems: number, maxLen: number, n = SASREC_RANDOM_HISTORIES, seed = SASREC_CALIBRATION_SEED): Int32Array {
  const rng = new Rng(seed)
  const out = new Int32Array(n * maxLen)
  for (let b = 0; b < n; b++) {
    // b = 0: empty; then lengths 1..L, the upper half of the rows full (real histories are mostly longer than L)
    const len = b === 0 ? 0 : Math.min(maxLen, Math.ceil((2 * b * maxLen) / n))
    for (let s = maxLen - len; s < maxLen; s++) out[b * maxLen + s] = 1 + rng.int(numItems)
  }
  return out
}

/** at most `max` rows of a B×L matrix, evenly spaced (all of them when there are fewer) */
export function sampleHistories(rows: Int32Array, maxLen: number, max = SASREC_CALIBRATION_MAX_ROWS): Int32Array {
  if (rows.length % maxLen !== 0) throw new Error(`calibration: ${rows.length} ids are not rows of max_len ${maxLen}`)
  const B = rows.length / maxLen
  if (B <= max) return rows
  const out = new Int32Array(max * maxLen)
  for (let k = 0; k < max; k++) {
    const b = Math.floor((k * B) / max)
    out.set(rows.subarray(b * maxLen, (b + 1) * maxLen), k * maxLen)
  }
  return out
}

function quantizeMat(x: Mat, a: ActivationQuant | SasrecActivationQuant): Mat {
  return {rows: x.rows, cols: x.cols, data: Float64Array.from(fakeQuantStatic(x.data, a as ActivationQuant))}
}

/**
 * The reference forward's activation hook that quantizes each site of `act` as the graph does
 * (QuantizeLinear with the constant scale and zero point, then the integer kernel's exact dequantized
 * product): the reference of an int8 export.
 */
export function staticInt8Hook(act: Record<string, SasrecActivationQuant>): (site: ActivationSite) => Mat | void {
  return (site) => (act[site.point] ? quantizeMat(site.x, act[site.point]) : undefined)
}

/**
 * Static ranges of the activation sites `sites` of SASRec weights `w` (float: the dequantized /
 * reconstructed weights the graph computes with) over `calibration` histories (B×max_len shifted ids,
 * sampled down to SASREC_CALIBRATION_MAX_ROWS), else over SASREC_RANDOM_HISTORIES seeded random ones.
 */
export function calibrateSasrec(w: ModelWeights, sites: Iterable<string>, calibration?: Int32Array): SasrecCalibration {
  const want = new Set(sites)
  const L = Number(w.params.max_len)
  const given = calibration !== undefined && calibration.length > 0
  const coverage: SasrecCoverage = given ? 'histories' : 'random-histories'
  const rows = given ? sampleHistories(calibration, L) : randomHistories(w.numItems, L)
  const act: Record<string, SasrecActivationQuant> = {}
  const observe = (point: string, x: Mat): Mat => {
    let lo = 0
    let hi = 0
    for (const v of x.data) {
      const f = Math.fround(v)
      if (f < lo) lo = f
      if (f > hi) hi = f
    }
    act[point] = {...activationQuant(lo, hi, 'sample'), coverage}
    return quantizeMat(x, act[point])
  }
  const states = sasrecStates(w, rows, {activation: (site) => (want.has(site.point) ? observe(site.point, site.x) : undefined)})
  if (want.has('item_emb')) observe('item_emb', states)
  const B = rows.length / L
  const source = given ? `${B} of the given histories${B < calibration!.length / L ? ` (an evenly spaced sample of ${calibration!.length / L})` : ''}` : `${B} seeded random histories (no histories were given to the export)`
  return {
    act,
    coverage,
    rows: B,
    note: `int8 activation scales are static: min / max of each int8 kernel's input over ${source}, every position; inputs beyond a calibrated range saturate`,
  }
}
