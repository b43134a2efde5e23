import type {TrainConfig} from '../config/schema.js'
import {createNegativeSampler} from '../data/negatives.js'
import type {ModelWeights} from '../models/types.js'
import type {Loss} from '../models/registry.js'
import {Rng} from '../rng.js'
import type {OptimizerState} from './optimizer-files.js'
import type {TrainArgs} from './train.js'

/**
 * What the epoch loop drives: the model's parameters and optimizer, and the batches of one epoch.
 * Pair models (mf, neumf, two_tower) train on (user, item) rows with sampled negatives; sequential
 * models (sasrec, gru4rec) on windows of next-item targets. Two implementations of pair training:
 * the tfjs one (any pair model, any backend, distillation) and the kernel one (mf and neumf over
 * typed arrays, src/train/kernel-pair.ts). The loop (resume, checkpoints, masks, early stopping,
 * progress, Ctrl-C) is the same for all.
 */
export interface Engine {
  /** what a row is, for progress and the history's rowsPerSec */
  readonly rowName: string
  /** which implementation steps: 'tfjs' or 'kernels' */
  readonly implementation: 'tfjs' | 'kernels'
  /** one epoch's steps, in order, drawing from `rng` (the epoch's stream); each step returns its mean loss and row count */
  epoch(rng: Rng, epochSeed: number): Generator<{loss: number; rows: number; fraction: number}>
  /** names and shapes of the parameters (masks may only name these) */
  shapes(): Record<string, number[]>
  /** hold these weights at zero from now on (multiplied in after every step; applied at once) */
  setMasks(masks: Record<string, Uint8Array>): void
  applyMasks(): void
  toWeights(): ModelWeights
  /** a copy of the optimizer's slots (Adam: step count, first and second moments), for a checkpoint */
  optimizerState(): Promise<OptimizerState>
  /** the optimizer's slots from a checkpoint folder (tfjs' layout: either engine reads the other's) */
  loadOptimizer(dir: string): Promise<void>
  dispose(): void
}

/**
 * An Rng whose stream can be swapped: the negative sampler keeps one reference for the whole run,
 * and each epoch gets a fresh stream derived from (seed, epoch), so a resumed run samples the same
 * negatives as an uninterrupted one.
 */
export class SwitchableRng extends Rng {
  private current: Rng
  constructor(initial: Rng) {
    super(0)
    this.current = initial
  }
  use(r: Rng): void {
    this.current = r
  }
  override next(): number {
    return this.current.next()
  }
}

export function epochRng(seed: number, epoch: number): Rng {
  return new Rng((Math.imul(seed, 0x9e3779b1) + Math.imul(epoch, 0x85ebca6b) + 0x1234567) | 0)
}

/** one batch of pair rows, valid until the generator resumes */
export interface PairBatch {
  /** rows in the batch */
  m: number
  users: Int32Array
  items: Int32Array
  /** BPR: the negative item of each triple */
  negItems: Int32Array
  /** BCE: 1 for the positive, 0 for a sampled negative */
  labels: Float32Array
  /** share of the epoch's positives done after this batch */
  fraction: number
}

/**
 * The batches of pair training, the same for every engine (so an engine choice never changes the
 * data): BPR rows are (u, i⁺, i⁻) triples, `negatives` per positive; BCE rows the positive
 * (label 1) plus `negatives` sampled items (label 0). A batch holds ⌊batch_size / rows per
 * positive⌋ positives with all their rows, so batch_size counts rows, as in the NCF reference code.
 * Each epoch shuffles the positives and samples fresh negatives from the epoch's stream.
 */
export function pairBatches(args: Pick<TrainArgs, 'split' | 'negatives' | 'seed'>, tc: TrainConfig, loss: Loss) {
  const {split} = args
  const nNeg = tc.negatives
  const rowsPerPos = loss === 'bpr' ? nNeg : 1 + nNeg
  const posPerBatch = Math.max(1, Math.floor(tc.batch_size / rowsPerPos))
  const rng = new SwitchableRng(epochRng(args.seed, 0))
  const sampler = createNegativeSampler(split.train, args.negatives, rng)
  const P = split.train.length
  const trainUsers = split.train.user
  const trainItems = split.train.item
  const order = new Int32Array(P)
  const maxRows = posPerBatch * rowsPerPos
  const batch: PairBatch = {
    m: 0,
    users: new Int32Array(maxRows),
    items: new Int32Array(maxRows),
    negItems: new Int32Array(maxRows),
    labels: new Float32Array(maxRows),
    fraction: 0,
  }
  const negs = new Int32Array(Math.max(1, nNeg))
  return {
    maxRows,
    *epoch(stream: Rng): Generator<PairBatch> {
      const {users: bu, items: bi, negItems: bj, labels: by} = batch
      rng.use(stream)
      for (let k = 0; k < P; k++) order[k] = k
      rng.shuffle(order)
      for (let p0 = 0; p0 < P; p0 += posPerBatch) {
        const p1 = Math.min(P, p0 + posPerBatch)
        let m = 0
        for (let p = p0; p < p1; p++) {
          const r = order[p]
          const user = trainUsers[r]
          const item = trainItems[r]
          sampler.sampleMany(user, nNeg, negs)
          if (loss === 'bpr') {
            for (let k = 0; k < nNeg; k++, m++) {
              bu[m] = user
              bi[m] = item
              bj[m] = negs[k]
            }
          } else {
            bu[m] = user
            bi[m] = item
            by[m++] = 1
            for (let k = 0; k < nNeg; k++, m++) {
              bu[m] = user
              bi[m] = negs[k]
              by[m] = 0
            }
          }
        }
        batch.m = m
        batch.fraction = p1 / P
        yield batch
      }
    },
  }
}
