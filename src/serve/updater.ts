import {compressVariant} from '../compress/registry.js'
import {fromWeights} from '../compress/tensors.js'
import {modelTrainConfig} from '../config/schema.js'
import type {Interactions} from '../data/types.js'
import {usageError} from '../errors.js'
import type {ModelWeights, Scorer} from '../models/types.js'
import {isSequential} from '../models/sequential.js'
import {exportOnnx} from '../onnx/export.js'
import {createOnnxScorer} from '../onnx/scorer.js'
import {calibrationHistories} from '../run/compress-stage.js'
import {trainModel} from '../train/train.js'
import {KnownInteractions, type PostedEvent} from './known.js'
import type {ServedVariant} from './loader.js'
import type {Recommender} from './recommender.js'

/**
 * The one seam between serving and model updates: given the events posted since the last update,
 * return the scorer of the next model to serve (or undefined: nothing to learn). It runs in the
 * background; the server keeps answering with the current model and swaps the new one in
 * atomically when it is ready (ModelHolder.swap).
 */
export interface ModelUpdater {
  update(events: PostedEvent[]): Promise<Scorer | undefined>
}

/** the ORT scorer of a served variant, as evaluation builds it (evaluate-stage.ts): one thread, the model's probabilities flag, the live histories of a sequential model */
export function servedScorer(onnx: Uint8Array, served: Pick<ServedVariant, 'weights' | 'probabilities'>, known: KnownInteractions): Promise<Scorer> {
  return createOnnxScorer(onnx, served.weights.numItems, {
    probabilities: served.probabilities,
    batchUsers: 256,
    intraOpThreads: 1,
    ...(isSequential(served.weights.kind) ? {histories: known.histories} : {}),
  })
}

/**
 * An update by training (until the stream strategy of src/stream/ replaces this body): the float
 * weights so far (the run's trained base at first) are trained for `serve.update.epochs` epochs
 * with the run's training settings on the new events of known users and items (a sequential model:
 * on those users' whole histories, the new events at their end, since it learns from sequences),
 * then the served variant is made again from them with the run's own compression code
 * (compressVariant with the variant's recipe, no fine-tuning) and exported to ONNX. Unknown users
 * and items are left out (no fold-in yet). Distilled variants cannot be updated this way (their
 * student would have to be trained again).
 */
export function createTrainingUpdater(served: ServedVariant, known: KnownInteractions): ModelUpdater {
  if (served.spec?.steps.some((s) => s.method === 'distill')) {
    throw usageError('serve.update_distilled', `--update incremental cannot update the distilled variant ${served.variant}`, {hint: 'serve the base model or a compression variant of it'})
  }
  let weights: ModelWeights = served.base
  let round = 0
  const {cfg, split} = served
  return {
    async update(events) {
      const fresh = KnownInteractions.asInteractions(events, split.train)
      if (fresh.length === 0) return undefined
      round++
      const train: Interactions = isSequential(weights.kind) ? historiesOf(fresh, known) : fresh
      const r = await trainModel({
        model: served.modelConfig,
        train: {...modelTrainConfig(cfg, served.modelConfig), epochs: cfg.serve.update.epochs, early_stopping: null},
        negatives: cfg.negatives,
        split: {train, valid: emptyLike(train), test: emptyLike(train)},
        seed: cfg.seed + 1000 + round,
        init: weights,
      })
      weights = r.weights
      const calibration = calibrationHistories(split, weights)
      const model = served.spec ? compressVariant(weights, {...served.spec, finetune: {epochs: 0}}, {calibration}).model : fromWeights(weights)
      return servedScorer(exportOnnx(model, {calibration}), served, known)
    },
  }
}

/** the whole known histories (with the posted events at their end) of the users in `fresh` */
function historiesOf(fresh: Interactions, known: KnownInteractions): Interactions {
  const users = [...new Set(fresh.user)].sort((a, b) => a - b)
  const h = known.histories
  const rows: {u: number; i: number; t: number}[] = []
  for (const u of users) for (let j = h.offsets[u]; j < h.offsets[u + 1]; j++) rows.push({u, i: h.items[j], t: j})
  return {
    ...fresh,
    user: Int32Array.from(rows, (r) => r.u),
    item: Int32Array.from(rows, (r) => r.i),
    rating: new Float32Array(rows.length).fill(1),
    timestamp: Float64Array.from(rows, (r) => r.t),
    length: rows.length,
  }
}

function emptyLike(p: Interactions): Interactions {
  return {...p, user: new Int32Array(0), item: new Int32Array(0), rating: new Float32Array(0), timestamp: new Float64Array(0), length: 0}
}

/**
 * Runs updates in the background: once `minEvents` events are pending, one update at a time takes
 * them, and its model is swapped in when ready. A failed update keeps the served model (counted in
 * rec_update_failures_total and reported through `onError`).
 */
export class BackgroundUpdates {
  private running: Promise<void> | undefined
  private closed = false

  constructor(
    private readonly updater: ModelUpdater,
    private readonly recommender: Recommender,
    private readonly minEvents: number,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** called after events were posted */
  notify(): void {
    if (this.closed || this.running || this.recommender.known.pendingCount < this.minEvents) return
    const events = this.recommender.known.takePending()
    this.running = (async () => {
      try {
        const scorer = await this.updater.update(events)
        if (scorer && this.closed) scorer.dispose()
        else if (scorer) this.recommender.holder.swap(scorer)
      } catch (err) {
        this.recommender.metrics.updateFailures++
        this.onError(err)
      } finally {
        this.running = undefined
      }
      this.notify()
    })()
  }

  /** resolves when no update is running */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  async close(): Promise<void> {
    this.closed = true
    await this.idle()
  }
}
