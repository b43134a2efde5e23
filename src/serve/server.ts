import type {FastifyInstance} from 'fastify'
import {usageError} from '../errors.js'

import {buildApp, type ServeInfo} from './app.js'
import {KnownInteractions} from './known.js'
import {loadServedVariant, type ServedVariant} from './loader.js'
import {ServeMetrics} from './metrics.js'
import {Recommender} from './recommender.js'
import {BackgroundUpdates, createTrainingUpdater, servedScorer, type ModelUpdater} from './updater.js'

export interface ServeOptions {
  model?: string
  variant?: string
  /** --set on serve.* */
  set?: string[]
  /** overrides serve.update.mode */
  update?: 'none' | 'incremental'
  /** replaces the training updater (tests; the stream strategy later) */
  updater?: ModelUpdater
  onUpdateError?: (err: unknown) => void
}

export interface Server {
  app: FastifyInstance
  recommender: Recommender
  served: ServedVariant
  info: ServeInfo
  updates?: BackgroundUpdates
  /** listen; resolves with the address (http://host:port) */
  listen(port: number, host: string): Promise<string>
  /** stop accepting, finish the requests in flight and the running update, release the model */
  close(): Promise<void>
}

/** load a run's variant and build the server around it (not listening yet) */
export async function createServer(runDir: string, options: ServeOptions = {}): Promise<Server> {
  const served = loadServedVariant(runDir, options)
  const settings = {...served.cfg.serve, update: {...served.cfg.serve.update, ...(options.update ? {mode: options.update} : {})}}
  const known = new KnownInteractions(served.split)
  const metrics = new ServeMetrics()
  const scorer = await servedScorer(served.onnx, served, known)
  const recommender = new Recommender(known, scorer, settings, metrics)
  const info: ServeInfo = {
    model: served.model,
    architecture: served.weights.kind,
    variant: served.variant,
    runtime: scorer.runtime,
    users: known.numUsers,
    items: known.numItems,
    runDir,
    update: settings.update.mode,
  }
  let updates: BackgroundUpdates | undefined
  if (settings.update.mode === 'incremental') {
    const updater = options.updater ?? createTrainingUpdater(served, known)
    updates = new BackgroundUpdates(updater, recommender, settings.update.min_events, options.onUpdateError)
  }
  const app = buildApp({
    recommender,
    info,
    // without updates, posted events are only exclusions: nothing waits for them
    onEvents: updates ? () => updates.notify() : () => void known.takePending(),
  })
  return {
    app,
    recommender,
    served,
    info,
    ...(updates ? {updates} : {}),
    async listen(port, host) {
      return app.listen({port, host})
    },
    async close() {
      await app.close()
      await updates?.close()
      recommender.dispose()
    },
  }
}

/** the startup line: address and what is loaded */
export function startupLine(address: string, s: Server): string {
  const c = s.recommender.settings
  const cache = c.cache.capacity > 0 ? `cache ${c.cache.capacity} users, ttl ${c.cache.ttl_ms} ms` : 'cache off'
  const batching = c.batching.max_batch > 1 ? `micro-batching ${c.batching.max_batch} users / ${c.batching.max_wait_ms} ms` : 'micro-batching off'
  const i = s.info
  return `rec serve: listening on ${address}: ${i.model}/${i.variant} (${i.architecture}, ${i.runtime}, ${i.users} users × ${i.items} items) from ${i.runDir}; ${cache}; ${batching}; updates ${i.update}`
}

/** what `rec serve --json` prints when it stops */
export interface ServeSummary {
  address: string
  model: string
  variant: string
  architecture: string
  runtime: string
  /** version of the model served at the end (1 + swaps) */
  modelVersion: number
  requests: number
  cacheHitRatio: number | null
  eventsPosted: number
  swaps: number
  uptimeSeconds: number
  interrupted: false
}

/**
 * `rec serve`: listen, log the startup line, serve until `signal` aborts (SIGTERM / SIGINT), then
 * close gracefully: no new connections, requests in flight answered, the running update finished.
 */
export async function serveUntilStopped(
  runDir: string,
  options: ServeOptions & {port: number; host: string; signal: AbortSignal; log: (line: string) => void},
): Promise<ServeSummary> {
  const t0 = performance.now()
  const server = await createServer(runDir, {...options, onUpdateError: (err) => options.log(`rec serve: update failed, the served model is kept: ${(err as Error).message}`)})
  let address: string
  try {
    address = await server.listen(options.port, options.host)
  } catch (err) {
    server.recommender.dispose()
    const e = err as NodeJS.ErrnoException
    throw usageError('serve.listen', `cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}`, {hint: 'pick another --port (0: any free port)'})
  }
  options.log(startupLine(address, server))
  if (!options.signal.aborted) await new Promise<void>((resolve) => options.signal.addEventListener('abort', () => resolve(), {once: true}))
  options.log('rec serve: stopping: finishing the requests in flight')
  await server.close()
  const m = server.recommender.metrics
  return {
    address,
    model: server.info.model,
    variant: server.info.variant,
    architecture: server.info.architecture,
    runtime: server.info.runtime,
    modelVersion: server.recommender.holder.current.version,
    requests: m.latency.count,
    cacheHitRatio: Number.isNaN(m.hitRatio) ? null : m.hitRatio,
    eventsPosted: m.eventsPosted,
    swaps: m.swaps,
    uptimeSeconds: (performance.now() - t0) / 1000,
    interrupted: false,
  }
}
