/**
 * Micro-batching (the idea of Triton's dynamic batcher): requests that arrive while a batch is
 * open are coalesced into one call of `run`. A batch opens with its first request and is run when
 * it holds `maxBatch` requests or `maxWaitMs` after it opened, whichever comes first. With
 * maxBatch 1 every request runs at once, alone (batching off).
 *
 * `run` gets the requests in arrival order and returns one result per request, in the same order.
 * If it throws, every request of that batch fails with the error.
 */
export class MicroBatcher<Req, Res> {
  private queue: {req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void}[] = []
  private timer: NodeJS.Timeout | undefined
  /** requests waiting for their batch to run */
  get pending(): number {
    return this.queue.length
  }

  constructor(
    private readonly run: (batch: Req[]) => Promise<Res[]>,
    private readonly options: {maxBatch: number; maxWaitMs: number; onBatch?: (size: number) => void},
  ) {
    if (!(options.maxBatch >= 1)) throw new Error(`MicroBatcher: maxBatch must be >= 1 (got ${options.maxBatch})`)
  }

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({req, resolve, reject})
      if (this.queue.length >= this.options.maxBatch) this.flush()
      else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.options.maxWaitMs)
    })
  }

  /** run what is queued now (up to maxBatch per call) */
  private flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch)
      this.options.onBatch?.(batch.length)
      this.run(batch.map((b) => b.req)).then(
        (results) => batch.forEach((b, j) => b.resolve(results[j])),
        (err) => batch.forEach((b) => b.reject(err)),
      )
      // a partial batch left over waits for company like a new one
      if (this.queue.length > 0 && this.queue.length < this.options.maxBatch) {
        this.timer = setTimeout(() => this.flush(), this.options.maxWaitMs)
        return
      }
    }
  }
}
