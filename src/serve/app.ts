import {createRequire} from 'node:module'

import type {FastifyError, FastifyInstance} from 'fastify'
import type FastifyFn from 'fastify'

import type {PostedEvent} from './known.js'
import type {Answer, Recommender} from './recommender.js'

/** what GET /healthz and the startup line say about the served model */
export interface ServeInfo {
  model: string
  architecture: string
  variant: string
  runtime: string
  users: number
  items: number
  runDir: string
  update: 'none' | 'incremental'
}

/** the JSON body of every 4xx answer */
export interface ErrorBody {
  error: {status: number; code: string; message: string}
}

/** a raw id: what the data's id columns hold */
const rawId = {type: 'string', minLength: 1, maxLength: 256} as const

/**
 * The HTTP API of `rec serve` (Fastify; every input checked by its JSON Schema, so a client's
 * mistake is a 400 with a JSON error body, never a 500):
 *   GET  /v1/recommend?user=<raw id>&k=10
 *   POST /v1/recommend   {"users": ["1", "2"], "k": 10}
 *   POST /v1/events      {"events": [{"user": "1", "item": "50", "timestamp": 881250949}]}
 *   GET  /healthz, GET /metrics (Prometheus text format)
 * `onEvents` runs after events were recorded (e.g. to start a background update).
 */
export function buildApp(args: {recommender: Recommender; info: ServeInfo; onEvents?: () => void}): FastifyInstance {
  const {recommender, info} = args
  const {metrics, known, settings} = recommender
  const maxK = settings.max_k
  // loaded on first use: oclif imports every command (and what it imports) at the start of any `rec` command
  const Fastify = createRequire(import.meta.url)('fastify') as typeof FastifyFn
  const app = Fastify({
    logger: false,
    // on close: idle keep-alive sockets are closed at once, requests in flight finish first
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    bodyLimit: 1 << 20,
    ajv: {customOptions: {coerceTypes: 'array', removeAdditional: false, allErrors: false}},
  })
  // a graceful close waits for every connection to end: a keep-alive connection whose request was
  // in flight when the close began is told to close after its answer
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) void reply.header('connection', 'close')
    return payload
  })
  const started = new WeakMap<object, bigint>()
  app.addHook('onRequest', async (req) => {
    started.set(req, process.hrtime.bigint())
  })
  app.addHook('onResponse', async (req, reply) => {
    const t = started.get(req)
    const seconds = t === undefined ? 0 : Number(process.hrtime.bigint() - t) / 1e9
    metrics.request(req.method, req.routeOptions.url ?? 'unknown', reply.statusCode, seconds)
  })

  // a client's mistake (bad JSON, schema violation, wrong content type, body too large) is a 400;
  // only an unknown route stays a 404 and a closing server a 503; anything else is ours (500)
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode ?? 500
    if (status >= 500) {
      void reply.code(500).send(errorBody(500, 'internal', 'internal error: see the server log'))
      process.stderr.write(`rec serve: ${err.stack ?? err.message}\n`)
      return
    }
    const code = err.validation ? 'bad_request' : (CLIENT_ERROR_CODES[err.code] ?? 'bad_request')
    void reply.code(400).send(errorBody(400, code, err.message))
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`))
  })

  app.get<{Querystring: {user: string; k: number}}>(
    '/v1/recommend',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['user'],
          additionalProperties: false,
          properties: {user: rawId, k: {type: 'integer', minimum: 1, maximum: maxK, default: 10}},
        },
      },
    },
    async (req) => withInfo(await recommender.recommend(req.query.user, req.query.k), info),
  )

  app.post<{Body: {users: string[]; k: number}}>(
    '/v1/recommend',
    {
      schema: {
        body: {
          type: 'object',
          required: ['users'],
          additionalProperties: false,
          properties: {
            users: {type: 'array', minItems: 1, maxItems: settings.max_batch_users, items: rawId},
            k: {type: 'integer', minimum: 1, maximum: maxK, default: 10},
          },
        },
      },
    },
    async (req) => {
      const answers = await Promise.all(req.body.users.map((u) => recommender.recommend(u, req.body.k)))
      return {model: info.model, variant: info.variant, results: answers}
    },
  )

  app.post<{Body: {events: {user: string; item: string; timestamp?: number}[]}}>(
    '/v1/events',
    {
      schema: {
        body: {
          type: 'object',
          required: ['events'],
          additionalProperties: false,
          properties: {
            events: {
              type: 'array',
              minItems: 1,
              maxItems: 10000,
              items: {
                type: 'object',
                required: ['user', 'item'],
                additionalProperties: false,
                properties: {user: rawId, item: rawId, timestamp: {type: 'number', minimum: 0}},
              },
            },
          },
        },
      },
    },
    async (req) => {
      const now = Date.now() / 1000
      const events: PostedEvent[] = req.body.events.map((e) => ({
        user: known.userOf(e.user),
        item: known.itemOf(e.item),
        timestamp: e.timestamp ?? now,
        rawUser: e.user,
        rawItem: e.item,
      }))
      recommender.post(events)
      args.onEvents?.()
      return eventsAnswer(events)
    },
  )

  app.get('/healthz', async () => ({status: 'ok', ...info, modelVersion: recommender.holder.current.version, rssBytes: process.memoryUsage().rss}))

  app.get('/metrics', async (_req, reply) => {
    void reply.type('text/plain; version=0.0.4; charset=utf-8')
    return metrics.render({modelVersion: recommender.holder.current.version, queued: recommender.queued, cacheEntries: recommender.cache.size})
  })
  return app
}

/** Fastify's own client-error codes, as named in our error bodies */
const CLIENT_ERROR_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_content_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
}

function errorBody(status: number, code: string, message: string): ErrorBody {
  return {error: {status, code, message}}
}

function withInfo(a: Answer, info: ServeInfo): Answer & {model: string; variant: string} {
  return {...a, model: info.model, variant: info.variant}
}

function eventsAnswer(events: PostedEvent[]): {accepted: number; unknownUsers: number; unknownItems: number} {
  let unknownUsers = 0
  let unknownItems = 0
  for (const e of events) {
    if (e.user < 0) unknownUsers++
    if (e.item < 0) unknownItems++
  }
  return {accepted: events.length, unknownUsers, unknownItems}
}
