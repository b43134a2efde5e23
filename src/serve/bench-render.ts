import {formatBytes, formatMs} from '../report/format.js'
import type {BenchRow, BenchServeResult} from './bench.js'

const onOff = (b: boolean) => (b ? 'on' : 'off')

/** the bench table (medians over the repeats) as rows of cells (header first): variant, cache, batching, concurrency, req/s, p50/p95/p99 ms, hit ratio, errors */
export function benchCells(result: BenchServeResult): string[][] {
  const header = ['variant', 'cache', 'batching', 'conc.', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'hit ratio', 'mean batch', 'errors']
  const row = (r: BenchRow) => [
    r.variant,
    onOff(r.cache),
    onOff(r.batching),
    String(r.concurrency),
    r.reqPerSec.toFixed(0),
    formatMs(r.p50Ms),
    formatMs(r.p95Ms),
    formatMs(r.p99Ms),
    r.hitRatio === null ? '-' : `${(100 * r.hitRatio).toFixed(1)}%`,
    r.meanBatch.toFixed(1),
    String(r.errors),
  ]
  return [header, ...result.summary.map(row)]
}

/** what micro-batching and the cache each buy at the highest concurrency, per variant (req/s and p99 ratios) */
export function benchGains(result: BenchServeResult): string[] {
  const c = Math.max(...result.summary.map((r) => r.concurrency))
  const find = (variant: string, cache: boolean, batching: boolean) => result.summary.find((r) => r.variant === variant && r.cache === cache && r.batching === batching && r.concurrency === c)
  const lines: string[] = []
  for (const variant of [...new Set(result.summary.map((r) => r.variant))]) {
    const none = find(variant, false, false)
    const batched = find(variant, false, true)
    const cached = find(variant, true, false)
    const both = find(variant, true, true)
    const say = (what: string, a?: BenchRow, b?: BenchRow) =>
      a && b ? `${variant} at concurrency ${c}: ${what} ${(b.reqPerSec / a.reqPerSec).toFixed(2)}× req/s (${a.reqPerSec.toFixed(0)} → ${b.reqPerSec.toFixed(0)}), p99 ${formatMs(a.p99Ms)} → ${formatMs(b.p99Ms)} ms` : undefined
    for (const l of [say('micro-batching (cache off) buys', none, batched), say('the cache (batching off) buys', none, cached), say('both buy', none, both)]) if (l) lines.push(l)
  }
  return lines
}

export function soakLine(result: BenchServeResult): string | undefined {
  const s = result.soak
  if (!s) return undefined
  return `${s.model}/${s.variant}, ${s.seconds.toFixed(0)} s at concurrency ${s.concurrency}: ${s.requests} requests (${s.reqPerSec.toFixed(0)}/s), ${s.errors} errors; server RSS ${formatBytes(s.rssBeforeBytes)} → ${formatBytes(s.rssAfterBytes)} (samples ${s.rssBytes.map((b) => formatBytes(b)).join(', ')})`
}
