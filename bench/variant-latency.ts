/**
 * Single-request latency of every variant of a run, measured side by side: the variants' ONNX files
 * run in ONNX Runtime (one thread each, as `rec eval`), and the requests are interleaved (request r
 * of every variant before request r + 1 of any), so a change of machine load hits every variant
 * alike. `rec eval` times the variants one after another, in blocks, which on a shared machine can
 * move a variant's p50 by tens of percent; this gives the ratios to quote.
 *
 *   npx tsx bench/variant-latency.ts <run-dir> [--requests 1000] [--runs 3] [--warmup 50]
 *
 * A request: one user (seeded draw), their history row built from the run's split (sequential models:
 * train + validation items, as the test), every item scored, the top 10 taken. Prints per variant
 * the median over runs of the p50 and p95, and the p50 relative to `base`.
 */
import {existsSync, readdirSync} from 'node:fs'
import {loadavg} from 'node:os'
import {join} from 'node:path'

import {userSequences} from '../src/data/sequences.js'
import {topK} from '../src/eval/topk.js'
import {createOnnxScorer, type OnnxScorer} from '../src/onnx/scorer.js'
import {Rng} from '../src/rng.js'
import {loadSplit} from '../src/run/split-io.js'

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}

const runDir = process.argv[2]
if (!runDir || runDir.startsWith('--') || !existsSync(join(runDir, 'manifest.json'))) {
  console.error('usage: npx tsx bench/variant-latency.ts <run-dir> [--requests 1000] [--runs 3] [--warmup 50]')
  process.exit(2)
}
const requests = flag('requests', 1000)
const runs = flag('runs', 3)
const warmup = flag('warmup', 50)

const split = loadSplit(join(runDir, 'data', 'split'))
const histories = userSequences([split.train, split.valid], split.train.numUsers)
const numItems = split.train.numItems
const numUsers = split.train.numUsers

const variants: {name: string; scorer: OnnxScorer}[] = []
for (const model of readdirSync(join(runDir, 'models'))) {
  for (const v of readdirSync(join(runDir, 'models', model))) {
    const file = join(runDir, 'models', model, v, 'model.onnx')
    if (!existsSync(file)) continue
    variants.push({name: `${model}/${v}`, scorer: await createOnnxScorer(file, numItems, {intraOpThreads: 1, histories})})
  }
}
variants.sort((a, b) => (a.name.endsWith('/base') ? -1 : b.name.endsWith('/base') ? 1 : a.name.localeCompare(b.name)))

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}
const median = (xs: number[]) => quantile(xs, 0.5)

const p50s = new Map<string, number[]>()
const p95s = new Map<string, number[]>()
for (let run = 0; run < runs; run++) {
  const rng = new Rng(1000 + run)
  const users = Int32Array.from({length: warmup + requests}, () => rng.int(numUsers))
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]))
  for (let r = 0; r < users.length; r++) {
    const one = users.subarray(r, r + 1)
    for (const v of variants) {
      const t0 = performance.now()
      const scores = await v.scorer.scoreUsers(one)
      topK(scores, 10)
      const ms = performance.now() - t0
      if (r >= warmup) times.get(v.name)!.push(ms)
    }
  }
  for (const [name, t] of times) {
    p50s.set(name, [...(p50s.get(name) ?? []), quantile(t, 0.5)])
    p95s.set(name, [...(p95s.get(name) ?? []), quantile(t, 0.95)])
  }
}
const base = variants.find((v) => v.name.endsWith('/base'))
const baseP50 = base ? median(p50s.get(base.name)!) : NaN
console.log(`${runDir}: ${runs} runs × ${requests} interleaved requests (after ${warmup} warm-up), load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
console.log('| variant | p50 ms (median of runs) | p50 per run | p95 ms | p50 / base |')
console.log('| --- | --- | --- | --- | --- |')
for (const v of variants) {
  const p50 = median(p50s.get(v.name)!)
  console.log(`| ${v.name} | ${p50.toFixed(3)} | ${p50s.get(v.name)!.map((x) => x.toFixed(3)).join(' / ')} | ${median(p95s.get(v.name)!).toFixed(3)} | ${(p50 / baseP50).toFixed(2)}× |`)
}
for (const v of variants) v.scorer.dispose()
