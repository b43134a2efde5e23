import {existsSync, mkdirSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {initBackend} from '../backend/index.js'
import {fromWeights} from '../compress/tensors.js'
import {expandVariants, type VariantSpec} from '../compress/registry.js'
import {canonicalJson, sha256Hex} from '../config/hash.js'
import type {LoadedConfig} from '../config/load.js'
import {assertInside} from '../config/paths.js'
import {modelLabel, modelTrainConfig, type ModelConfig, type RecConfig, type StreamStrategyConfig, type TrainConfig} from '../config/schema.js'
import {fingerprintedDataConfig} from '../data/fingerprint.js'
import {preprocess} from '../data/preprocess.js'
import {inputSha256, readInteractions} from '../data/read.js'
import type {Sequences} from '../data/sequences.js'
import {configError, dataError} from '../errors.js'
import {loadModel, saveModel, type IdMap} from '../models/io.js'
import {getModelSpec} from '../models/registry.js'
import {createTfjsScorer} from '../models/scorer.js'
import {maxLenOf} from '../models/sequential.js'
import type {ModelWeights, Scorer} from '../models/types.js'
import {exportOnnx} from '../onnx/export.js'
import {createOnnxScorer} from '../onnx/scorer.js'
import {silentProgress, type Progress} from '../progress.js'
import {writeFileAtomic, writeJsonAtomic} from '../run/atomic.js'
import {makeVariant} from '../run/compress-stage.js'
import {lockRunDir} from '../run/lock.js'
import {defaultRunId} from '../run/pipeline.js'
import {trainModel} from '../train/train.js'
import {evaluateWindow, metricKeys, type ModelView, type WindowContext} from './evaluate.js'
import {spanStart, streamEvents, type StreamEvents} from './events.js'
import {streamSummary, windowsCsv, type StreamSummaryRow, type WindowRow} from './report.js'
import {foldIn, modelInteractions, trainOnlySplit, updateIncrementally, type RawEvent} from './update.js'

export interface StreamOptions {
  progress?: Progress
  signal?: AbortSignal
}

export interface StreamResult {
  /** the folder under the run directory that holds the replay: stream/ */
  dir: string
  experiment: string
  /** what was replayed */
  events: {total: number; initial: number; replayed: number; duplicates: number; windows: number; cut: string}
  /** the metric keys of every row, e.g. hr@10, ndcg@10, mrr@10 */
  metrics: string[]
  windows: WindowRow[]
  summary: StreamSummaryRow[]
  interrupted?: boolean
}

/** what state.json of stream/<model>/ holds: the windows done and where each strategy's weights are */
interface StreamState {
  version: 1
  key: string
  /** windows finished (evaluated and updated) */
  window: number
  /** per strategy label: folder of its current weights (absent: the initial model) */
  dirs: Record<string, string | undefined>
  rows: WindowRow[]
}

const STATE_JSON = 'state.json'
const INITIAL_DIR = 'initial'

/** a strategy as it runs: its config, label and resolved training settings */
interface Strategy {
  cfg: StreamStrategyConfig
  label: string
  /** position in stream.strategies (seeds) */
  index: number
  /** position among this model's strategies */
  slot: number
  train: TrainConfig
  variant?: VariantSpec
}

/** a strategy's model now: float weights, id map, and the served form when it names a variant */
interface Live {
  weights: ModelWeights
  idmap: IdMap
  onnx?: Uint8Array
  dir?: string
}

/** the seed of one update: the experiment seed, the window and the strategy */
const updateSeed = (seed: number, window: number, strategy: number): number => (Math.imul(seed, 0x9e3779b1) + Math.imul(window + 1, 0x85ebca6b) + Math.imul(strategy + 1, 0xc2b2ae35)) | 0

/** the strategies of the config with their labels and training settings for model `m` */
export function resolveStrategies(cfg: RecConfig, m: ModelConfig): Strategy[] {
  const stream = cfg.stream!
  const base = modelTrainConfig(cfg, m)
  const variants = cfg.compress.variants.length > 0 ? expandVariants(cfg.compress.variants) : []
  return stream.strategies.flatMap((s, index) => {
    if (s.models && !s.models.includes(modelLabel(m))) return []
    const label = s.label ?? (s.variant ? `${s.name}-${s.variant}` : s.name)
    const variant = s.variant ? variants.find((v) => v.name === s.variant) : undefined
    if (s.variant && !variant) {
      throw configError('stream.unknown_variant', `stream strategy ${label} names variant ${s.variant}, which compress.variants does not define`, {
        hint: `define it under compress.variants (known: ${variants.map((v) => v.name).join(', ') || 'none'})`,
      })
    }
    const epochs = s.epochs ?? (s.name === 'incremental' ? 1 : base.epochs)
    const train: TrainConfig = {...base, epochs, lr: s.lr ?? base.lr, batch_size: s.batch_size ?? base.batch_size, early_stopping: null}
    return [{cfg: s, label, index, slot: 0, train, ...(variant ? {variant} : {})}]
  })
}

/** what decides the replay of one model: data, preprocessing, the stream section, the model and its training, negatives, variants, seed, backend */
function streamKey(cfg: RecConfig, m: ModelConfig, inputSha: string, backend: string): string {
  // neither how many windows nor which models are replayed decides a model's replay
  const {max_windows: _windows, models: _models, ...stream} = cfg.stream!
  return sha256Hex(canonicalJson(['stream', 1, inputSha, fingerprintedDataConfig(cfg.data), cfg.preprocess, stream, m, modelTrainConfig(cfg, m), cfg.negatives, cfg.compress.variants, cfg.seed, backend]))
}

/**
 * `rec stream`: prequential replay of every model (or stream.models) with every strategy, in the
 * run directory's stream/ folder. For each model: the initial model trains on the events before the
 * cut (the model's train settings, no early stopping: there is no validation part); then, window by
 * window, every strategy first evaluates the window with its model as it was (evaluateWindow), then
 * updates it (static: never; incremental: updateIncrementally on the window; retrain: from scratch
 * (or warm) on all events so far; sliding: on the most recent span), every `every` windows. After
 * each window the strategies' weights and the rows so far are saved (state.json replaced atomically
 * last), so a killed replay continues at the next window with the same numbers.
 */
export async function runStream(cfg: RecConfig, runDir: string, options: StreamOptions = {}): Promise<StreamResult> {
  const progress = options.progress ?? silentProgress
  const stream = cfg.stream
  if (!stream) throw configError('stream.missing', 'the experiment has no stream section', {hint: 'add stream: {start: 0.8, window: {events: 1000}, strategies: [{name: static}, {name: incremental}]}'})
  const models = stream.models ? stream.models.map((label) => cfg.models.find((m) => modelLabel(m) === label)!) : cfg.models
  if (models.length === 0) throw configError('stream.no_models', 'the experiment has no model to replay', {hint: 'add a models[] entry'})
  const dir = join(runDir, 'stream')
  const backend = await initBackend(cfg.backend, progress)
  const inputSha = await inputSha256(cfg.data)
  progress.stage('stream: data')
  const read = await readInteractions(cfg.data, {progress})
  // duplicates are the stream's to handle (events.ts): no dedupe before
  const pre = preprocess(read.interactions, {...cfg.preprocess, dedupe: 'none'})
  const ev = streamEvents(pre.interactions, stream)
  const W = ev.bounds.length - 1
  progress.done(`${ev.initial} events before the cut (${new Date(ev.cut * 1000).toISOString()}), ${ev.length - ev.initial} replayed in ${W} windows, ${ev.duplicates} duplicates skipped`)
  const ks = [...new Set(stream.eval.k)].sort((a, b) => a - b)
  const keys = metricKeys(ks)
  const rows: WindowRow[] = []
  let interrupted = false
  for (const m of models) {
    const r = await replayModel({cfg, m, ev, dir: join(dir, modelLabel(m)), key: streamKey(cfg, m, inputSha, backend.name), ks, progress, signal: options.signal})
    rows.push(...r.rows)
    if (r.interrupted) {
      interrupted = true
      break
    }
  }
  const summary = streamSummary(rows, keys)
  const result: StreamResult = {
    dir,
    experiment: cfg.name,
    events: {total: ev.length, initial: ev.initial, replayed: ev.length - ev.initial, duplicates: ev.duplicates, windows: W, cut: new Date(ev.cut * 1000).toISOString()},
    metrics: keys,
    windows: rows,
    summary,
    ...(interrupted ? {interrupted} : {}),
  }
  if (!interrupted) {
    writeJsonAtomic(join(dir, 'windows.json'), rows)
    writeJsonAtomic(join(dir, 'summary.json'), {...result, windows: undefined})
    writeFileAtomic(join(dir, 'windows.csv'), windowsCsv(rows, keys))
  }
  return result
}

/** dense model ids by first appearance in events [from, to) */
function idmapOf(ev: StreamEvents, from: number, to: number): IdMap {
  const users = new Set<string>()
  const items = new Set<string>()
  for (let k = from; k < to; k++) {
    users.add(ev.userIds[ev.user[k]])
    items.add(ev.itemIds[ev.item[k]])
  }
  return {userIds: [...users], itemIds: [...items]}
}

/** events [from, to) in the model index space of `idmap` (every id must be in it) */
function trainingSplit(ev: StreamEvents, from: number, to: number, idmap: IdMap) {
  const uIdx = new Map(idmap.userIds.map((id, k) => [id, k]))
  const iIdx = new Map(idmap.itemIds.map((id, k) => [id, k]))
  const user: number[] = []
  const item: number[] = []
  const time: number[] = []
  for (let k = from; k < to; k++) {
    user.push(uIdx.get(ev.userIds[ev.user[k]])!)
    item.push(iIdx.get(ev.itemIds[ev.item[k]])!)
    time.push(ev.time[k])
  }
  return trainOnlySplit(modelInteractions({user, item, time}, idmap))
}

const rawEvents = (ev: StreamEvents, from: number, to: number): RawEvent[] =>
  Array.from({length: to - from}, (_, j) => ({user: ev.userIds[ev.user[from + j]], item: ev.itemIds[ev.item[from + j]], time: ev.time[from + j]}))

async function replayModel(a: {cfg: RecConfig; m: ModelConfig; ev: StreamEvents; dir: string; key: string; ks: number[]; progress: Progress; signal?: AbortSignal}): Promise<{rows: WindowRow[]; interrupted: boolean}> {
  const {cfg, m, ev, dir, progress} = a
  const label = modelLabel(m)
  const spec = getModelSpec(m.model)
  const strategies = resolveStrategies(cfg, m)
  const W = ev.bounds.length - 1

  // state of an earlier (killed) replay with the same key, or a clean start
  let state: StreamState | undefined
  const statePath = join(dir, STATE_JSON)
  if (existsSync(statePath)) {
    try {
      state = JSON.parse(readFileSync(statePath, 'utf8')) as StreamState
    } catch (error) {
      throw dataError('stream.corrupt', `${statePath} is corrupt: ${(error as Error).message}`, {hint: `delete ${dir} to replay ${label} from the start`})
    }
    if (state.key !== a.key) {
      progress.info(`stream ${label}: the configuration changed since the saved replay; starting over`)
      state = undefined
    }
  }
  if (!state) rmSync(dir, {recursive: true, force: true})

  // the initial model: trained once on the events before the cut
  let initial: {weights: ModelWeights; idmap: IdMap}
  const initialDir = join(dir, INITIAL_DIR)
  if (state && existsSync(join(initialDir, 'model.json'))) {
    const loaded = loadModel(initialDir)
    initial = {weights: loaded.weights, idmap: loaded.idmap!}
  } else {
    progress.stage(`stream ${label}: initial model on ${ev.initial} events`)
    const idmap = idmapOf(ev, 0, ev.initial)
    const train = {...modelTrainConfig(cfg, m), early_stopping: null}
    const r = await trainModel({model: m, train, negatives: cfg.negatives, split: trainingSplit(ev, 0, ev.initial, idmap), seed: cfg.seed, progress, signal: a.signal})
    if (r.interrupted) return {rows: [], interrupted: true}
    initial = {weights: r.weights, idmap}
    saveModel(initialDir, r.weights, idmap)
    writeJsonAtomic(join(dir, 'initial.json'), {events: ev.initial, epochs: r.epochs, seconds: r.seconds})
    state = {version: 1, key: a.key, window: 0, dirs: {}, rows: []}
    writeJsonAtomic(statePath, state)
    progress.done(`${r.epochs} epochs in ${r.seconds.toFixed(1)}s`)
  }

  // every strategy's model as saved after the last finished window
  const live: Live[] = []
  strategies.forEach((s, k) => (s.slot = k))
  for (const s of strategies) {
    const d = state.dirs[s.label]
    const loaded = d ? loadModel(join(dir, d)) : undefined
    const l: Live = loaded ? {weights: loaded.weights, idmap: loaded.idmap!, dir: d} : {weights: initial.weights, idmap: initial.idmap}
    if (s.variant) await remakeVariant(cfg, m, s, l, ev, ev.bounds[Math.min(state.window, W)])
    live.push(l)
  }

  // what everyone knows before the next window: histories and popularity
  const history: number[][] = Array.from({length: ev.numUsers}, () => [])
  const popularity = new Float64Array(ev.numItems)
  const learn = (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      history[ev.user[k]].push(ev.item[k])
      popularity[ev.item[k]] += 1
    }
  }
  learn(0, ev.bounds[Math.min(state.window, W)])
  const globalUser = new Map(ev.userIds.map((id, k) => [id, k]))
  const globalItem = new Map(ev.itemIds.map((id, k) => [id, k]))
  // a replay saved with more windows than asked now (a lower max_windows): its first W windows are
  // this replay's, except that no update follows the last one
  const rows = state.window > W ? truncateRows(state.rows, W) : [...state.rows]
  const first = Math.min(state.window, W)

  for (let w = first; w < W; w++) {
    if (a.signal?.aborted) return {rows, interrupted: true}
    const from = ev.bounds[w]
    const to = ev.bounds[w + 1]
    // the window's events join the histories in time order: event j sees the `before[j]` items before it
    const users = ev.user.slice(from, to)
    const items = ev.item.slice(from, to)
    const before = new Int32Array(to - from)
    for (let j = 0; j < to - from; j++) {
      before[j] = history[users[j]].length
      history[users[j]].push(items[j])
    }
    const ctx: WindowContext = {users, items, before, history, popularity, numItems: ev.numItems}
    const parts: string[] = []
    for (const s of strategies) {
      const l = live[s.slot]
      const te = performance.now()
      const scores = await evaluateWindow(ctx, modelView(l, spec.sequential, globalUser, globalItem, ev), a.ks)
      const evalSeconds = (performance.now() - te) / 1000
      // no update after the last window: nothing would evaluate it
      const due = s.cfg.name !== 'static' && (w + 1) % s.cfg.every === 0 && w < W - 1
      let updateSeconds = 0
      if (due) {
        const u = await updateStrategy(cfg, m, s, l, ev, w, history, a.signal)
        if (u.interrupted) return {rows, interrupted: true}
        updateSeconds = u.seconds
        if (s.variant) updateSeconds += await remakeVariant(cfg, m, s, u.live, ev, to)
        live[s.slot] = u.live
      }
      rows.push({
        model: label,
        strategy: s.label,
        window: w,
        from: new Date(ev.time[from] * 1000).toISOString(),
        to: new Date(ev.time[to - 1] * 1000).toISOString(),
        events: scores.events,
        coldUsers: scores.coldUsers,
        coldItems: scores.coldItems,
        metrics: scores.metrics,
        updated: due,
        updateSeconds,
        evalSeconds,
        users: live[s.slot].idmap.userIds.length,
        items: live[s.slot].idmap.itemIds.length,
      })
      parts.push(`${s.label} ${scores.metrics[`ndcg@${a.ks[0]}`].toFixed(4)}${due ? ` (${updateSeconds.toFixed(2)}s)` : ''}`)
    }
    for (let k = from; k < to; k++) popularity[ev.item[k]] += 1
    // save the updated strategies' weights, then the state that names them (atomically, last)
    const dirs: Record<string, string | undefined> = {...state.dirs}
    strategies.forEach((s) => {
      const l = live[s.slot]
      if (!rows.at(-strategies.length + s.slot)!.updated) return
      const d = join(s.label, `w-${String(w).padStart(4, '0')}`)
      rmSync(join(dir, d), {recursive: true, force: true})
      saveModel(join(dir, d), l.weights, l.idmap)
      l.dir = d
      dirs[s.label] = d
    })
    state = {version: 1, key: a.key, window: w + 1, dirs, rows}
    writeJsonAtomic(statePath, state)
    for (const s of strategies) {
      const keep = dirs[s.label]?.split('/')[1]
      const sd = join(dir, s.label)
      if (!existsSync(sd)) continue
      for (const d of readdirSync(sd)) if (d !== keep) rmSync(join(sd, d), {recursive: true, force: true})
    }
    progress.info(`stream ${label} window ${w + 1}/${W} (${to - from} events) ndcg@${a.ks[0]}: ${parts.join(', ')}`)
  }
  // the served form's size at the end
  for (const s of strategies) {
    const l = live[s.slot]
    const bytes = (l.onnx ?? exportOnnx(fromWeights(l.weights))).byteLength
    for (const r of rows) if (r.model === label && r.strategy === s.label && r.window === W - 1) r.modelBytes = bytes
  }
  return {rows, interrupted: false}
}

/**
 * The rows of the first W windows of a longer replay, as a W-window replay records them: the same
 * metrics (each window is evaluated before its update), but no update after window W − 1.
 */
function truncateRows(rows: WindowRow[], W: number): WindowRow[] {
  const kept = rows.filter((r) => r.window < W)
  return kept.map((r) => {
    if (r.window !== W - 1 || !r.updated) return r
    const before = kept.find((p) => p.model === r.model && p.strategy === r.strategy && p.window === W - 2)
    return {...r, updated: false, updateSeconds: 0, ...(before ? {users: before.users, items: before.items} : {})}
  })
}

/** the evaluation's view of a strategy's model: id maps against the global ids, and its scorer */
function modelView(l: Live, sequential: boolean, globalUser: Map<string, number>, globalItem: Map<string, number>, ev: StreamEvents): ModelView {
  const userOf = new Int32Array(ev.numUsers).fill(-1)
  const itemOf = new Int32Array(ev.numItems).fill(-1)
  l.idmap.userIds.forEach((id, k) => (userOf[globalUser.get(id)!] = k))
  const globalItems = Int32Array.from(l.idmap.itemIds, (id) => globalItem.get(id)!)
  globalItems.forEach((g, k) => (itemOf[g] = k))
  const numItems = l.weights.numItems
  return {
    userOf,
    itemOf,
    globalItem: globalItems,
    sequential,
    maxLen: sequential ? maxLenOf(l.weights) : 0,
    scorer: async (histories?: Sequences): Promise<Scorer> =>
      l.onnx ? createOnnxScorer(l.onnx, numItems, histories ? {histories} : {}) : createTfjsScorer(l.weights, histories ? {histories} : {}),
  }
}

/** one strategy's update after window `w` (events up to bounds[w + 1] are known) */
async function updateStrategy(cfg: RecConfig, m: ModelConfig, s: Strategy, l: Live, ev: StreamEvents, w: number, history: number[][], signal?: AbortSignal): Promise<{live: Live; seconds: number; interrupted: boolean}> {
  const from = ev.bounds[w]
  const to = ev.bounds[w + 1]
  const seed = updateSeed(cfg.seed, w, s.index)
  if (s.cfg.name === 'incremental') {
    // context of a user: its items before the window (the histories already hold the window's)
    const windowCount = new Map<number, number>()
    for (let k = from; k < to; k++) windowCount.set(ev.user[k], (windowCount.get(ev.user[k]) ?? 0) + 1)
    const userIndex = new Map(ev.userIds.map((id, k) => [id, k]))
    const u = await updateIncrementally({
      model: m,
      train: s.train,
      negatives: cfg.negatives,
      weights: l.weights,
      idmap: l.idmap,
      events: rawEvents(ev, from, to),
      history: (user) => {
        const g = userIndex.get(user)!
        const h = history[g]
        return h.slice(0, h.length - (windowCount.get(g) ?? 0)).map((i) => ev.itemIds[i])
      },
      seed,
      signal,
    })
    return {live: {weights: u.weights, idmap: u.idmap}, seconds: u.seconds, interrupted: u.interrupted}
  }
  // retrain / sliding: all events so far, or the most recent span
  const t0 = performance.now()
  const start = s.cfg.name === 'sliding' ? spanStart(ev.time, to, s.cfg.span!) : 0
  let init: ModelWeights | undefined
  let idmap: IdMap
  if (s.cfg.warm_start) {
    const ids = idmapOf(ev, start, to)
    const f = foldIn(m, l.weights, l.idmap, ids.userIds, ids.itemIds, seed)
    init = f.weights
    idmap = f.idmap
  } else {
    idmap = idmapOf(ev, start, to)
  }
  const r = await trainModel({model: m, train: s.train, negatives: cfg.negatives, split: trainingSplit(ev, start, to, idmap), seed, ...(init ? {init} : {}), signal})
  return {live: {weights: r.weights, idmap}, seconds: (performance.now() - t0) / 1000, interrupted: r.interrupted}
}

/**
 * Re-make a strategy's compression variant from its float weights (src/run/compress-stage.ts
 * makeVariant, then the ONNX export the variant is served from); returns the seconds it took.
 * Calibration (sequential int8) and any fine-tuning read the events known so far.
 */
async function remakeVariant(cfg: RecConfig, m: ModelConfig, s: Strategy, l: Live, ev: StreamEvents, known: number): Promise<number> {
  const t0 = performance.now()
  // the events the model knows (its id map) among those seen so far
  const uIdx = new Map(l.idmap.userIds.map((id, k) => [id, k]))
  const iIdx = new Map(l.idmap.itemIds.map((id, k) => [id, k]))
  const user: number[] = []
  const item: number[] = []
  const time: number[] = []
  for (let k = 0; k < known; k++) {
    const u = uIdx.get(ev.userIds[ev.user[k]])
    const i = iIdx.get(ev.itemIds[ev.item[k]])
    if (u === undefined || i === undefined) continue
    user.push(u)
    item.push(i)
    time.push(ev.time[k])
  }
  const split = trainOnlySplit(modelInteractions({user, item, time}, l.idmap))
  const v = await makeVariant({cfg, model: m, base: l.weights, spec: s.variant!, split, progress: silentProgress})
  if (v.interrupted) throw new Error('variant re-make interrupted without a signal')
  l.onnx = exportOnnx(v.model, {calibration: v.calibration})
  return (performance.now() - t0) / 1000
}

/**
 * `rec stream <experiment.yaml>`: the replay in the experiment's run directory
 * (<output.dir>/<name>/<run id>/stream/, the run id rec run would use), under the run directory's lock.
 */
export async function streamExperiment(loaded: LoadedConfig, options: StreamOptions & {outDir?: string; runId?: string} = {}): Promise<StreamResult & {runDir: string}> {
  const cfg = loaded.config
  const outRoot = options.outDir ? resolve(options.outDir) : resolve(cfg.output.dir)
  const runDir = join(outRoot, cfg.name, options.runId ?? defaultRunId(cfg))
  assertInside(outRoot, runDir)
  mkdirSync(runDir, {recursive: true})
  const lock = lockRunDir(runDir, (msg) => options.progress?.info(msg))
  try {
    return {runDir, ...(await runStream(cfg, runDir, options))}
  } finally {
    lock.release()
  }
}
