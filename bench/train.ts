/**
 * Training throughput and scoring latency of the tfjs models on MovieLens 100K.
 *
 *   npx tsx bench/train.ts [path/to/u.data] [--backend auto|wasm|cpu] [--epochs N]
 *
 * All 100,000 ratings are train positives (implicit feedback). Rows are training examples: a
 * positive plus its sampled negatives (BCE), so 4 negatives per positive = 500k rows per epoch.
 * Reference figures: the PyTorch NCF-style reference, one CPU thread (from the brief).
 */
import {fileURLToPath} from 'node:url'

import {initBackend, tf} from '../src/backend/index.js'
import {dataSchema, type ModelConfig, type TrainConfig} from '../src/config/schema.js'
import {readInteractions} from '../src/data/read.js'
import type {Interactions, Split} from '../src/data/types.js'
import {createTfjsScorer} from '../src/models/scorer.js'
import {trainModel} from '../src/train/train.js'
import {median} from '../src/data/arrays.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const k = argv.indexOf(name)
  return k >= 0 ? argv[k + 1] : dflt
}
const path = argv.find((a, k) => !a.startsWith('--') && (k === 0 || !argv[k - 1].startsWith('--'))) ?? fileURLToPath(new URL('../../shared/datasets/ml-100k/u.data', import.meta.url)) // default: the shared copy beside the repo
const backendReq = opt('--backend', 'auto') as 'auto' | 'wasm' | 'cpu'
const epochs = Number(opt('--epochs', '3'))


const {interactions: data} = await readInteractions(dataSchema.parse({format: 'ml-100k', path}))
const empty: Interactions = {...data, user: new Int32Array(0), item: new Int32Array(0), rating: new Float32Array(0), timestamp: new Float64Array(0), length: 0}
const split: Split = {train: data, valid: empty, test: empty}
const backend = await initBackend(backendReq)
console.error(`backend ${backend.name}${backend.fallbackReason ? ` (${backend.fallbackReason})` : ''}; ${data.length} positives, ${data.numUsers} users, ${data.numItems} items`)

const base: TrainConfig = {optimizer: 'adam', lr: 0.001, batch_size: 256, epochs, l2: 0, negatives: 4, early_stopping: null, eval_every: 1}
const models: {label: string; cfg: ModelConfig; refRows: number; refMs: number}[] = [
  {label: 'MF (bce)', cfg: {model: 'mf', factors: 64, loss: 'bce', mlp_layers: [64, 32, 16], tower_layers: [64, 32]}, refRows: 530_000, refMs: 0.034},
  {label: 'NeuMF', cfg: {model: 'neumf', factors: 64, loss: 'bce', mlp_layers: [128, 64, 32, 16], tower_layers: [64, 32]}, refRows: 220_000, refMs: 0.46},
]

interface Row {
  label: string
  setting: string
  secPerEpoch: number
  rowsPerSec: number
  refRows?: number
  scoreMs?: number
  refMs?: number
}
const rows: Row[] = []

for (const m of models) {
  for (const setting of [
    {name: 'batch 256, 4 neg', train: base, ref: true},
    {name: 'batch 2048, 1 neg (RecBole)', train: {...base, batch_size: 2048, negatives: 1}, ref: false},
  ]) {
    const before = tf.memory().numTensors
    const r = await trainModel({model: m.cfg, train: setting.train, negatives: {sampler: 'uniform', exponent: 0.75}, split, seed: 1})
    // first epoch includes warm-up (kernel setup, allocations): report the median of the rest
    const hist = r.history.length > 1 ? r.history.slice(1) : r.history
    const row: Row = {
      label: m.label,
      setting: setting.name,
      secPerEpoch: median(hist.map((h) => h.seconds)),
      rowsPerSec: median(hist.map((h) => h.rowsPerSec)),
      refRows: setting.ref ? m.refRows : undefined,
    }
    console.error(`${m.label} ${setting.name}: losses ${r.history.map((h) => h.loss.toFixed(4)).join(' ')}; epochs ${r.history.map((h) => h.seconds.toFixed(2)).join(' ')} s`)
    if (setting.ref) {
      const scorer = createTfjsScorer(r.weights)
      const user = new Int32Array(1)
      for (let w = 0; w < 30; w++) {
        user[0] = w % data.numUsers
        await scorer.scoreUsers(user)
      }
      const runs: number[] = []
      for (let rep = 0; rep < 7; rep++) {
        const times: number[] = []
        for (let k = 0; k < 200; k++) {
          user[0] = (k * 7919) % data.numUsers
          const t = performance.now()
          await scorer.scoreUsers(user)
          times.push(performance.now() - t)
        }
        runs.push(median(times))
      }
      scorer.dispose()
      row.scoreMs = median(runs)
      row.refMs = m.refMs
    }
    if (tf.memory().numTensors !== before) console.error(`warning: ${tf.memory().numTensors - before} tensors leaked`)
    rows.push(row)
  }
}

const fmt = (x: number | undefined, d = 0) => (x === undefined ? '-' : x.toFixed(d))
const header = ['model', 'setting', 's/epoch', 'rows/s', 'ref rows/s', 'score 1 user (ms)', 'ref (ms)']
const table = rows.map((r) => [
  r.label,
  r.setting,
  fmt(r.secPerEpoch, 2),
  `${fmt(r.rowsPerSec / 1000)}k`,
  r.refRows ? `${r.refRows / 1000}k` : '-',
  fmt(r.scoreMs, 3),
  fmt(r.refMs, 3),
])
const widths = header.map((h, c) => Math.max(h.length, ...table.map((t) => t[c].length)))
const line = (cells: string[]) => `| ${cells.map((c, k) => c.padEnd(widths[k])).join(' | ')} |`
console.log(`backend: ${backend.name}, node ${process.version}, ${data.length} positives, epochs ${epochs} (median of epochs 2..${epochs})`)
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const t of table) console.log(line(t))
