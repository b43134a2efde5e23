import {randomBytes} from 'node:crypto'
import {createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve, sep} from 'node:path'
import {pipeline} from 'node:stream/promises'

import yauzl from 'yauzl'

import {sha256Hex} from '../config/hash.js'
import {dataError, usageError} from '../errors.js'
import {silentProgress, type Progress} from '../progress.js'

export type DatasetName = 'ml-100k' | 'ml-1m'

export const DATASET_NAMES: DatasetName[] = ['ml-100k', 'ml-1m']

export const DEFAULT_BASE_URL = 'https://files.grouplens.org/datasets/movielens'

/**
 * sha256 of the official archives. Not published by GroupLens (they publish md5 sums); these are
 * the values pinned independently by several public projects (e.g. tensorflow/models for ml-1m,
 * scikit-learn-style fetchers for ml-100k), which all agree. `undefined` would mean "unknown":
 * the download then reports the computed hash as unverified instead of failing.
 */
export const KNOWN_SHA256: Record<DatasetName, string | undefined> = {
  'ml-100k': '50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229',
  'ml-1m': 'a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20',
}

/** the file the readers want inside each unpacked archive */
export const RATINGS_FILE: Record<DatasetName, string> = {'ml-100k': 'u.data', 'ml-1m': 'ratings.dat'}

export const MOVIELENS_LICENSE = [
  'MovieLens data (GroupLens Research, University of Minnesota) — usage terms, in short:',
  '  * research use only; no commercial or revenue-bearing use without permission from GroupLens;',
  '  * do not redistribute the data without separate permission (do not commit it to a repository);',
  '  * do not state or imply endorsement by the University of Minnesota or GroupLens;',
  '  * acknowledge it in publications by citing: F. Maxwell Harper and Joseph A. Konstan. 2015.',
  '    The MovieLens Datasets: History and Context. ACM Transactions on Interactive Intelligent',
  '    Systems (TiiS) 5, 4, Article 19. https://doi.org/10.1145/2827872',
  'The full terms are in the README file of the unpacked dataset.',
].join('\n')

export interface DownloadOptions {
  /** where the archives live (default GroupLens); tests point it at a local server */
  baseUrl?: string
  /** overrides the pinned sha256 */
  expectedSha256?: string
  progress?: Progress
}

export interface DownloadResult {
  /** the unpacked dataset directory, e.g. data/ml-100k */
  dir: string
  /** unpacked files, relative to `dir` */
  files: string[]
  /** the ratings file the readers use (absolute), if the archive has it */
  ratingsFile?: string
  url: string
  bytes: number
  /** sha256 of the downloaded archive */
  sha256: string
  /** false when no expected hash was known (the computed one is reported, not checked) */
  verified: boolean
  license: string
}

/**
 * Fetch a MovieLens archive, check its sha256, and unpack it to `<dir>/<name>/`. The archive is
 * unpacked into a temporary directory beside the target and renamed into place only when every
 * entry was written, so a failure (bad checksum, broken zip) leaves nothing half-unpacked; an
 * existing `<dir>/<name>` is replaced only then.
 */
export async function downloadDataset(name: DatasetName, dir: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  if (!DATASET_NAMES.includes(name)) {
    throw usageError('usage.dataset', `unknown dataset ${JSON.stringify(name)}; known: ${DATASET_NAMES.join(', ')}`)
  }
  const progress = options.progress ?? silentProgress
  const base = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')
  const url = `${base}/${name}.zip`
  const root = resolve(dir)
  const target = join(root, name)

  progress.stage(`download ${url}`)
  const archive = await fetchBytes(url, progress)
  const sha256 = sha256Hex(archive)
  const expected = (options.expectedSha256 ?? KNOWN_SHA256[name])?.toLowerCase()
  if (expected !== undefined && expected !== sha256) {
    throw dataError('data.checksum', `${url}: sha256 ${sha256} does not match the expected ${expected}`, {
      hint: 'the download was corrupted or the file changed upstream; nothing was unpacked. Try again, or pass --expected-sha256 if you trust the new file',
    })
  }
  const verified = expected !== undefined
  progress.done(`${(archive.length / 1e6).toFixed(1)} MB, sha256 ${sha256}${verified ? ' (verified)' : ' (NOT verified: no known checksum)'}`)
  if (!verified) progress.warn(`no known sha256 for ${name}; computed ${sha256} — not verified`)

  progress.stage(`unpack to ${target}`)
  mkdirSync(root, {recursive: true})
  const staging = join(root, `.rec-download-${name}-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    mkdirSync(staging)
    await unzipTo(archive, staging, url)
    // archives hold one top folder (ml-100k/...): that folder becomes the target
    const top = readdirSync(staging)
    const src = top.length === 1 && statSync(join(staging, top[0])).isDirectory() ? join(staging, top[0]) : staging
    if (existsSync(target)) rmSync(target, {recursive: true, force: true})
    renameSync(src, target)
  } finally {
    rmSync(staging, {recursive: true, force: true})
  }
  const files = listFiles(target)
  progress.done(`${files.length} files`)
  const ratings = RATINGS_FILE[name]
  return {
    dir: target,
    files,
    ratingsFile: files.includes(ratings) ? join(target, ratings) : undefined,
    url,
    bytes: archive.length,
    sha256,
    verified,
    license: MOVIELENS_LICENSE,
  }
}

async function fetchBytes(url: string, progress: Progress): Promise<Buffer> {
  let res: Response
  try {
    res = await fetch(url)
  } catch (err) {
    throw dataError('data.download', `cannot fetch ${url}: ${(err as Error).cause ? String((err as {cause: unknown}).cause) : (err as Error).message}`, {
      hint: 'check the network connection (or download the zip by hand and unpack it)',
      cause: err,
    })
  }
  if (!res.ok || !res.body) {
    throw dataError('data.download', `cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`)
  }
  const total = Number(res.headers.get('content-length') ?? 0)
  const chunks: Buffer[] = []
  let got = 0
  let lastReport = 0
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk))
    got += chunk.length
    if (got - lastReport > 1 << 20) {
      lastReport = got
      progress.update(total > 0 ? `${Math.round((100 * got) / total)}% of ${(total / 1e6).toFixed(1)} MB` : `${(got / 1e6).toFixed(1)} MB`)
    }
  }
  return Buffer.concat(chunks)
}

async function unzipTo(archive: Buffer, destDir: string, url: string): Promise<void> {
  let zip: yauzl.ZipFile
  try {
    zip = await yauzl.fromBufferPromise(archive, {lazyEntries: true, strictFileNames: false, validateEntrySizes: true})
  } catch (err) {
    throw dataError('data.bad_archive', `${url}: not a readable zip archive (${(err as Error).message})`, {cause: err})
  }
  try {
    for await (const entry of zip.eachEntry()) {
      // yauzl rejects absolute paths and ".." segments; check containment anyway
      const out = resolve(destDir, entry.fileName)
      if (out !== destDir && !out.startsWith(destDir + sep)) {
        throw dataError('data.bad_archive', `${url}: entry ${JSON.stringify(entry.fileName)} points outside the target directory`)
      }
      if (entry.fileName.endsWith('/')) {
        mkdirSync(out, {recursive: true})
        continue
      }
      mkdirSync(dirname(out), {recursive: true})
      const stream = await zip.openReadStreamPromise(entry)
      await pipeline(stream, createWriteStream(out))
    }
  } catch (err) {
    if ((err as {kind?: string}).kind === 'data') throw err
    throw dataError('data.bad_archive', `${url}: cannot unpack (${(err as Error).message})`, {cause: err})
  } finally {
    zip.close()
  }
}

function listFiles(root: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(relative(root, p).split(sep).join('/'))
    }
  }
  walk(root)
  return out.sort()
}
