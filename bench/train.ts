/**
 * Training throughput, rec against PyTorch, side by side in one session on MovieLens 100K.
 *
 *   npx tsx bench/train.ts [path/to/u.data] [--torch path/to/torch_reference.py] [--reps 3]
 *                          [--epochs 1] [--backend auto|wasm|cpu] [--with-tfjs]
 *
 * Four settings (the issue's table): MF d64 BCE and NeuMF 64 + MLP 128-64-32-16, each at batch 256
 * with 4 negatives and at batch 2048 with 1. All 100,000 ratings are train positives (implicit
 * feedback); a row is a training example: a positive or one sampled negative (BCE), so 4 negatives
 * per positive = 500k rows per epoch. Both sides: Adam (lr 1e-3, dense updates of every table),
 * negatives uniform over the user's unrated items, sampling inside the timed epoch, one thread
 * (rec's step runs on the main thread; PyTorch with --threads 1 and OPENBLAS/OMP/MKL_NUM_THREADS=1).
 *
 * Each repetition runs rec then PyTorch (the order alternating between repetitions) for the same
 * setting, each for `--epochs` epochs (default 1), and keeps the last epoch's rows/s.
 * The table gives the medians over repetitions and their ratio. The PyTorch reference is
 * ../shared/peers/torch_reference.py beside the repo (Debian's python3-torch); without torch the
 * table has rec's figures only. `--with-tfjs` adds rec's tfjs step (REC_TRAIN_ENGINE=tfjs) as a
 * third column: the figures before the hand-written step.
 */
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'

import {initBackend} from '../src/backend/index.js'
import {dataSchema, type ModelConfig, type TrainConfig} from '../src/config/schema.js'
import {median} from '../src/data/arrays.js'
import {readInteractions} from '../src/data/read.js'
import type {Interactions, Split} from '../src/data/types.js'
import {trainModel} from '../src/train/train.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const k = argv.indexOf(name)
  return k >= 0 ? argv[k + 1] : dflt
}
const flags = new Set(['--with-tfjs'])
const path =
  argv.find((a, k) => !a.startsWith('--') && (k === 0 || !argv[k - 1].startsWith('--') || flags.has(argv[k - 1]))) ??
  fileURLToPath(new URL('../../shared/datasets/ml-100k/u.data', import.meta.url)) // default: the shared copy beside the repo
const torchScript = opt('--torch', fileURLToPath(new URL('../../shared/peers/torch_reference.py', import.meta.url)))
const backendReq = opt('--backend', 'auto') as 'auto' | 'wasm' | 'cpu'
const epochs = Math.max(1, Number(opt('--epochs', '1')))
const reps = Math.max(1, Number(opt('--reps', '3')))
const withTfjs = argv.includes('--with-tfjs')
const PYTHON = '/usr/bin/python3'

const {interactions: data} = await readInteractions(dataSchema.parse({format: 'ml-100k', path}))
const empty: Interactions = {...data, user: new Int32Array(0), item: new Int32Array(0), rating: new Float32Array(0), timestamp: new Float64Array(0), length: 0}
const split: Split = {train: data, valid: empty, test: empty}
const backend = await initBackend(backendReq)

function torchAvailable(): string | undefined {
  if (!existsSync(torchScript)) return `no PyTorch reference at ${torchScript}`
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], {stdio: 'ignore'})
    return undefined
  } catch {
    return `${PYTHON} cannot import torch (apt-get install -y python3-torch python3-numpy)`
  }
}
const noTorch = torchAvailable()
console.error(`backend ${backend.name}; ${data.length} positives, ${data.numUsers} users, ${data.numItems} items; ${noTorch ?? `PyTorch: ${torchScript}`}`)

interface Setting {
  label: string
  batch: number
  negatives: number
  cfg: ModelConfig
}
const MLP = [128, 64, 32, 16]
const settings: Setting[] = []
for (const [label, cfg] of [
  ['MF d64, BCE', {model: 'mf', factors: 64, loss: 'bce', mlp_layers: MLP, tower_layers: [64, 32]}],
  ['NeuMF 64 + MLP 128-64-32-16', {model: 'neumf', factors: 64, loss: 'bce', mlp_layers: MLP, tower_layers: [64, 32]}],
] as const) {
  for (const [batch, negatives] of [
    [256, 4],
    [2048, 1],
  ]) {
    settings.push({label, batch, negatives, cfg: {...cfg, mlp_layers: [...cfg.mlp_layers], tower_layers: [...cfg.tower_layers]}})
  }
}

/** rec's rows/s in the last of `epochs` epochs */
async function recRun(s: Setting, engine: 'auto' | 'tfjs'): Promise<{rows: number; engine: string}> {
  const train: TrainConfig = {optimizer: 'adam', lr: 0.001, batch_size: s.batch, epochs, l2: 0, negatives: s.negatives, early_stopping: null, eval_every: 1}
  const r = await trainModel({model: s.cfg, train, negatives: {sampler: 'uniform', exponent: 0.75}, split, seed: 1, engine})
  return {rows: r.history.at(-1)!.rowsPerSec, engine: r.engine ?? 'tfjs'}
}

/** PyTorch's rows/s in the last of `epochs` epochs, one thread */
function torchRun(s: Setting): number {
  const args = [torchScript, '--data', path, '--model', s.cfg.model, '--factors', '64', '--mlp', MLP.join(','), '--batch', String(s.batch), '--negatives', String(s.negatives), '--epochs', String(epochs), '--threads', '1', '--requests', '50']
  const env = {...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1'}
  const out = JSON.parse(execFileSync(PYTHON, args, {env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit']})) as {epochs: {rows_per_s: number}[]}
  return out.epochs.at(-1)!.rows_per_s
}

interface Row {
  setting: Setting
  rec: number[]
  torch: number[]
  tfjs: number[]
  engine: string
}
const rows: Row[] = []
const load0 = loadavg()[0]
const t0 = performance.now()
for (const s of settings) {
  const row: Row = {setting: s, rec: [], torch: [], tfjs: [], engine: ''}
  for (let rep = 0; rep < reps; rep++) {
    // alternate who goes first, so that a drift in background load favours neither side
    const order = rep % 2 === 0 ? ['rec', 'torch'] : ['torch', 'rec']
    for (const who of order) {
      if (who === 'rec') {
        const r = await recRun(s, 'auto')
        row.rec.push(r.rows)
        row.engine = r.engine
      } else if (!noTorch) {
        row.torch.push(torchRun(s))
      }
    }
    if (withTfjs) row.tfjs.push((await recRun(s, 'tfjs')).rows)
  }
  const fmtList = (xs: number[]) => xs.map((x) => `${Math.round(x / 1000)}k`).join(' ')
  console.error(`${s.label} ${s.batch}/${s.negatives}: rec ${fmtList(row.rec)}; torch ${fmtList(row.torch) || '-'}${withTfjs ? `; rec tfjs step ${fmtList(row.tfjs)}` : ''}`)
  rows.push(row)
}
const load1 = loadavg()[0]

const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${Math.round(x / 1000)}k`)
const header = ['model (same architecture both sides)', 'batch, negatives', 'rec rows/s', 'PyTorch rows/s (1 thread)', 'ratio', ...(withTfjs ? ['rec tfjs step rows/s'] : [])]
const table = rows.map((r) => {
  const rec = median(r.rec)
  const torch = r.torch.length ? median(r.torch) : undefined
  return [
    r.setting.label,
    `${r.setting.batch}, ${r.setting.negatives}`,
    k(rec),
    torch ? k(torch) : '-',
    torch ? (rec / torch).toFixed(2) : '-',
    ...(withTfjs ? [k(median(r.tfjs))] : []),
  ]
})
const widths = header.map((h, c) => Math.max(h.length, ...table.map((t) => t[c].length)))
const line = (cells: string[]) => `| ${cells.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`
console.log(
  `rec ${rows[0]?.engine ?? ''} step on ${backend.name}, node ${process.version}; ${noTorch ?? 'PyTorch one thread'}; ` +
    `medians of ${reps} interleaved repetitions, last of ${epochs} epochs each; load average ${load0.toFixed(2)} → ${load1.toFixed(2)}; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
)
console.log(line(header))
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
for (const t of table) console.log(line(t))
