/**
 * ONNX Runtime latency of compressed NeuMF variants at MovieLens-100K size (random weights: latency and
 * size do not depend on the values). One request = one user scored against every item.
 *
 *   npx tsx bench/onnx-latency.ts [--mlp 64,32,16] [--factors 64] [--requests 200] [--runs 5] [--threads 1]
 *
 * Prints, per variant: execution, ONNX file size, params, FLOPs per pair, p50 / p95 latency in ms (the
 * median over `runs` runs of `requests` timed requests each, after warm-up; the variants' requests
 * interleaved one by one) and p50 relative to float32 (median over runs of the per-run ratio).
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import {compressVariant, expandVariants} from '../src/compress/registry.js'
import {fromWeights} from '../src/compress/tensors.js'
import {flopsPerPair, paramCounts} from '../src/compress/accounting.js'
import {variantSchema} from '../src/config/schema.js'
import type {ModelWeights, Tensor32} from '../src/models/types.js'
import {exportOnnx} from '../src/onnx/export.js'
import {createOnnxScorer} from '../src/onnx/scorer.js'
import {Rng} from '../src/rng.js'
import {median} from '../src/data/arrays.js'
import {percentileNearestRank} from '../src/eval/latency.js'

const {values} = parseArgs({
  options: {
    mlp: {type: 'string', default: '64,32,16'},
    factors: {type: 'string', default: '64'},
    requests: {type: 'string', default: '200'},
    runs: {type: 'string', default: '5'},
    threads: {type: 'string', default: '1'},
  },
})
const mlp = values.mlp.split(',').map(Number)
const f = Number(values.factors)
const requests = Number(values.requests)
const runs = Number(values.runs)
const threads = Number(values.threads)
const U = 943
const I = 1682

function neumf(): ModelWeights {
  const rng = new Rng(1)
  const t = (shape: number[], std: number): Tensor32 => ({shape, data: Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => std * rng.normal())})
  const e = mlp[0] / 2
  const tensors: Record<string, Tensor32> = {gmf_user: t([U, f], 0.1), gmf_item: t([I, f], 0.1), mlp_user: t([U, e], 0.1), mlp_item: t([I, e], 0.1)}
  const widths = [mlp[0], ...mlp.slice(1)]
  // mlp_k: widths[k] → widths[k+1]; the first layer takes concat(user, item) = mlp[0]
  for (let k = 0; k < widths.length - 1; k++) {
    tensors[`mlp_${k}.kernel`] = t([widths[k], widths[k + 1]], Math.sqrt(2 / widths[k]))
    tensors[`mlp_${k}.bias`] = t([widths[k + 1]], 0.01)
  }
  tensors['out.kernel'] = t([f + widths.at(-1)!, 1], 0.1)
  tensors['out.bias'] = t([1], 0.01)
  return {kind: 'neumf', numUsers: U, numItems: I, params: {factors: f, mlp_layers: mlp}, tensors}
}


const w = neumf()
const specs = expandVariants(
  [
    {quantize: {dtype: 'int8'}},
    {quantize: {dtype: 'float16'}},
    {quantize: {dtype: 'int4', target: 'embeddings'}},
    {lowrank: {rank: [8, 16]}},
    {prune: {method: 'structured', sparsity: [0.5, 0.75]}},
    {prune: {method: 'magnitude', sparsity: 0.9, scope: 'global'}},
    {pipeline: [{prune: {method: 'structured', sparsity: 0.5}}, {quantize: {dtype: 'int8'}}]},
  ].map((v) => variantSchema.parse(v)),
)
const variants = [{name: 'float32', model: fromWeights(w), execution: 'float32'}]
for (const spec of specs) {
  const {model, report} = compressVariant(w, spec)
  variants.push({name: spec.name, model, execution: report.execution})
}

console.log(`NeuMF ${U} users × ${I} items, factors ${f}, mlp ${mlp.join(',')}; ORT ${threads} intra-op thread(s); ${runs} runs × ${requests} requests (1 user vs all items)`)
console.log(['variant', 'execution', 'onnx KB', 'params', 'FLOPs/pair', 'p50 ms', 'p95 ms', 'p50 / float32'].join('\t'))
const rng = new Rng(9)
// all sessions open at once; runs interleave the variants so that drift (CPU clock, JIT) hits them alike
const sessions = []
const optimizedDir = mkdtempSync(join(tmpdir(), 'rec-bench-'))
for (const v of variants) {
  const bytes = exportOnnx(v.model)
  // execution as read from the graph ORT runs, not as the compress step claims
  const scorer = await createOnnxScorer(bytes, I, {intraOpThreads: threads, optimizedModelPath: join(optimizedDir, `${v.name}.optimized.onnx`)})
  sessions.push({...v, execution: scorer.graph!.execution, bytes: bytes.length, scorer, p50s: [] as number[], p95s: [] as number[]})
}
const one = new Int32Array(1)
for (const s of sessions)
  for (let i = 0; i < 50; i++) {
    one[0] = rng.int(U)
    await s.scorer.scoreUsers(one)
  }
// requests interleave the variants one by one (the same user for each, the order rotating), so that the
// load of other processes and CPU clock changes hit every variant alike within a run
for (let r = 0; r < runs; r++) {
  const times: number[][] = sessions.map(() => [])
  for (let i = 0; i < requests; i++) {
    one[0] = rng.int(U)
    for (let j = 0; j < sessions.length; j++) {
      const k = (i + j) % sessions.length
      const t0 = performance.now()
      await sessions[k].scorer.scoreUsers(one)
      times[k].push(performance.now() - t0)
    }
  }
  for (const [k, s] of sessions.entries()) {
    times[k].sort((a, b) => a - b)
    s.p50s.push(percentileNearestRank(times[k], 50))
    s.p95s.push(percentileNearestRank(times[k], 95))
  }
}
const baseBytes = sessions[0].bytes
for (const s of sessions) {
  s.scorer.dispose()
  const counts = paramCounts(s.model)
  console.log(
    [
      s.name.padEnd(20),
      s.execution.padEnd(19),
      `${(s.bytes / 1024).toFixed(1)} (${(baseBytes / s.bytes).toFixed(2)}×)`,
      `${counts.nonZero}/${counts.total}`,
      flopsPerPair(s.model).toFixed(0),
      median(s.p50s).toFixed(3),
      median(s.p95s).toFixed(3),
      // paired: the median over runs of this run's p50 ratio to float32's
      median(s.p50s.map((p, r) => p / sessions[0].p50s[r])).toFixed(2),
    ].join('\t'),
  )
}
