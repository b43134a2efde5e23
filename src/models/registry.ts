import {constants} from 'node:buffer'
import {totalmem} from 'node:os'

import {modelLabel, type ModelConfig} from '../config/schema.js'
import type {Interactions} from '../data/types.js'
import {configError} from '../errors.js'
import {Rng} from '../rng.js'
import {DEFAULT_MAX_LEN} from '../data/sequences.js'
import {DEFAULT_GRU4REC, initGru4rec} from './gru4rec.js'
import {initSasrec, type SasrecConfig, sasrecShapes} from './sasrec.js'
import {fromGru4recWeights} from './sequential.js'
import {fitEase, fitItemKnn} from './itemitem.js'
import type {ModelKind, ModelWeights, Tensor32} from './types.js'

export type Loss = 'bpr' | 'bce' | 'ce'

export interface ModelDims {
  numUsers: number
  numItems: number
}

/** what the registry knows about an architecture */
export interface ModelSpec {
  name: ModelKind
  description: string
  /** false: fitted from counts, no gradient steps (pop) */
  trainable: boolean
  /** supported losses; the first is used when the configured one is not supported */
  losses: readonly Loss[]
  /** training samples negatives */
  needsNegatives: boolean
  /** scores are probabilities (sigmoid output) rather than unbounded scores */
  probabilities: boolean
  /** scores a user's history in time order (needs timestamps, not a random split; src/models/sequential.ts) */
  sequential: boolean
  /** the shape of every tensor `init` makes, by name: known before allocating anything (memory, compression checks) */
  shapes(cfg: ModelConfig, dims: ModelDims): Record<string, number[]>
  /** throws a config error for a configuration the architecture cannot take (before any data is read) */
  check?(cfg: ModelConfig): void
  /** initial (or, for pop, final) weights, deterministic for a given rng */
  init(cfg: ModelConfig, dims: ModelDims, rng: Rng, train?: Interactions): ModelWeights
}

function normal(rng: Rng, shape: number[], std: number): Tensor32 {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1))
  for (let k = 0; k < data.length; k++) data[k] = rng.normal() * std
  return {shape, data}
}

/**
 * Xavier (Glorot) normal for an embedding table [rows, d] as PyTorch's xavier_normal_ computes it
 * (fan_in = d, fan_out = rows): std = sqrt(2 / (rows + d)). RecBole initialises BPR this way; it
 * measured test NDCG@10 0.2967 on MovieLens 100K (ml100k-bpr) against 0.2641 with a fixed std of 0.1.
 */
function xavierEmbedding(rng: Rng, rows: number, d: number): Tensor32 {
  return normal(rng, [rows, d], Math.sqrt(2 / (rows + d)))
}

/** Glorot (Xavier) uniform: U(−a, a), a = sqrt(6 / (fanIn + fanOut)) */
function glorot(rng: Rng, fanIn: number, fanOut: number): Tensor32 {
  const a = Math.sqrt(6 / (fanIn + fanOut))
  const data = new Float32Array(fanIn * fanOut)
  for (let k = 0; k < data.length; k++) data[k] = (rng.next() * 2 - 1) * a
  return {shape: [fanIn, fanOut], data}
}

function zeros(n: number): Tensor32 {
  return {shape: [n], data: new Float32Array(n)}
}

/** adds `<prefix>_k.kernel [in,out]` / `.bias [out]` for widths[0] → widths[1] → … */
function denseStack(tensors: Record<string, Tensor32>, rng: Rng, prefix: string, input: number, widths: readonly number[]): number {
  let fanIn = input
  widths.forEach((w, k) => {
    tensors[`${prefix}_${k}.kernel`] = glorot(rng.fork(100 + k), fanIn, w)
    tensors[`${prefix}_${k}.bias`] = zeros(w)
    fanIn = w
  })
  return fanIn
}

/** the kernel and bias shapes `denseStack` makes */
function denseShapes(prefix: string, input: number, widths: readonly number[]): Record<string, number[]> {
  const out: Record<string, number[]> = {}
  widths.forEach((w, k) => {
    out[`${prefix}_${k}.kernel`] = [k === 0 ? input : widths[k - 1], w]
    out[`${prefix}_${k}.bias`] = [w]
  })
  return out
}

export function resolveLoss(spec: ModelSpec, cfg: Pick<ModelConfig, 'loss'>): Loss {
  return spec.losses.includes(cfg.loss) ? cfg.loss : spec.losses[0]
}

const pop: ModelSpec = {
  name: 'pop',
  description: 'item popularity (train counts); same ranking for every user',
  trainable: false,
  losses: [],
  needsNegatives: false,
  probabilities: false,
  sequential: false,
  shapes: (_cfg, dims) => ({item_pop: [dims.numItems]}),
  init(_cfg, dims, _rng, train) {
    const counts = new Float32Array(dims.numItems)
    if (train) for (let r = 0; r < train.length; r++) counts[train.item[r]] += 1
    return {kind: 'pop', ...dims, params: {}, tensors: {item_pop: {shape: [dims.numItems], data: counts}}}
  },
}

const mf: ModelSpec = {
  name: 'mf',
  description: 'matrix factorisation: user · item embeddings (BPR or BCE)',
  trainable: true,
  losses: ['bpr', 'bce'],
  needsNegatives: true,
  probabilities: false,
  sequential: false,
  shapes: (cfg, dims) => ({user_emb: [dims.numUsers, cfg.factors], item_emb: [dims.numItems, cfg.factors]}),
  init(cfg, dims, rng) {
    const d = cfg.factors
    return {
      kind: 'mf',
      ...dims,
      params: {factors: d, loss: resolveLoss(mf, cfg)},
      tensors: {user_emb: xavierEmbedding(rng.fork(1), dims.numUsers, d), item_emb: xavierEmbedding(rng.fork(2), dims.numItems, d)},
    }
  },
}

/** the MLP tower's input is [user embedding, item embedding]: mlp_layers[0] is twice the embedding size */
function checkMlpInput(name: string, cfg: ModelConfig): void {
  const first = cfg.mlp_layers[0]
  if (first % 2 !== 0) throw configError('model.mlp_layers', `${name} mlp_layers[0] must be even (it is 2 × the MLP embedding size); got ${first}`)
}

const neumf: ModelSpec = {
  name: 'neumf',
  description: 'NeuMF (He et al. 2017): GMF + MLP towers, sigmoid output, BCE with sampled negatives',
  trainable: true,
  losses: ['bce'],
  needsNegatives: true,
  probabilities: true,
  sequential: false,
  check: (cfg) => checkMlpInput('neumf', cfg),
  shapes(cfg, dims) {
    const f = cfg.factors
    const layers = cfg.mlp_layers
    const e = Math.floor(layers[0] / 2)
    const last = layers.length > 1 ? layers.at(-1)! : layers[0]
    return {
      gmf_user: [dims.numUsers, f],
      gmf_item: [dims.numItems, f],
      mlp_user: [dims.numUsers, e],
      mlp_item: [dims.numItems, e],
      ...denseShapes('mlp', layers[0], layers.slice(1)),
      'out.kernel': [f + last, 1],
      'out.bias': [1],
    }
  },
  init(cfg, dims, rng) {
    const f = cfg.factors
    const layers = cfg.mlp_layers
    const e = layers[0] / 2
    // NCF's reference code: embeddings N(0, 0.01²), dense layers Glorot uniform, zero biases
    const tensors: Record<string, Tensor32> = {
      gmf_user: normal(rng.fork(1), [dims.numUsers, f], 0.01),
      gmf_item: normal(rng.fork(2), [dims.numItems, f], 0.01),
      mlp_user: normal(rng.fork(3), [dims.numUsers, e], 0.01),
      mlp_item: normal(rng.fork(4), [dims.numItems, e], 0.01),
    }
    const last = denseStack(tensors, rng.fork(5), 'mlp', layers[0], layers.slice(1))
    tensors['out.kernel'] = glorot(rng.fork(6), f + last, 1)
    tensors['out.bias'] = zeros(1)
    return {kind: 'neumf', ...dims, params: {factors: f, mlp_layers: [...layers], loss: 'bce'}, tensors}
  },
}

const twoTower: ModelSpec = {
  name: 'two_tower',
  description: 'two towers: user and item MLPs over embeddings, dot product on top',
  trainable: true,
  losses: ['bpr', 'bce'],
  needsNegatives: true,
  probabilities: false,
  sequential: false,
  shapes: (cfg, dims) => ({
    user_emb: [dims.numUsers, cfg.factors],
    item_emb: [dims.numItems, cfg.factors],
    ...denseShapes('user_tower', cfg.factors, cfg.tower_layers),
    ...denseShapes('item_tower', cfg.factors, cfg.tower_layers),
  }),
  init(cfg, dims, rng) {
    const d = cfg.factors
    const tensors: Record<string, Tensor32> = {
      user_emb: normal(rng.fork(1), [dims.numUsers, d], 0.1),
      item_emb: normal(rng.fork(2), [dims.numItems, d], 0.1),
    }
    denseStack(tensors, rng.fork(3), 'user_tower', d, cfg.tower_layers)
    denseStack(tensors, rng.fork(4), 'item_tower', d, cfg.tower_layers)
    return {kind: 'two_tower', ...dims, params: {factors: d, tower_layers: [...cfg.tower_layers], loss: resolveLoss(twoTower, cfg)}, tensors}
  },
}

/** SASRec's architecture from a model config, RecBole's defaults for what is not set */
export function sasrecConfig(cfg: ModelConfig): SasrecConfig {
  return {hidden: cfg.hidden ?? 64, layers: cfg.layers ?? 2, heads: cfg.heads ?? 2, inner: cfg.inner ?? 256, maxLen: cfg.max_len ?? DEFAULT_MAX_LEN, dropout: cfg.dropout ?? 0.5}
}

/** GRU4Rec's architecture from a model config (RecBole's defaults: embedding = factors 64, hidden 64, 1 layer, dropout 0.3) */
function gru4recConfig(cfg: ModelConfig) {
  const d = DEFAULT_GRU4REC
  return {embedding: cfg.factors, hidden: cfg.hidden ?? d.hidden, layers: cfg.layers ?? d.layers, maxLen: cfg.max_len ?? d.maxLen, dropout: cfg.dropout ?? d.dropout}
}

/** a seed for the model modules' own initialisers, drawn from the registry's rng */
const seedOf = (rng: Rng) => rng.int(0x7fffffff)

const sasrec: ModelSpec = {
  name: 'sasrec',
  description: 'SASRec (Kang & McAuley 2018): causal self-attention over the last max_len items, scores = state · item embeddings',
  trainable: true,
  losses: ['ce', 'bce'],
  needsNegatives: false,
  probabilities: false,
  sequential: true,
  check(cfg) {
    const c = sasrecConfig(cfg)
    if (c.hidden % c.heads !== 0) throw configError('model.hidden', `sasrec hidden (${c.hidden}) must be divisible by heads (${c.heads})`)
  },
  shapes: (cfg, dims) => sasrecShapes(dims.numItems, sasrecConfig(cfg)),
  init(cfg, dims, rng) {
    const w = initSasrec(dims.numItems, sasrecConfig(cfg), seedOf(rng))
    return {...w, numUsers: dims.numUsers, params: {...w.params, loss: resolveLoss(sasrec, cfg)}}
  },
}

const gru4rec: ModelSpec = {
  name: 'gru4rec',
  description: 'GRU4Rec (Hidasi et al. 2016): GRU over the last max_len items, scores = state · item embeddings, softmax cross-entropy',
  trainable: true,
  losses: ['ce'],
  needsNegatives: false,
  probabilities: false,
  sequential: true,
  shapes(cfg, dims) {
    const c = gru4recConfig(cfg)
    const shapes: Record<string, number[]> = {item_emb: [dims.numItems + 1, c.embedding]}
    for (let k = 0; k < c.layers; k++) {
      shapes[`gru_${k}.w`] = [3 * c.hidden, k === 0 ? c.embedding : c.hidden]
      shapes[`gru_${k}.r`] = [3 * c.hidden, c.hidden]
      shapes[`gru_${k}.b`] = [6 * c.hidden]
    }
    shapes['dense.kernel'] = [c.hidden, c.embedding]
    shapes['dense.bias'] = [c.embedding]
    return shapes
  },
  init(cfg, dims, rng) {
    return fromGru4recWeights(initGru4rec(dims.numItems, gru4recConfig(cfg), seedOf(rng)), dims.numUsers)
  },
}

/** RecBole's ItemKNN defaults (recbole/properties/model/ItemKNN.yaml): k 100, shrink 0 */
export const DEFAULT_ITEMKNN = {k: 100, shrink: 0}
/** RecBole's EASE default (recbole/properties/model/EASE.yaml): reg_weight 250 */
export const DEFAULT_EASE_LAMBDA = 250

/** the shapes of an item-item model: the interaction rows [U, I] and the item-item matrix [I, I] (src/models/itemitem.ts) */
const itemItemShapes = (dims: ModelDims) => ({user_emb: [dims.numUsers, dims.numItems], item_emb: [dims.numItems, dims.numItems]})

/** the training interactions a closed-form model is fitted on (trainModel passes split.train) */
function needTrain(name: string, train: Interactions | undefined): Interactions {
  if (!train) throw new Error(`${name} is fitted in closed form from the training interactions; init was called without them`)
  return train
}

/** a model fitted in closed form from the training interactions and stored as interaction rows × item-item matrix */
function itemItemSpec(name: 'itemknn' | 'ease', description: string, fit: (cfg: ModelConfig, train: Interactions, dims: ModelDims) => ModelWeights): ModelSpec {
  return {
    name,
    description,
    trainable: false,
    losses: [],
    needsNegatives: false,
    probabilities: false,
    sequential: false,
    shapes: (_cfg, dims) => itemItemShapes(dims),
    init: (cfg, dims, _rng, train) => fit(cfg, needTrain(name, train), dims),
  }
}

const itemknn = itemItemSpec(
  'itemknn',
  'ItemKNN as RecBole: item-item cosine over the training matrix, k nearest neighbours per item (default 100), shrink; fitted, not trained',
  (cfg, train, dims) => fitItemKnn(train, dims, {k: cfg.k ?? DEFAULT_ITEMKNN.k, shrink: cfg.shrink ?? DEFAULT_ITEMKNN.shrink}),
)

const ease = itemItemSpec(
  'ease',
  'EASE (Steck 2019): closed-form item-item weights B = I − P·diagMat(1/diag(P)), P = (XᵀX + λI)⁻¹ (λ default 250); fitted, not trained',
  (cfg, train, dims) => fitEase(train, dims, cfg.lambda ?? DEFAULT_EASE_LAMBDA),
)

/** NeuMF's two towers alone (He et al. 2017): each with its own sigmoid output layer, BCE with sampled negatives */
const gmf: ModelSpec = {
  name: 'gmf',
  description: 'GMF (He et al. 2017): element-wise product of user and item embeddings, learned output layer, sigmoid; BCE with sampled negatives',
  trainable: true,
  losses: ['bce'],
  needsNegatives: true,
  probabilities: true,
  sequential: false,
  shapes: (cfg, dims) => ({gmf_user: [dims.numUsers, cfg.factors], gmf_item: [dims.numItems, cfg.factors], 'out.kernel': [cfg.factors, 1], 'out.bias': [1]}),
  init(cfg, dims, rng) {
    const f = cfg.factors
    // as neumf's GMF tower (same forks): embeddings N(0, 0.01²), output Glorot uniform
    return {
      kind: 'gmf',
      ...dims,
      params: {factors: f, loss: 'bce'},
      tensors: {gmf_user: normal(rng.fork(1), [dims.numUsers, f], 0.01), gmf_item: normal(rng.fork(2), [dims.numItems, f], 0.01), 'out.kernel': glorot(rng.fork(6), f, 1), 'out.bias': zeros(1)},
    }
  },
}

const mlpModel: ModelSpec = {
  name: 'mlp',
  description: 'MLP (He et al. 2017): NeuMF\'s MLP tower alone over concatenated user and item embeddings, sigmoid output; BCE with sampled negatives',
  trainable: true,
  losses: ['bce'],
  needsNegatives: true,
  probabilities: true,
  sequential: false,
  check: (cfg) => checkMlpInput('mlp', cfg),
  shapes(cfg, dims) {
    const layers = cfg.mlp_layers
    const e = Math.floor(layers[0] / 2)
    const last = layers.length > 1 ? layers.at(-1)! : layers[0]
    return {mlp_user: [dims.numUsers, e], mlp_item: [dims.numItems, e], ...denseShapes('mlp', layers[0], layers.slice(1)), 'out.kernel': [last, 1], 'out.bias': [1]}
  },
  init(cfg, dims, rng) {
    const layers = cfg.mlp_layers
    const e = layers[0] / 2
    const tensors: Record<string, Tensor32> = {mlp_user: normal(rng.fork(3), [dims.numUsers, e], 0.01), mlp_item: normal(rng.fork(4), [dims.numItems, e], 0.01)}
    const last = denseStack(tensors, rng.fork(5), 'mlp', layers[0], layers.slice(1))
    tensors['out.kernel'] = glorot(rng.fork(6), last, 1)
    tensors['out.bias'] = zeros(1)
    return {kind: 'mlp', ...dims, params: {mlp_layers: [...layers], loss: 'bce'}, tensors}
  },
}

/** every model `rec` can train, by registry name */
export const modelRegistry: Readonly<Record<ModelKind, ModelSpec>> = {pop, mf, neumf, two_tower: twoTower, sasrec, gru4rec, itemknn, ease, gmf, mlp: mlpModel}
export const knownModels = Object.keys(modelRegistry) as ModelKind[]

/** the spec of a model name; unknown names fail with the list of known ones (config error, exit 2) */
export function getModelSpec(name: string): ModelSpec {
  const spec = (modelRegistry as Record<string, ModelSpec | undefined>)[name]
  if (!spec || !Object.hasOwn(modelRegistry, name)) {
    throw configError('model.unknown', `unknown model "${name}"; known models: ${knownModels.join(', ')}`, {hint: `use one of: ${knownModels.join(', ')}`})
  }
  return spec
}

/** float32 copies of every parameter while training: weights, gradients and Adam's two moments */
const TRAINING_COPIES = 4
const FLOAT_BYTES = 4

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** bytes a model of this config needs to train: every parameter × 4 bytes × (weights, gradients, 2 Adam moments) */
export function trainingBytes(cfg: ModelConfig, dims: ModelDims): number {
  const spec = getModelSpec(cfg.model)
  const params = Object.values(spec.shapes(cfg, dims)).reduce((a, s) => a + elements(s), 0)
  return params * FLOAT_BYTES * (spec.trainable ? TRAINING_COPIES : 1)
}

/** 3.3 TB, 512.0 MB: decimal units, as `free -H` and disk sizes */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000
    i++
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`
}

/**
 * Check a model config before allocating anything: architecture constraints, then memory. A model
 * that cannot fit in this machine's memory (or a tensor larger than a typed array can hold) would
 * otherwise die in `new Float32Array` with a RangeError or take the machine down: a config error
 * that says how much it needs is what the user can act on.
 */
export function checkModel(cfg: ModelConfig, dims: ModelDims, limitBytes: number = totalmem()): void {
  const spec = getModelSpec(cfg.model)
  spec.check?.(cfg)
  const shapes = spec.shapes(cfg, dims)
  const bytes = trainingBytes(cfg, dims)
  const largest = Math.max(...Object.values(shapes).map(elements))
  if (bytes > limitBytes) {
    const params = bytes / FLOAT_BYTES / (spec.trainable ? TRAINING_COPIES : 1)
    const what = spec.trainable ? `${params.toExponential(2)} parameters × 4 bytes × 4: weights, gradients and Adam's two moments` : `${params.toExponential(2)} parameters × 4 bytes`
    throw configError('model.too_large', `model ${modelLabel(cfg)} needs about ${formatBytes(bytes)} to train (${what}; ${dims.numUsers} users, ${dims.numItems} items); this machine has ${formatBytes(limitBytes)}`, {
      hint: 'lower factors (and mlp_layers / tower_layers)',
    })
  }
  if (largest > constants.MAX_LENGTH / FLOAT_BYTES) {
    throw configError('model.too_large', `model ${modelLabel(cfg)} has a tensor of ${largest.toExponential(2)} values (${formatBytes(largest * FLOAT_BYTES)}), more than one array can hold (${formatBytes(constants.MAX_LENGTH)})`, {
      hint: 'lower factors (and mlp_layers / tower_layers)',
    })
  }
}

/** initial weights for a model config: deterministic for a given seed; checked (shape, memory) before allocating */
export function initWeights(cfg: ModelConfig, dims: ModelDims, seed: number, train?: Interactions): ModelWeights {
  checkModel(cfg, dims)
  return getModelSpec(cfg.model).init(cfg, dims, new Rng(seed), train)
}
