/**
 * Training-settings screen for the sequential models (SASRec, GRU4Rec) on MovieLens 100K under
 * leave-one-out by time: trains with the given settings, evaluates validation NDCG@10 (full
 * ranking) every N epochs, early-stops on it, and reports test NDCG@10 / HR@10 of the
 * best-validation weights in the full and the sampled-100 protocol, with Pop (train counts) beside.
 *
 *   npx tsx bench/sequential-tune.ts [--data path/to/u.data] [--model sasrec|gru4rec] [--lr 1e-3]
 *     [--batch 128] [--epochs 50] [--loss ce|bce] [--dropout 0.5] [--eval-every 1] [--patience 5]
 *     [--seed 42] [--max-minutes 0] [--backend wasm|cpu]
 *
 * Protocol (the brief's):
 * - split leave_one_out, order latest: test = each user's latest item, valid = the one before,
 *   train = the rest (the split seed is --seed; the split itself is deterministic).
 * - validation history = train items; test history = train + validation item (last maxLen).
 * - full ranking over all items; the user's earlier items (train, + valid for test) are set to
 *   −Infinity. Rank = number of candidates scoring ≥ the target (other than the target), i.e.
 *   ties count against the model (pessimistic; a collapsed model scoring everything equal gets 0).
 * - sampled: the target + 100 distinct negatives drawn uniformly from items the user never
 *   interacted with (train, valid or test), seeded (--eval-seed), the same for every run.
 * - NDCG@10 = 1/log2(rank + 2) if rank < 10; HR@10 = [rank < 10] (one target per user).
 * Pop scores items by their train counts, equal counts ordered by item id.
 *
 * Prints one line per epoch (wall s, CPU s, mean training loss per position, validation NDCG@10
 * when evaluated) and a final `RESULT {json}` line for collecting screens. *
 * Measured with it (seed 42, wasm, 2 shared cores; one seed, valid NDCG@10 has a standard error of
 * roughly ±0.008 over 943 users, so close settings are not separable):
 * - SASRec: ce, lr 2e-3, batch 64 windows, dropout 0.5: best valid 0.1075 at epoch 11 (run cut at
 *   13 by --max-minutes); test full NDCG@10 0.0984 / HR@10 0.1877, sampled-100 0.4429 / 0.7222;
 *   ~37 s CPU per epoch. Batch 128 (lr 1e-3 or 5e-3), dropout 0.2 and bce were slower in 3-6 epoch screens.
 * - GRU4Rec: lr 1e-2, batch 128, dropout 0.3: best valid 0.1106 at epoch 9 (patience 4 stopped it
 *   at 13); test full 0.0961 / 0.1888, sampled-100 0.4485 / 0.7285; ~12-15 s CPU per epoch.
 * - Pop (train counts): test full 0.0449 / 0.0859, sampled-100 0.2246 / 0.4019.
 */
import {loadavg} from 'node:os'
import {fileURLToPath} from 'node:url'

import {initBackend} from '../src/backend/index.js'
import {dataSchema, preprocessSchema, splitSchema} from '../src/config/schema.js'
import {median} from '../src/data/arrays.js'
import {preprocess} from '../src/data/preprocess.js'
import {readInteractions} from '../src/data/read.js'
import {evaluationHistories, trainingWindows, userSequences, windowBatches, type EvaluationHistories, type Sequences} from '../src/data/sequences.js'
import {splitInteractions} from '../src/data/split.js'
import {createGru4recTrainer, initGru4rec, scoreSequences as scoreGru4rec, type Gru4recWeights} from '../src/models/gru4rec.js'
import {createSasrecTrainer, initSasrec, scoreSequences as scoreSasrec, type SasrecLoss, type SasrecWeights} from '../src/models/sasrec.js'
import {Rng} from '../src/rng.js'

const argv = process.argv.slice(2)
const known = new Set(['--data', '--model', '--lr', '--batch', '--epochs', '--loss', '--dropout', '--eval-every', '--patience', '--seed', '--eval-seed', '--max-minutes', '--backend', '--max-len'])
for (let k = 0; k < argv.length; k += 2) {
  if (!known.has(argv[k])) throw new Error(`unknown flag ${argv[k]} (known: ${[...known].join(' ')})`)
}
const opt = (name: string, dflt: string): string => {
  const k = argv.indexOf(name)
  return k >= 0 ? argv[k + 1] : dflt
}
const num = (name: string, dflt: number): number => {
  const v = Number(opt(name, String(dflt)))
  if (!Number.isFinite(v)) throw new Error(`${name}: not a number`)
  return v
}
// default: the shared copy beside the repo (../shared relative to the repo root, as bench/train.ts)
const dataPath = opt('--data', fileURLToPath(new URL('../../shared/datasets/ml-100k/u.data', import.meta.url)))
const modelName = opt('--model', 'sasrec')
if (modelName !== 'sasrec' && modelName !== 'gru4rec') throw new Error(`--model sasrec|gru4rec, got ${modelName}`)
const loss = opt('--loss', 'ce') as SasrecLoss
if (loss !== 'ce' && loss !== 'bce') throw new Error(`--loss ce|bce, got ${loss}`)
if (modelName === 'gru4rec' && loss !== 'ce') throw new Error('gru4rec trains with ce only')
const lr = num('--lr', 1e-3)
const batch = num('--batch', 128)
const epochs = num('--epochs', 50)
const dropout = num('--dropout', modelName === 'sasrec' ? 0.5 : 0.3)
const evalEvery = num('--eval-every', 1)
const patience = num('--patience', 5) // in evaluations
const seed = num('--seed', 42)
const evalSeed = num('--eval-seed', 7)
const maxMinutes = num('--max-minutes', 0) // 0 = no limit
const maxLen = num('--max-len', 50)
const backendReq = opt('--backend', 'wasm') as 'wasm' | 'cpu'

const TOP_K = 10
const SAMPLED_NEGATIVES = 100

// ---- data ---------------------------------------------------------------------------------------
const {interactions: raw} = await readInteractions(dataSchema.parse({format: 'ml-100k', path: dataPath}))
const {interactions: data} = preprocess(raw, preprocessSchema.parse({}))
const split = splitInteractions(data, splitSchema.parse({method: 'leave_one_out', order: 'latest'}), seed)
const numUsers = data.numUsers
const numItems = data.numItems
const trainSeqs = userSequences([split.train], numUsers)
const windows = trainingWindows(trainSeqs, maxLen)
const validH = evaluationHistories(split, 'valid', maxLen)
const testH = evaluationHistories(split, 'test', maxLen)
// the items excluded from a user's ranking: all earlier items (not just the last maxLen)
const validSeen = trainSeqs
const testSeen = userSequences([split.train, split.valid], numUsers)
const everSeen = userSequences([split.train, split.valid, split.test], numUsers)

const backend = await initBackend(backendReq)
const load0 = loadavg()
console.log(
  `data ${dataPath}: ${data.length} positives, ${numUsers} users, ${numItems} items; train ${split.train.length}, valid ${split.valid.length}, test ${split.test.length}; ` +
    `${windows.count} windows, ${windows.positions} positions; backend ${backend.name}; load ${load0.map((x) => x.toFixed(2)).join(' ')}`,
)

// ---- evaluation ---------------------------------------------------------------------------------
/** fixed sampled negatives of each evaluated test user (row b of testH): 100 distinct never-seen items */
function sampledNegatives(h: EvaluationHistories): Int32Array {
  const rng = new Rng(evalSeed)
  const out = new Int32Array(h.users.length * SAMPLED_NEGATIVES)
  const mark = new Uint8Array(numItems)
  for (let b = 0; b < h.users.length; b++) {
    const u = h.users[b]
    const s = everSeen.offsets[u]
    const e = everSeen.offsets[u + 1]
    for (let j = s; j < e; j++) mark[everSeen.items[j]] = 1
    const chosen = new Set<number>()
    const avail = numItems - new Set(everSeen.items.subarray(s, e)).size
    if (avail < SAMPLED_NEGATIVES) throw new Error(`user ${u} has only ${avail} never-seen items`)
    while (chosen.size < SAMPLED_NEGATIVES) {
      const i = rng.int(numItems)
      if (mark[i] === 0) chosen.add(i)
    }
    out.set([...chosen], b * SAMPLED_NEGATIVES)
    for (let j = s; j < e; j++) mark[everSeen.items[j]] = 0
  }
  return out
}
const testNegatives = sampledNegatives(testH)

interface Metrics {
  ndcg: number
  hr: number
  users: number
  /** users whose target score tied with another candidate's */
  ties: number
}
interface EvalResult {
  full: Metrics
  sampled?: Metrics
}

/**
 * Metrics of `scoresOf(rows)` ([rows.length × I] scores of the histories h rows) for the part h.
 * Scores are requested in chunks so that memory stays small.
 */
function evaluate(h: EvaluationHistories, seen: Sequences, scoresOf: (rows: Int32Array, histories: Int32Array) => Float32Array, negatives?: Int32Array): EvalResult {
  const n = h.users.length
  const full = {ndcg: 0, hr: 0, users: 0, ties: 0}
  const samp = {ndcg: 0, hr: 0, users: 0, ties: 0}
  const CHUNK = 256
  for (let s0 = 0; s0 < n; s0 += CHUNK) {
    const m = Math.min(CHUNK, n - s0)
    const rows = Int32Array.from({length: m}, (_, k) => s0 + k)
    const scores = scoresOf(rows, h.histories.subarray(s0 * h.maxLen, (s0 + m) * h.maxLen))
    for (let k = 0; k < m; k++) {
      const b = s0 + k
      const u = h.users[b]
      if (h.targetOffsets[b + 1] - h.targetOffsets[b] !== 1) throw new Error(`user ${u}: ${h.targetOffsets[b + 1] - h.targetOffsets[b]} targets, leave-one-out has one`)
      const target = h.targetItems[h.targetOffsets[b]]
      const row = scores.subarray(k * numItems, (k + 1) * numItems)
      const excluded = new Uint8Array(numItems)
      for (let j = seen.offsets[u]; j < seen.offsets[u + 1]; j++) excluded[seen.items[j]] = 1
      if (excluded[target]) continue // repeat consumption (none in ml-100k after dedupe): skipped, as evaluate.ts does
      const t = row[target]
      if (!Number.isFinite(t)) throw new Error(`user ${u}: target score ${t}`)
      let greater = 0
      let equal = 0
      for (let i = 0; i < numItems; i++) {
        if (excluded[i] || i === target) continue
        const v = row[i]
        if (v > t) greater++
        else if (v === t) equal++
      }
      add(full, greater + equal, equal > 0)
      if (negatives) {
        let g = 0
        let eq = 0
        for (let q = 0; q < SAMPLED_NEGATIVES; q++) {
          const v = row[negatives[b * SAMPLED_NEGATIVES + q]]
          if (v > t) g++
          else if (v === t) eq++
        }
        add(samp, g + eq, eq > 0)
      }
    }
  }
  const fin = (x: Metrics): Metrics => ({ndcg: x.ndcg / x.users, hr: x.hr / x.users, users: x.users, ties: x.ties})
  return {full: fin(full), sampled: negatives ? fin(samp) : undefined}
}
function add(acc: Metrics, rank: number, tied: boolean): void {
  acc.users++
  if (tied) acc.ties++
  if (rank < TOP_K) {
    acc.hr += 1
    acc.ndcg += 1 / Math.log2(rank + 2)
  }
}

// Pop: train counts, the same for every user; equal counts ordered by item id (lower first, as
// eval/topk.ts breaks ties): count − id/2048 is exact in float32 (counts < 2^12, ids < 2^11 here)
const popCounts = new Float32Array(numItems)
for (let r = 0; r < split.train.length; r++) popCounts[split.train.item[r]]++
if (numItems > 2048) throw new Error('Pop tie-break assumes at most 2048 items')
for (let i = 0; i < numItems; i++) popCounts[i] -= i / 2048
const popScores = (rows: Int32Array): Float32Array => {
  const out = new Float32Array(rows.length * numItems)
  for (let k = 0; k < rows.length; k++) out.set(popCounts, k * numItems)
  return out
}
const popValid = evaluate(validH, validSeen, popScores)
const popTest = evaluate(testH, testSeen, popScores, testNegatives)
const f4 = (x: number) => x.toFixed(4)
console.log(
  `Pop: valid NDCG@10 ${f4(popValid.full.ndcg)}; test full NDCG@10 ${f4(popTest.full.ndcg)} HR@10 ${f4(popTest.full.hr)}, ` +
    `sampled-100 NDCG@10 ${f4(popTest.sampled!.ndcg)} HR@10 ${f4(popTest.sampled!.hr)} (${popTest.full.users} users)`,
)

// ---- model --------------------------------------------------------------------------------------
type AnyWeights = SasrecWeights | Gru4recWeights
interface Trainer {
  step(inputs: Int32Array, targets: Int32Array): number
  weights(): AnyWeights
  dispose(): void
}
let trainer: Trainer
let score: (w: AnyWeights, seqs: Int32Array) => Float32Array
if (modelName === 'sasrec') {
  const cfg = {hidden: 64, layers: 2, heads: 2, inner: 256, maxLen, dropout}
  trainer = createSasrecTrainer(initSasrec(numItems, cfg, seed), {lr, loss, seed})
  score = (w, seqs) => scoreSasrec(w as SasrecWeights, seqs)
} else {
  trainer = createGru4recTrainer(initGru4rec(numItems, {maxLen, dropout}, seed), {lr, seed})
  score = (w, seqs) => scoreGru4rec(w as Gru4recWeights, seqs)
}
const settings = {model: modelName, loss: modelName === 'sasrec' ? loss : 'ce', lr, batch, dropout, epochs, evalEvery, patience, seed, maxLen}
console.log(`settings ${JSON.stringify(settings)}`)

const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const epochRng = new Rng(seed).fork(99)
const history: {epoch: number; seconds: number; cpuSeconds: number; loss: number; validNdcg?: number}[] = []
let best = {epoch: 0, ndcg: -1, hr: 0, weights: undefined as AnyWeights | undefined}
let sinceBest = 0
const started = performance.now()
let stopReason = 'epochs'

for (let epoch = 1; epoch <= epochs; epoch++) {
  const t0 = performance.now()
  const c0 = cpu()
  let lossSum = 0
  let lossN = 0
  for (const b of windowBatches(windows, batch, epochRng)) {
    let n = 0
    for (let k = 0; k < b.targets.length; k++) if (b.targets[k] !== 0 && b.inputs[k] !== 0) n++
    const l = trainer.step(b.inputs, b.targets)
    if (!Number.isFinite(l)) throw new Error(`epoch ${epoch}: loss ${l}`)
    lossSum += l * n
    lossN += n
  }
  const seconds = (performance.now() - t0) / 1000
  const cpuSeconds = cpu() - c0
  const rec: (typeof history)[number] = {epoch, seconds, cpuSeconds, loss: lossSum / lossN}
  let line = `epoch ${String(epoch).padStart(3)}: ${seconds.toFixed(1)} s (${cpuSeconds.toFixed(1)} s CPU), loss ${rec.loss.toFixed(4)}`
  if (epoch % evalEvery === 0 || epoch === epochs) {
    const te = performance.now()
    const w = trainer.weights()
    const v = evaluate(validH, validSeen, (_rows, hist) => score(w, hist))
    rec.validNdcg = v.full.ndcg
    line += `, valid NDCG@10 ${f4(v.full.ndcg)} HR@10 ${f4(v.full.hr)} (eval ${((performance.now() - te) / 1000).toFixed(1)} s)`
    if (v.full.ndcg > best.ndcg) {
      best = {epoch, ndcg: v.full.ndcg, hr: v.full.hr, weights: w}
      sinceBest = 0
      line += ' *'
    } else {
      sinceBest++
    }
  }
  history.push(rec)
  console.log(line)
  if (sinceBest >= patience) {
    stopReason = `patience ${patience} evaluations`
    break
  }
  if (maxMinutes > 0 && (performance.now() - started) / 60000 >= maxMinutes) {
    stopReason = `max ${maxMinutes} minutes`
    break
  }
}
trainer.dispose()

const w = best.weights!
const test = evaluate(testH, testSeen, (_rows, hist) => score(w, hist), testNegatives)
const load1 = loadavg()
const secs = history.map((h) => h.seconds)
const cpus = history.map((h) => h.cpuSeconds)
const summary = {
  ...settings,
  stop: stopReason,
  epochsRun: history.length,
  bestEpoch: best.epoch,
  validNdcg: best.ndcg,
  validHr: best.hr,
  testFull: test.full,
  testSampled: test.sampled,
  pop: {valid: popValid.full, testFull: popTest.full, testSampled: popTest.sampled},
  medianSecPerEpoch: median(secs),
  medianCpuSecPerEpoch: median(cpus),
  totalMinutes: (performance.now() - started) / 60000,
  loadStart: load0,
  loadEnd: load1,
  losses: history.map((h) => Number(h.loss.toFixed(4))),
  validCurve: history.filter((h) => h.validNdcg !== undefined).map((h) => [h.epoch, Number(h.validNdcg!.toFixed(4))]),
}
console.log(
  `best epoch ${best.epoch} (valid NDCG@10 ${f4(best.ndcg)}), stopped: ${stopReason}; test full NDCG@10 ${f4(test.full.ndcg)} HR@10 ${f4(test.full.hr)}, ` +
    `sampled-100 NDCG@10 ${f4(test.sampled!.ndcg)} HR@10 ${f4(test.sampled!.hr)} (${test.full.users} users, ${test.full.ties} tied); ` +
    `median ${median(secs).toFixed(1)} s/epoch (${median(cpus).toFixed(1)} s CPU); load ${load1.map((x) => x.toFixed(2)).join(' ')}`,
)
console.log(`RESULT ${JSON.stringify(summary)}`)
