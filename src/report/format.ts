/**
 * Human-friendly number formatting for reports. Pure functions on numbers; the minus sign in
 * deltas is U+2212 (−), which reads better in tables than a hyphen.
 */

const MINUS = '\u2212'

/** metrics: 4 decimals; NaN / missing → '–' */
export function formatMetric(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return x === undefined || Number.isNaN(x) ? '–' : String(x)
  return x.toFixed(4)
}

/** milliseconds with 3 significant digits: 0.0123, 1.23, 12.3, 123, 1234 */
export function formatMs(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '–'
  if (!Number.isFinite(x)) return String(x)
  if (x === 0) return '0'
  if (Math.abs(x) >= 1000) return String(Math.round(x))
  if (Math.abs(x) < 1e-3) return x.toExponential(2)
  return x.toPrecision(3)
}

/** bytes as B / KiB / MiB / GiB with 3 significant digits: 512 B, 12.3 KiB, 1.50 MiB */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let u = 0
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  if (u === 0) return `${Math.round(v)} B`
  // 1023.9 KiB would print as "1.02e+3": keep whole numbers above 100
  return `${Math.abs(v) >= 100 ? Math.round(v) : v.toPrecision(3)} ${units[u]}`
}

/** counts as 950, 12.3k, 1.2M, 3.4G (one decimal from a thousand up) */
export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–'
  const a = Math.abs(n)
  if (a < 1000) return String(Math.round(n))
  if (a < 1e6) return `${(n / 1e3).toFixed(1)}k`
  if (a < 1e9) return `${(n / 1e6).toFixed(1)}M`
  return `${(n / 1e9).toFixed(1)}G`
}

/** throughput in users/s: 3 significant digits, thousands as k */
export function formatRate(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '–'
  if (!Number.isFinite(x)) return String(x)
  if (x >= 1e4) return formatCount(x)
  return x >= 1000 ? String(Math.round(x)) : x.toPrecision(3)
}

/** a signed number with a real minus sign: +0.0040, −0.0040 */
export function signed(x: number, digits: number): string {
  const s = Math.abs(x).toFixed(digits)
  if (Number(s) === 0) return `±${s}`
  return `${x < 0 ? MINUS : '+'}${s}`
}

/** a delta suffix: ` (−0.0040, −1.4%)`; the relative part is `n/a` when the baseline is 0 */
export function formatDelta(abs: number, rel: number | null, digits = 4): string {
  const r = rel === null ? 'n/a' : `${signed(rel * 100, 1)}%`
  return ` (${signed(abs, digits)}, ${r})`
}

/** a short number without trailing zeros: at most `decimals` decimals (0.5, 0.1234) */
export function shortNumber(x: number, decimals = 4): string {
  return String(Number(x.toFixed(decimals)))
}

/** a change with its sign and 4 significant digits: +0.003, -0.01 (ASCII, for diffs and messages) */
export function signedChange(x: number): string {
  return `${x >= 0 ? '+' : ''}${Number(x.toPrecision(4))}`
}
