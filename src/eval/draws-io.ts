import type {EvalDraws} from './evaluate.js'
import type {LatencySamples} from './latency.js'

/**
 * The draws behind a variant's numbers, as compact binary files in `models/<model>/<variant>/draws/`
 * (README, "Auditing a run"). Every file is little-endian with one 16-byte header:
 *   8 ASCII bytes magic | u32 n | u32 m
 * then columns, each a contiguous typed array (the 8-byte columns first, so every column is
 * aligned to its element size):
 *   topk.bin       RECTOPK1  n users, m = K:   n × i32 user | n·K × i32 item (best first, −1 = none)
 *   sampled.bin    RECSAMP1  n positives, m = N: n × i32 user | n × i32 item | n × i32 rank
 *                                               | n·N × i32 negative   (rank: 0-based, negatives scored >= the positive)
 *   pointwise.bin  RECPWSE1  n pairs, m = 0:   n × f64 probability | n × i32 user | n × i32 item | n × u8 label
 *   latency.bin    RECLATN1  n requests, m throughput users: n × f64 ms (request order) | n × i32 user | m × i32 user
 *   onnx-check.bin RECUSER1  n users, m = 0:   n × i32 user
 * Binary keeps a million sampled lists small and the values exact (probabilities as float64).
 */
export const DRAW_FILES = {topK: 'topk.bin', sampled: 'sampled.bin', pointwise: 'pointwise.bin', latency: 'latency.bin', latencyTfjs: 'latency-tfjs.bin', onnxCheck: 'onnx-check.bin'} as const

type Column = Int32Array | Float64Array | Uint8Array

/** header + columns, in the order given */
function encode(magic: string, n: number, m: number, columns: Column[]): Uint8Array {
  if (magic.length !== 8) throw new Error(`draws: magic ${magic} must be 8 characters`)
  const size = 16 + columns.reduce((a, c) => a + c.byteLength, 0)
  const bytes = new Uint8Array(size)
  bytes.set(new TextEncoder().encode(magic), 0)
  const view = new DataView(bytes.buffer)
  view.setUint32(8, n, true)
  view.setUint32(12, m, true)
  let at = 16
  // typed-array bytes are little-endian on every platform Node runs on (x86, arm)
  for (const c of columns) {
    bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at)
    at += c.byteLength
  }
  return bytes
}

/** file name → bytes of every draw an evaluation recorded */
export function encodeEvalDraws(users: Int32Array, draws: EvalDraws): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {}
  if (draws.topK) out[DRAW_FILES.topK] = encode('RECTOPK1', users.length, draws.topK.k, [users, draws.topK.items])
  if (draws.sampled) {
    const s = draws.sampled
    out[DRAW_FILES.sampled] = encode('RECSAMP1', s.users.length, s.n, [s.users, s.items, s.ranks, s.negatives])
  }
  if (draws.pointwise) {
    const p = draws.pointwise
    out[DRAW_FILES.pointwise] = encode('RECPWSE1', p.users.length, 0, [p.probs, p.users, p.items, p.labels])
  }
  return out
}

export function encodeLatency(s: LatencySamples): Uint8Array {
  return encode('RECLATN1', s.ms.length, s.throughputUsers.length, [s.ms, s.users, s.throughputUsers])
}

export function encodeUsers(users: Int32Array): Uint8Array {
  return encode('RECUSER1', users.length, 0, [users])
}
