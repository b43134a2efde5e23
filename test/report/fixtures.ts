import type {Protocol} from '../../src/eval/protocol.js'

/** the full-ranking protocol of a test run (K = 10 unless `k` says otherwise) */
export function fullProtocol(k: number[] = [10]): Protocol {
  return {
    mode: 'full',
    part: 'test',
    candidates: 'all items',
    excluded: 'train + validation items',
    users: 'test users with at least one test item',
    k,
    threshold: 0.5,
    thresholdSource: 'config',
    negatives: {sampler: 'uniform', exponent: 0.75, perPositive: null},
    seed: 42,
  }
}
