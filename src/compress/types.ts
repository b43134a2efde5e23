import type {ModelKind, Tensor32} from '../models/types.js'

/**
 * How one tensor is stored after compression. Every form can be turned back into float32
 * (`toFloatWeights`), and the ONNX exporter executes each form for real (see src/onnx/export.ts).
 */
export type StoredTensor =
  | {
      kind: 'float32'
      tensor: Tensor32
      /** magnitude pruning: mask[j] = 0 where the weight was pruned (held at zero in fine-tuning) */
      pruned?: {mask: Uint8Array; sparsity: number}
    }
  | {kind: 'float16'; shape: number[]; data: Uint16Array}
  | {
      kind: 'int8'
      shape: number[]
      data: Int8Array
      /** one scale per tensor (axis null), per row (axis 0) or per column (axis 1) */
      scale: Float32Array
      /** undefined = symmetric (zero point 0); same length as scale otherwise */
      zeroPoint: Int8Array | undefined
      /** null = per-tensor; 0 = row-wise (embedding tables); 1 = per output channel (dense kernels [in,out]) */
      axis: 0 | 1 | null
    }
  | {
      kind: 'int4'
      shape: number[]
      /** two signed 4-bit values a byte, row-major, each row padded to a whole byte: low nibble first, stored as q + 8 */
      data: Uint8Array
      /** row-wise symmetric scales (value = q · scale, q in [-7, 7]) */
      scale: Float32Array
    }
  | {
      kind: 'lowrank'
      /** [m, r] */
      a: Tensor32
      /** [r, n] — the tensor is A·B */
      b: Tensor32
    }

export type StoredKind = StoredTensor['kind']

/** what was applied, in order (a pipeline leaves several) */
export interface AppliedStep {
  method: string
  params: Record<string, unknown>
}

/**
 * The base architecture plus each tensor in its stored form. Tensor names follow the per-architecture
 * naming of src/models/types.ts. After structured pruning the tensor shapes are authoritative
 * (the hyper-parameters in `params` describe the base model they came from).
 */
export interface CompressedModel {
  kind: ModelKind
  numUsers: number
  numItems: number
  params: Record<string, unknown>
  tensors: Record<string, StoredTensor>
  steps: AppliedStep[]
}

/**
 * How a variant's ONNX graph really executes (the dominant path; per-tensor details go in `notes`):
 * - float32: plain float32 MatMuls
 * - int8-kernel: int8 weights multiplied by uint8 activations quantized with a constant scale calibrated
 *   at export (MatMulIntegerToFloat), integer accumulation, float rescale
 * - fp16-storage: weights stored as float16 in the file, cast to float32 once at session load; float32 compute
 * - dequantized-at-load: int8/int4 storage, dequantized to float32 at session load (or after a gather); float32 compute
 * - factorized: W = A·B executed as two MatMuls (fewer FLOPs)
 * - shrunk: structured pruning produced physically smaller float32 matrices
 * - sparse-zeros: unstructured pruning; zeros stored and multiplied densely (no speed-up claimed)
 */
export type Execution = 'float32' | 'int8-kernel' | 'fp16-storage' | 'dequantized-at-load' | 'factorized' | 'shrunk' | 'sparse-zeros'

export interface VariantReport {
  name: string
  method: string
  params: Record<string, unknown>
  execution: Execution
  /** stored scalars (weights, biases, factor matrices); quantization scales / zero points not counted */
  paramsTotal: number
  /** stored scalars whose (dequantized) value is not zero */
  paramsNonZero: number
  /** see `flopsPerPair` in accounting.ts for the convention */
  flopsPerPair: number
  compressSeconds: number
  notes: string[]
}
