/**
 * What a budget search costs against the simplest alternative, compressing every candidate once
 * (and evaluating nothing): `rec search`'s own search (runSearch) on an experiment, then every
 * candidate of the same space made once with the compress stage's code (makeVariant + saveVariant:
 * compression, fine-tuning, a student's training, ONNX export), in the same process, on the same
 * trained model (training is reused by both, and counted by neither).
 *
 *   npx tsx bench/search-cost.ts experiments/ml100k-neumf.yaml --budget p50=0.5x [--max-drop 0.01]
 *       [--set eval.latency.requests=600] [--out runs] [--order search-first | compress-first]
 *
 * Prints the search's trajectory costs, each candidate's compression time, the totals and their
 * ratio (with and without the distillation candidates), and the load average around each part.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

import {loadConfig} from '../src/config/load.js'
import {modelLabel} from '../src/config/schema.js'
import {loadModel} from '../src/models/io.js'
import {silentProgress} from '../src/progress.js'
import {makeVariant, saveVariant} from '../src/run/compress-stage.js'
import {runExperiment} from '../src/run/pipeline.js'
import {readRunFile} from '../src/run/rundir.js'
import {loadSplit} from '../src/run/split-io.js'
import {parseBudget} from '../src/search/budget.js'
import {runSearch, type SearchResult} from '../src/search/search.js'
import {searchSpace} from '../src/search/space.js'

const {values, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    budget: {type: 'string', default: 'p50=0.5x'},
    'max-drop': {type: 'string', default: '0.01'},
    metric: {type: 'string', default: 'ndcg@10'},
    set: {type: 'string', multiple: true, default: []},
    out: {type: 'string', default: 'runs'},
    order: {type: 'string', default: 'search-first'},
  },
})
const experiment = positionals[0] ?? 'experiments/ml100k-neumf.yaml'
const loaded = await loadConfig(experiment, {set: values.set})
const cfg = loaded.config
const m = cfg.models[0]
const label = modelLabel(m)
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ')

// the trained model both parts start from (trained here once when it is not yet)
const trained = await runExperiment(loaded, {outDir: values.out, until: 'train'})
const runDir = trained.runDir
const split = loadSplit(join(runDir, 'data', 'split'))
const base = loadModel(join(runDir, 'models', label, 'base')).weights
const train = readRunFile<{bestEpoch: number; epochs: number}>(join(runDir, 'models', label, 'train.json'), 'training record')
const space = searchSpace(m, {studentEpochs: Math.max(1, train.bestEpoch || train.epochs), distill: true})

async function compressAll(): Promise<{name: string; family: string; seconds: number}[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rec-search-cost-'))
  const out: {name: string; family: string; seconds: number}[] = []
  try {
    for (const c of space) {
      const t0 = performance.now()
      const v = await makeVariant({cfg, model: m, base, spec: c.spec, split, progress: silentProgress})
      if (v.interrupted) throw new Error('interrupted')
      saveVariant(join(dir, c.spec.name), v.model, v.record, v.calibration)
      out.push({name: c.spec.name, family: c.family, seconds: (performance.now() - t0) / 1000})
      process.stderr.write(`compress ${c.spec.name}: ${out.at(-1)!.seconds.toFixed(1)} s (load ${load()})\n`)
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
  return out
}

async function search(): Promise<{result: SearchResult; wall: number}> {
  const t0 = performance.now()
  const result = await runSearch(loaded, {budget: parseBudget(values.budget!), maxDrop: Number(values['max-drop']), metric: values.metric!, distill: true, outDir: values.out})
  return {result, wall: (performance.now() - t0) / 1000}
}

const loads: Record<string, string> = {}
let all: {name: string; family: string; seconds: number}[] = []
let s: {result: SearchResult; wall: number} | undefined
for (const part of values.order === 'compress-first' ? ['compress', 'search'] : ['search', 'compress']) {
  loads[`${part} before`] = load()
  if (part === 'compress') all = await compressAll()
  else s = await search()
  loads[`${part} after`] = load()
}
const r = s!.result
const sum = (xs: {seconds: number}[]) => xs.reduce((a, x) => a + x.seconds, 0)
const compressTotal = sum(all)
const compressNoDistill = sum(all.filter((x) => x.family !== 'distill'))
const searchNoDistill = r.seconds.search - r.trajectory.filter((t) => t.family === 'distill').reduce((a, t) => a + t.seconds.total, 0)

console.log(`${experiment}: budget ${r.budget.text}, max drop ${r.maxDrop}, ${r.tried} of ${r.space} candidates tried`)
console.log(`verdict: ${r.verdict}: ${r.message}`)
console.log('| candidate | search: decision | search: cost s | compress once s |')
console.log('| --- | --- | --- | --- |')
for (const c of all) {
  const t = r.trajectory.find((x) => x.name === c.name)!
  console.log(`| ${c.name} | ${t.decision} | ${t.decision === 'skipped' ? '–' : t.seconds.total.toFixed(1)} | ${c.seconds.toFixed(1)} |`)
}
console.log(`search loop ${r.seconds.search.toFixed(1)} s (making ${r.seconds.makeTotal.toFixed(1)}, validation ${r.seconds.validateTotal.toFixed(1)}, latency ${r.seconds.latencyTotal.toFixed(1)}); runSearch wall ${s!.wall.toFixed(1)} s incl. test evaluation ${r.seconds.test.toFixed(1)} s and the cached training check`)
console.log(`compress every candidate once: ${compressTotal.toFixed(1)} s`)
console.log(`ratio search / compress-all: ${(r.seconds.search / compressTotal).toFixed(2)} (runSearch wall: ${(s!.wall / compressTotal).toFixed(2)}); without the distillation candidates: ${(searchNoDistill / compressNoDistill).toFixed(2)}`)
console.log(`load average (1, 5, 15 min): ${Object.entries(loads).map(([k, v]) => `${k} ${v}`).join('; ')}`)
