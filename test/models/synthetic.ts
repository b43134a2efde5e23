import type {ModelConfig, NegativesConfig, TrainConfig} from '../../src/config/schema.js'
import type {Interactions, Split} from '../../src/data/types.js'
import {Rng} from '../../src/rng.js'

/** interactions from (user, item) pairs over a fixed id space */
export function interactions(pairs: [number, number][], numUsers: number, numItems: number): Interactions {
  const n = pairs.length
  return {
    user: Int32Array.from(pairs, (p) => p[0]),
    item: Int32Array.from(pairs, (p) => p[1]),
    rating: new Float32Array(n).fill(1),
    timestamp: Float64Array.from(pairs, (_, k) => k),
    length: n,
    numUsers,
    numItems,
    userIds: Array.from({length: numUsers}, (_, u) => `u${u}`),
    itemIds: Array.from({length: numItems}, (_, i) => `i${i}`),
  }
}

/**
 * Planted structure: users < numUsers/2 like only items < numItems/2, the others only the rest.
 * Each user gets `perUser` train positives and `validPerUser` validation positives, all distinct.
 */
export function plantedSplit(numUsers = 60, numItems = 40, perUser = 8, validPerUser = 2, seed = 3): Split {
  const rng = new Rng(seed)
  const half = numItems / 2
  const train: [number, number][] = []
  const valid: [number, number][] = []
  for (let u = 0; u < numUsers; u++) {
    const base = u < numUsers / 2 ? 0 : half
    const items = rng.shuffle(Int32Array.from({length: half}, (_, k) => base + k))
    for (let k = 0; k < perUser; k++) train.push([u, items[k]])
    for (let k = perUser; k < perUser + validPerUser; k++) valid.push([u, items[k]])
  }
  return {train: interactions(train, numUsers, numItems), valid: interactions(valid, numUsers, numItems), test: interactions([], numUsers, numItems)}
}

/** the item is in the user's planted half */
export function liked(user: number, item: number, numUsers = 60, numItems = 40): boolean {
  return user < numUsers / 2 === item < numItems / 2
}

/**
 * Per user, the fraction of (liked, not-liked) item pairs ordered correctly by the scores,
 * averaged over users (an AUC of the planted structure).
 */
export function plantedAuc(scores: Float32Array, numUsers: number, numItems: number): number {
  let sum = 0
  for (let u = 0; u < numUsers; u++) {
    let good = 0
    let total = 0
    for (let a = 0; a < numItems; a++) {
      if (!liked(u, a, numUsers, numItems)) continue
      for (let b = 0; b < numItems; b++) {
        if (liked(u, b, numUsers, numItems)) continue
        const sa = scores[u * numItems + a]
        const sb = scores[u * numItems + b]
        good += sa > sb ? 1 : sa === sb ? 0.5 : 0
        total++
      }
    }
    sum += good / total
  }
  return sum / numUsers
}

export function modelConfig(model: ModelConfig['model'], over: Partial<ModelConfig> = {}): ModelConfig {
  return {model, factors: 8, loss: 'bpr', mlp_layers: [16, 8], tower_layers: [16, 8], ...over}
}

export function trainConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return {optimizer: 'adam', lr: 0.01, batch_size: 64, epochs: 10, l2: 0, negatives: 2, early_stopping: null, eval_every: 1, ...over}
}

export const uniformNegatives: NegativesConfig = {sampler: 'uniform', exponent: 0.75}
