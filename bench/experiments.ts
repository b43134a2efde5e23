/**
 * The MovieLens 100K experiments end to end, as a user runs them, with the figures the README
 * quotes: test metrics next to RecBole 1.2's on the same protocol, seconds per training epoch,
 * evaluation seconds, and a second (cached) run's wall time against the first.
 *
 *   npx tsx bench/experiments.ts [ml100k-bpr ml100k-neumf ...] [--data /path/to/u.data]
 *
 * Runs go to a temporary folder (removed afterwards); nothing is written in the repo.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {cpus, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'

import {loadConfig} from '../src/config/load.js'
import {runExperiment} from '../src/run/pipeline.js'

const argv = process.argv.slice(2)
const dataAt = argv.indexOf('--data')
const set = dataAt >= 0 ? [`data.path=${argv[dataAt + 1]}`] : []
const names = argv.filter((a, k) => !a.startsWith('--') && (k === 0 || argv[k - 1] !== '--data'))
const experiments = names.length > 0 ? names : ['ml100k-bpr', 'ml100k-neumf']

/** RecBole 1.2 with its defaults on this protocol, measured on the team's 2-core machines (issue 3) */
const RECBOLE: Record<string, Record<string, number>> = {
  'ml100k-bpr': {'recall@10': 0.2466, 'ndcg@10': 0.2928, 'mrr@10': 0.4895, 'hr@10': 0.7815, 'precision@10': 0.1962, epochSeconds: 0.15},
  'ml100k-neumf': {'ndcg@10': 0.2791, 'recall@10': 0.2341, epochSeconds: 1.33},
}

const root = join(new URL('.', import.meta.url).pathname, '..')
const out = mkdtempSync(join(tmpdir(), 'rec-bench-'))
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`)
try {
  for (const name of experiments) {
    const loaded = await loadConfig(join(root, 'experiments', `${name}.yaml`), {set})
    const t0 = performance.now()
    const first = await runExperiment(loaded, {outDir: out})
    const firstSeconds = (performance.now() - t0) / 1000
    const t1 = performance.now()
    await runExperiment(loaded, {outDir: out})
    const secondSeconds = (performance.now() - t1) / 1000
    for (const v of first.variants.filter((x) => x.name === 'base')) {
      const train = JSON.parse(readFileSync(join(first.runDir, 'models', v.model, 'train.json'), 'utf8')) as {history: {seconds: number; rowsPerSec: number}[]; epochs: number; bestEpoch: number}
      const secs = train.history.map((h) => h.seconds).sort((a, b) => a - b)
      const epochSeconds = secs[Math.floor(secs.length / 2)]
      const ref = RECBOLE[name] ?? {}
      console.log(`\n${name} (${v.model}, ${v.backend}; latency in ${v.runtime})`)
      console.log(`  epochs ${train.epochs} (best ${train.bestEpoch}), median ${epochSeconds.toFixed(2)} s/epoch${ref.epochSeconds ? ` (RecBole ${ref.epochSeconds} s)` : ''}, train ${v.trainSeconds?.toFixed(1)} s`)
      console.log(`  evaluation ${v.evalSeconds.toFixed(2)} s (full ranking, ${Object.keys(v.metrics).length} metrics); p50 ${v.latency.p50Ms.toFixed(3)} ms, p95 ${v.latency.p95Ms.toFixed(3)} ms per user`)
      for (const m of ['ndcg@10', 'recall@10', 'mrr@10', 'hr@10', 'precision@10']) {
        const ours = v.metrics[m]
        console.log(`  ${m.padEnd(13)} ${ours.toFixed(4)}${ref[m] ? `   RecBole ${ref[m].toFixed(4)}  (${(((ours - ref[m]) / ref[m]) * 100).toFixed(1)}%)` : ''}`)
      }
    }
    console.log(`  whole run ${firstSeconds.toFixed(1)} s; second run (every stage cached) ${secondSeconds.toFixed(2)} s = ${((secondSeconds / firstSeconds) * 100).toFixed(1)}%`)
  }
} finally {
  rmSync(out, {recursive: true, force: true})
}
