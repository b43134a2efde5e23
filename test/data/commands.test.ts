import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {writeFixtures, type Fixtures} from '../fixtures/make-fixtures.js'
import {fakeArchive} from './zip-writer.js'

let fx: Fixtures
let server: Server
let baseUrl: string
const zip = fakeArchive()
const zipSha = createHash('sha256').update(zip).digest('hex')

beforeAll(async () => {
  fx = writeFixtures(mkdtempSync(join(tmpdir(), 'rec-cli-data-')))
  server = createServer((req, res) => {
    if (req.url === '/ml-100k.zip') res.end(zip)
    else res.writeHead(404).end()
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((ok) => server.close(ok))
  rmSync(fx.dir, {recursive: true, force: true})
})

const json = (stdout: string) => JSON.parse(stdout)

const statsShape = {
  users: expect.any(Number),
  items: expect.any(Number),
  interactions: expect.any(Number),
  density: expect.any(Number),
  ratingHistogram: expect.any(Object),
  perUser: {min: expect.any(Number), median: expect.any(Number), max: expect.any(Number)},
  perItem: {min: expect.any(Number), median: expect.any(Number), max: expect.any(Number)},
  timeSpan: {first: expect.any(String), last: expect.any(String), days: expect.any(Number)},
}

describe.concurrent('rec data commands', () => {
  it('data synth --json (1e3 notation) writes the file and returns {out, users, items, interactions, sha256}', async () => {
    const out = join(fx.dir, 'synth.csv')
    const r = await runCli(['data', 'synth', '--users', '50', '--items', '40', '--interactions', '1e3', '--seed', '3', '--out', out, '--json'])
    expect(r.code).toBe(0)
    const body = json(r.stdout)
    expect(body).toEqual({out, users: 50, items: expect.any(Number), interactions: 1000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/)})
    expect(existsSync(out)).toBe(true)
  })

  it('data inspect <experiment.yaml> --set --json', async () => {
    const yaml = join(fx.dir, 'exp.yaml')
    writeFileSync(yaml, `name: tiny\ndata:\n  format: delimited\n  path: dupes.csv\n  header: true\n  columns: {user: u, item: i, rating: r, timestamp: t}\npreprocess:\n  dedupe: last\n`)
    const r = await runCli(['data', 'inspect', yaml, '--set', 'preprocess.implicit.mode=threshold', '--json'])
    expect(r.stderr).not.toMatch(/Error \[/)
    expect(r.code).toBe(0)
    const body = json(r.stdout)
    expect(body).toMatchObject({raw: {interactions: 5}, preprocess: {duplicatesRemoved: 2, belowThreshold: 2}, positives: 1, interactions: 1, stats: statsShape})
  })

  it('data inspect --dataset with a bad row exits 3 with file:line', async () => {
    const j = await runCli(['data', 'inspect', '--dataset', `ml-100k:${fx.badRating}`, '--json'])
    expect(j.code).toBe(3)
    expect(json(j.stdout).error).toMatchObject({code: 'data.bad_row', exitCode: 3, message: `${fx.badRating}:2: rating "five" is not a number`})
  })

  it('data inspect --json on a file without timestamps: timeSpan null and timestamps false, not 1970 dates', async () => {
    const r = await runCli(['data', 'inspect', '--dataset', fx.csvIndex, '--delimiter', ';', '--columns', 'user=2,item=0', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(json(r.stdout).stats).toMatchObject({timestamps: false, timeSpan: null})
  })

  it('data download --base-url (local server) --json', async () => {
    const dir = join(fx.dir, 'dl')
    const ok = await runCli(['data', 'download', 'ml-100k', '--dir', dir, '--base-url', baseUrl, '--expected-sha256', zipSha, '--json'])
    expect(ok.code).toBe(0)
    expect(json(ok.stdout)).toMatchObject({dir: join(dir, 'ml-100k'), files: ['README', 'u.data'], sha256: zipSha, verified: true, license: expect.stringContaining('Harper')})
  })
})
