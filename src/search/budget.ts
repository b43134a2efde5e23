import {usageError} from '../errors.js'
import {formatBytes, formatMs, shortNumber} from '../report/format.js'

/**
 * A search budget: an upper bound on p50 latency and / or on size, each absolute (`0.1ms`,
 * `400KiB`) or relative to the base model (`0.5x`: half the base's, measured in the same session).
 */
export interface Bound {
  /** absolute: ms (p50) or bytes (size); relative: a factor of the base's value */
  value: number
  relative: boolean
}

export interface Budget {
  p50?: Bound
  size?: Bound
}

const TIME_UNITS: Record<string, number> = {ms: 1, us: 1e-3, 'µs': 1e-3, s: 1000}
const SIZE_UNITS: Record<string, number> = {b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3}

function bad(text: string, why: string): never {
  throw usageError('search.bad_budget', `cannot read the budget "${text}": ${why}`, {
    hint: 'e.g. --budget p50=0.1ms,size=400KiB, or relative to the base model: --budget p50=0.5x (units: ms, us, s; B, KB, KiB, MB, MiB)',
  })
}

/** one bound: a number with a unit (`0.1ms`, `400KiB`), `0.5x` (relative), or a bare number (ms / bytes) */
export function parseBound(key: 'p50' | 'size', raw: string | number, text = String(raw)): Bound {
  if (typeof raw === 'number') {
    if (!(raw > 0) || !Number.isFinite(raw)) bad(text, `${key} must be a positive number`)
    return {value: raw, relative: false}
  }
  const m = /^\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*([a-zµ]*)\s*$/i.exec(raw)
  if (!m) bad(text, `"${raw}" is not a number with a unit`)
  const n = Number(m[1])
  const unit = m[2].toLowerCase()
  if (!(n > 0)) bad(text, `${key} must be above 0`)
  if (unit === 'x') return {value: n, relative: true}
  const units = key === 'p50' ? TIME_UNITS : SIZE_UNITS
  if (unit === '') return {value: n, relative: false}
  const f = units[unit]
  if (f === undefined) bad(text, `unknown ${key === 'p50' ? 'time' : 'size'} unit "${m[2]}" (known: ${Object.keys(units).join(', ')}, x)`)
  return {value: n * f, relative: false}
}

/** `p50=0.1ms,size=400KiB` → a Budget; at least one of p50, size */
export function parseBudget(text: string): Budget {
  const budget: Budget = {}
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq === -1) bad(text, `"${part}" is not key=value`)
    const key = part.slice(0, eq).trim().toLowerCase()
    const value = part.slice(eq + 1).trim()
    if (key !== 'p50' && key !== 'size') bad(text, `unknown key "${key}" (known: p50, size)`)
    if (budget[key] !== undefined) bad(text, `${key} is given twice`)
    budget[key] = parseBound(key, value, text)
  }
  if (!budget.p50 && !budget.size) bad(text, 'give p50 and / or size')
  return budget
}

/** the bound in absolute units, given the base's measured value */
export function absoluteBound(b: Bound, base: number): number {
  return b.relative ? b.value * base : b.value
}

/** `p50 ≤ 0.5× base`, `size ≤ 400 KiB` */
export function describeBudget(budget: Budget): string {
  const parts: string[] = []
  if (budget.p50) parts.push(`p50 ≤ ${budget.p50.relative ? `${shortNumber(budget.p50.value)}× base` : `${formatMs(budget.p50.value)} ms`}`)
  if (budget.size) parts.push(`size ≤ ${budget.size.relative ? `${shortNumber(budget.size.value)}× base` : formatBytes(budget.size.value)}`)
  return parts.join(', ')
}
