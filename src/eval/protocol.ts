import type {NegativesConfig, SplitConfig} from '../config/schema.js'
import {shortNumber} from '../report/format.js'

/**
 * How the numbers were obtained. Printed in every report next to them, because "ndcg@10 = 0.41"
 * means nothing without it (full ranking vs 1 + 99 sampled negatives differ by a factor of ~3).
 */
export interface Protocol {
  mode: 'full' | 'sampled'
  part: 'valid' | 'test'
  /** 'all items' (full) or '1 positive + 99 sampled negatives' (sampled) */
  candidates: string
  /**
   * full: 'train items' (part valid) or 'train + validation items' (part test), scored -Infinity;
   * sampled: 'items the user interacted with (never sampled as negatives)'
   */
  excluded: string
  /** e.g. 'test users with at least one test item' */
  users: string
  k: number[]
  /** probability threshold of the pointwise metrics */
  threshold: number
  /** where the threshold came from: the config value, the caller, or the F1-best on validation */
  thresholdSource: 'config' | 'argument' | 'validation'
  /** the negative sampler; `perPositive` is the ranking negatives (sampled mode) or null (full) */
  negatives: NegativesConfig & {perPositive: number | null}
  seed: number
  /** the split section of the config, when known (the run's protocol carries it; evaluate does not know it) */
  split?: Partial<SplitConfig>
  /** what the sequential models of the run see (see describeHistories); absent without one */
  histories?: string
}

/**
 * The split in words, e.g. "random per-user 80/10/10 split", "temporal global 80/10/10 split
 * (input row order)", "leave-one-out split (latest events)": two runs whose numbers are not
 * comparable because their splits differ must not print the same protocol line.
 */
export function describeSplit(split: Partial<SplitConfig>): string {
  const scope = split.scope === 'global' ? 'global' : 'per-user'
  const ratios = (split.ratios ?? [0.8, 0.1, 0.1]).map((r) => Number((r * 100).toFixed(1))).join('/')
  const rows = split.row_order ? ' (input row order)' : ''
  switch (split.method) {
    case 'leave_one_out':
      return `leave-one-out split (${split.order === 'random' ? 'random' : 'latest'} events${split.validation === 'none' ? ', no validation event' : ''})${rows}`
    case 'files':
      return `split given as files (${['train', 'valid', 'test'].filter((k) => split[k as 'train']).map((k) => (k === 'valid' ? 'validation' : k)).join(', ')})`
    case 'temporal':
      return `temporal ${scope} ${ratios} split${rows}`
    default:
      return `random ${scope} ${ratios} split`
  }
}

export const partName = (part: 'valid' | 'test'): string => (part === 'test' ? 'test' : 'validation')

/**
 * One or two human lines that say how the numbers were obtained, e.g.
 * "Full ranking over all items on the test part (train + validation items excluded); test users
 * with at least one test item; K = 10, 20; seed 42." + a line on the pointwise metrics.
 * Tolerates partial protocol objects (missing part → test; a bare number of negatives).
 * `seeds` replaces the seed: several (runs of one protocol with different seeds, which compare
 * fine: a seed is a random draw, not a protocol) or none (`[]`, the protocol as such).
 */
export function describeProtocol(p: Protocol, options: {seeds?: number[]} = {}): string {
  const part = partName(p.part ?? 'test')
  const of = p.split && typeof p.split === 'object' ? ` of a ${describeSplit(p.split)}` : ''
  const neg = (typeof p.negatives === 'object' && p.negatives !== null ? p.negatives : {}) as Partial<Protocol['negatives']>
  const sampler = neg.sampler === 'popularity' ? `popularity^${neg.exponent}` : 'uniform'
  const ranking =
    p.mode === 'sampled'
      ? `Sampled ranking on the ${part} part${of}: ${p.candidates} (${sampler}) per ${part} item`
      : `Full ranking over ${p.candidates ?? 'all items'} on the ${part} part${of} (${p.excluded ?? 'train + validation items'} excluded)`
  const k = Array.isArray(p.k) ? p.k.join(', ') : String(p.k)
  const seeds = options.seeds ?? (p.seed === undefined ? [] : [p.seed])
  const seed = seeds.length === 0 ? '' : `; seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ')}`
  const thr =
    typeof p.threshold === 'number'
      ? `${shortNumber(p.threshold)}${p.thresholdSource === 'validation' ? ' (best F1 on validation)' : ''}`
      : 'best F1 on validation'
  return (
    `${ranking}; ${p.users ?? `${part} users with at least one ${part} item`}; K = ${k}${seed}.\n` +
    (typeof p.histories === 'string' ? `${p.histories}\n` : '') +
    `Pointwise: ${part} positives vs as many ${sampler} sampled negatives, threshold ${thr}.`
  )
}

/**
 * What sequential models see, e.g. "Sequential models (sasrec: last 50 items, gru4rec: last 50)
 * read each user's items in time order (ties by input row), left-padded: train + validation items
 * to predict the test item." Undefined when no model is sequential.
 */
export function describeHistories(models: {label: string; maxLen: number}[], part: 'valid' | 'test' = 'test'): string | undefined {
  if (models.length === 0) return undefined
  const list = models.map((m) => `${m.label}: last ${m.maxLen} items`).join(', ')
  const seen = part === 'test' ? 'train + validation items to predict the test item' : 'train items to predict the validation item'
  return `Sequential models (${list}) read each user's items in time order (ties by input row), left-padded: ${seen}.`
}

