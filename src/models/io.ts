import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {dataError} from '../errors.js'
import {writeFileAtomic, writeJsonAtomic} from '../run/atomic.js'
import {countLayers} from './forward.js'
import type {ModelKind, ModelWeights, Tensor32} from './types.js'

/** original ids of the dense user / item indices */
export interface IdMap {
  userIds: string[]
  itemIds: string[]
}

export interface WeightsManifestEntry {
  name: string
  shape: number[]
  dtype: 'float32'
}

/**
 * model.json: tfjs's weights-manifest layout (so tf.io.loadWeights can read weights.bin) plus
 * `rec`, the metadata that rebuilds the forward pass.
 */
export interface ModelJson {
  format: 'rec-weights'
  formatVersion: 1
  generatedBy: string
  rec: {kind: ModelKind; params: Record<string, unknown>; numUsers: number; numItems: number}
  weightsManifest: {paths: string[]; weights: WeightsManifestEntry[]}[]
}

export const MODEL_JSON = 'model.json'
export const WEIGHTS_BIN = 'weights.bin'
export const IDMAP_JSON = 'idmap.json'
const KINDS: readonly string[] = ['pop', 'mf', 'neumf', 'two_tower', 'sasrec', 'gru4rec', 'itemknn', 'ease', 'gmf', 'mlp']

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

/**
 * Save weights under `dir`: weights.bin (float32 little-endian, tensors concatenated in manifest
 * order), then idmap.json when given, then model.json last, each written atomically — a reader
 * that finds model.json finds complete weights beside it.
 */
export function saveModel(dir: string, weights: ModelWeights, idmap?: IdMap): void {
  const entries: WeightsManifestEntry[] = []
  for (const [name, t] of Object.entries(weights.tensors)) {
    if (t.data.length !== size(t.shape)) throw new Error(`saveModel: tensor ${name} has ${t.data.length} values for shape [${t.shape}]`)
    entries.push({name, shape: [...t.shape], dtype: 'float32'})
  }
  writeFileAtomic(join(dir, WEIGHTS_BIN), packFloat32(entries.map((e) => weights.tensors[e.name].data)))
  if (idmap) writeJsonAtomic(join(dir, IDMAP_JSON), {userIds: idmap.userIds, itemIds: idmap.itemIds})
  const json: ModelJson = {
    format: 'rec-weights',
    formatVersion: 1,
    generatedBy: 'rec',
    rec: {kind: weights.kind, params: weights.params, numUsers: weights.numUsers, numItems: weights.numItems},
    weightsManifest: [{paths: [WEIGHTS_BIN], weights: entries}],
  }
  writeJsonAtomic(join(dir, MODEL_JSON), json)
}

/**
 * float32 arrays concatenated into one little-endian byte block (weights.bin, optimizer.bin).
 * Typed arrays are little-endian on every platform Node runs on, so this is a plain copy.
 */
export function packFloat32(arrays: ArrayLike<number>[]): Uint8Array {
  const all = new Float32Array(arrays.reduce((a, d) => a + d.length, 0))
  let off = 0
  for (const d of arrays) {
    all.set(d, off)
    off += d.length
  }
  return new Uint8Array(all.buffer)
}

/** the arrays of `lengths` values each that packFloat32 concatenated (the caller checks the size) */
export function unpackFloat32(bytes: Uint8Array, lengths: number[]): Float32Array[] {
  const all = new Float32Array(new Uint8Array(bytes).buffer) // aligned copy
  let off = 0
  return lengths.map((n) => {
    const part = all.slice(off, off + n)
    off += n
    return part
  })
}

function corrupt(file: string, why: string): Error {
  return dataError('model.corrupt', `${file} is corrupt: ${why}`, {hint: 'retrain or re-run the stage that wrote this model'})
}

function readJsonFile(path: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw dataError('model.missing', `${path} does not exist`, {hint: 'is this a model directory (with model.json)?'})
    throw error
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw corrupt(path, `not valid JSON (${(error as Error).message})`)
  }
}

function parseModelJson(path: string): ModelJson {
  const j = readJsonFile(path) as Partial<ModelJson> | null
  if (!j || typeof j !== 'object') throw corrupt(path, 'not a JSON object')
  if (j.format !== 'rec-weights') throw corrupt(path, `format is ${JSON.stringify(j.format)}, expected "rec-weights"`)
  const rec = j.rec
  if (!rec || !KINDS.includes(rec.kind) || !Number.isInteger(rec.numUsers) || !Number.isInteger(rec.numItems)) {
    throw corrupt(path, 'missing or invalid "rec" metadata (kind, numUsers, numItems)')
  }
  if (!Array.isArray(j.weightsManifest) || j.weightsManifest.length === 0) throw corrupt(path, 'missing weightsManifest')
  for (const group of j.weightsManifest) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw corrupt(path, 'weightsManifest entries need paths and weights')
    for (const w of group.weights) {
      if (typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((s) => Number.isInteger(s) && s >= 0) || w.dtype !== 'float32') {
        throw corrupt(path, `bad weight entry ${JSON.stringify(w)}`)
      }
    }
  }
  return j as ModelJson
}

/** load what saveModel wrote; a missing, truncated or inconsistent file is a data error (exit 3) naming it */
export function loadModel(dir: string): {weights: ModelWeights; idmap?: IdMap} {
  const jsonPath = join(dir, MODEL_JSON)
  const json = parseModelJson(jsonPath)
  const tensors: Record<string, Tensor32> = {}
  for (const group of json.weightsManifest) {
    const expected = group.weights.reduce((a, w) => a + size(w.shape) * 4, 0)
    const parts: Buffer[] = []
    for (const p of group.paths) {
      const file = join(dir, p)
      if (!existsSync(file)) throw dataError('model.corrupt', `${file} is missing (listed in ${jsonPath})`)
      parts.push(readFileSync(file))
    }
    const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts)
    const fileName = join(dir, group.paths.join('+'))
    if (buf.length !== expected) throw corrupt(fileName, `${buf.length} bytes, the manifest in ${MODEL_JSON} needs ${expected} (truncated or from another model)`)
    const arrays = unpackFloat32(buf, group.weights.map((w) => size(w.shape)))
    group.weights.forEach((w, k) => (tensors[w.name] = {shape: [...w.shape], data: arrays[k]}))
  }
  const weights: ModelWeights = {kind: json.rec.kind, numUsers: json.rec.numUsers, numItems: json.rec.numItems, params: json.rec.params ?? {}, tensors}
  const idPath = join(dir, IDMAP_JSON)
  let idmap: IdMap | undefined
  if (existsSync(idPath)) {
    const m = readJsonFile(idPath) as Partial<IdMap> | null
    if (!m || !Array.isArray(m.userIds) || !Array.isArray(m.itemIds)) throw corrupt(idPath, 'expected {userIds: [...], itemIds: [...]}')
    if (m.userIds.length !== weights.numUsers || m.itemIds.length !== weights.numItems) {
      throw corrupt(idPath, `${m.userIds.length} users / ${m.itemIds.length} items, the model has ${weights.numUsers} / ${weights.numItems}`)
    }
    idmap = {userIds: m.userIds, itemIds: m.itemIds}
  }
  return {weights, idmap}
}

/**
 * Bytes on disk of the model in `dir`: model.json plus every weight file its manifest lists.
 * idmap.json and evaluation outputs are left out (they are the same for every variant).
 */
export function modelBytes(dir: string): number {
  const json = parseModelJson(join(dir, MODEL_JSON))
  let bytes = statSync(join(dir, MODEL_JSON)).size
  const files = new Set(json.weightsManifest.flatMap((g) => g.paths))
  for (const p of files) bytes += statSync(join(dir, p)).size
  return bytes
}

/** parameters (stored values) of every tensor, and how many of them are not zero */
export function paramCount(weights: ModelWeights): {total: number; nonZero: number} {
  let total = 0
  let nonZero = 0
  for (const t of Object.values(weights.tensors)) {
    total += t.data.length
    for (let k = 0; k < t.data.length; k++) if (t.data[k] !== 0) nonZero++
  }
  return {total, nonZero}
}

function denseFlops(weights: ModelWeights, prefix: string): number {
  let flops = 0
  const n = countLayers(Object.keys(weights.tensors), prefix)
  for (let k = 0; k < n; k++) {
    const [fanIn, fanOut] = weights.tensors[`${prefix}_${k}.kernel`].shape
    flops += 2 * fanIn * fanOut
  }
  return flops
}

/**
 * FLOPs to score one (user, item) pair. Convention: a multiply-add counts 2 FLOPs, a lone
 * element-wise multiply 1; embedding lookups, bias adds and activations count 0; work that
 * depends on only one side and can be precomputed is left out (see `flopsBreakdown`).
 * - pop: 0 (a lookup).
 * - mf: 2d — the dot product of user_emb[u] and item_emb[i]; item vectors need no work per request.
 * - two_tower: 2k, the dot product of the tower outputs (k = last tower width); the item tower runs
 *   once for the catalogue and the user tower once per request (both in `flopsBreakdown`).
 * - neumf: f (GMF product) + Σ 2·in·out over the MLP layers + 2·(f + last) (output layer): a full
 *   forward pass per pair, since the MLP mixes user and item. (The tfjs scorer precomputes the item
 *   half of the first MLP layer, so it executes 2·e·h1 fewer per pair; the figure stays the model's.)
 */
export function flopsPerPair(weights: ModelWeights): number {
  return flopsBreakdown(weights).perPair
}

/** FLOPs per pair, per request (user-side, once per user) and per item (precomputable once) */
export function flopsBreakdown(weights: ModelWeights): {perPair: number; perUser: number; perItem: number} {
  const t = weights.tensors
  switch (weights.kind) {
    case 'pop':
      return {perPair: 0, perUser: 0, perItem: 0}
    case 'mf':
    case 'itemknn':
    case 'ease':
      return {perPair: 2 * t.user_emb.shape[1], perUser: 0, perItem: 0}
    case 'two_tower': {
      const nu = countLayers(Object.keys(t), 'user_tower')
      const k = nu > 0 ? t[`user_tower_${nu - 1}.kernel`].shape[1] : t.user_emb.shape[1]
      return {perPair: 2 * k, perUser: denseFlops(weights, 'user_tower'), perItem: denseFlops(weights, 'item_tower')}
    }
    case 'neumf':
    case 'gmf':
    case 'mlp': {
      const f = t.gmf_user?.shape[1] ?? 0
      const outIn = t['out.kernel'].shape[0]
      return {perPair: f + (t.mlp_user ? denseFlops(weights, 'mlp') : 0) + 2 * outIn, perUser: 0, perItem: 0}
    }
    default:
      throw new Error(`flopsPerPair: unknown model kind ${String(weights.kind)}`)
  }
}
