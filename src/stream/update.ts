import type {ModelConfig, NegativesConfig, TrainConfig} from '../config/schema.js'
import type {Interactions, Split} from '../data/types.js'
import type {IdMap} from '../models/io.js'
import {getModelSpec, initWeights} from '../models/registry.js'
import {maxLenOf} from '../models/sequential.js'
import type {ModelWeights, Tensor32} from '../models/types.js'
import {trainModel} from '../train/train.js'

/** one new interaction, in the ids of the input data (what a server receives) */
export interface RawEvent {
  user: string
  item: string
  /** timestamp (any monotone unit, e.g. seconds); orders a batch's events */
  time: number
}

export interface FoldIn {
  weights: ModelWeights
  idmap: IdMap
  /** ids added to the id map, in order (their rows are the last ones of the tables) */
  newUsers: string[]
  newItems: string[]
}

/**
 * Fold unknown users and items into a model: the id maps grow (new ids appended in the order given)
 * and so does every table with a row per user or per item (mf / two_tower user_emb, item_emb; neumf
 * gmf_* / mlp_*; sasrec / gru4rec item_emb; pop item_pop). New rows are initialised as in training:
 * they are the same rows of a fresh initialisation at the grown size with `seed` (src/models/registry.ts
 * init). Known ids and every other tensor are kept as they are; the input weights are not modified.
 */
export function foldIn(model: ModelConfig, weights: ModelWeights, idmap: IdMap, users: Iterable<string>, items: Iterable<string>, seed: number): FoldIn {
  const add = (known: string[], ids: Iterable<string>): string[] => {
    const have = new Set(known)
    const out: string[] = []
    for (const id of ids) {
      if (have.has(id)) continue
      have.add(id)
      out.push(id)
    }
    return out
  }
  const newUsers = add(idmap.userIds, users)
  const newItems = add(idmap.itemIds, items)
  if (newUsers.length === 0 && newItems.length === 0) return {weights, idmap, newUsers, newItems}
  const dims = {numUsers: weights.numUsers + newUsers.length, numItems: weights.numItems + newItems.length}
  const spec = getModelSpec(model.model)
  const shapes = spec.shapes(model, dims)
  const fresh = initWeights(model, dims, seed)
  const tensors: Record<string, Tensor32> = {}
  for (const [name, t] of Object.entries(weights.tensors)) {
    const shape = shapes[name]
    if (!shape || shape.every((d, k) => d === t.shape[k])) {
      tensors[name] = t
      continue
    }
    if (shape.length !== t.shape.length || shape.slice(1).some((d, k) => d !== t.shape[k + 1]) || shape[0] < t.shape[0]) {
      throw new Error(`foldIn: ${name} [${t.shape}] cannot grow to [${shape}]`)
    }
    const data = new Float32Array(fresh.tensors[name].data)
    data.set(t.data)
    tensors[name] = {shape, data}
  }
  return {
    weights: {...weights, ...dims, tensors},
    idmap: {userIds: [...idmap.userIds, ...newUsers], itemIds: [...idmap.itemIds, ...newItems]},
    newUsers,
    newItems,
  }
}

/** interactions in a model's index space (rows in the given order; timestamps as given) */
export function modelInteractions(rows: {user: ArrayLike<number>; item: ArrayLike<number>; time: ArrayLike<number>}, idmap: IdMap): Interactions {
  const n = rows.user.length
  return {
    user: Int32Array.from(rows.user),
    item: Int32Array.from(rows.item),
    rating: new Float32Array(n).fill(1),
    timestamp: Float64Array.from(rows.time),
    length: n,
    numUsers: idmap.userIds.length,
    numItems: idmap.itemIds.length,
    userIds: idmap.userIds,
    itemIds: idmap.itemIds,
  }
}

/** a split whose train part is `train` (valid and test empty): what trainModel takes */
export function trainOnlySplit(train: Interactions): Split {
  const empty = modelInteractions({user: [], item: [], time: []}, {userIds: train.userIds, itemIds: train.itemIds})
  return {train, valid: empty, test: empty}
}

export interface IncrementalUpdateArgs {
  /** the model's architecture (as in models[]) */
  model: ModelConfig
  /** training settings of the update: epochs, lr, batch_size, optimizer, negatives, l2 (early stopping is not used) */
  train: TrainConfig
  negatives: NegativesConfig
  /** current float weights and their id map */
  weights: ModelWeights
  idmap: IdMap
  /** the new events, in raw ids; replayed in time order (ties: as given) */
  events: readonly RawEvent[]
  /**
   * sequential models (sasrec, gru4rec): each user's items before this batch, oldest first (raw
   * ids); the last max_len known ones are the context the batch's items are learned in. Pair
   * models ignore it.
   */
  history?: (user: string) => readonly string[]
  /** seed of the new rows' initialisation and of the update's sampling */
  seed: number
  signal?: AbortSignal
}

export interface IncrementalUpdate extends FoldIn {
  /** wall seconds of fold-in + training */
  seconds: number
  /** the update was aborted (signal): `weights` are the folded-in weights before training */
  interrupted: boolean
}

/**
 * The incremental update of a model by a batch of new events, free of any replay state (a server can
 * call it): fold unknown users / items in (foldIn: tables and id maps grow, new rows initialised as in
 * training), then train `train.epochs` epochs on the batch only with trainModel (a fresh optimizer per
 * call) starting from the current weights. Pair models (mf, neumf, two_tower) train on the batch's
 * (user, item) events with sampled negatives; sequential models on each batch user's sequence made of
 * its last max_len earlier items (context) followed by its batch items, so the context positions are
 * also targets; pop adds the batch's counts. Deterministic in `seed`.
 */
export async function updateIncrementally(args: IncrementalUpdateArgs): Promise<IncrementalUpdate> {
  const t0 = performance.now()
  const order = args.events.map((e, k) => ({e, k})).sort((a, b) => a.e.time - b.e.time || a.k - b.k).map((x) => x.e)
  const f = foldIn(args.model, args.weights, args.idmap, order.map((e) => e.user), order.map((e) => e.item), args.seed)
  const seconds = () => (performance.now() - t0) / 1000
  if (order.length === 0) return {...f, seconds: seconds(), interrupted: false}
  const userIndex = new Map(f.idmap.userIds.map((id, k) => [id, k]))
  const itemIndex = new Map(f.idmap.itemIds.map((id, k) => [id, k]))
  const spec = getModelSpec(args.model.model)
  if (!spec.trainable) {
    // pop: counts, nothing to train
    const counts = new Float32Array(f.weights.tensors.item_pop.data)
    for (const e of order) counts[itemIndex.get(e.item)!] += 1
    return {...f, weights: {...f.weights, tensors: {item_pop: {shape: [counts.length], data: counts}}}, seconds: seconds(), interrupted: false}
  }
  const user: number[] = []
  const item: number[] = []
  if (spec.sequential) {
    const maxLen = maxLenOf(f.weights)
    const byUser = new Map<string, number[]>()
    for (const e of order) {
      const list = byUser.get(e.user) ?? []
      list.push(itemIndex.get(e.item)!)
      byUser.set(e.user, list)
    }
    for (const [u, batchItems] of byUser) {
      const known = (args.history?.(u) ?? []).map((i) => itemIndex.get(i)).filter((i): i is number => i !== undefined)
      for (const i of [...known.slice(-maxLen), ...batchItems]) {
        user.push(userIndex.get(u)!)
        item.push(i)
      }
    }
  } else {
    for (const e of order) {
      user.push(userIndex.get(e.user)!)
      item.push(itemIndex.get(e.item)!)
    }
  }
  // timestamps: the row order (sequences are read in time order, ties by row)
  const train = modelInteractions({user, item, time: user.map((_, k) => k)}, f.idmap)
  const r = await trainModel({
    model: args.model,
    train: {...args.train, early_stopping: null},
    negatives: args.negatives,
    split: trainOnlySplit(train),
    seed: args.seed,
    init: f.weights,
    signal: args.signal,
  })
  return {...f, weights: r.interrupted ? f.weights : r.weights, seconds: seconds(), interrupted: r.interrupted}
}
