import {median} from './arrays.js'
import type {Interactions} from './types.js'

export interface CountSummary {
  min: number
  median: number
  max: number
}

export interface DatasetStats {
  users: number
  items: number
  interactions: number
  /** interactions / (users · items) */
  density: number
  /** rating value (as printed by String()) → rows with it */
  ratingHistogram: Record<string, number>
  /** interactions per user / per item (over users and items that have at least one) */
  perUser: CountSummary
  perItem: CountSummary
  /** false when the input had no timestamp column (the rows are only in file order) */
  timestamps: boolean
  /**
   * timestamps read as unix seconds; `days` = (last - first) / 86400. null without timestamps:
   * the row positions stored in their place would read as dates in January 1970.
   */
  timeSpan: {first: string; last: string; days: number} | null
}

/** Summary statistics of a set of interactions (users/items counted when they have >= 1 row). */
export function datasetStats(inter: Interactions): DatasetStats {
  const n = inter.length
  const uc = new Int32Array(inter.numUsers)
  const ic = new Int32Array(inter.numItems)
  const hist = new Map<number, number>()
  let tMin = Number.POSITIVE_INFINITY
  let tMax = Number.NEGATIVE_INFINITY
  for (let r = 0; r < n; r++) {
    uc[inter.user[r]]++
    ic[inter.item[r]]++
    const v = inter.rating[r]
    hist.set(v, (hist.get(v) ?? 0) + 1)
    const t = inter.timestamp[r]
    if (t < tMin) tMin = t
    if (t > tMax) tMax = t
  }
  const usersSeen = uc.filter((c) => c > 0)
  const itemsSeen = ic.filter((c) => c > 0)
  const ratingHistogram: Record<string, number> = {}
  for (const v of [...hist.keys()].sort((a, b) => a - b)) ratingHistogram[String(v)] = hist.get(v)!
  const timestamps = inter.hasTimestamps !== false
  const users = usersSeen.length
  const items = itemsSeen.length
  return {
    users,
    items,
    interactions: n,
    density: users > 0 && items > 0 ? n / (users * items) : 0,
    ratingHistogram,
    perUser: summary(usersSeen),
    perItem: summary(itemsSeen),
    timestamps,
    timeSpan: timestamps
      ? {
          first: n > 0 ? isoSeconds(tMin) : '',
          last: n > 0 ? isoSeconds(tMax) : '',
          days: n > 0 ? Number(((tMax - tMin) / 86400).toFixed(2)) : 0,
        }
      : null,
  }
}

function summary(counts: Int32Array): CountSummary {
  if (counts.length === 0) return {min: 0, median: 0, max: 0}
  let min = counts[0]
  let max = counts[0]
  for (let k = 1; k < counts.length; k++) {
    if (counts[k] < min) min = counts[k]
    if (counts[k] > max) max = counts[k]
  }
  return {min, median: median(counts), max}
}

function isoSeconds(t: number): string {
  const d = new Date(t * 1000)
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString()
}

/** a readable multi-line block for the terminal */
export function formatStats(s: DatasetStats): string {
  const hist = Object.entries(s.ratingHistogram)
  const histText = hist.length > 12 ? `${hist.length} distinct values` : hist.map(([k, v]) => `${k}: ${v}`).join('  ')
  return [
    `users         ${s.users}`,
    `items         ${s.items}`,
    `interactions  ${s.interactions}`,
    `density       ${(s.density * 100).toFixed(3)}%`,
    `per user      min ${s.perUser.min}  median ${s.perUser.median}  max ${s.perUser.max}`,
    `per item      min ${s.perItem.min}  median ${s.perItem.median}  max ${s.perItem.max}`,
    `ratings       ${histText}`,
    s.timeSpan ? `time span     ${s.timeSpan.first} → ${s.timeSpan.last} (${s.timeSpan.days} days)` : 'time span     none: no timestamps in the input',
  ].join('\n')
}
