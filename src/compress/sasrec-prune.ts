/**
 * Structured pruning of SASRec that really shrinks the model: whole attention heads, feed-forward
 * units or transformer blocks are removed, so every matrix that touches them gets smaller and the
 * exported graph does less work (execution `shrunk`; `sasrecRequestFlops` reads the new widths).
 * The forward (reference, tfjs, ONNX) follows the shapes (src/models/sasrec-reference.ts `sasrecGeometry`).
 *
 * - heads: per block, ⌊s·a_k⌋ heads with the smallest importance go. Importance of a head = the mean
 *   L2 norm of its contribution to the attention output, ctx_head · attn_out.kernel[head rows], over the
 *   item positions of calibration histories (the last block: position L-1, the only one it computes).
 *   Removing head j removes its d columns of Q, K, V (kernels and biases) and its d rows of attn_out.
 * - ffn: per block, ⌊s·f_k⌋ units with the smallest ‖[ffn1[:, j]; b1_j]‖·‖ffn2[j, :]‖ (the `norm`, l2 by
 *   default) go: column j of ffn1 and its bias, row j of ffn2.
 * - layers: ⌊s·n⌋ whole blocks go, chosen greedily one at a time as the block whose removal changes the
 *   scores of the calibration histories least (mean squared change relative to the mean squared score),
 *   so what is left computes the function closest to the full model's; the rest are renumbered layer_0...
 * Calibration histories: those given (e.g. the training histories), else SASREC_PRUNE_HISTORIES seeded random ones.
 */
import {configError} from '../errors.js'
import {checkSasrecWeights, sasrecReferenceScores, sasrecStates, type SasrecGeometry} from '../models/sasrec-reference.js'
import type {ModelWeights, Tensor32} from '../models/types.js'
import type {PruneOneParams} from './prune.js'
import {randomHistories, sampleHistories} from './sasrec-calibrate.js'
import type {CompressedModel, StoredTensor} from './types.js'

/** random histories for importance scores when none are given (a forward pass over each per score) */
export const SASREC_PRUNE_HISTORIES = 128
/** at most this many given histories (evenly spaced) */
export const SASREC_PRUNE_MAX_ROWS = 256

export type SasrecPruneTarget = 'heads' | 'ffn' | 'layers'

export interface PruneContext {
  /** histories (B×max_len shifted ids) for data-driven importance scores */
  calibration?: Int32Array
}

function keepColumns(t: Tensor32, keep: number[]): Tensor32 {
  if (t.shape.length === 1) return {shape: [keep.length], data: Float32Array.from(keep, (j) => t.data[j])}
  const [rows, cols] = t.shape
  const out = new Float32Array(rows * keep.length)
  for (let i = 0; i < rows; i++) for (const [jj, j] of keep.entries()) out[i * keep.length + jj] = t.data[i * cols + j]
  return {shape: [rows, keep.length], data: out}
}

function keepRows(t: Tensor32, keep: number[]): Tensor32 {
  const cols = t.shape[1]
  const out = new Float32Array(keep.length * cols)
  for (const [ii, i] of keep.entries()) out.set(t.data.subarray(i * cols, (i + 1) * cols), ii * cols)
  return {shape: [keep.length, cols], data: out}
}

/** indices of all but the `drop` lowest scores, ascending (ties: the higher index goes first) */
function keepHighest(scores: number[], drop: number): number[] {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0] || b[1] - a[1])
  const gone = new Set(order.slice(0, drop).map(([, i]) => i))
  return scores.map((_, i) => i).filter((i) => !gone.has(i))
}

const fmt = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2))

function norm(values: ArrayLike<number>, kind: 'l1' | 'l2'): number {
  let s = 0
  for (let i = 0; i < values.length; i++) s += kind === 'l1' ? Math.abs(values[i]) : values[i] * values[i]
  return kind === 'l1' ? s : Math.sqrt(s)
}

/** the float32 tensors of a SASRec about to be pruned (structured pruning runs before quantization / factorization) */
function floatWeights(model: CompressedModel): ModelWeights {
  const tensors: Record<string, Tensor32> = {}
  for (const [name, s] of Object.entries(model.tensors)) {
    if (s.kind !== 'float32')
      throw configError('compress.pipeline_order', `structured pruning needs float32 weights but ${name} is stored as ${s.kind}`, {
        hint: 'put structured pruning before quantize / lowrank in the pipeline',
      })
    tensors[name] = s.tensor
  }
  return {kind: 'sasrec', numUsers: model.numUsers, numItems: model.numItems, params: model.params, tensors}
}

function histories(w: ModelWeights, ctx: PruneContext): {rows: Int32Array; source: string} {
  const L = Number(w.params.max_len)
  if (ctx.calibration && ctx.calibration.length > 0) {
    const rows = sampleHistories(ctx.calibration, L, SASREC_PRUNE_MAX_ROWS)
    return {rows, source: `${rows.length / L} calibration histories`}
  }
  return {rows: randomHistories(w.numItems, L, SASREC_PRUNE_HISTORIES), source: `${SASREC_PRUNE_HISTORIES} seeded random histories`}
}

/** mean ‖head output‖₂ per head of every block, over the item positions of `rows` */
export function headImportance(w: ModelWeights, g: SasrecGeometry, rows: Int32Array): number[][] {
  const out = g.blocks.map((b) => new Array<number>(b.heads).fill(0))
  const d = g.headDim
  const h = g.hidden
  sasrecStates(w, rows, {
    activation: (site) => {
      if (site.block === undefined || !site.point.endsWith('.attn_out.kernel')) return
      const k = site.block
      const wo = w.tensors[`layer_${k}.attn_out.kernel`].data
      const {x, real} = site
      let n = 0
      const contrib = new Float64Array(h)
      for (let r = 0; r < x.rows; r++) {
        if (!real[r]) continue
        n++
        for (let head = 0; head < g.blocks[k].heads; head++) {
          contrib.fill(0)
          for (let i = 0; i < d; i++) {
            const c = x.data[r * x.cols + head * d + i]
            const off = (head * d + i) * h
            for (let j = 0; j < h; j++) contrib[j] += c * wo[off + j]
          }
          out[k][head] += norm(contrib, 'l2')
        }
      }
      for (let head = 0; head < out[k].length; head++) out[k][head] /= Math.max(1, n)
    },
  })
  return out
}

/** mean squared change of the scores of `rows` when the blocks `skip` are left out, relative to the mean squared score */
export function scoreChange(w: ModelWeights, rows: Int32Array, full: Float32Array, skip: ReadonlySet<number>): number {
  const got = sasrecReferenceScores(w, rows, {skipBlocks: skip})
  let num = 0
  let den = 0
  for (let i = 0; i < full.length; i++) {
    num += (got[i] - full[i]) ** 2
    den += full[i] * full[i]
  }
  return num / Math.max(den, 1e-30)
}

/** structured pruning of a float32 SASRec: heads, feed-forward units or whole blocks (see the module comment) */
export function pruneSasrecStructured(model: CompressedModel, p: PruneOneParams, ctx: PruneContext = {}): {model: CompressedModel; notes: string[]} {
  const target = p.target as SasrecPruneTarget
  if (target !== 'heads' && target !== 'ffn' && target !== 'layers')
    throw configError('compress.not_applicable', `structured pruning of sasrec takes target heads, ffn or layers (got ${p.target})`, {hint: 'use target: heads | ffn | layers'})
  const w = floatWeights(model)
  const g = checkSasrecWeights(w)
  const t = {...w.tensors}
  const notes: string[] = []
  const steps = [...model.steps, {method: 'prune.structured', params: {...p}}]
  const done = (): {model: CompressedModel; notes: string[]} => {
    const tensors: Record<string, StoredTensor> = {}
    for (const [name, v] of Object.entries(t)) tensors[name] = {kind: 'float32', tensor: v}
    return {model: {...model, tensors, steps}, notes}
  }

  if (target === 'ffn') {
    for (const [k, b] of g.blocks.entries()) {
      const pre = `layer_${k}`
      const f1 = t[`${pre}.ffn1.kernel`]
      const b1 = t[`${pre}.ffn1.bias`]
      const f2 = t[`${pre}.ffn2.kernel`]
      const scores = Array.from({length: b.inner}, (_, j) => {
        const col = new Float64Array(g.hidden + 1)
        for (let i = 0; i < g.hidden; i++) col[i] = f1.data[i * b.inner + j]
        col[g.hidden] = b1.data[j]
        return norm(col, p.norm) * norm(f2.data.subarray(j * g.hidden, (j + 1) * g.hidden), p.norm)
      })
      const keep = keepHighest(scores, Math.floor(p.sparsity * b.inner))
      t[`${pre}.ffn1.kernel`] = keepColumns(f1, keep)
      t[`${pre}.ffn1.bias`] = keepColumns(b1, keep)
      t[`${pre}.ffn2.kernel`] = keepRows(f2, keep)
      notes.push(`${pre}: feed-forward ${b.inner} → ${keep.length} units (smallest ${p.norm} ‖ffn1 column, bias‖·‖ffn2 row‖ removed)`)
    }
    return done()
  }

  const cal = histories(w, ctx)
  if (target === 'heads') {
    const importance = headImportance(w, g, cal.rows)
    for (const [k, b] of g.blocks.entries()) {
      const pre = `layer_${k}`
      const keptHeads = keepHighest(importance[k], Math.floor(p.sparsity * b.heads))
      const cols = keptHeads.flatMap((head) => Array.from({length: g.headDim}, (_, i) => head * g.headDim + i))
      for (const d of ['q', 'k', 'v']) {
        t[`${pre}.${d}.kernel`] = keepColumns(t[`${pre}.${d}.kernel`], cols)
        t[`${pre}.${d}.bias`] = keepColumns(t[`${pre}.${d}.bias`], cols)
      }
      t[`${pre}.attn_out.kernel`] = keepRows(t[`${pre}.attn_out.kernel`], cols)
      notes.push(`${pre}: ${b.heads} → ${keptHeads.length} heads, kept [${keptHeads.join(', ')}] (importance = mean ‖head output‖ on ${cal.source}: ${importance[k].map(fmt).join(', ')})`)
    }
    return done()
  }

  // layers: greedy, one block at a time, the one whose removal changes the calibration scores least
  const drop = Math.floor(p.sparsity * g.blocks.length)
  const full = sasrecReferenceScores(w, cal.rows)
  const skip = new Set<number>()
  for (let n = 0; n < drop; n++) {
    let best = -1
    let bestChange = Infinity
    const changes: string[] = []
    for (let k = 0; k < g.blocks.length; k++) {
      if (skip.has(k)) continue
      const change = scoreChange(w, cal.rows, full, new Set([...skip, k]))
      changes.push(`layer_${k} ${fmt(change)}`)
      if (change < bestChange) [best, bestChange] = [k, change]
    }
    skip.add(best)
    notes.push(`removed layer_${best}: the smallest relative change of the scores of ${cal.source} (${changes.join(', ')})`)
  }
  const kept = g.blocks.map((_, k) => k).filter((k) => !skip.has(k))
  for (const name of Object.keys(t)) if (/^layer_\d+\./.test(name)) delete t[name]
  for (const [nk, k] of kept.entries()) {
    for (const [name, v] of Object.entries(w.tensors)) if (name.startsWith(`layer_${k}.`)) t[`layer_${nk}.${name.slice(`layer_${k}.`.length)}`] = v
  }
  notes.push(`${g.blocks.length} → ${kept.length} blocks (kept ${kept.map((k) => `layer_${k}`).join(', ')}, renumbered ${kept.map((_, n) => `layer_${n}`).join(', ')})`)
  return done()
}
