import type {Scorer} from '../models/types.js'

/** a model as served: its scorer and a version that changes with every swap */
export interface ServedModel {
  scorer: Scorer
  /** 1 for the model loaded at start, +1 per swap */
  version: number
}

interface Slot {
  model: ServedModel
  inFlight: number
  retired: boolean
}

/** a model borrowed for one scoring call: release it when done (the holder disposes a swapped-out model after its last release) */
export interface Lease {
  readonly model: ServedModel
  release(): void
}

/**
 * The served model, swapped atomically. A request takes a lease on the current model for the whole
 * of its scoring (`acquire` … `release`): a swap only changes which model the *next* lease gets, so
 * a request sees either the old model or the new one, never a mix, and the old model is disposed
 * after its last lease is released (no scoring call ever runs on a released ONNX session).
 */
export class ModelHolder {
  private slot: Slot
  private readonly listeners: ((model: ServedModel) => void)[] = []

  constructor(scorer: Scorer) {
    this.slot = {model: {scorer, version: 1}, inFlight: 0, retired: false}
  }

  get current(): ServedModel {
    return this.slot.model
  }

  acquire(): Lease {
    const slot = this.slot
    slot.inFlight++
    let released = false
    return {
      model: slot.model,
      release: () => {
        if (released) return
        released = true
        slot.inFlight--
        if (slot.retired && slot.inFlight === 0) slot.model.scorer.dispose()
      },
    }
  }

  /** serve `scorer` from now on (version + 1); listeners run before the next lease is taken */
  swap(scorer: Scorer): ServedModel {
    const old = this.slot
    const model = {scorer, version: old.model.version + 1}
    this.slot = {model, inFlight: 0, retired: false}
    old.retired = true
    if (old.inFlight === 0) old.model.scorer.dispose()
    for (const l of this.listeners) l(model)
    return model
  }

  /** called on every swap (the answer cache drops what the old model computed) */
  onSwap(listener: (model: ServedModel) => void): void {
    this.listeners.push(listener)
  }

  dispose(): void {
    this.slot.retired = true
    if (this.slot.inFlight === 0) this.slot.model.scorer.dispose()
  }
}
