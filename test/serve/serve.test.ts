/**
 * `rec serve` on a real server (127.0.0.1, port 0) over a tiny run: answers equal to the
 * evaluator's own top-K on the served exclusion set, micro-batched answers equal to unbatched
 * ones, the cache and its invalidation, the 400s, the metrics, an atomic model swap under
 * concurrent requests, a background update, and (with the built CLI) graceful shutdown.
 */
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {evalSchema, negativesSchema} from '../../src/config/schema.js'
import {userSequences} from '../../src/data/sequences.js'
import type {Interactions, Split} from '../../src/data/types.js'
import {evaluate} from '../../src/eval/evaluate.js'
import {isSequential} from '../../src/models/sequential.js'
import {createOnnxScorer} from '../../src/onnx/scorer.js'
import {createServer, type Server} from '../../src/serve/server.js'
import {loadServedVariant} from '../../src/serve/loader.js'
import {repoRoot, spawnCli} from '../helpers/cli.js'
import {checkSchema, type Schema} from '../commands/schema-check.js'
import {makeServeRun} from './fixtures.js'

let tmp: string
let runDir: string
beforeAll(async () => {
  ;({tmp, runDir} = await makeServeRun('serve'))
}, 120_000)
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const servers: Server[] = []
async function start(options: Parameters<typeof createServer>[1] = {}): Promise<{server: Server; url: string}> {
  const server = await createServer(runDir, options)
  servers.push(server)
  return {server, url: await server.listen(0, '127.0.0.1')}
}
afterAll(async () => {
  for (const s of servers) await s.close()
})

async function get(url: string): Promise<{status: number; body: any; type: string}> {
  const r = await fetch(url)
  const text = await r.text()
  return {status: r.status, type: r.headers.get('content-type') ?? '', body: r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text}
}

async function post(url: string, body: string, type = 'application/json'): Promise<{status: number; body: any}> {
  const r = await fetch(url, {method: 'POST', headers: {'content-type': type}, body})
  return {status: r.status, body: await r.json()}
}

/** concatenated interactions (the same id space) */
function concat(parts: Interactions[]): Interactions {
  const n = parts.reduce((a, p) => a + p.length, 0)
  const out = {...parts[0], user: new Int32Array(n), item: new Int32Array(n), rating: new Float32Array(n), timestamp: new Float64Array(n), length: n}
  let o = 0
  for (const p of parts) {
    out.user.set(p.user.subarray(0, p.length), o)
    out.item.set(p.item.subarray(0, p.length), o)
    out.rating.set(p.rating.subarray(0, p.length), o)
    out.timestamp.set(p.timestamp.subarray(0, p.length), o)
    o += p.length
  }
  return out
}

/**
 * Evaluation's own top-K (evaluate() in full-ranking mode, its recorded draws) on the served
 * exclusion set: a split whose train part is every interaction the run knows plus the posted
 * events (later than all of them), with no validation part, and one test item per user that the
 * user never had (so the excluded set is exactly the served one and every user is evaluated).
 */
async function evaluatorTopK(model: string, variant: string, posted: {user: number; item: number}[], k: number): Promise<Map<number, {items: number[]; scores: number[]}>> {
  const sv = loadServedVariant(runDir, {model, variant})
  const {train, valid, test} = sv.split
  const last = Math.max(...[train, valid, test].flatMap((p) => Array.from(p.timestamp.subarray(0, p.length))))
  const extra: Interactions = {
    ...train,
    user: Int32Array.from(posted, (e) => e.user),
    item: Int32Array.from(posted, (e) => e.item),
    rating: new Float32Array(posted.length).fill(1),
    timestamp: Float64Array.from(posted, (_, j) => last + 1 + j),
    length: posted.length,
  }
  const known = concat([train, valid, test, extra])
  const seen = Array.from({length: train.numUsers}, () => new Set<number>())
  for (let r = 0; r < known.length; r++) seen[known.user[r]].add(known.item[r])
  const targets = seen.map((s) => Array.from({length: train.numItems}, (_, i) => i).find((i) => !s.has(i))!)
  const testPart: Interactions = {
    ...train,
    user: Int32Array.from(targets, (_, u) => u),
    item: Int32Array.from(targets),
    rating: new Float32Array(targets.length).fill(1),
    timestamp: new Float64Array(targets.length).fill(last + 1e6),
    length: targets.length,
  }
  const empty: Interactions = {...train, user: new Int32Array(0), item: new Int32Array(0), rating: new Float32Array(0), timestamp: new Float64Array(0), length: 0}
  const split: Split = {train: known, valid: empty, test: testPart}
  const histories = isSequential(sv.weights.kind) ? userSequences([known], train.numUsers) : undefined
  const scorer = await createOnnxScorer(sv.onnx, train.numItems, {probabilities: sv.probabilities, ...(histories ? {histories} : {})})
  // the scores of the ranked items, from the same scorer (evaluate writes −Infinity into its own copy)
  try {
    const r = await evaluate({scorer, split, part: 'test', cfg: {...evalSchema.parse({}), k: [k], negatives: 99}, seed: 1, negatives: negativesSchema.parse({}), record: true, pointwise: false})
    const top = r.draws!.topK!
    const users = r.perUser.users
    const all = await scorer.scoreUsers(users)
    const out = new Map<number, {items: number[]; scores: number[]}>()
    users.forEach((u, j) => {
      const items = Array.from(top.items.subarray(j * top.k, (j + 1) * top.k)).filter((i) => i >= 0)
      out.set(u, {items, scores: items.map((i) => all[j * train.numItems + i])})
    })
    return out
  } finally {
    scorer.dispose()
  }
}

describe('rec serve answers', () => {
  for (const [model, variant] of [
    ['neumf', 'base'],
    ['neumf', 'int8'],
    ['sasrec', 'base'],
  ] as const) {
    it(`${model}/${variant}: every user's top-10 equals evaluation's top-10 on the served exclusion set, posted events included`, async () => {
      const {server, url} = await start({model, variant})
      const known = server.recommender.known
      // posted events: user 3 gets its current best item, user 7 two items (a sequential model reads them as its latest)
      const before = (await get(`${url}/v1/recommend?user=${known.userIds[3]}&k=10`)).body
      const posted = [
        {user: 3, item: known.itemOf(before.items[0])},
        {user: 7, item: 5},
        {user: 7, item: 11},
      ]
      const r = await post(`${url}/v1/events`, JSON.stringify({events: posted.map((e) => ({user: known.userIds[e.user], item: known.itemIds[e.item]}))}))
      expect(r).toEqual({status: 200, body: {accepted: 3, unknownUsers: 0, unknownItems: 0}})
      const expected = await evaluatorTopK(model, variant, posted, 10)
      expect(expected.size).toBe(known.numUsers)
      for (let u = 0; u < known.numUsers; u++) {
        const a = (await get(`${url}/v1/recommend?user=${encodeURIComponent(known.userIds[u])}&k=10`)).body
        const e = expected.get(u)!
        expect(a.items, `user ${known.userIds[u]}`).toEqual(e.items.map((i) => known.itemIds[i]))
        expect(a.scores).toEqual(e.scores.map((s) => Math.fround(s)))
        expect(a).toMatchObject({model, variant, coldStart: false, modelVersion: 1})
      }
      expect((await get(`${url}/v1/recommend?user=${known.userIds[3]}&k=10`)).body.items).not.toContain(before.items[0])
    })
  }

  it('micro-batched answers equal unbatched ones, and requests really were batched', async () => {
    const batched = await start({model: 'sasrec', variant: 'int8', set: ['serve.cache.capacity=0', 'serve.batching.max_batch=64', 'serve.batching.max_wait_ms=20']})
    const single = await start({model: 'sasrec', variant: 'int8', set: ['serve.cache.capacity=0', 'serve.batching.max_batch=1']})
    const ids = batched.server.recommender.known.userIds
    const together = await Promise.all(ids.map((u) => get(`${batched.url}/v1/recommend?user=${u}&k=20`)))
    const alone: any[] = []
    for (const u of ids) alone.push(await get(`${single.url}/v1/recommend?user=${u}&k=20`))
    expect(together.map((r) => r.body)).toEqual(alone.map((r) => r.body))
    const metrics = (await get(`${batched.url}/metrics`)).body as string
    // 60 concurrent requests in 20 ms windows of at most 64: fewer session runs than requests
    const runs = Number(/^rec_batch_size_count (\d+)$/m.exec(metrics)![1])
    expect(runs).toBeLessThan(ids.length)
    expect(Number(/^rec_batch_size_sum (\d+)$/m.exec(metrics)![1])).toBe(ids.length)
    const singleMetrics = (await get(`${single.url}/metrics`)).body as string
    expect(/^rec_batch_size_bucket\{le="1"\} (\d+)$/m.exec(singleMetrics)![1]).toBe(String(ids.length))
  })

  it('caches answers per user, serves smaller k from them, and drops a user\'s entry when it posts an event', async () => {
    const {server, url} = await start({model: 'neumf', variant: 'base'})
    const [a, b] = server.recommender.known.userIds
    const first = (await get(`${url}/v1/recommend?user=${a}&k=10`)).body
    const second = (await get(`${url}/v1/recommend?user=${a}&k=10`)).body
    expect([first.cached, second.cached]).toEqual([false, true])
    expect(second.items).toEqual(first.items)
    const smaller = (await get(`${url}/v1/recommend?user=${a}&k=3`)).body
    expect(smaller).toMatchObject({cached: true, items: first.items.slice(0, 3), scores: first.scores.slice(0, 3)})
    expect((await get(`${url}/v1/recommend?user=${a}&k=20`)).body.cached).toBe(false)
    await get(`${url}/v1/recommend?user=${b}&k=10`)
    expect((await post(`${url}/v1/events`, JSON.stringify({events: [{user: a, item: first.items[1]}]}))).status).toBe(200)
    const after = (await get(`${url}/v1/recommend?user=${a}&k=10`)).body
    expect(after.cached).toBe(false)
    expect(after.items).not.toContain(first.items[1])
    expect(after.items.slice(0, 2)).toEqual([first.items[0], first.items[2]])
    expect((await get(`${url}/v1/recommend?user=${b}&k=10`)).body.cached).toBe(true)
    // an unknown user gets the popularity answer, flagged, minus what it posted
    const cold = (await get(`${url}/v1/recommend?user=stranger&k=5`)).body
    expect(cold).toMatchObject({coldStart: true, modelVersion: 0})
    const pop = server.recommender.known.popular
    expect(cold.items).toEqual(Array.from(pop.subarray(0, 5), (i) => server.recommender.known.itemIds[i]))
    await post(`${url}/v1/events`, JSON.stringify({events: [{user: 'stranger', item: cold.items[0]}, {user: 'stranger', item: 'new-item'}]}))
    expect((await get(`${url}/v1/recommend?user=stranger&k=5`)).body.items).toEqual(Array.from(pop.subarray(1, 6), (i) => server.recommender.known.itemIds[i]))
    const metrics = (await get(`${url}/metrics`)).body as string
    expect(metrics).toMatch(/^rec_cache_hits_total 3$/m)
    expect(metrics).toMatch(/^rec_cache_misses_total 4$/m)
    expect(metrics).toMatch(/^rec_cache_hit_ratio 0\.428571/m)
    expect(metrics).toMatch(/^rec_cold_start_total 2$/m)
    expect(metrics).toMatch(/^rec_events_total 3$/m)
  })

  it('answers a client\'s mistakes with 400 and a JSON error body, never 500', async () => {
    const {url} = await start({model: 'neumf', variant: 'base'})
    const bad: [string, Promise<{status: number; body: any}>][] = [
      ['no user', get(`${url}/v1/recommend?k=10`)],
      ['empty user', get(`${url}/v1/recommend?user=&k=10`)],
      ['k = 0', get(`${url}/v1/recommend?user=1&k=0`)],
      ['k negative', get(`${url}/v1/recommend?user=1&k=-3`)],
      ['k huge', get(`${url}/v1/recommend?user=1&k=100000`)],
      ['k not a number', get(`${url}/v1/recommend?user=1&k=ten`)],
      ['unknown parameter', get(`${url}/v1/recommend?user=1&kk=3`)],
      ['malformed JSON', post(`${url}/v1/recommend`, '{"users": [')],
      ['empty JSON body', post(`${url}/v1/recommend`, '')],
      ['wrong content type', post(`${url}/v1/recommend`, '<users/>', 'application/xml')],
      ['text body', post(`${url}/v1/events`, 'user=1', 'text/plain')],
      ['no users', post(`${url}/v1/recommend`, '{"users": []}')],
      ['users not strings', post(`${url}/v1/recommend`, '{"users": [{"id": 1}]}')],
      ['too many users', post(`${url}/v1/recommend`, JSON.stringify({users: Array.from({length: 257}, (_, j) => String(j))}))],
      ['event without item', post(`${url}/v1/events`, '{"events": [{"user": "1"}]}')],
      ['events not a list', post(`${url}/v1/events`, '{"events": {"user": "1", "item": "2"}}')],
    ]
    for (const [what, p] of bad) {
      const r = await p
      expect(r.status, what).toBe(400)
      expect(r.body.error, what).toMatchObject({status: 400, code: expect.any(String), message: expect.any(String)})
    }
    const missing = await get(`${url}/v2/nothing`)
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('not_found')
  })

  it('any JSON body to the POST routes is a 200 or a 400 (property)', async () => {
    const {url} = await start({model: 'neumf', variant: 'base', set: ['serve.batching.max_batch=1']})
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/v1/recommend', '/v1/events'), fc.jsonValue({maxDepth: 3}), async (route, body) => {
        const r = await post(`${url}${route}`, JSON.stringify(body))
        expect([200, 400]).toContain(r.status)
        if (r.status === 400) expect(r.body.error.status).toBe(400)
      }),
      {numRuns: 30, seed: 11},
    )
  })

  it('GET /metrics is Prometheus text: request counts by route and status, a latency histogram, batch sizes', async () => {
    const {url} = await start({model: 'neumf', variant: 'int8'})
    await get(`${url}/v1/recommend?user=1&k=5`)
    await get(`${url}/v1/recommend?user=1&k=5`)
    await get(`${url}/v1/recommend?user=1&k=0`)
    const m = await get(`${url}/metrics`)
    expect(m.status).toBe(200)
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = m.body as string
    expect(text).toMatch(/^rec_http_requests_total\{method="GET",route="\/v1\/recommend",status="200"\} 2$/m)
    expect(text).toMatch(/^rec_http_requests_total\{method="GET",route="\/v1\/recommend",status="400"\} 1$/m)
    expect(text).toMatch(/^# TYPE rec_http_request_duration_seconds histogram$/m)
    expect(text).toMatch(/^rec_http_request_duration_seconds_bucket\{le="\+Inf"\} 3$/m)
    expect(text).toMatch(/^rec_http_request_duration_seconds_count 3$/m)
    expect(text).toMatch(/^rec_batch_size_count 1$/m)
    expect(text).toMatch(/^rec_cache_hit_ratio 0\.5$/m)
    expect(text).toMatch(/^rec_model_version 1$/m)
    // every sample line is `name{labels} value`
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? (-?[0-9.e+-]+|NaN)$/)
    const h = await get(`${url}/healthz`)
    expect(h.body).toMatchObject({status: 'ok', model: 'neumf', variant: 'int8', runtime: 'onnxruntime-cpu', modelVersion: 1})
  })
})

describe('model swap', () => {
  it('is atomic under concurrent requests: every answer is wholly the old model\'s or wholly the new one\'s', async () => {
    const {server, url} = await start({model: 'neumf', variant: 'base', set: ['serve.cache.capacity=0', 'serve.batching.max_batch=8', 'serve.batching.max_wait_ms=1']})
    const ids = server.recommender.known.userIds.slice(0, 30)
    const expectOf = async (variant: string) => {
      const e = await evaluatorTopK('neumf', variant, [], 10)
      return new Map(ids.map((id) => [id, e.get(server.recommender.known.userOf(id))!.items.map((i) => server.recommender.known.itemIds[i])]))
    }
    const v1 = await expectOf('base')
    const v2 = await expectOf('int8')
    // the two models disagree somewhere, so an answer shows which one scored it
    expect(ids.some((id) => JSON.stringify(v1.get(id)) !== JSON.stringify(v2.get(id)))).toBe(true)
    const int8 = loadServedVariant(runDir, {model: 'neumf', variant: 'int8'})
    const next = await createOnnxScorer(int8.onnx, int8.weights.numItems, {probabilities: int8.probabilities})
    const answers: any[] = []
    const waves: Promise<void>[] = []
    for (let w = 0; w < 8; w++) {
      waves.push(...ids.map(async (id) => void answers.push((await get(`${url}/v1/recommend?user=${id}&k=10`)).body)))
      if (w === 3) server.recommender.holder.swap(next)
      await new Promise((r) => setImmediate(r))
    }
    await Promise.all(waves)
    expect(answers).toHaveLength(8 * ids.length)
    const versions = new Set(answers.map((a) => a.modelVersion))
    expect([...versions].sort()).toEqual([1, 2])
    for (const a of answers) expect(a.items).toEqual((a.modelVersion === 1 ? v1 : v2).get(a.user))
    expect((await get(`${url}/metrics`)).body).toMatch(/^rec_model_swaps_total 1$/m)
  })

  it.each([
    ['neumf', 'int8'],
    ['sasrec', 'base'],
  ])('--update incremental (%s/%s): posted events train the model in the background, then it is swapped in, and the answers keep excluding them', async (model, variant) => {
    const {server, url} = await start({model, variant, update: 'incremental', set: ['serve.update.min_events=4']})
    const known = server.recommender.known
    const u = known.userIds[2]
    const top = (await get(`${url}/v1/recommend?user=${u}&k=10`)).body.items as string[]
    await post(`${url}/v1/events`, JSON.stringify({events: top.slice(0, 3).map((item) => ({user: u, item}))}))
    expect(server.recommender.holder.current.version).toBe(1)
    await post(`${url}/v1/events`, JSON.stringify({events: [{user: known.userIds[4], item: known.itemIds[0]}]}))
    await server.updates!.idle()
    expect(server.recommender.holder.current.version).toBe(2)
    const after = (await get(`${url}/v1/recommend?user=${u}&k=10`)).body
    expect(after).toMatchObject({modelVersion: 2, cached: false})
    for (const item of top.slice(0, 3)) expect(after.items).not.toContain(item)
    const text = (await get(`${url}/metrics`)).body as string
    expect(text).toMatch(/^rec_model_swaps_total 1$/m)
    expect(text).toMatch(/^rec_update_failures_total 0$/m)
  }, 60_000)
})

describe('rec serve (the CLI)', () => {
  it('finishes a request in flight on SIGTERM, then exits 0 with its summary (--json, schemas/serve.schema.json)', async () => {
    let resolveAddress!: (a: string) => void
    const address = new Promise<string>((r) => (resolveAddress = r))
    const cli = spawnCli(['serve', runDir, '--port', '0', '--json', '--set', 'serve.batching.max_batch=64', '--set', 'serve.batching.max_wait_ms=1000'], {
      onStderr: (s) => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(s)
        if (m) resolveAddress(m[1])
      },
    })
    const url = await address
    // the request waits up to 1 s for company in its micro-batch: it is in flight when SIGTERM comes
    const inFlight = get(`${url}/v1/recommend?user=1&k=5`)
    for (let i = 0; i < 100; i++) {
      const m = (await get(`${url}/metrics`)).body as string
      if (/^rec_batch_queue 1$/m.test(m)) break
    }
    cli.child.kill('SIGTERM')
    const answer = await inFlight
    expect(answer.status).toBe(200)
    expect(answer.body.items).toHaveLength(5)
    const done = await cli.done
    expect(done.code).toBe(0)
    expect(done.stderr).toMatch(/rec serve: listening on http:\/\/127\.0\.0\.1:\d+: neumf\/base \(neumf, onnxruntime-cpu, 60 users × 80 items\)/)
    const summary = JSON.parse(done.stdout)
    const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'serve.schema.json'), 'utf8')) as Schema
    expect(checkSchema(summary, schema)).toEqual([])
    expect(summary).toMatchObject({address: url, model: 'neumf', variant: 'base', modelVersion: 1, interrupted: false})
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
  }, 90_000)

  it('names the known variants when asked for an unknown one (exit 2), and refuses --set outside serve.*', async () => {
    const r = await spawnCli(['serve', runDir, '--variant', 'int4', '--port', '0']).done
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Error [serve.unknown_variant]: no variant "int4" of neumf')
    expect(r.stderr).toContain('known variants: base, int8')
    await expect(createServer(runDir, {set: ['train.epochs=3']})).rejects.toMatchObject({code: 'usage.bad_set', exitCode: 2, message: expect.stringContaining('rec serve can only change serve.*')})
    await expect(createServer(runDir, {model: 'mf'})).rejects.toMatchObject({code: 'serve.unknown_model', hint: 'known models: neumf, sasrec'})
  }, 60_000)
})

describe('rec bench serve', () => {
  it('drives the server on 127.0.0.1 with zero errors and prints / saves one table (--json: schemas/bench-serve.schema.json)', async () => {
    const out = join(tmp, 'bench.json')
    const r = await spawnCli(['bench', 'serve', runDir, 'int8', '--cache', 'on', '--batching', 'on', '--concurrency', '1,4', '--duration', '1', '--warmup', '0', '--repeat', '2', '--out', out, '--json']).done
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout)
    const schema = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'bench-serve.schema.json'), 'utf8')) as Schema
    expect(checkSchema(result, schema)).toEqual([])
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(result)
    expect(result.rows.map((row: any) => [row.repeat, row.variant, row.cache, row.batching, row.concurrency])).toEqual([
      [1, 'int8', true, true, 1],
      [1, 'int8', true, true, 4],
      [2, 'int8', true, true, 1],
      [2, 'int8', true, true, 4],
    ])
    // the table: medians over the two passes
    for (const [j, c] of [1, 4].entries()) {
      const runs = result.rows.filter((row: any) => row.concurrency === c)
      expect(result.summary[j]).toMatchObject({repeat: 2, concurrency: c, requests: runs[0].requests + runs[1].requests, reqPerSec: (runs[0].reqPerSec + runs[1].reqPerSec) / 2})
    }
    for (const row of result.rows) {
      expect(row.errors).toBe(0)
      expect(row.requests).toBeGreaterThan(0)
      expect(row.p50Ms).toBeLessThanOrEqual(row.p95Ms)
      expect(row.p95Ms).toBeLessThanOrEqual(row.p99Ms)
      // 60 users: after the first second every one has been seen, so the cache answers most requests
      expect(row.hitRatio).toBeGreaterThan(0)
    }
    expect(result.totalErrors).toBe(0)
  }, 120_000)

  it('draws users in proportion to their activity', async () => {
    const {activityPaths} = await import('../../src/serve/bench.js')
    const paths = activityPaths([0, 1, 3], ['a', 'b', 'c'], 20_000, 5, 3)
    const n = (u: string) => paths.filter((p) => p === `/v1/recommend?user=${u}&k=5`).length
    expect(n('a')).toBe(0)
    expect(n('b') + n('c')).toBe(20_000)
    // expected 5000 / 15000; 5 standard deviations (~306) apart at most
    expect(Math.abs(n('b') - 5000)).toBeLessThan(306)
  })
})
