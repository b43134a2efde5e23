import {readFileSync} from 'node:fs'
import * as ort from 'onnxruntime-node'
import type {Scorer} from '../models/types.js'
import type {Sequences} from '../data/sequences.js'
import {historyMatrix} from '../data/sequences.js'
import {pickPairs} from '../models/scorer.js'
import {graphExecutionOf, type GraphExecution} from './execution.js'
import {onnx} from './graph.js'
import {maxAbsDiff} from '../compress/reference.js'

export interface OnnxScorerOptions {
  /**
   * intra-op threads. Default 1: a serving request (one user) is too small to gain from threads, and
   * latency figures are then comparable across machines and with the single-threaded tfjs-wasm backend.
   */
  intraOpThreads?: number
  /** scores are probabilities (neumf: sigmoid output). Default: read from the model's `rec.probabilities` metadata */
  probabilities?: boolean
  /** users per session run in scoreUsers / scorePairs (bounds memory: batch × numItems floats; neumf also × MLP width) */
  batchUsers?: number
  /**
   * save ORT's optimized graph here (e.g. `model.optimized.onnx` beside `model.onnx`) and read the
   * variant's execution from it (`graph`): what runs, not what the exporter meant to run
   */
  optimizedModelPath?: string
  /** a sequential model's graph (input `seqs` [B, max_len]): the users' histories a request is built from (see TfjsScorerOptions.histories) */
  histories?: Sequences
}

/** an ONNX Runtime scorer; `graph` is the execution read from the optimized graph (when it was saved) */
export interface OnnxScorer extends Scorer {
  readonly graph?: GraphExecution
}

/** the history width of a sequential graph: the fixed second dimension of its `seqs` input */
function sequenceLength(bytes: Uint8Array): number {
  const model = onnx.ModelProto.decode(bytes)
  const input = model.graph?.input?.find((i) => i.name === 'seqs')
  const dims = input?.type?.tensorType?.shape?.dim ?? []
  const L = Number(dims[1]?.dimValue ?? 0)
  if (!(L > 0)) throw new Error('ONNX scorer: the seqs input has no fixed max_len dimension')
  return L
}

function readProbabilities(bytes: Uint8Array): boolean {
  const model = onnx.ModelProto.decode(bytes)
  return model.metadataProps.some((p) => p.key === 'rec.probabilities' && p.value === 'true')
}

/**
 * A Scorer running an exported graph (users int64 [B] → scores float32 [B, numItems]) in ONNX Runtime
 * on the CPU, graph optimisation level "all" (constant folding of item-only subgraphs, operator fusion).
 */
export async function createOnnxScorer(model: Uint8Array | string, numItems: number, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
  const bytes = typeof model === 'string' ? new Uint8Array(readFileSync(model)) : model
  const probabilities = options.probabilities ?? readProbabilities(bytes)
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.intraOpThreads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // saving an optimized graph at level "all" always warns that it may hold hardware-specific nodes: it is read here, on this machine
    ...(options.optimizedModelPath ? {optimizedModelFilePath: options.optimizedModelPath, logSeverityLevel: 3 as const} : {}),
  })
  const graph = options.optimizedModelPath ? graphExecutionOf(new Uint8Array(readFileSync(options.optimizedModelPath)), bytes) : undefined
  const batchUsers = Math.max(1, options.batchUsers ?? 256)
  let disposed = false

  // a sequential model's graph takes the history rows [B, max_len] instead of user ids
  const maxLen = session.inputNames.includes('seqs') ? sequenceLength(bytes) : 0
  if (maxLen > 0 && !options.histories) throw new Error('ONNX scorer: this graph scores histories (input seqs); the scorer needs the users\' histories')
  const run = async (users: Int32Array): Promise<Float32Array> => {
    if (disposed) throw new Error('ONNX scorer used after dispose()')
    let feeds: Record<string, ort.Tensor>
    if (maxLen > 0) {
      const rows = historyMatrix(options.histories!, users, maxLen)
      const ids = new BigInt64Array(rows.length)
      for (let i = 0; i < rows.length; i++) ids[i] = BigInt(rows[i])
      feeds = {seqs: new ort.Tensor('int64', ids, [users.length, maxLen])}
    } else {
      const ids = new BigInt64Array(users.length)
      for (let i = 0; i < users.length; i++) ids[i] = BigInt(users[i])
      feeds = {users: new ort.Tensor('int64', ids, [users.length])}
    }
    const result = await session.run(feeds)
    const out = result.scores
    const data = out.data as Float32Array
    if (data.length !== users.length * numItems) throw new Error(`ONNX scorer: expected ${users.length}×${numItems} scores, got dims ${out.dims}`)
    return data
  }

  const scoreUsers = async (users: Int32Array): Promise<Float32Array> => {
    if (users.length <= batchUsers) return run(users)
    const out = new Float32Array(users.length * numItems)
    for (let start = 0; start < users.length; start += batchUsers) {
      const part = users.subarray(start, Math.min(users.length, start + batchUsers))
      out.set(await run(part), start * numItems)
    }
    return out
  }

  return {
    numItems,
    runtime: 'onnxruntime-cpu',
    probabilities,
    ...(graph ? {graph} : {}),
    scoreUsers,
    /** groups the pairs by user, scores each distinct user once against all items, picks the items */
    scorePairs: (users, items) => pickPairs(scoreUsers, numItems, users, items),
    dispose() {
      if (disposed) return
      disposed = true
      void session.release()
    },
  }
}

/** largest |a − b| over the scores of `users` (every item) from two scorers */
export async function compareWithReference(a: Scorer, b: Scorer, users: Int32Array): Promise<number> {
  const [x, y] = await Promise.all([a.scoreUsers(users), b.scoreUsers(users)])
  return maxAbsDiff(x, y)
}
