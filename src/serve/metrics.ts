/**
 * The server's counters in the Prometheus text exposition format (version 0.0.4): what
 * GET /metrics returns. Written by hand: a handful of counters and two histograms do not need a
 * metrics library.
 */

/** request latency buckets, seconds */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
/** users per ONNX Runtime call */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256]

class Histogram {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(readonly buckets: number[]) {
    this.counts = new Array(buckets.length).fill(0)
  }
  observe(v: number): void {
    this.sum += v
    this.count++
    for (let b = 0; b < this.buckets.length; b++) if (v <= this.buckets[b]) this.counts[b]++
  }
  render(name: string, help: string): string[] {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`]
    this.buckets.forEach((le, b) => lines.push(`${name}_bucket{le="${le}"} ${this.counts[b]}`))
    lines.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`)
    return lines
  }
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

export class ServeMetrics {
  private readonly requests = new Map<string, number>()
  readonly latency = new Histogram(LATENCY_BUCKETS)
  readonly batchSizes = new Histogram(BATCH_BUCKETS)
  cacheHits = 0
  cacheMisses = 0
  coldStarts = 0
  eventsPosted = 0
  swaps = 0
  updateFailures = 0

  /** one answered HTTP request: route (the pattern, e.g. /v1/recommend), method, status, seconds */
  request(method: string, route: string, status: number, seconds: number): void {
    const key = `${method}\u0000${route}\u0000${status}`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    this.latency.observe(seconds)
  }

  /** answers from the cache / all cacheable answers (NaN before the first) */
  get hitRatio(): number {
    const n = this.cacheHits + this.cacheMisses
    return n === 0 ? Number.NaN : this.cacheHits / n
  }

  render(gauges: {modelVersion: number; queued: number; cacheEntries: number}): string {
    const lines: string[] = ['# HELP rec_http_requests_total HTTP requests answered, by method, route and status', '# TYPE rec_http_requests_total counter']
    for (const [key, n] of [...this.requests].sort()) {
      const [method, route, status] = key.split('\u0000')
      lines.push(`rec_http_requests_total{method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"} ${n}`)
    }
    lines.push(...this.latency.render('rec_http_request_duration_seconds', 'time from request received to response sent'))
    lines.push(...this.batchSizes.render('rec_batch_size', 'users scored per ONNX Runtime call (micro-batching)'))
    const counter = (name: string, help: string, v: number) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${v}`)
    const gauge = (name: string, help: string, v: number) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${Number.isNaN(v) ? 'NaN' : v}`)
    counter('rec_cache_hits_total', 'answers served from the answer cache', this.cacheHits)
    counter('rec_cache_misses_total', 'answers of known users computed by the model', this.cacheMisses)
    gauge('rec_cache_hit_ratio', 'cache hits / (hits + misses) since start', this.hitRatio)
    gauge('rec_cache_entries', 'answers in the cache', gauges.cacheEntries)
    counter('rec_cold_start_total', 'answers for unknown users (popularity fallback)', this.coldStarts)
    counter('rec_events_total', 'interactions posted to /v1/events', this.eventsPosted)
    counter('rec_model_swaps_total', 'models swapped in by background updates', this.swaps)
    counter('rec_update_failures_total', 'background updates that failed (the served model was kept)', this.updateFailures)
    gauge('rec_model_version', 'version of the served model (1 at start, +1 per swap)', gauges.modelVersion)
    gauge('rec_batch_queue', 'requests waiting for their micro-batch to run', gauges.queued)
    const mem = process.memoryUsage()
    gauge('process_resident_memory_bytes', 'resident set size of the server process', mem.rss)
    gauge('nodejs_heap_used_bytes', 'V8 heap in use', mem.heapUsed)
    return `${lines.join('\n')}\n`
  }
}
