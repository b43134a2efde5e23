import {spawn, type ChildProcess} from 'node:child_process'
import {createRequire} from 'node:module'
import {cpus, loadavg} from 'node:os'

import type autocannon from 'autocannon'

import {checkError, dataError, usageError} from '../errors.js'
import {Rng} from '../rng.js'
import {loadServedVariant} from './loader.js'

/** one load-test run: a variant under one setting at one concurrency */
export interface BenchRow {
  /** which pass over the grid (1-based); in `summary`: how many passes the medians are over */
  repeat: number
  model: string
  variant: string
  cache: boolean
  batching: boolean
  concurrency: number
  /** answered requests (any status) and their rate over the measured seconds */
  requests: number
  reqPerSec: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  /** cache hits / (hits + misses) over this run, from the server's counters; null with the cache off */
  hitRatio: number | null
  /** connection errors (timeouts included) + non-2xx answers */
  errors: number
  /** users per ONNX Runtime call, mean over this run */
  meanBatch: number
  seconds: number
  /** os.loadavg() right before and after */
  loadAverageBefore: number[]
  loadAverageAfter: number[]
}

/** the long run: memory of the server process over it */
export interface SoakResult {
  model: string
  variant: string
  concurrency: number
  seconds: number
  requests: number
  reqPerSec: number
  errors: number
  /** server RSS after warm-up, then every ~10 s, then at the end (bytes) */
  rssBytes: number[]
  rssBeforeBytes: number
  rssAfterBytes: number
  heapUsedBeforeBytes: number
  heapUsedAfterBytes: number
}

export interface BenchServeResult {
  runDir: string
  model: string
  k: number
  /** how the user ids of the requests were drawn */
  users: string
  settings: {cacheCapacity: number; cacheTtlMs: number; maxBatch: number; maxWaitMs: number; durationSeconds: number; warmupSeconds: number; repeat: number}
  /** every measured run, in the order they ran */
  rows: BenchRow[]
  /** per variant × cache × batching × concurrency: the median of each figure over the repeats (errors and requests: the sums) */
  summary: BenchRow[]
  soak?: SoakResult
  machine: {cores: number; cpuModel: string; node: string; loadAverageBefore: number[]; loadAverageAfter: number[]}
  totalErrors: number
}

export interface BenchServeOptions {
  runDir: string
  model?: string
  variants: string[]
  concurrency: number[]
  cache: boolean[]
  batching: boolean[]
  durationSeconds: number
  warmupSeconds: number
  /** passes over the whole grid, interleaved (each pass runs every setting and variant once): the table shows medians */
  repeat: number
  /** seconds of the long run at the highest concurrency, cache and batching on, first variant (0: none) */
  soakSeconds: number
  k: number
  seed: number
  /** the command line that starts the CLI (node + its script): the server runs as `<cli> serve ...` in a child */
  cli: string[]
  log: (line: string) => void
  signal?: AbortSignal
}

/**
 * Request paths whose users follow the dataset's user activity: user u is drawn with probability
 * (u's interactions in the training part) / (all of them), seeded, so that the cache sees the
 * reuse real traffic would give it (active users come back more often).
 */
export function activityPaths(counts: ArrayLike<number>, userIds: readonly string[], n: number, k: number, seed: number): string[] {
  const cum = new Float64Array(counts.length)
  let total = 0
  for (let u = 0; u < counts.length; u++) cum[u] = total += counts[u]
  if (!(total > 0)) throw dataError('bench.no_activity', 'the training part has no interaction to draw users from')
  const rng = new Rng(seed)
  const out: string[] = []
  for (let j = 0; j < n; j++) {
    const x = rng.next() * total
    let lo = 0
    let hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid] > x) hi = mid
      else lo = mid + 1
    }
    out.push(`/v1/recommend?user=${encodeURIComponent(userIds[lo])}&k=${k}`)
  }
  return out
}

/** the nearest-rank percentile of sorted values */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

interface Child {
  proc: ChildProcess
  url: string
  stderr: () => string
}

/** start `rec serve` in a child process on a free port of 127.0.0.1 */
async function startServer(cli: string[], args: string[]): Promise<Child> {
  const proc = spawn(cli[0], [...cli.slice(1), 'serve', ...args, '--host', '127.0.0.1', '--port', '0', '--quiet'], {stdio: ['ignore', 'ignore', 'pipe']})
  // a bench that dies leaves no server behind
  const orphan = () => proc.kill('SIGKILL')
  process.once('exit', orphan)
  proc.once('exit', () => process.off('exit', orphan))
  let err = ''
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (b: Buffer) => {
      err += b.toString('utf8')
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (m) resolve(m[1])
    })
    proc.on('exit', (code) => reject(new Error(`rec serve exited (${code}) before listening:\n${err}`)))
  })
  return {proc, url, stderr: () => err}
}

async function stopServer(c: Child): Promise<void> {
  if (c.proc.exitCode !== null) return
  const exited = new Promise<void>((resolve) => c.proc.once('exit', () => resolve()))
  c.proc.kill('SIGTERM')
  await exited
}

async function scrape(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+) (\S+)$/.exec(line)
    if (m) out[m[1]] = Number(m[2])
  }
  return out
}

/** drive `url` with autocannon for `seconds` at `connections`, the paths taken in turn from `paths` (starting at *cursor) */
async function drive(url: string, connections: number, seconds: number, paths: string[], cursor: {i: number}, signal?: AbortSignal): Promise<{latencies: Float64Array; requests: number; errors: number}> {
  const latencies: number[] = []
  let non2xx = 0
  // loaded on first use: oclif imports every command (and what it imports) at the start of any `rec` command
  const autocannonFn = createRequire(import.meta.url)('autocannon') as typeof autocannon
  let instance!: autocannon.Instance
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannonFn(
      {
        url,
        connections,
        duration: seconds,
        pipelining: 1,
        timeout: 30,
        requests: [{method: 'GET', setupRequest: (req) => ({...req, path: paths[cursor.i++ % paths.length]})}],
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
  })
  instance.on('response', (_client, status, _bytes, ms) => {
    latencies.push(ms)
    if (status < 200 || status >= 300) non2xx++
  })
  const stop = () => instance.stop()
  signal?.addEventListener('abort', stop, {once: true})
  const result = await done
  signal?.removeEventListener('abort', stop)
  const sorted = Float64Array.from(latencies).sort()
  return {latencies: sorted, requests: latencies.length, errors: result.errors + non2xx}
}

/**
 * `rec bench serve`: for each variant and each cache / batching setting, start `rec serve` in a
 * child process (its own core; the load generator, autocannon, runs in this process), warm it up,
 * then drive it at each concurrency for a bounded time with user ids drawn from the data's user
 * activity. The server keeps running across the concurrencies of one setting, so its cache is warm
 * after the first. Latency is per request as autocannon saw it (connection to answer); the hit
 * ratio and batch sizes come from the server's /metrics. Traffic goes only to 127.0.0.1.
 */
export async function benchServe(o: BenchServeOptions): Promise<BenchServeResult> {
  const served = loadServedVariant(o.runDir, {model: o.model, variant: o.variants[0] ?? 'base'})
  for (const v of o.variants.slice(1)) loadServedVariant(o.runDir, {model: served.model, variant: v})
  if (o.concurrency.some((c) => !(Number.isInteger(c) && c >= 1 && c <= 1024))) throw usageError('bench.concurrency', `concurrency must be integers in 1..1024 (got ${o.concurrency.join(',')})`)
  const counts = new Float64Array(served.split.train.numUsers)
  for (let r = 0; r < served.split.train.length; r++) counts[served.split.train.user[r]]++
  const paths = activityPaths(counts, served.split.train.userIds, 200_000, o.k, o.seed)
  const cursor = {i: 0}
  const s = served.cfg.serve
  const machineBefore = loadavg()
  const rows: BenchRow[] = []
  const serverArgs = (variant: string, cache: boolean, batching: boolean) => [
    o.runDir,
    '--model',
    served.model,
    '--variant',
    variant,
    ...(cache ? [] : ['--set', 'serve.cache.capacity=0']),
    ...(batching ? [] : ['--set', 'serve.batching.max_batch=1']),
  ]
  const label = (cache: boolean, batching: boolean) => `cache ${cache ? 'on' : 'off'}, batching ${batching ? 'on' : 'off'}`
  for (let repeat = 1; repeat <= o.repeat; repeat++) {
    for (const cache of o.cache) {
      for (const batching of o.batching) {
        for (const variant of o.variants) {
          if (o.signal?.aborted) break
          const child = await startServer(o.cli, serverArgs(variant, cache, batching))
          try {
            if (o.warmupSeconds > 0) await drive(child.url, Math.max(...o.concurrency), o.warmupSeconds, paths, cursor, o.signal)
            for (const c of o.concurrency) {
              if (o.signal?.aborted) break
              o.log(`${served.model}/${variant}, ${label(cache, batching)}: concurrency ${c} for ${o.durationSeconds} s${o.repeat > 1 ? ` (repeat ${repeat}/${o.repeat})` : ''}`)
              const before = await scrape(child.url)
              const loadAverageBefore = loadavg()
              const t0 = performance.now()
              const r = await drive(child.url, c, o.durationSeconds, paths, cursor, o.signal)
              const seconds = (performance.now() - t0) / 1000
              const loadAverageAfter = loadavg()
              const after = await scrape(child.url)
              const hits = after.rec_cache_hits_total - before.rec_cache_hits_total
              const misses = after.rec_cache_misses_total - before.rec_cache_misses_total
              const batches = after.rec_batch_size_count - before.rec_batch_size_count
              rows.push({
                repeat,
                model: served.model,
                variant,
                cache,
                batching,
                concurrency: c,
                requests: r.requests,
                reqPerSec: r.requests / seconds,
                p50Ms: percentile(r.latencies, 50),
                p95Ms: percentile(r.latencies, 95),
                p99Ms: percentile(r.latencies, 99),
                hitRatio: cache && hits + misses > 0 ? hits / (hits + misses) : null,
                errors: r.errors,
                meanBatch: batches > 0 ? (after.rec_batch_size_sum - before.rec_batch_size_sum) / batches : 0,
                seconds,
                loadAverageBefore,
                loadAverageAfter,
              })
            }
          } finally {
            await stopServer(child)
          }
        }
      }
    }
  }

  let soak: SoakResult | undefined
  if (o.soakSeconds > 0 && !o.signal?.aborted) {
    const variant = o.variants[0]
    const c = Math.max(...o.concurrency)
    const child = await startServer(o.cli, serverArgs(variant, true, true))
    try {
      if (o.warmupSeconds > 0) await drive(child.url, c, o.warmupSeconds, paths, cursor, o.signal)
      const health = async () => (await (await fetch(`${child.url}/healthz`)).json()) as {rssBytes: number}
      const before = await scrape(child.url)
      const rss = [(await health()).rssBytes]
      o.log(`${served.model}/${variant}: ${o.soakSeconds} s at concurrency ${c} (memory)`)
      const sampler = setInterval(() => void health().then((h) => rss.push(h.rssBytes), () => {}), 10_000)
      const t0 = performance.now()
      let r: Awaited<ReturnType<typeof drive>>
      try {
        r = await drive(child.url, c, o.soakSeconds, paths, cursor, o.signal)
      } finally {
        clearInterval(sampler)
      }
      const seconds = (performance.now() - t0) / 1000
      const after = await scrape(child.url)
      rss.push((await health()).rssBytes)
      soak = {
        model: served.model,
        variant,
        concurrency: c,
        seconds,
        requests: r.requests,
        reqPerSec: r.requests / seconds,
        errors: r.errors,
        rssBytes: rss,
        rssBeforeBytes: rss[0],
        rssAfterBytes: rss.at(-1)!,
        heapUsedBeforeBytes: before.nodejs_heap_used_bytes,
        heapUsedAfterBytes: after.nodejs_heap_used_bytes,
      }
    } finally {
      await stopServer(child)
    }
  }
  const totalErrors = rows.reduce((a, r) => a + r.errors, 0) + (soak?.errors ?? 0)
  const cpu = cpus()
  return {
    runDir: o.runDir,
    model: served.model,
    k: o.k,
    users: `drawn (seed ${o.seed}) with probability proportional to each user's interactions in the training part`,
    settings: {cacheCapacity: s.cache.capacity, cacheTtlMs: s.cache.ttl_ms, maxBatch: s.batching.max_batch, maxWaitMs: s.batching.max_wait_ms, durationSeconds: o.durationSeconds, warmupSeconds: o.warmupSeconds, repeat: o.repeat},
    rows,
    summary: summarize(rows),
    ...(soak ? {soak} : {}),
    machine: {cores: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', node: process.version, loadAverageBefore: machineBefore, loadAverageAfter: loadavg()},
    totalErrors,
  }
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y)
  const m = a.length >> 1
  return a.length % 2 === 1 ? a[m] : (a[m - 1] + a[m]) / 2
}

/** medians over the repeats of each variant × cache × batching × concurrency, in first-run order */
export function summarize(rows: BenchRow[]): BenchRow[] {
  const groups = new Map<string, BenchRow[]>()
  for (const r of rows) {
    const key = `${r.variant}\u0000${r.cache}\u0000${r.batching}\u0000${r.concurrency}`
    const g = groups.get(key)
    if (g) g.push(r)
    else groups.set(key, [r])
  }
  const variants = [...new Set(rows.map((r) => r.variant))]
  const rank = (r: BenchRow) => [variants.indexOf(r.variant), r.cache ? 1 : 0, r.batching ? 1 : 0, r.concurrency]
  return [...groups.values()]
    .map((g): BenchRow => {
      const med = (f: (r: BenchRow) => number) => median(g.map(f))
      const hits = g.map((r) => r.hitRatio).filter((h): h is number => h !== null)
      return {
        ...g[0],
        repeat: g.length,
        requests: g.reduce((a, r) => a + r.requests, 0),
        errors: g.reduce((a, r) => a + r.errors, 0),
        reqPerSec: med((r) => r.reqPerSec),
        p50Ms: med((r) => r.p50Ms),
        p95Ms: med((r) => r.p95Ms),
        p99Ms: med((r) => r.p99Ms),
        hitRatio: hits.length > 0 ? median(hits) : null,
        meanBatch: med((r) => r.meanBatch),
        seconds: med((r) => r.seconds),
      }
    })
    .sort((a, b) => {
      const x = rank(a)
      const y = rank(b)
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || x[3] - y[3]
    })
}

/** a load test with errors failed its check (exit 4); the result goes with the error */
export function checkZeroErrors(result: BenchServeResult): void {
  if (result.totalErrors === 0) return
  throw checkError('bench.errors', `${result.totalErrors} requests failed during the load test`, {result, hint: 'see the errors column; the server log is its stderr'})
}
