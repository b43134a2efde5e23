import {activationTables, int8KernelTensors} from '../compress/accounting.js'
import {calibrateActivations, type ActivationQuant} from '../compress/reference.js'
import {layerNames, storedShape, toFloatWeights, transpose} from '../compress/tensors.js'
import type {CompressedModel, StoredTensor} from '../compress/types.js'
import type {Tensor32} from '../models/types.js'
import {DataType, GraphBuilder, MS_DOMAIN, valueInfo} from './graph.js'
import {modelRegistry} from '../models/registry.js'
import {gru4recWeightsOf} from '../models/sequential.js'
import {exportGru4recOnnx} from './export-gru4rec.js'
import {exportSasrecModel} from './export-sasrec.js'
import {exportNcfOnnx} from './export-ncf.js'

export const ONNX_OPSET = 17

type Int8Stored = Extract<StoredTensor, {kind: 'int8'}>

/** nibbles of packed rows [N, ceil(d/2)] uint8 → float q values [N, d] (q = nibble − 8), in-graph */
export function unpackInt4(g: GraphBuilder, packed: string, d: number): string {
  const x = g.op('Cast', [packed], {to: DataType.INT32})
  const sixteen = g.init(g.fresh('i32_16'), [], Int32Array.of(16))
  const lo = g.op('Unsqueeze', [g.op('Mod', [x, sixteen]), g.int64([2])])
  const hi = g.op('Unsqueeze', [g.op('Div', [x, sixteen]), g.int64([2])])
  let flat = g.op('Reshape', [g.op('Concat', [lo, hi], {axis: 2}), g.int64([0, -1])])
  if (d % 2 === 1) flat = g.op('Slice', [flat, g.int64([0]), g.int64([d]), g.int64([1])])
  return g.op('Sub', [g.op('Cast', [flat], {to: DataType.FLOAT}), g.float(8)])
}

/** an activation: a float tensor, or (`uint8`) one already quantized with the consuming int8 kernel's activation constants */
type Input = string | {uint8: string}

function floatInput(x: Input, consumer: string): string {
  if (typeof x !== 'string') throw new Error(`ONNX export: ${consumer} is not an int8 kernel but was given quantized activations`)
  return x
}

/** rows [from, to) of a 2-D stored tensor, in the same stored form (per-column scales are shared) */
function sliceRows(s: StoredTensor, from: number, to: number): StoredTensor {
  const cols = storedShape(s)[1]
  const rows = (t: Tensor32): Tensor32 => ({shape: [to - from, t.shape[1]], data: t.data.slice(from * t.shape[1], to * t.shape[1])})
  switch (s.kind) {
    case 'float32':
      return {kind: 'float32', tensor: rows(s.tensor)}
    case 'float16':
      return {kind: 'float16', shape: [to - from, cols], data: s.data.slice(from * cols, to * cols)}
    case 'int8':
      if (s.axis === 0) return {...s, shape: [to - from, cols], data: s.data.slice(from * cols, to * cols), scale: s.scale.slice(from, to), zeroPoint: s.zeroPoint?.slice(from, to)}
      return {...s, shape: [to - from, cols], data: s.data.slice(from * cols, to * cols)}
    case 'int4': {
      const bpr = Math.ceil(cols / 2)
      return {kind: 'int4', shape: [to - from, cols], data: s.data.slice(from * bpr, to * bpr), scale: s.scale.slice(from, to)}
    }
    case 'lowrank':
      return {kind: 'lowrank', a: rows(s.a), b: s.b}
  }
}

function transposeInt8(s: Int8Stored): {data: Int8Array; rows: number; cols: number} {
  const [m, n] = s.shape
  const out = new Int8Array(m * n)
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[j * m + i] = s.data[i * n + j]
  return {data: out, rows: n, cols: m}
}

/**
 * Builds the scoring graph. Every stored form executes as it is stored (see `executionOf` in
 * src/compress/accounting.ts, which must describe what this does):
 * - user tables: Gather, then Cast (float16), DequantizeLinear on the gathered rows (int8), in-graph
 *   nibble unpack (int4), or A[u]·B (low-rank)
 * - item tables scored against a query (mf item_emb, neumf gmf_item): q·Tᵀ with Tᵀ stored transposed;
 *   int8 as static activation quantization (calibrated constant scale) + MatMulIntegerToFloat (`int8MatMul`);
 *   low-rank as (q·Bᵀ)·Aᵀ
 * - dense layers on activations: MatMul; int8 as the same integer pattern; low-rank as two MatMuls
 * - item-only subgraphs (two_tower item tower, neumf item half of the first MLP layer) are built from
 *   constants, so ORT folds them at session load
 */
class Exporter {
  readonly g = new GraphBuilder()
  /** static activation quantization of each int8 kernel's input, calibrated from the weights */
  readonly act: Record<string, ActivationQuant>
  /** user tables quantized at load as the input of an int8 kernel (table → kernel) */
  readonly tables: Record<string, string>
  constructor(readonly c: CompressedModel) {
    this.tables = activationTables(c)
    const kernels = int8KernelTensors(c)
    this.act = kernels.length > 0 ? calibrateActivations(toFloatWeights(c), kernels) : {}
  }

  private tensor(name: string): StoredTensor {
    const s = this.c.tensors[name]
    if (!s) throw new Error(`ONNX export: model ${this.c.kind} has no tensor ${name}`)
    return s
  }

  private f32(name: string, t: Tensor32): string {
    return this.g.init(name, t.shape, t.data)
  }

  /** dequantize an int8 tensor (const) with ops ORT constant-folds (not DequantizeLinear, which ORT keeps for QDQ fusion) */
  private dequantInt8Const(name: string, s: Int8Stored): string {
    const g = this.g
    const q = g.init(`${name}.q`, s.shape, s.data)
    const bshape = s.axis === 0 ? [s.shape[0], 1] : s.axis === 1 ? [s.shape[1]] : []
    let x = g.op('Cast', [q], {to: DataType.FLOAT})
    if (s.zeroPoint) x = g.op('Sub', [x, g.init(`${name}.zp_f`, bshape, Float32Array.from(s.zeroPoint))])
    return g.op('Mul', [x, g.init(`${name}.scale`, bshape, s.scale)])
  }

  private unpackInt4(packed: string, d: number): string {
    return unpackInt4(this.g, packed, d)
  }

  /** the float32 value of a whole stored tensor, built from constants (folded at session load) */
  constValue(name: string, s: StoredTensor = this.tensor(name)): string {
    const g = this.g
    switch (s.kind) {
      case 'float32':
        return this.f32(name, s.tensor)
      case 'float16':
        return g.op('Cast', [g.init(`${name}.f16`, s.shape, s.data)], {to: DataType.FLOAT})
      case 'int8':
        return this.dequantInt8Const(name, s)
      case 'int4': {
        const q = this.unpackInt4(g.init(`${name}.q4`, [s.shape[0], Math.ceil(s.shape[1] / 2)], s.data), s.shape[1])
        return g.op('Mul', [q, g.init(`${name}.scale`, [s.shape[0], 1], s.scale)])
      }
      case 'lowrank':
        return g.op('MatMul', [this.f32(`${name}.A`, s.a), this.f32(`${name}.B`, s.b)])
    }
  }

  /** rows of a table for the requested ids: [B, d] float32 */
  gatherRows(name: string, ids: string): string {
    const g = this.g
    const s = this.tensor(name)
    switch (s.kind) {
      case 'float32':
        return g.op('Gather', [this.f32(name, s.tensor), ids], {axis: 0})
      case 'float16':
        return g.op('Cast', [g.op('Gather', [g.init(`${name}.f16`, s.shape, s.data), ids], {axis: 0})], {to: DataType.FLOAT})
      case 'int8': {
        const q = g.op('Gather', [g.init(`${name}.q`, s.shape, s.data), ids], {axis: 0})
        if (s.axis === null) {
          const inputs = [q, g.init(`${name}.scale`, [], Float32Array.of(s.scale[0]))]
          if (s.zeroPoint) inputs.push(g.init(`${name}.zp`, [], Int8Array.of(s.zeroPoint[0])))
          return g.op('DequantizeLinear', inputs)
        }
        const inputs = [q, g.op('Gather', [g.init(`${name}.scale`, [s.scale.length], s.scale), ids], {axis: 0})]
        if (s.zeroPoint) inputs.push(g.op('Gather', [g.init(`${name}.zp`, [s.zeroPoint.length], s.zeroPoint), ids], {axis: 0}))
        return g.op('DequantizeLinear', inputs, {axis: 0})
      }
      case 'int4': {
        const packed = g.op('Gather', [g.init(`${name}.q4`, [s.shape[0], Math.ceil(s.shape[1] / 2)], s.data), ids], {axis: 0})
        const scale = g.op('Unsqueeze', [g.op('Gather', [g.init(`${name}.scale`, [s.scale.length], s.scale), ids], {axis: 0}), g.int64([1])])
        return g.op('Mul', [this.unpackInt4(packed, s.shape[1]), scale])
      }
      case 'lowrank':
        return g.op('MatMul', [g.op('Gather', [this.f32(`${name}.A`, s.a), ids], {axis: 0}), this.f32(`${name}.B`, s.b)])
    }
  }

  /**
   * x [N, k] · Wq [k, n] (+ bias) with int8 weights: x quantized to uint8 by QuantizeLinear with the
   * constant scale and zero point calibrated at export (`calibrateActivations`: a row's quantization
   * depends on that row only, so a user's scores never depend on the users sharing the call), then
   * ONNX Runtime's MatMulIntegerToFloat (com.microsoft): uint8 × int8 with int32 accumulation, scaled by
   * a_scale · b_scale and the bias added in the same pass. Written as that op directly: the standard
   * MatMulInteger → Cast → Mul(a_scale · b_scale) is not fused by ORT once constant folding has
   * multiplied the two constant scales, and the unfused passes cost more than the integer matmul saves.
   * Weight scale / zero point: scalar or per column [n]. A ReLU before the QuantizeLinear (zero point 0)
   * is dropped by ORT: saturation at 0 does the same.
   */
  int8MatMul(x: Input, name: string, q: {data: Int8Array; rows: number; cols: number}, scale: Float32Array, zeroPoint: Int8Array | undefined, kernel: string, bias?: string): string {
    const g = this.g
    const w = g.init(`${name}.q`, [q.rows, q.cols], q.data)
    const perColumn = scale.length > 1
    const [aScale, aZero] = this.actConsts(kernel)
    const xq = typeof x === 'string' ? g.op('QuantizeLinear', [x, aScale, aZero]) : x.uint8
    const inputs = [xq, w, aScale, g.init(`${name}.scale`, perColumn ? [q.cols] : [], scale), aZero]
    inputs.push(zeroPoint ? g.init(`${name}.zp`, perColumn ? [q.cols] : [], zeroPoint) : '', bias ?? '')
    while (inputs.at(-1) === '') inputs.pop()
    return g.opN('MatMulIntegerToFloat', inputs, {}, 1, MS_DOMAIN)[0]
  }

  private readonly actNames = new Map<string, [string, string]>()
  /** the initializers of the calibrated activation scale and zero point of `kernel`'s input (shared by all its parts), or of another calibrated activation */
  private actConsts(kernel: string): [string, string] {
    let names = this.actNames.get(kernel)
    if (!names) {
      const a = this.act[kernel]
      if (!a) throw new Error(`ONNX export: no calibrated activation range for int8 kernel ${kernel}`)
      names = [this.g.init(`${kernel}.a_scale`, [], Float32Array.of(a.scale)), this.g.init(`${kernel}.a_zp`, [], Uint8Array.of(a.zeroPoint))]
      this.actNames.set(kernel, names)
    }
    return names
  }

  /**
   * Rows of user table `table` (times `mul` [d], if given) as the input of `kernel`. When that is an int8
   * kernel (`activationTables`), the whole table is quantized with the kernel's activation constants in
   * ops of constants, which ORT folds at session load into a uint8 table named `<table>.act_q`: a request
   * gathers uint8 rows, with no dequantize / quantize pass. The same values as quantizing the gathered
   * rows (QuantizeLinear is elementwise). Otherwise the float rows.
   */
  userInput(table: string, ids: string, kernel: string, mul?: string): Input {
    const g = this.g
    if (this.tables[table] !== kernel) {
      const rows = this.gatherRows(table, ids)
      return mul ? g.op('Mul', [rows, mul]) : rows
    }
    let full = this.constValue(table)
    if (mul) full = g.op('Mul', [full, mul])
    const q = g.op('QuantizeLinear', [full, ...this.actConsts(kernel)])
    g.renameOutput(q, `${table}.act_q`)
    return {uint8: g.op('Gather', [`${table}.act_q`, ids], {axis: 0})}
  }

  /** x [N, in] · W (+ bias) (+ ReLU) on activations computed per request; `kernel`: the stored tensor W is (part of), for int8 */
  dense(input: Input, name: string, s: StoredTensor, bias: string | undefined, relu: boolean, kernel = name): string {
    const g = this.g
    let y: string
    if (s.kind === 'int8') {
      if (s.axis === 0) throw new Error(`${name}: dense kernels are quantized per tensor or per output column`)
      y = this.int8MatMul(input, name, {data: s.data, rows: s.shape[0], cols: s.shape[1]}, s.scale, s.zeroPoint, kernel, bias && this.constValue(bias))
      return relu ? g.op('Relu', [y]) : y
    }
    const x = floatInput(input, name)
    if (s.kind === 'lowrank') {
      y = g.op('MatMul', [g.op('MatMul', [x, this.f32(`${name}.A`, s.a)]), this.f32(`${name}.B`, s.b)])
    } else {
      y = g.op('MatMul', [x, this.constValue(name, s)])
    }
    if (bias) y = g.op('Add', [y, this.constValue(bias)])
    return relu ? g.op('Relu', [y]) : y
  }

  /** q [B, d] · Tᵀ for an item table T [I, d] → [B, I] (+ `int8Bias` [I], fused, for an int8 table only) */
  scoreAgainst(input: Input, name: string, int8Bias?: string): string {
    const g = this.g
    const s = this.tensor(name)
    if (s.kind === 'int8') return this.int8MatMul(input, `${name}.T`, transposeInt8(s), s.scale, s.zeroPoint, name, int8Bias) // row-wise scales of T are per-column scales of Tᵀ
    if (int8Bias) throw new Error(`ONNX export: ${name} is not an int8 kernel, it takes no bias`)
    const q = floatInput(input, name)
    switch (s.kind) {
      case 'float32':
        return g.op('MatMul', [q, this.f32(`${name}.T`, transpose(s.tensor))])
      case 'float16': {
        const [m, n] = s.shape
        const t = new Uint16Array(m * n)
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = s.data[i * n + j]
        return g.op('MatMul', [q, g.op('Cast', [g.init(`${name}.T.f16`, [n, m], t)], {to: DataType.FLOAT})])
      }
      case 'int4':
        return g.op('MatMul', [q, g.op('Transpose', [this.constValue(name, s)], {perm: [1, 0]})])
      case 'lowrank':
        return g.op('MatMul', [g.op('MatMul', [q, this.f32(`${name}.B.T`, transpose(s.b))]), this.f32(`${name}.A.T`, transpose(s.a))])
    }
  }

  build(): Uint8Array {
    const g = this.g
    const c = this.c
    const users = 'users'
    let scores: string
    switch (c.kind) {
      case 'pop': {
        const pop = this.constValue('item_pop')
        const row = g.op('Unsqueeze', [pop, g.int64([0])])
        const shape = g.op('Concat', [g.op('Shape', [users]), g.int64([c.numItems])], {axis: 0})
        scores = g.op('Expand', [row, shape])
        break
      }
      case 'mf':
      case 'itemknn': // the item-item models are stored as mf with d = numItems (src/models/itemitem.ts)
      case 'ease':
        scores = this.scoreAgainst(this.userInput('user_emb', users, 'item_emb'), 'item_emb')
        break
      case 'two_tower': {
        let u: Input = this.userInput('user_emb', users, `${layerNames(c.tensors, 'user_tower_')[0]}.kernel`)
        const ul = layerNames(c.tensors, 'user_tower_')
        for (const [k, l] of ul.entries()) u = this.dense(u, `${l}.kernel`, this.tensor(`${l}.kernel`), `${l}.bias`, k < ul.length - 1)
        // item side from constants only: folded once at session load
        let it = this.constValue('item_emb')
        const il = layerNames(c.tensors, 'item_tower_')
        for (const [k, l] of il.entries()) {
          it = g.op('Add', [g.op('MatMul', [it, this.constValue(`${l}.kernel`)]), this.constValue(`${l}.bias`)])
          if (k < il.length - 1) it = g.op('Relu', [it])
        }
        scores = g.op('MatMul', [floatInput(u, 'two_tower scores'), g.op('Transpose', [it], {perm: [1, 0]})])
        break
      }
      case 'neumf': {
        const f = storedShape(this.tensor('gmf_user'))[1]
        const e = storedShape(this.tensor('mlp_user'))[1]
        const layers = layerNames(c.tensors, 'mlp_')
        const w0 = this.tensor(`${layers[0]}.kernel`)
        const h1 = storedShape(w0)[1]
        const last = storedShape(this.tensor(`${layers.at(-1)}.kernel`))[1]
        const outK = this.constValue('out.kernel') // [f + last, 1], folded at load
        const wg = g.op('Reshape', [g.op('Slice', [outK, g.int64([0]), g.int64([f]), g.int64([0])]), g.int64([f])])
        const wm = g.op('Slice', [outK, g.int64([f]), g.int64([f + last]), g.int64([0])])
        // GMF: Σ_j gu_j·gi_j·w_j = (gu ⊙ w_g)·giᵀ
        // the output bias rides on the GMF integer matmul when there is one (its bias input, one value per item: no Add pass)
        const outBias = this.tensor('gmf_item').kind === 'int8' ? g.op('Expand', [this.constValue('out.bias'), g.int64([c.numItems])]) : undefined
        const gmf = this.scoreAgainst(this.userInput('gmf_user', users, 'gmf_item', wg), 'gmf_item', outBias)
        // MLP first layer: [mu, mi]·W0 + b0 = mu·W0[:e] + (mi·W0[e:] + b0), the item half from constants
        const userHalf = this.dense(this.userInput('mlp_user', users, `${layers[0]}.kernel`), `${layers[0]}.kernel.user`, sliceRows(w0, 0, e), undefined, false, `${layers[0]}.kernel`)
        const w0Item = sliceRows(w0, e, storedShape(w0)[0])
        const itemHalf = g.op('Add', [g.op('MatMul', [this.constValue('mlp_item'), this.constValue(`${layers[0]}.kernel.item`, w0Item)]), this.constValue(`${layers[0]}.bias`)])
        let h: Input
        if (this.act[`${layers[0]}.user_half`]) {
          // mlp_1 is an int8 kernel: add the halves quantized (QLinearAdd, com.microsoft) straight into mlp_1's uint8
          // input (zero point 0: saturation is the ReLU), with no float [B, I, h1] tensor; the item half is quantized at load
          const uq = g.op('QuantizeLinear', [userHalf, ...this.actConsts(`${layers[0]}.user_half`)])
          const iq = g.op('QuantizeLinear', [itemHalf, ...this.actConsts(`${layers[0]}.item_half`)])
          // the user half expanded to [B, I, h1] first (uint8: a quarter of the float bytes): QLinearAdd then broadcasts
          // only over B, in spans of I·h1 values, instead of one call per (user, item) row of h1 values (2-3× faster)
          const uqx = g.op('Expand', [g.op('Unsqueeze', [uq, g.int64([1])]), g.int64([1, c.numItems, h1])])
          const sum = g.opN('QLinearAdd', [uqx, ...this.actConsts(`${layers[0]}.user_half`), iq, ...this.actConsts(`${layers[0]}.item_half`), ...this.actConsts(`${layers[1]}.kernel`)], {}, 1, MS_DOMAIN)[0]
          h = {uint8: g.op('Reshape', [sum, g.int64([-1, h1])])} // [B·I, h1]
        } else {
          h = g.op('Relu', [g.op('Add', [g.op('Unsqueeze', [userHalf, g.int64([1])]), itemHalf])]) // [B, I, h1]
          h = g.op('Reshape', [h, g.int64([-1, h1])]) // [B·I, h1]: 2-D, so that ORT fuses a float MatMul + bias into one Gemm
        }
        for (const l of layers.slice(1)) h = this.dense(h, `${l}.kernel`, this.tensor(`${l}.kernel`), `${l}.bias`, true)
        const mlp = g.op('Reshape', [g.op('MatMul', [floatInput(h, 'out.kernel'), wm]), g.int64([-1, c.numItems])])
        const z = g.op('Add', [gmf, mlp])
        scores = g.op('Sigmoid', [outBias ? z : g.op('Add', [z, this.constValue('out.bias')])])
        break
      }
      default:
        throw new Error(`ONNX export: ${c.kind} has its own exporter`)
    }
    g.renameOutput(scores, 'scores')
    return g.model({
      name: `rec-${c.kind}`,
      opset: ONNX_OPSET,
      inputs: [valueInfo('users', DataType.INT64, ['batch'])],
      outputs: [valueInfo('scores', DataType.FLOAT, ['batch', c.numItems])],
      metadata: {
        'rec.kind': c.kind,
        'rec.num_items': String(c.numItems),
        'rec.probabilities': String(modelRegistry[c.kind].probabilities),
        'rec.steps': JSON.stringify(c.steps),
        'rec.int8_kernels': int8KernelTensors(c).join(','),
        // the static activation quantization of each int8 kernel's input: scale, zero point, calibrated range and its coverage
        ...(Object.keys(this.act).length > 0 ? {'rec.int8_activations': JSON.stringify(this.act)} : {}),
      },
      doc: 'rec scoring graph: users int64 [B] → scores float32 [B, numItems]',
    })
  }
}

export interface ExportOptions {
  /**
   * sasrec: histories (B×max_len shifted ids, left-padded, e.g. the training histories) on which the static
   * activation scales of int8 kernels are calibrated; without them, seeded random histories. Other models
   * calibrate from their weights alone and ignore it.
   */
  calibration?: Int32Array
}

/**
 * ONNX ModelProto (ir_version 8, opset 17) whose graph maps `users` int64 [B] to `scores` float32
 * [B, numItems] (every item scored for each user: the serving request). neumf scores are sigmoid
 * probabilities; the other architectures return raw scores.
 */
export function exportOnnx(c: CompressedModel, options: ExportOptions = {}): Uint8Array {
  if (c.kind === 'sasrec') return exportSasrecModel(c, {calibration: options.calibration})
  if (c.kind === 'gru4rec') return exportGru4recOnnx(gru4recWeightsOf(toFloatWeights(c)))
  if (c.kind === 'gmf' || c.kind === 'mlp') return exportNcfOnnx(toFloatWeights(c))
  return new Exporter(c).build()
}
