import {compressVariant} from '../compress/registry.js'
import {fromWeights} from '../compress/tensors.js'
import {modelTrainConfig} from '../config/schema.js'
import {usageError} from '../errors.js'
import type {ModelWeights, Scorer} from '../models/types.js'
import {isSequential} from '../models/sequential.js'
import {exportOnnx} from '../onnx/export.js'
import {createOnnxScorer} from '../onnx/scorer.js'
import {calibrationHistories} from '../run/compress-stage.js'
import {updateIncrementally} from '../stream/update.js'
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
 * The stream's incremental strategy (src/stream/update.ts, updateIncrementally) behind the server:
 * the float weights so far (the run's trained base at first) are trained for
 * `serve.update.epochs` epochs with the run's training settings on the new events of known users
 * and items (a sequential model: each user's last max_len earlier items are the context the new
 * ones are learned in), then the served variant is made again from them with the run's own
 * compression code (compressVariant with the variant's recipe, no fine-tuning) and exported to
 * ONNX. Events of unknown users or items are not learned: the served id space (exclusion sets,
 * histories, popularity) is fixed at startup, so they stay with the popularity answer. Distilled
 * variants cannot be updated this way (their student would have to be trained again).
 */
export function createTrainingUpdater(served: ServedVariant, known: KnownInteractions): ModelUpdater {
  if (served.spec?.steps.some((s) => s.method === 'distill')) {
    throw usageError('serve.update_distilled', `--update incremental cannot update the distilled variant ${served.variant}`, {hint: 'serve the base model or a compression variant of it'})
  }
  let weights: ModelWeights = served.base
  let round = 0
  const {cfg, split} = served
  const idmap = {userIds: split.train.userIds, itemIds: split.train.itemIds}
  return {
    async update(events) {
      const fresh = events.filter((e) => e.user >= 0 && e.item >= 0)
      if (fresh.length === 0) return undefined
      round++
      const history = isSequential(weights.kind) ? historiesBefore(fresh, known) : undefined
      const r = await updateIncrementally({
        model: served.modelConfig,
        train: {...modelTrainConfig(cfg, served.modelConfig), epochs: cfg.serve.update.epochs},
        negatives: cfg.negatives,
        weights,
        idmap,
        events: fresh.map((e) => ({user: e.rawUser, item: e.rawItem, time: e.timestamp})),
        history: history && ((user) => history.get(user) ?? []),
        seed: cfg.seed + 1000 + round,
      })
      weights = r.weights
      const calibration = calibrationHistories(split, weights)
      const model = served.spec ? compressVariant(weights, {...served.spec, finetune: {epochs: 0}}, {calibration}).model : fromWeights(weights)
      return servedScorer(exportOnnx(model, {calibration}), served, known)
    },
  }
}

/**
 * Each user's items before `fresh` (raw ids, oldest first): the live history without its last
 * entries, which are the user's posted events of this update (posted events are appended at once,
 * in posting order). Read when the update starts, before anything else can be posted.
 */
function historiesBefore(fresh: PostedEvent[], known: KnownInteractions): Map<string, string[]> {
  const count = new Map<number, number>()
  for (const e of fresh) count.set(e.user, (count.get(e.user) ?? 0) + 1)
  const h = known.histories
  const out = new Map<string, string[]>()
  for (const [u, n] of count) {
    const items = Array.from(h.items.subarray(h.offsets[u], h.offsets[u + 1] - n), (i) => known.itemIds[i])
    out.set(known.userIds[u], items)
  }
  return out
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
