import {int8KernelTensors} from '../compress/accounting.js'
import {calibrateSasrec, sasrecSiteOf, type SasrecCalibration} from '../compress/sasrec-calibrate.js'
import {fromWeights, storedShape, toFloatWeights} from '../compress/tensors.js'
import type {CompressedModel, StoredTensor} from '../compress/types.js'
import {checkSasrecShapes, SASREC_LN_EPS, SASREC_MASK, sasrecParamsOf, type SasrecGeometry, type SasrecWeights} from '../models/sasrec-reference.js'
import type {Tensor32} from '../models/types.js'
import {ONNX_OPSET, unpackInt4} from './export.js'
import {DataType, GraphBuilder, MS_DOMAIN, valueInfo} from './graph.js'

export interface SasrecExportOptions {
  /**
   * In the last layer, compute the query, attention output and feed-forward for position L-1 only (keys
   * and values still over all positions): the only row the scores read, so the same function at about
   * half the per-request work. Default true; false builds the literal all-positions forward.
   */
  lastPositionOnly?: boolean
  /**
   * Histories (B×max_len shifted ids, left-padded) to calibrate the static activation scales of int8
   * kernels on (e.g. the training histories); without them, seeded random histories (`calibrateSasrec`).
   */
  calibration?: Int32Array
}

type Int8Stored = Extract<StoredTensor, {kind: 'int8'}>

/** an activation [rows, width] as a float tensor, with its uint8 quantization made on demand (once) for int8 kernels */
interface Act {
  f: string
  q?: string
  /** the calibration site of its quantization */
  site: string
}

/** the int8 weights of one or more kernels side by side, every scale and zero point per column */
interface Int8Columns {
  data: Int8Array
  rows: number
  cols: number
  scale: Float32Array
  zeroPoint?: Int8Array
}

function int8Columns(parts: Int8Stored[]): Int8Columns {
  const rows = parts[0].shape[0]
  const cols = parts.reduce((c, s) => c + s.shape[1], 0)
  const data = new Int8Array(rows * cols)
  const scale = new Float32Array(cols)
  const anyZero = parts.some((s) => s.zeroPoint)
  const zeroPoint = anyZero ? new Int8Array(cols) : undefined
  let off = 0
  for (const s of parts) {
    if (s.axis === 0) throw new Error('ONNX export: a dense kernel is quantized per tensor or per output column, not per row')
    const n = s.shape[1]
    for (let r = 0; r < rows; r++) data.set(s.data.subarray(r * n, (r + 1) * n), r * cols + off)
    for (let j = 0; j < n; j++) {
      const c = s.axis === 1 ? j : 0
      scale[off + j] = s.scale[c]
      if (zeroPoint) zeroPoint[off + j] = s.zeroPoint ? s.zeroPoint[c] : 0
    }
    off += n
  }
  return {data, rows, cols, scale, zeroPoint}
}

/** the kernels [in, out_k] side by side: [in, Σ out_k] */
function concatColumns<T extends Float32Array | Uint16Array>(parts: {shape: number[]; data: T}[], make: (n: number) => T): {shape: number[]; data: T} {
  const rows = parts[0].shape[0]
  const cols = parts.reduce((c, t) => c + t.shape[1], 0)
  const out = make(rows * cols)
  let off = 0
  for (const t of parts) {
    const n = t.shape[1]
    for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * n, (r + 1) * n), r * cols + off)
    off += n
  }
  return {shape: [rows, cols], data: out}
}

/** an int8 table [m, n] transposed to [n, m] (row-wise scales become per-column scales) */
function transposeInt8(s: Int8Stored): Int8Array {
  const [m, n] = s.shape
  const out = new Int8Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = s.data[i * n + j]
  return out
}

/**
 * SASRec's serving graph (opset 17; com.microsoft MatMulIntegerToFloat for int8 kernels): `seqs` int64
 * [B, L] (the last L items of each history, ids shifted by one, left-padded with 0) → `scores` float32
 * [B, I] (item j's score at j). The forward of src/models/sasrec-reference.ts, shaped by the tensors
 * (pruned heads, units and blocks are simply absent):
 * - item_emb[seqs] + pos_emb, LayerNormalization (epsilon 1e-12, last axis), then activations as 2-D [B·L, h]
 * - per block: Q, K, V as one MatMul + Add against the kernels concatenated at export, Reshape
 *   [B, L, 3, a_k, d] + Transpose + Gather to heads [B, a_k, L, d]; Q·Kᵀ · 1/√d + mask, Softmax(−1), ·V,
 *   heads back to [B·L, a_k·d]; attn_out + residual, LayerNormalization; FFN with exact GELU as
 *   Div(√2) → Erf → Add(1) → Mul(z) → Mul(0.5) (the pattern ORT fuses to Gelu), residual, LayerNormalization
 * - last block (default, `lastPositionOnly`): K, V over all L, Q, attention output and FFN at position L-1 only
 * - mask [B, 1, L, L] built in-graph: (allowed − 1)·10000 with allowed = Not(Equal(seqs, 0)) [B, 1, 1, L] × causal [L, L]
 *   (0 / 1 constant), rows with no allowed key zeroed (ReduceMax): see the comment there
 * - the state at the last position [B, h] scored against item_emb[1..I]ᵀ
 *
 * Each stored form executes as stored (`executionOf` in src/compress/accounting.ts says the same):
 * - float32: item_emb stored once; its transposed copy for the scores is Transpose(Slice(item_emb)), folded at session load
 * - float16: every tensor stored as float16 and Cast to float32 once, at session load (constant folding); float32 compute
 * - int8 dense kernels: QuantizeLinear of the input with a static scale calibrated at export (`calibrateSasrec`),
 *   then MatMulIntegerToFloat (uint8 × int8, int32 accumulation, per-column weight scales, bias fused);
 *   Q, K and V share one quantized input and one fused integer matmul. Except the last block's query, attention
 *   output and feed-forward, which run on one row per history: those int8 weights are dequantized at session
 *   load and run in float32 (at one row, quantizing the input and launching the integer kernel cost more than
 *   it saves: measured ~5% of a single request at ml-100k sizes); its keys and values (all L rows) stay integer
 * - int8 item_emb (row-wise): stored once, the item rows transposed [h, I] with one scale per item = per column
 *   (the padding row as its float32 values). Output: the final state quantized (static scale) · the int8 table
 *   in MatMulIntegerToFloat → [B, I]. Input side: rows gathered from a float32 copy dequantized at session load
 * - int8 / int4 pos_emb, int4 item_emb: dequantized in ops of constants, folded to float32 at session load
 * - low-rank kernels: x·A·B; low-rank item_emb: input A[seqs]·B, output (q·Bᵀ)·A[1..I]ᵀ (the transposes folded at load);
 *   low-rank pos_emb: A·B folded at load
 */
class SasrecExporter {
  readonly g = new GraphBuilder()
  readonly geometry: SasrecGeometry
  readonly calibration: SasrecCalibration | undefined
  readonly kernels: Set<string>

  constructor(
    readonly c: CompressedModel,
    readonly options: SasrecExportOptions,
  ) {
    const shapes: Record<string, number[]> = {}
    for (const [name, s] of Object.entries(c.tensors)) shapes[name] = storedShape(s)
    this.geometry = checkSasrecShapes(c.numItems, c.params, shapes)
    this.kernels = new Set(int8KernelTensors(c))
    this.calibration = this.kernels.size > 0 ? calibrateSasrec(toFloatWeights(c), new Set([...this.kernels].map((n) => sasrecSiteOf(n, this.geometry.blocks.length - 1))), options.calibration) : undefined
  }

  private tensor(name: string): StoredTensor {
    const s = this.c.tensors[name]
    if (!s) throw new Error(`ONNX export: sasrec has no tensor ${name}`)
    return s
  }

  private f32(name: string, t: Tensor32): string {
    return this.g.init(name, t.shape, t.data)
  }

  /** the float32 value of a whole stored tensor, from constants only (ORT folds it at session load) */
  constValue(name: string): string {
    const g = this.g
    const s = this.tensor(name)
    switch (s.kind) {
      case 'float32':
        return this.f32(name, s.tensor)
      case 'float16':
        return g.op('Cast', [g.init(`${name}.f16`, s.shape, s.data)], {to: DataType.FLOAT})
      case 'int8': {
        // Cast / Sub / Mul rather than DequantizeLinear, which ORT keeps unfolded for QDQ fusion
        const bshape = s.axis === 0 ? [s.shape[0], 1] : s.axis === 1 ? [s.shape[1]] : []
        let x = g.op('Cast', [g.init(`${name}.q`, s.shape, s.data)], {to: DataType.FLOAT})
        if (s.zeroPoint) x = g.op('Sub', [x, g.init(`${name}.zp_f`, bshape, Float32Array.from(s.zeroPoint))])
        return g.op('Mul', [x, g.init(`${name}.scale`, bshape, s.scale)])
      }
      case 'int4': {
        const d = s.shape[1]
        const q = unpackInt4(g, g.init(`${name}.q4`, [s.shape[0], Math.ceil(d / 2)], s.data), d)
        return g.op('Mul', [q, g.init(`${name}.scale`, [s.shape[0], 1], s.scale)])
      }
      case 'lowrank':
        return g.op('MatMul', [this.f32(`${name}.A`, s.a), this.f32(`${name}.B`, s.b)])
    }
  }

  private readonly actConsts = new Map<string, [string, string]>()
  /** the initializers of the static activation scale and zero point of a calibration site */
  private quantConsts(site: string): [string, string] {
    let names = this.actConsts.get(site)
    if (!names) {
      const a = this.calibration?.act[site]
      if (!a) throw new Error(`ONNX export: no calibrated activation range for ${site}`)
      names = [this.g.init(`${site}.a_scale`, [], Float32Array.of(a.scale)), this.g.init(`${site}.a_zp`, [], Uint8Array.of(a.zeroPoint))]
      this.actConsts.set(site, names)
    }
    return names
  }

  /** the uint8 static quantization of an activation (made once per activation) */
  private quantized(x: Act): string {
    x.q ??= this.g.op('QuantizeLinear', [x.f, ...this.quantConsts(x.site)])
    return x.q
  }

  /** MatMulIntegerToFloat(x_uint8, W_int8) with the site's activation constants, per-column weight scales and the bias fused */
  private integerMatMul(xq: string, site: string, name: string, w: Int8Columns, bias?: string): string {
    const g = this.g
    const [aScale, aZero] = this.quantConsts(site)
    const perColumn = w.scale.some((v) => v !== w.scale[0]) || (w.zeroPoint?.some((v) => v !== w.zeroPoint![0]) ?? false)
    const dims = perColumn ? [w.cols] : []
    const scale = perColumn ? w.scale : Float32Array.of(w.scale[0])
    const inputs = [xq, g.init(`${name}.q`, [w.rows, w.cols], w.data), aScale, g.init(`${name}.scale`, dims, scale), aZero]
    inputs.push(w.zeroPoint ? g.init(`${name}.zp`, dims, perColumn ? w.zeroPoint : Int8Array.of(w.zeroPoint[0])) : '', bias ?? '')
    while (inputs.at(-1) === '') inputs.pop()
    return g.opN('MatMulIntegerToFloat', inputs, {}, 1, MS_DOMAIN)[0]
  }

  /**
   * x · [W_1 | W_2 | ...] + [b_1 | b_2 | ...] for kernels that read the same input: one MatMul (float32,
   * float16) or one integer matmul (all int8) against the kernels concatenated at export (`id` names the
   * fused weight); otherwise one product per kernel (low-rank: x·A·B), concatenated.
   */
  linear(x: Act, names: string[], id: string): string {
    const g = this.g
    // int8 weights outside the integer kernels (`int8KernelTensors`: the last block's single-row projections) are
    // dequantized at session load and multiplied in float32
    if (names.some((n) => this.c.tensors[`${n}.kernel`]?.kind === 'int8' && !this.kernels.has(`${n}.kernel`))) {
      if (names.some((n) => this.kernels.has(`${n}.kernel`))) throw new Error(`ONNX export: ${id} mixes integer and float kernels`)
      const outs = names.map((n) => g.op('Add', [g.op('MatMul', [x.f, this.constValue(`${n}.kernel`)]), this.constValue(`${n}.bias`)]))
      return names.length === 1 ? outs[0] : g.op('Concat', outs, {axis: -1})
    }
    const stored = names.map((n) => this.tensor(`${n}.kernel`))
    const biasData = (ns: string[]) => {
      const parts = ns.map((n) => this.tensor(`${n}.bias`))
      if (parts.some((p) => p.kind !== 'float32')) throw new Error('ONNX export: sasrec biases are float32')
      return Float32Array.from(parts.flatMap((p) => Array.from((p as Extract<StoredTensor, {kind: 'float32'}>).tensor.data)))
    }
    const bias = (ns: string[], nm: string) => g.init(`${nm}.bias`, [biasData(ns).length], biasData(ns))
    const kinds = new Set(stored.map((s) => s.kind))
    const single = names.length === 1
    const fusedName = single ? `${names[0]}.kernel` : `${id}.kernel`
    const fusedBias = single ? `${names[0]}` : id
    if (kinds.size === 1 && kinds.has('int8')) {
      return this.integerMatMul(this.quantized(x), x.site, fusedName, int8Columns(stored as Int8Stored[]), bias(names, fusedBias))
    }
    if (kinds.size === 1 && (kinds.has('float32') || kinds.has('float16'))) {
      let w: string
      if (single) w = this.constValue(`${names[0]}.kernel`)
      else if (kinds.has('float32')) {
        const t = concatColumns(stored.map((s) => (s as Extract<StoredTensor, {kind: 'float32'}>).tensor), (n) => new Float32Array(n))
        w = this.f32(fusedName, t)
      } else {
        const t = concatColumns(stored.map((s) => s as Extract<StoredTensor, {kind: 'float16'}>), (n) => new Uint16Array(n))
        w = g.op('Cast', [g.init(`${fusedName}.f16`, t.shape, t.data)], {to: DataType.FLOAT})
      }
      return g.op('Add', [g.op('MatMul', [x.f, w]), bias(names, fusedBias)])
    }
    // mixed forms or low-rank: one product per kernel
    const outs = names.map((n, i) => {
      const s = stored[i]
      if (s.kind === 'int8') return this.integerMatMul(this.quantized(x), x.site, `${n}.kernel`, int8Columns([s]), bias([n], n))
      const y = s.kind === 'lowrank' ? g.op('MatMul', [g.op('MatMul', [x.f, this.f32(`${n}.kernel.A`, s.a)]), this.f32(`${n}.kernel.B`, s.b)]) : g.op('MatMul', [x.f, this.constValue(`${n}.kernel`)])
      return g.op('Add', [y, bias([n], n)])
    })
    return single ? outs[0] : g.op('Concat', outs, {axis: -1})
  }

  /** item_emb rows of the ids `seqs` [B, L] → [B, L, h] float */
  private itemRows(seqs: string): string {
    const g = this.g
    const s = this.tensor('item_emb')
    if (s.kind === 'int8') {
      // the input side reads a float32 table dequantized once, at session load (ops of constants): the padding
      // row (stored as its float32 values) above the int8 item rows, dequantized and transposed back. Measured:
      // gathering the int8 columns of the transposed table and dequantizing them per request (5 small ops) cost
      // ~15% of a single request's latency at ml-100k sizes, more than the integer kernels save
      const t = this.int8Items(s)
      let x = g.op('Cast', [t.q], {to: DataType.FLOAT}) // [h, I]
      if (t.zp) x = g.op('Sub', [x, g.op('Cast', [t.zp], {to: DataType.FLOAT})])
      const rows = g.op('Transpose', [g.op('Mul', [x, t.scale])], {perm: [1, 0]}) // [I, h]
      const table = g.op('Concat', [t.pad, rows], {axis: 0}) // [I+1, h], folded at session load
      return g.op('Gather', [table, seqs], {axis: 0})
    }
    if (s.kind === 'lowrank') return g.op('MatMul', [g.op('Gather', [this.itemFactor('A'), seqs], {axis: 0}), this.itemFactor('B')])
    return g.op('Gather', [this.itemTable(), seqs], {axis: 0})
  }

  private memo = new Map<string, string>()
  private once(key: string, make: () => string): string {
    let v = this.memo.get(key)
    if (v === undefined) {
      v = make()
      this.memo.set(key, v)
    }
    return v
  }
  private itemTable = () => this.once('item_emb', () => this.constValue('item_emb'))
  private int8ItemsMemo: {q: string; scale: string; zp?: string; pad: string} | undefined
  /**
   * The int8 item table as the scoring kernel reads it: item rows 1..I transposed, [h, I] int8, with their
   * row-wise scales (zero points) as per-column ones [I] (or the per-tensor scalar); the padding row 0 as its
   * dequantized float32 values [1, h] (only the input side reads it)
   */
  private int8Items(s: Int8Stored): {q: string; scale: string; zp?: string; pad: string} {
    if (this.int8ItemsMemo) return this.int8ItemsMemo
    const g = this.g
    const [rows, h] = s.shape
    const items = {...s, shape: [rows - 1, h], data: s.data.subarray(h)}
    const perItem = s.axis === 0
    const pad = new Float32Array(h)
    for (let i = 0; i < h; i++) pad[i] = (s.data[i] - (s.zeroPoint ? s.zeroPoint[0] : 0)) * s.scale[0]
    const dims = perItem ? [rows - 1] : []
    this.int8ItemsMemo = {
      q: g.init('item_emb.T.q', [h, rows - 1], transposeInt8(items)),
      scale: g.init('item_emb.T.scale', dims, perItem ? s.scale.subarray(1) : Float32Array.of(s.scale[0])),
      ...(s.zeroPoint ? {zp: g.init('item_emb.T.zp', dims, perItem ? s.zeroPoint.subarray(1) : Int8Array.of(s.zeroPoint[0]))} : {}),
      pad: g.init('item_emb.pad', [1, h], pad),
    }
    return this.int8ItemsMemo
  }
  private itemFactor = (f: 'A' | 'B') =>
    this.once(`item_emb.${f}`, () => {
      const s = this.tensor('item_emb') as Extract<StoredTensor, {kind: 'lowrank'}>
      return this.f32(`item_emb.${f}`, f === 'A' ? s.a : s.b)
    })

  /** state [B, h] · item_emb[1..I]ᵀ → [B, I] */
  private scores(state: Act): string {
    const g = this.g
    const I = this.c.numItems
    const s = this.tensor('item_emb')
    const items = (t: string) => g.op('Slice', [t, g.int64([1]), g.int64([I + 1]), g.int64([0])]) // rows 1..I (no padding row)
    const T = (t: string) => g.op('Transpose', [t], {perm: [1, 0]})
    if (s.kind === 'int8') {
      // row-wise scales (and zero points) of the table are per-column ones of its transpose
      const t = this.int8Items(s)
      const [aScale, aZero] = this.quantConsts(state.site)
      const inputs = [this.quantized(state), t.q, aScale, t.scale, aZero, ...(t.zp ? [t.zp] : [])]
      return g.opN('MatMulIntegerToFloat', inputs, {}, 1, MS_DOMAIN)[0] // [B, I]
    }
    if (s.kind === 'lowrank') return g.op('MatMul', [g.op('MatMul', [state.f, T(this.itemFactor('B'))]), T(items(this.itemFactor('A')))])
    return g.op('MatMul', [state.f, T(items(this.itemTable()))])
  }

  build(): Uint8Array {
    const g = this.g
    const c = this.c
    const lastOnly = this.options.lastPositionOnly ?? true
    const {hidden: h, headDim: dh, maxLen: L, blocks} = this.geometry
    const I = c.numItems
    const vec = (name: string) => this.constValue(name)
    const layerNorm = (x: string, name: string) => g.op('LayerNormalization', [x, vec(`${name}.gamma`), vec(`${name}.beta`)], {axis: -1, epsilon: {float: SASREC_LN_EPS}})

    const seqs = 'seqs'
    // 1. embeddings
    let x = layerNorm(g.op('Add', [this.itemRows(seqs), vec('pos_emb')]), 'emb_ln') // [B, L, h]

    // additive mask [B, 1, L, L]: −10000 where the key is padding or in the future, else 0. A query row with no
    // allowed key (a padding position of a left-padded sequence: all of an empty history) gets 0 everywhere
    // instead of −10000 everywhere: the same softmax (shift-invariant per row: RecBole's row attends to all L
    // keys with weights softmax(Q·Kᵀ/√d)), without float32 rounding Q·Kᵀ/√d − 10000 to a step of ~1e-3.
    // That row is the user state of an empty history, so it is read; elsewhere exp(−10000 + …) is 0 either way.
    const causal = new Uint8Array(L * L)
    for (let q = 0; q < L; q++) for (let s = 0; s <= q; s++) causal[q * L + s] = 1
    const realKey = g.op('Cast', [g.op('Not', [g.op('Equal', [seqs, g.init('zero_id', [], BigInt64Array.of(0n))])])], {to: DataType.FLOAT})
    const causalF = g.op('Cast', [g.init('causal', [L, L], causal)], {to: DataType.FLOAT}) // folded at load
    const allowed = g.op('Mul', [g.op('Unsqueeze', [realKey, g.int64([1, 2])]), causalF]) // [B, 1, L, L] of 1 / 0
    const liveRow = g.op('ReduceMax', [allowed], {axes: [3], keepdims: 1}) // [B, 1, L, 1]: 1 if the query row has an allowed key
    const mask = g.op('Mul', [g.op('Sub', [allowed, g.float(1)]), g.op('Mul', [liveRow, g.float(-SASREC_MASK)])])
    // the last query row of the mask [B, 1, 1, L], for the last layer computed at position L-1 only
    const lastMask = lastOnly ? g.op('Slice', [mask, g.int64([L - 1]), g.int64([L]), g.int64([2])]) : mask

    // activations as 2-D [rows, h] between the attention cores (rows = B·L, or B in a last-position-only layer):
    // ORT then fuses each float MatMul + bias into one Gemm (and ffn1's Gemm + GELU's Erf pattern into Gelu). On 3-D
    // [B, L, h] it fuses bias + residual + LayerNorm into SkipLayerNormalization and bias + GELU into BiasGelu
    // instead: measured 10-15% slower per request at ml-100k sizes, also with the fused QKV projection
    x = g.op('Reshape', [x, g.int64([-1, h])])
    const lastPosition = g.init('last_position', [], BigInt64Array.of(BigInt(L - 1)))
    const lastRow = (y: string, width: number) => g.op('Gather', [g.op('Reshape', [y, g.int64([-1, L, width])]), lastPosition], {axis: 1}) // [B, width]
    const index: string[] = []
    const part = (y: string, i: number) => g.op('Gather', [y, (index[i] ??= g.init(`index_${i}`, [], BigInt64Array.of(BigInt(i))))], {axis: 0})
    const invScale = g.float(1 / Math.sqrt(dh))
    for (const [k, {heads: a, width}] of blocks.entries()) {
      const p = `layer_${k}`
      const onlyLast = lastOnly && k === blocks.length - 1
      // [rows, n·width] of n projections → [n, B, a, L, d]
      const splitHeads = (y: string, n: number) => g.op('Transpose', [g.op('Reshape', [y, g.int64([-1, L, n, a, dh])])], {perm: [2, 0, 3, 1, 4]})
      const xin: Act = {f: x, site: `${p}.qkv.kernel`}
      let q: string, kh: string, vh: string, xq: string
      if (!onlyLast) {
        const qkv = splitHeads(this.linear(xin, [`${p}.q`, `${p}.k`, `${p}.v`], `${p}.qkv`), 3)
        ;[q, kh, vh, xq] = [part(qkv, 0), part(qkv, 1), part(qkv, 2), x] // [B, a, L, d] each
      } else {
        // the query of position L-1 only ([B, h] → [B, a, 1, d] with no transpose); keys / values over all L
        const kv = splitHeads(this.linear(xin, [`${p}.k`, `${p}.v`], `${p}.kv`), 2)
        ;[kh, vh] = [part(kv, 0), part(kv, 1)]
        xq = lastRow(x, h)
        // the query of the last row: float32 (its int8 weights dequantized at load, see `linear`)
        q = g.op('Reshape', [this.linear({f: xq, site: `${p}.q.kernel`}, [`${p}.q`], `${p}.q`), g.int64([-1, a, 1, dh])])
      }
      const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [kh], {perm: [0, 1, 3, 2]})]), invScale]), onlyLast ? lastMask : mask])
      const ctx = g.op('MatMul', [g.op('Softmax', [scores], {axis: -1}), vh]) // [B, a, Lq, d]
      // heads concatenated back: [B·Lq, a·d] (Lq = 1: a plain reshape)
      const merged = g.op('Reshape', [onlyLast ? ctx : g.op('Transpose', [ctx], {perm: [0, 2, 1, 3]}), g.int64([-1, width])])
      x = layerNorm(g.op('Add', [this.linear({f: merged, site: `${p}.attn_out.kernel`}, [`${p}.attn_out`], `${p}.attn_out`), xq]), `${p}.ln1`)
      const z = this.linear({f: x, site: `${p}.ffn1.kernel`}, [`${p}.ffn1`], `${p}.ffn1`)
      const geluZ = g.op('Mul', [g.op('Mul', [z, g.op('Add', [g.op('Erf', [g.op('Div', [z, g.float(Math.SQRT2)])]), g.float(1)])]), g.float(0.5)])
      x = layerNorm(g.op('Add', [this.linear({f: geluZ, site: `${p}.ffn2.kernel`}, [`${p}.ffn2`], `${p}.ffn2`), x]), `${p}.ln2`)
    }
    // 3. the user state [B, h] (already the only row per sequence when the last layer ran at L-1 only), scored against item_emb[1..I]ᵀ
    const state = lastOnly ? x : lastRow(x, h)
    const scores = this.scores({f: state, site: 'item_emb'})
    g.renameOutput(scores, 'scores')
    const base = sasrecParamsOf(c.params)
    return g.model({
      name: 'rec-sasrec',
      opset: ONNX_OPSET,
      inputs: [valueInfo(seqs, DataType.INT64, ['batch', L])],
      outputs: [valueInfo('scores', DataType.FLOAT, ['batch', I])],
      metadata: {
        'rec.kind': 'sasrec',
        'rec.num_items': String(I),
        'rec.probabilities': 'false',
        'rec.input': 'seqs',
        'rec.max_len': String(L),
        // how a scorer builds `seqs`: the last max_len items, item j as id j+1, left-padded with 0
        'rec.seq_encoding': 'item+1,left-pad-0',
        // the base model's hyper-parameters, and the blocks as the tensors shape them (after structured pruning)
        'rec.params': JSON.stringify(base),
        'rec.blocks': JSON.stringify(blocks.map((b) => ({heads: b.heads, inner: b.inner}))),
        'rec.steps': JSON.stringify(c.steps),
        'rec.int8_kernels': [...this.kernels].join(','),
        ...(this.calibration ? {'rec.int8_activations': JSON.stringify(this.calibration.act), 'rec.int8_calibration': this.calibration.note} : {}),
      },
      doc: 'rec SASRec scoring graph: seqs int64 [B, max_len] (item ids + 1, left-padded with 0) → scores float32 [B, numItems]',
    })
  }
}

/** a (compressed) SASRec as its serving graph; every stored form executes as stored (see SasrecExporter) */
export function exportSasrecModel(c: CompressedModel, options: SasrecExportOptions = {}): Uint8Array {
  return new SasrecExporter(c, options).build()
}

/** float32 SASRec weights (the reference's form) as their serving graph */
export function exportSasrecOnnx(w: SasrecWeights, options: SasrecExportOptions = {}): Uint8Array {
  return exportSasrecModel(fromWeights({kind: 'sasrec', numUsers: 0, numItems: w.numItems, params: {...w.params}, tensors: w.tensors}), options)
}
