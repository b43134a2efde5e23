import type {EvalConfig, NegativesConfig, TrainConfig} from '../config/schema.js'
import {selectRows} from '../data/arrays.js'
import type {Sequences} from '../data/sequences.js'
import type {Interactions, Split} from '../data/types.js'
import {usageError} from '../errors.js'
import {evaluate} from '../eval/evaluate.js'
import type {ParsedMetric} from '../eval/metrics.js'
import {createTfjsScorer} from '../models/scorer.js'
import type {ModelWeights} from '../models/types.js'
import {Rng} from '../rng.js'

/**
 * Validation users per early-stopping check when train.early_stopping.users is not set: every
 * user of ML-100K (943) and ML-1M (6,040) is validated exactly; ML-20M (138k) validates a fixed
 * sample of 10,000.
 */
export const DEFAULT_VALIDATION_USERS = 10_000
/** salt of the validation sample's random stream (independent of training's and evaluation's) */
const STREAM_VALIDATION_SAMPLE = 41

/**
 * The validation part restricted to a seeded sample of `n` of its users (the same users at every
 * check, so that epochs compare), or the part itself when it has at most `n` users. `users`:
 * distinct users kept; `usersTotal`: distinct users of the part.
 */
export function sampleValidationUsers(valid: Interactions, n: number, seed: number): {part: Interactions; users: number; usersTotal: number} {
  const seen = new Uint8Array(valid.numUsers)
  let total = 0
  for (let r = 0; r < valid.length; r++) {
    if (seen[valid.user[r]] === 0) {
      seen[valid.user[r]] = 1
      total++
    }
  }
  if (total <= n) return {part: valid, users: total, usersTotal: total}
  const present = new Int32Array(total)
  let w = 0
  for (let u = 0; u < valid.numUsers; u++) if (seen[u]) present[w++] = u
  new Rng(seed).fork(STREAM_VALIDATION_SAMPLE).shuffle(present)
  const keep = new Uint8Array(valid.numUsers)
  for (let j = 0; j < n; j++) keep[present[j]] = 1
  const rows = new Int32Array(valid.length)
  let m = 0
  for (let r = 0; r < valid.length; r++) if (keep[valid.user[r]]) rows[m++] = r
  return {part: selectRows(valid, rows, m), users: n, usersTotal: total}
}

export interface Validation {
  /** trainModel's `validate`: the early-stopping metric of these weights, higher is better */
  validate: (weights: ModelWeights) => Promise<number>
  /** validation users per check, and in the whole validation part */
  users: number
  usersTotal: number
}

/**
 * Early stopping's validation: the test evaluator itself (evaluate: users scored eval.batch_users
 * at a time, top-K by partial selection, pointwise metrics only when the metric is one) on the
 * validation part of a fixed, seeded sample of `es.users` users (DEFAULT_VALIDATION_USERS).
 */
export function createValidation(args: {
  split: Split
  es: NonNullable<TrainConfig['early_stopping']>
  metric: ParsedMetric
  /** the protocol (pipeline.ts validationEvalConfig) */
  cfg: EvalConfig
  seed: number
  negatives: NegativesConfig
  histories?: Sequences
}): Validation {
  const {es, metric} = args
  const sample = sampleValidationUsers(args.split.valid, es.users ?? DEFAULT_VALIDATION_USERS, args.seed)
  const split: Split = {...args.split, valid: sample.part}
  const validate = async (weights: ModelWeights): Promise<number> => {
    const scorer = createTfjsScorer(weights, {histories: args.histories})
    try {
      const r = await evaluate({
        scorer,
        split,
        part: 'valid',
        cfg: args.cfg,
        seed: args.seed,
        negatives: args.negatives,
        pointwise: metric.info.kind === 'pointwise',
        negativesSetting: 'train.early_stopping.negatives',
      })
      const v = r.metrics[metric.key]
      if (v === undefined) throw usageError('config.bad_metric', `early_stopping.metric ${es.metric} is not computed by evaluation (known: ${Object.keys(r.metrics).join(', ')})`)
      return metric.info.higherIsBetter ? v : -v
    } finally {
      scorer.dispose()
    }
  }
  return {validate, users: sample.users, usersTotal: sample.usersTotal}
}

/** what validation cost in one training run, from its epoch records (train.json history) */
export interface ValidationShare {
  /** validation checks run */
  checks: number
  /** seconds spent validating, and training (epochs only) */
  validSeconds: number
  trainSeconds: number
  /** validSeconds / (validSeconds + trainSeconds): validation's share of the train stage's epoch loop */
  share: number
}

export function validationShare(history: readonly {seconds: number; validSeconds?: number}[]): ValidationShare {
  let validSeconds = 0
  let trainSeconds = 0
  let checks = 0
  for (const h of history) {
    trainSeconds += h.seconds
    if (h.validSeconds !== undefined) {
      validSeconds += h.validSeconds
      checks++
    }
  }
  const total = validSeconds + trainSeconds
  return {checks, validSeconds, trainSeconds, share: total > 0 ? validSeconds / total : 0}
}
