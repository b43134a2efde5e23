/**
 * Seconds and peak RSS of each stage on a large interaction file, in one process: read, preprocess
 * (RecBole protocol: every interaction positive), split (per-user random 8:1:1), one epoch (or
 * `--epochs`) of BPR-MF d 64 at batch 2048, and optionally a full-ranking test evaluation of
 * `--eval-users` users (0: none).
 *
 *   npx tsx bench/scale.ts <file.csv> [--epochs 1] [--eval-users 0]
 *
 * Make the file with `rec data synth` (see experiments/synth-ml1m-bpr.yaml and synth-ml20m-mf.yaml
 * for the ML-1M and ML-20M shapes). RSS is sampled every 50 ms (process.memoryUsage), so a peak
 * shorter than that can be missed: `/usr/bin/time -v` around the command gives the exact maximum.
 */
import {loadavg} from 'node:os'

import {initBackend} from '../src/backend/index.js'
import {configSchema} from '../src/config/schema.js'
import {selectRows} from '../src/data/arrays.js'
import {preprocess} from '../src/data/preprocess.js'
import {readInteractions} from '../src/data/read.js'
import {splitInteractions} from '../src/data/split.js'
import {evaluate} from '../src/eval/evaluate.js'
import {createTfjsScorer} from '../src/models/scorer.js'
import {trainModel} from '../src/train/train.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const k = argv.indexOf(name)
  return k >= 0 ? argv[k + 1] : dflt
}
const file = argv.find((a, k) => !a.startsWith('--') && (k === 0 || !argv[k - 1].startsWith('--')))
if (!file) throw new Error('usage: npx tsx bench/scale.ts <file.csv> [--epochs 1] [--eval-users 0]')
const epochs = Number(opt('--epochs', '1'))
const evalUsers = Number(opt('--eval-users', '0'))

const cfg = configSchema.parse({
  name: 'scale',
  data: {format: 'delimited', path: file, header: true, columns: {user: 'user', item: 'item', rating: 'rating', timestamp: 'timestamp'}},
  preprocess: {implicit: {mode: 'all'}},
  split: {method: 'random', scope: 'per_user', ratios: [0.8, 0.1, 0.1]},
  models: [{model: 'mf', factors: 64, loss: 'bpr'}],
  train: {optimizer: 'adam', lr: 0.001, batch_size: 2048, negatives: 1, epochs, early_stopping: null},
})

let peak = 0
const sample = () => {
  const r = process.memoryUsage().rss
  if (r > peak) peak = r
}
const timer = setInterval(sample, 50)
const mib = (b: number) => Math.round(b / 2 ** 20)
const rows: {stage: string; seconds: number; peakRssMiB: number}[] = []
async function stage<T>(name: string, f: () => Promise<T> | T): Promise<T> {
  peak = process.memoryUsage().rss
  const t = performance.now()
  const out = await f()
  sample()
  rows.push({stage: name, seconds: Number(((performance.now() - t) / 1000).toFixed(1)), peakRssMiB: mib(peak)})
  console.error(`${name}: ${rows[rows.length - 1].seconds} s, peak RSS ${mib(peak)} MiB`)
  return out
}

const loadBefore = loadavg()
const backend = await initBackend(cfg.backend)
const read = await stage('read', () => readInteractions(cfg.data))
const pre = await stage('preprocess', () => preprocess(read.interactions, cfg.preprocess).interactions)
read.interactions = pre // let the raw arrays go
const split = await stage('split', () => splitInteractions(pre, cfg.split, cfg.seed))
const trained = await stage(`train (${epochs} epoch${epochs > 1 ? 's' : ''})`, () => trainModel({model: cfg.models[0], train: cfg.train, negatives: cfg.negatives, split, seed: cfg.seed}))
if (evalUsers > 0) {
  await stage(`evaluate (${evalUsers} test users, full ranking)`, async () => {
    // the test rows of the first evalUsers users
    const idx: number[] = []
    for (let r = 0; r < split.test.length; r++) if (split.test.user[r] < evalUsers) idx.push(r)
    const scorer = createTfjsScorer(trained.weights)
    try {
      return await evaluate({scorer, split: {...split, test: selectRows(split.test, idx)}, part: 'test', cfg: cfg.eval, seed: cfg.seed, negatives: cfg.negatives})
    } finally {
      scorer.dispose()
    }
  })
}
clearInterval(timer)
console.log(
  JSON.stringify(
    {
      file,
      backend: backend.name,
      interactions: split.train.length + split.valid.length + split.test.length,
      users: split.train.numUsers,
      items: split.train.numItems,
      trainRowsPerSecond: Math.round(trained.history[trained.history.length - 1].rowsPerSec),
      stages: rows,
      peakRssMiB: Math.max(...rows.map((r) => r.peakRssMiB)),
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
    },
    null,
    2,
  ),
)
process.exit(0)
