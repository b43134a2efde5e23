import {activationTableNote} from '../compress/accounting.js'
import type {Execution} from '../compress/types.js'
import {DataType, onnx} from './graph.js'

/** ORT's optimized graph of a variant, saved beside its model.onnx at evaluation (what `execution` is read from) */
export const OPTIMIZED_ONNX_FILE = 'model.optimized.onnx'

type ModelProto = InstanceType<typeof onnx.ModelProto>
type NodeProto = import('onnx-proto').onnx.INodeProto
type TensorProto = import('onnx-proto').onnx.ITensorProto

/**
 * How a variant really executes, read from the graph ONNX Runtime runs (its optimized graph, saved at
 * session creation) rather than from the stored tensor types: `execution` in the vocabulary of
 * `Execution` (README, Compression), one note per stored weight, and the evidence.
 */
export interface GraphExecution {
  execution: Execution
  notes: string[]
  /** int8 weights that are the B input of an integer matmul (MatMulInteger, DynamicQuantizeMatMul, ...) */
  integerMatMuls: string[]
  /** int8 / int4 / float16 / low-rank weights that ORT turned into float32 constants at session load */
  foldedToFloat: string[]
  /** op type → number of nodes in the optimized graph */
  ops: Record<string, number>
}

/** ops that multiply integer tensors with integer accumulation (ORT core and com.microsoft) */
const INTEGER_MATMULS = new Set(['MatMulInteger', 'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'QLinearMatMul', 'QGemm'])
/** ops that quantize activations once per call (one scale for every row of the batch, computed from the batch) */
const PER_CALL_QUANTIZERS = new Set(['DynamicQuantizeLinear', 'DynamicQuantizeMatMul'])

type Form = 'int8' | 'int4' | 'float16' | 'lowrank'

/** one stored weight of the exported graph: its payload initializers (see the naming in src/onnx/export.ts) */
interface Weight {
  name: string
  form: Form
  initializers: TensorProto[]
}

/**
 * The stored weights of an exported graph, from the exporter's initializer naming: `<w>.q` int8,
 * `<w>.q4` packed int4, `<w>.f16` float16, `<w>.A` / `<w>.B` low-rank factors, each possibly with `.T`
 * (a transposed copy). Scales and zero points are not weights.
 */
function storedWeights(exported: ModelProto): Weight[] {
  const byName = new Map<string, Weight>()
  for (const t of exported.graph?.initializer ?? []) {
    const m = /^(.*?)(\.T)?\.(q|q4|f16|A|B)(\.T)?$/.exec(t.name ?? '')
    if (!m) continue
    const form: Form | undefined =
      m[3] === 'q' && t.dataType === DataType.INT8 ? 'int8'
      : m[3] === 'q4' && t.dataType === DataType.UINT8 ? 'int4'
      : m[3] === 'f16' && t.dataType === DataType.FLOAT16 ? 'float16'
      : (m[3] === 'A' || m[3] === 'B') && t.dataType === DataType.FLOAT ? 'lowrank'
      : undefined
    if (!form) continue
    const w = byName.get(m[1]) ?? {name: m[1], form, initializers: []}
    w.initializers.push(t)
    byName.set(m[1], w)
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name))
}

function opCounts(nodes: NodeProto[]): Record<string, number> {
  const ops: Record<string, number> = {}
  for (const n of nodes) ops[n.opType ?? ''] = (ops[n.opType ?? ''] ?? 0) + 1
  return ops
}

/** what the optimized graph does with one stored weight */
type Fate = 'integer-matmul' | 'folded' | 'activation-table' | 'after-gather' | 'per-request' | 'factorized'

/** a user table the exporter quantizes to the uint8 input of an int8 kernel (`<table>.act_q`, export.ts userInput) */
const activationTable = (w: Weight, initializers: Map<string, TensorProto>) => initializers.get(`${w.name}.act_q`)?.dataType === DataType.UINT8

function fateOf(w: Weight, consumers: Map<string, NodeProto[]>, initializers: Map<string, TensorProto>): Fate {
  const uses = w.initializers.flatMap((t) => consumers.get(t.name ?? '') ?? [])
  if (uses.length === 0) return activationTable(w, initializers) ? 'activation-table' : 'folded'
  if (w.form === 'lowrank') return 'factorized'
  if (w.form === 'int8' && uses.some((n) => INTEGER_MATMULS.has(n.opType ?? '') && w.initializers.some((t) => n.input?.[1] === t.name))) return 'integer-matmul'
  if (uses.every((n) => n.opType === 'Gather')) return 'after-gather'
  return 'per-request'
}

function noteOf(w: Weight, fate: Fate): string {
  if (w.form === 'lowrank') {
    const r = Math.min(...(w.initializers[0].dims ?? []).map(Number))
    return fate === 'folded' ? `${w.name}: rank ${r} factors in the file, A·B rebuilt at session load` : `${w.name}: rank ${r} factors, executed as two MatMuls`
  }
  if (fate === 'integer-matmul') return `${w.name}: int8 weights in an integer matmul (int32 accumulation)`
  if (fate === 'activation-table') return activationTableNote(w.name, w.form)
  const to = w.form === 'float16' ? 'cast to float32' : 'dequantized to float32'
  const when = fate === 'folded' ? 'at session load' : fate === 'after-gather' ? 'after the gather' : 'on every request'
  if (w.form === 'float16') return `${w.name}: float16 in the file, ${to} ${when}; float32 compute`
  if (fate === 'folded') return `${w.name}: ${w.form} in the file, folded to float32 at session load (float32 compute)`
  return `${w.name}: ${w.form} in the file, ${to} ${when}${fate === 'after-gather' ? ' (the requested rows only)' : ''}`
}

/** the static activation quantization the exporter calibrated per int8 kernel (`rec.int8_activations` metadata) */
function activationsOf(exported: ModelProto): Record<string, {lo: number; hi: number; coverage: string}> {
  const raw = (exported.metadataProps ?? []).find((p) => p.key === 'rec.int8_activations')?.value
  if (!raw) return {}
  try {
    return JSON.parse(raw)
  } catch {
    return {}
  }
}

/** the compression steps the exporter recorded (`rec.steps` metadata) */
function stepsOf(exported: ModelProto): string[] {
  const raw = (exported.metadataProps ?? []).find((p) => p.key === 'rec.steps')?.value
  if (!raw) return []
  try {
    return (JSON.parse(raw) as Array<{method: string}>).map((s) => s.method)
  } catch {
    return []
  }
}

/**
 * Execution measured from ORT's optimized graph (`optimized`, saved with `optimizedModelFilePath`)
 * of the graph rec exported (`exported`, which says what each stored weight is): a weight is
 * int8-kernel when it is the B input of an integer matmul node; folded to float when constant folding
 * consumed it at session load; gathered when only a Gather reads it. The dominant execution follows
 * the precedence of `executionOf` (src/compress/accounting.ts), which states the exporter's intent.
 */
export function graphExecution(optimized: ModelProto, exported: ModelProto): GraphExecution {
  const nodes = optimized.graph?.node ?? []
  const consumers = new Map<string, NodeProto[]>()
  for (const n of nodes) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n])
  const seen = new Set<Execution>()
  const notes: string[] = []
  const integerMatMuls: string[] = []
  const foldedToFloat: string[] = []
  const initializers = new Map((optimized.graph?.initializer ?? []).map((t) => [t.name ?? '', t]))
  for (const w of storedWeights(exported)) {
    const fate = fateOf(w, consumers, initializers)
    notes.push(noteOf(w, fate))
    if (fate === 'integer-matmul') integerMatMuls.push(w.name)
    if (fate === 'folded') foldedToFloat.push(w.name)
    if (w.form === 'lowrank') {
      if (fate === 'factorized') seen.add('factorized')
    } else if (fate === 'integer-matmul') seen.add('int8-kernel')
    else if (fate === 'activation-table') continue // the input side of an int8 kernel, no float compute of its own
    else seen.add(w.form === 'float16' ? 'fp16-storage' : 'dequantized-at-load')
  }
  const ops = opCounts(nodes)
  const steps = stepsOf(exported)
  if (steps.includes('prune.structured')) seen.add('shrunk')
  if (steps.includes('prune.magnitude')) {
    seen.add('sparse-zeros')
    notes.push('magnitude-pruned zeros are stored and multiplied densely (no sparse kernel)')
  }
  if (integerMatMuls.length > 0) {
    // MatMulIntegerToFloat takes one activation scale: a constant (calibrated at export) or one computed from the call
    const mmitf = nodes.filter((n) => n.opType === 'MatMulIntegerToFloat')
    const perCall = [...Object.keys(ops).filter((o) => PER_CALL_QUANTIZERS.has(o)), ...(mmitf.some((n) => !initializers.has(n.input?.[2] ?? '')) ? ['MatMulIntegerToFloat'] : [])]
    notes.push(
      perCall.length > 0 ? `activations are quantized once per call (${perCall.join(', ')}): scores depend on the users sharing the call`
      : mmitf.length > 0 && !ops.MatMulInteger ? 'activations are quantized with constant scales calibrated at export (one per tensor): scores do not depend on the batch; inputs beyond the calibrated range saturate'
      : 'activations are quantized per row (one scale per user): scores do not depend on the batch',
    )
    for (const [kernel, a] of Object.entries(activationsOf(exported)))
      if (a.coverage === 'sample') notes.push(`${kernel}: activation range calibrated on a sample of users × every item; inputs of other pairs beyond [${a.lo}, ${a.hi}] saturate`)
    // sequential models calibrate on histories: the exporter says on which (`rec.int8_calibration`)
    const calibration = (exported.metadataProps ?? []).find((p) => p.key === 'rec.int8_calibration')?.value
    if (calibration) notes.push(calibration)
  }
  const order: Execution[] = ['int8-kernel', 'factorized', 'shrunk', 'dequantized-at-load', 'fp16-storage', 'sparse-zeros']
  return {execution: order.find((e) => seen.has(e)) ?? 'float32', notes, integerMatMuls, foldedToFloat, ops}
}

/** `graphExecution` of a saved optimized graph and the exported model's bytes */
export function graphExecutionOf(optimized: Uint8Array, exported: Uint8Array): GraphExecution {
  return graphExecution(onnx.ModelProto.decode(optimized), onnx.ModelProto.decode(exported))
}

/** the weight a note is about (`<weight>: ...`), if any */
const noteWeight = (note: string) => /^([\w.]+): /.exec(note)?.[1]

/**
 * What evaluation reports for a variant run in ORT: the measured execution, the compress-stage notes
 * with those about a weight the graph describes replaced by the measured ones (the claim names whole
 * tensors, e.g. `mlp_0.kernel`, the graph its parts, e.g. `mlp_0.kernel.item`), and a note when the
 * claim and the measurement disagree.
 */
export function measuredExecution(claim: {execution: string; notes: string[]}, graph: GraphExecution): {execution: Execution; notes: string[]} {
  const measured = graph.notes.map(noteWeight).filter((w): w is string => w !== undefined)
  const describedByGraph = (w: string) => measured.some((m) => m === w || m.startsWith(`${w}.`))
  const kept = claim.notes.filter((n) => {
    const w = noteWeight(n)
    return w === undefined || !describedByGraph(w)
  })
  const notes = [...new Set([...kept, ...graph.notes])]
  if (claim.execution !== graph.execution) notes.push(`execution measured in ONNX Runtime (${graph.execution}) differs from the compress-stage claim (${claim.execution})`)
  return {execution: graph.execution, notes}
}
