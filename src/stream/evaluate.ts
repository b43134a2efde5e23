import type {Sequences} from '../data/sequences.js'
import {TOPK_FUNCTIONS, type ItemSet} from '../eval/metrics.js'
import {TopK} from '../eval/topk.js'
import type {Scorer} from '../models/types.js'

/** the prequential metrics: HR@K, NDCG@K, MRR@K (src/eval/metrics.ts), one relevant item per event */
export const STREAM_METRICS = ['hr', 'ndcg', 'mrr'] as const

export const metricKeys = (ks: readonly number[]): string[] => ks.flatMap((k) => STREAM_METRICS.map((m) => `${m}@${k}`))

/**
 * What everyone knows at the start of a window, in global ids: each user's items so far in time order
 * (`history[u]`, grown by the window's events as they are evaluated), and the popularity counts of the
 * events before the window (`popularity`; 0: never seen, not recommendable by the fallback).
 */
export interface WindowContext {
  users: Int32Array
  items: Int32Array
  /** number of the user's earlier items (history[u].slice(0, before[j]) precede event j) */
  before: Int32Array
  history: number[][]
  popularity: Float64Array
  numItems: number
}

/** a strategy's model as the evaluation sees it: global ↔ model index maps and a scorer factory */
export interface ModelView {
  /** global user → model user index, −1: unknown */
  userOf: Int32Array
  /** global item → model item index, −1: unknown */
  itemOf: Int32Array
  /** model item index → global item */
  globalItem: Int32Array
  sequential: boolean
  maxLen: number
  /** a scorer of the current weights; sequential models score the given histories (one row per "user") */
  scorer(histories?: Sequences): Promise<Scorer>
}

export interface WindowScores {
  events: number
  /** events whose user the model cannot score (pair: not in the model; sequential: no known earlier item): popularity fallback */
  coldUsers: number
  /** events whose item the model does not know (it can only be hit through the popularity fallback) */
  coldItems: number
  /** mean over the window's events */
  metrics: Record<string, number>
}

class One implements ItemSet {
  constructor(private readonly x: number) {}
  readonly size = 1
  has(i: number): boolean {
    return i === this.x
  }
}

const CHUNK = 256

/**
 * Evaluate one window before learning from it (prequential): every event (u, i) is ranked against
 * all items the model knows, the user's earlier items excluded (those before the window and those
 * earlier in the window); the model is the one from before the window. Sequential models read the
 * user's earlier items (unknown items dropped, the last max_len) as their input, so their histories
 * grow inside the window without any update. A user the model cannot score gets the popularity of
 * all events before the window (items never seen before the window are not recommended). HR / NDCG /
 * MRR at each K come from src/eval/metrics.ts with the event's item as the one relevant item; ties in
 * the ranking: lower global item id first (src/eval/topk.ts).
 */
export async function evaluateWindow(ctx: WindowContext, view: ModelView, ks: readonly number[]): Promise<WindowScores> {
  const n = ctx.users.length
  const maxK = Math.max(...ks)
  const keys = metricKeys(ks)
  const sums = new Float64Array(keys.length)
  const sel = new TopK(maxK)
  const top = new Int32Array(maxK)
  const row = new Float32Array(ctx.numItems)
  let coldUsers = 0
  let coldItems = 0

  const known = (j: number): number[] => {
    const h = ctx.history[ctx.users[j]]
    const out: number[] = []
    for (let p = ctx.before[j] - 1; p >= 0 && out.length < view.maxLen; p--) {
      const m = view.itemOf[h[p]]
      if (m >= 0) out.push(m)
    }
    return out.reverse()
  }
  const score = (j: number, modelRow: Float32Array | undefined, offset: number): void => {
    const u = ctx.users[j]
    if (modelRow) {
      row.fill(-Infinity)
      for (let m = 0; m < view.globalItem.length; m++) row[view.globalItem[m]] = modelRow[offset + m]
    } else {
      coldUsers++
      for (let i = 0; i < ctx.numItems; i++) row[i] = ctx.popularity[i] > 0 ? ctx.popularity[i] : -Infinity
    }
    if (view.itemOf[ctx.items[j]] < 0) coldItems++
    const h = ctx.history[u]
    for (let p = 0; p < ctx.before[j]; p++) row[h[p]] = -Infinity
    const len = sel.select(row, 0, ctx.numItems, top)
    const ranked = top.subarray(0, len)
    const rel = new One(ctx.items[j])
    let c = 0
    for (const k of ks) for (const m of STREAM_METRICS) sums[c++] += TOPK_FUNCTIONS[m](ranked, rel, k)
  }

  for (let s = 0; s < n; s += CHUNK) {
    const e = Math.min(n, s + CHUNK)
    const warm: number[] = []
    const rows: number[][] = []
    for (let j = s; j < e; j++) {
      if (view.sequential) {
        const h = known(j)
        if (h.length > 0) {
          warm.push(j)
          rows.push(h)
        }
      } else if (view.userOf[ctx.users[j]] >= 0) warm.push(j)
    }
    const modelScores = new Map<number, {scores: Float32Array; offset: number}>()
    if (warm.length > 0) {
      let histories: Sequences | undefined
      let request: Int32Array
      if (view.sequential) {
        const offsets = new Int32Array(rows.length + 1)
        rows.forEach((r, b) => (offsets[b + 1] = offsets[b] + r.length))
        const items = Int32Array.from(rows.flat())
        histories = {offsets, items, times: new Float64Array(items.length)}
        request = Int32Array.from(rows, (_, b) => b)
      } else {
        request = Int32Array.from(warm, (j) => view.userOf[ctx.users[j]])
      }
      const scorer = await view.scorer(histories)
      try {
        const scores = await scorer.scoreUsers(request)
        warm.forEach((j, b) => modelScores.set(j, {scores, offset: b * view.globalItem.length}))
      } finally {
        scorer.dispose()
      }
    }
    for (let j = s; j < e; j++) {
      const m = modelScores.get(j)
      score(j, m?.scores, m?.offset ?? 0)
    }
  }
  const metrics: Record<string, number> = {}
  keys.forEach((key, c) => (metrics[key] = n > 0 ? sums[c] / n : 0))
  return {events: n, coldUsers, coldItems, metrics}
}
