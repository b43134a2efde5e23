import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {KNOWN_SHA256, downloadDataset} from '../../src/data/download.js'
import {RecError} from '../../src/errors.js'
import {FAKE_UDATA, fakeArchive} from './zip-writer.js'


let server: Server
let baseUrl: string
const zip = fakeArchive()
const zipSha = createHash('sha256').update(zip).digest('hex')
const dir = mkdtempSync(join(tmpdir(), 'rec-dl-'))

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ml-100k.zip') {
      res.writeHead(200, {'content-type': 'application/zip', 'content-length': zip.length})
      res.end(zip)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((ok) => server.close(ok))
  rmSync(dir, {recursive: true, force: true})
})

describe('downloadDataset (local server, no network)', () => {
  it('fetches, verifies and unpacks into <dir>/<name>', async () => {
    const r = await downloadDataset('ml-100k', join(dir, 'ok'), {baseUrl, expectedSha256: zipSha})
    expect(r.dir).toBe(join(dir, 'ok', 'ml-100k'))
    expect(r.files).toEqual(['README', 'u.data'])
    expect(r.sha256).toBe(zipSha)
    expect(r.verified).toBe(true)
    expect(r.ratingsFile).toBe(join(r.dir, 'u.data'))
    expect(readFileSync(join(r.dir, 'u.data'), 'utf8')).toBe(FAKE_UDATA)
    expect(r.license).toMatch(/redistribute/)
    expect(r.license).toMatch(/Harper and Joseph A\. Konstan/)
    // only the dataset folder is left (no staging directory)
    expect(readdirSync(join(dir, 'ok'))).toEqual(['ml-100k'])
  })

  it('a sha256 mismatch is a data error and leaves nothing unpacked', async () => {
    let err: unknown
    try {
      // no override: the pinned checksum of the real archive does not match the fixture
      await downloadDataset('ml-100k', join(dir, 'bad'), {baseUrl})
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(RecError)
    expect((err as RecError).code).toBe('data.checksum')
    expect((err as RecError).exitCode).toBe(3)
    expect((err as RecError).message).toContain(KNOWN_SHA256['ml-100k'])
    expect(existsSync(join(dir, 'bad', 'ml-100k'))).toBe(false)
    expect(existsSync(join(dir, 'bad')) ? readdirSync(join(dir, 'bad')) : []).toEqual([])
  })

  it('an HTTP error is a data error', async () => {
    await expect(downloadDataset('ml-1m', join(dir, 'missing'), {baseUrl})).rejects.toMatchObject({code: 'data.download', exitCode: 3})
  })

  it('replaces an existing copy only after a complete unpack', async () => {
    const target = join(dir, 'again')
    await downloadDataset('ml-100k', target, {baseUrl, expectedSha256: zipSha})
    await expect(downloadDataset('ml-100k', target, {baseUrl, expectedSha256: '0'.repeat(64)})).rejects.toMatchObject({code: 'data.checksum'})
    expect(readFileSync(join(target, 'ml-100k', 'u.data'), 'utf8')).toBe(FAKE_UDATA)
    const r = await downloadDataset('ml-100k', target, {baseUrl, expectedSha256: zipSha})
    expect(r.files).toEqual(['README', 'u.data'])
  })
})
