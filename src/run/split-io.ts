import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {Interactions, Split} from '../data/types.js'
import {dataError} from '../errors.js'
import {writeFileAtomic, writeJsonAtomic} from './atomic.js'

/**
 * The split is kept in the run dir as one binary file per part (little-endian):
 *   header: "RECSPLIT" + u32 version + u32 rows
 *   rows × i32 user | rows × i32 item | rows × f32 rating | rows × f64 timestamp
 * plus idmap.json (original ids). Binary keeps 25M rows small and makes "identical split files"
 * a byte comparison.
 */
const MAGIC = 'RECSPLIT'
const PARTS = ['train', 'valid', 'test'] as const

export function encodePart(p: Interactions): Uint8Array {
  const n = p.length
  const buf = new ArrayBuffer(16 + n * 20)
  const bytes = new Uint8Array(buf)
  bytes.set(new TextEncoder().encode(MAGIC), 0)
  const view = new DataView(buf)
  view.setUint32(8, 1, true)
  view.setUint32(12, n, true)
  // typed-array copies are little-endian on every platform Node runs on (x86, arm)
  new Int32Array(buf, 16, n).set(p.user.subarray(0, n))
  new Int32Array(buf, 16 + 4 * n, n).set(p.item.subarray(0, n))
  new Float32Array(buf, 16 + 8 * n, n).set(p.rating.subarray(0, n))
  const ts = new Float64Array(n)
  ts.set(p.timestamp.subarray(0, n))
  bytes.set(new Uint8Array(ts.buffer), 16 + 12 * n)
  return bytes
}

function decodePart(bytes: Uint8Array, file: string, meta: {numUsers: number; numItems: number; userIds: string[]; itemIds: string[]}): Interactions {
  const magic = new TextDecoder().decode(bytes.subarray(0, 8))
  if (bytes.length < 16 || magic !== MAGIC) throw dataError('run.corrupt_file', `${file} is not a rec split file`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const n = view.getUint32(12, true)
  if (bytes.length !== 16 + n * 20) throw dataError('run.corrupt_file', `${file} is truncated (${bytes.length} bytes, expected ${16 + n * 20})`)
  const copy = new Uint8Array(bytes) // aligned copy
  const buf = copy.buffer
  return {
    user: new Int32Array(buf.slice(16, 16 + 4 * n)),
    item: new Int32Array(buf.slice(16 + 4 * n, 16 + 8 * n)),
    rating: new Float32Array(buf.slice(16 + 8 * n, 16 + 12 * n)),
    timestamp: new Float64Array(buf.slice(16 + 12 * n, 16 + 20 * n)),
    length: n,
    ...meta,
  }
}

export function saveSplit(dir: string, split: Split): void {
  for (const part of PARTS) writeFileAtomic(join(dir, `${part}.bin`), encodePart(split[part]))
  const {numUsers, numItems, userIds, itemIds} = split.train
  writeJsonAtomic(join(dir, 'idmap.json'), {numUsers, numItems, userIds, itemIds})
}

export function loadSplit(dir: string): Split {
  const idmapFile = join(dir, 'idmap.json')
  let meta: {numUsers: number; numItems: number; userIds: string[]; itemIds: string[]}
  try {
    meta = JSON.parse(readFileSync(idmapFile, 'utf8'))
  } catch (err) {
    throw dataError('run.corrupt_file', `cannot read ${idmapFile}: ${(err as Error).message}`)
  }
  const read = (part: string) => {
    const file = join(dir, `${part}.bin`)
    let bytes: Uint8Array
    try {
      bytes = readFileSync(file)
    } catch {
      throw dataError('run.missing_file', `missing split file ${file}`)
    }
    return decodePart(bytes, file, meta)
  }
  return {train: read('train'), valid: read('valid'), test: read('test')}
}
