/**
 * Full-ranking evaluation speed on MovieLens 100K (943 users × 1682 items, every metric).
 *
 *   npx tsx bench/eval-speed.ts [--data ../shared/datasets/ml-100k/u.data] [--runs 9] [--epochs 20] [--model mf|neumf]
 *
 * A BPR-MF (or NeuMF) is trained once with experiments/ml100k-bpr.yaml's protocol (fixed epochs,
 * no early stopping) into a cached run folder under the OS temp dir, then loaded from its saved
 * weights. What is timed, per run: one `evaluate()` call on the test part, full ranking with the
 * run's eval config — scoring every test user against every item (tfjs, batch_users per
 * matMul), masking train + validation items, top-K selection, the top-K metrics at k = 10, 20,
 * AUC, item coverage and the pointwise metrics (their pair scoring included). The tfjs scorer
 * (weights uploaded once) is built before the clock starts. Reported: the median of `--runs`
 * runs after 2 warm-up runs (wall time, and the process's CPU time, which on a shared machine is
 * closer to what the wall time would be on an idle one), with the load average, plus a breakdown (scoring alone, and
 * evaluate without the pointwise metrics) so that one can see where the time goes.
 */
import {tmpdir, loadavg, cpus} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {initBackend} from '../src/backend/index.js'
import {loadConfig} from '../src/config/load.js'
import {median} from '../src/data/arrays.js'
import {evaluate} from '../src/eval/evaluate.js'
import {loadModel} from '../src/models/io.js'
import {createTfjsScorer} from '../src/models/scorer.js'
import {runExperiment} from '../src/run/pipeline.js'
import {loadSplit} from '../src/run/split-io.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const k = argv.indexOf(name)
  return k >= 0 ? argv[k + 1] : dflt
}
const root = fileURLToPath(new URL('..', import.meta.url))
const data = opt('--data', join(root, '../shared/datasets/ml-100k/u.data'))
const runs = Number(opt('--runs', '9'))
const epochs = Number(opt('--epochs', '20'))
const model = opt('--model', 'mf')

const set = [`data.path=${data}`, `train.epochs=${epochs}`, 'train.early_stopping=null', `models=[{model: ${model}, name: ${model}, factors: 64${model === 'mf' ? ', loss: bpr' : ''}}]`]
const loaded = await loadConfig(join(root, 'experiments', 'ml100k-bpr.yaml'), {set})
const cfg = loaded.config
const backend = await initBackend(cfg.backend)
// trained once, then reused through the stage cache
const r = await runExperiment(loaded, {outDir: join(tmpdir(), 'rec-bench-eval-speed'), until: 'train'})
const split = loadSplit(join(r.runDir, 'data', 'split'))
const weights = loadModel(join(r.runDir, 'models', model, 'base')).weights
const scorer = createTfjsScorer(weights)
const users = Int32Array.from({length: split.train.numUsers}, (_, u) => u)

const args = {scorer, split, part: 'test' as const, cfg: cfg.eval, seed: cfg.seed, negatives: cfg.negatives}
/** wall seconds and CPU seconds (user + system, this process): on a loaded machine the CPU time is what the wall time would be with a core to itself */
const time = async (f: () => Promise<unknown>): Promise<[number, number]> => {
  const c = process.cpuUsage()
  const t = performance.now()
  await f()
  const d = process.cpuUsage(c)
  return [(performance.now() - t) / 1000, (d.user + d.system) / 1e6]
}
const scoreAll = async () => {
  for (let s = 0; s < users.length; s += cfg.eval.batch_users) await scorer.scoreUsers(users.subarray(s, s + cfg.eval.batch_users))
}
const full: [number, number][] = []
const ranking: [number, number][] = []
const scoring: [number, number][] = []
let metrics: Record<string, number> = {}
const loadBefore = loadavg()
for (let rep = -2; rep < runs; rep++) {
  // interleaved, so that a change of load hits the three alike
  const a = await time(async () => (metrics = (await evaluate(args)).metrics))
  const b = await time(() => evaluate({...args, pointwise: false}))
  const c = await time(scoreAll)
  if (rep < 0) continue
  full.push(a)
  ranking.push(b)
  scoring.push(c)
}
const loadAfter = loadavg()
scorer.dispose()
const fmt = (xs: [number, number][]) => {
  const wall = xs.map((x) => x[0])
  return `${median(wall).toFixed(3)} s wall (min ${Math.min(...wall).toFixed(3)}, max ${Math.max(...wall).toFixed(3)}), ${median(xs.map((x) => x[1])).toFixed(3)} s CPU`
}
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, tfjs backend ${backend.name}`)
console.log(`model: ${model} d64, ${epochs} epochs; test users ${split.test.numUsers} × ${split.train.numItems} items; k ${cfg.eval.k.join(', ')}; batch_users ${cfg.eval.batch_users}`)
console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}; median of ${runs} runs (2 warm-up)`)
console.log(`evaluate, every metric (scoring + top-K + all metrics + pointwise): ${fmt(full)}`)
console.log(`evaluate, ranking metrics only (pointwise: false):                ${fmt(ranking)}`)
console.log(`scoring alone (scoreUsers over all users):                        ${fmt(scoring)}`)
console.log(`ndcg@10 ${metrics['ndcg@10'].toFixed(4)}, recall@10 ${metrics['recall@10'].toFixed(4)}, auc ${metrics.auc.toFixed(4)}`)
