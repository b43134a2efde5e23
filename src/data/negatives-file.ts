import {readFileSync} from 'node:fs'
import {gunzipSync} from 'node:zlib'

import {clipQuoted, dataError} from '../errors.js'
import type {Split} from './types.js'

/**
 * Fixed test negatives in the NCF format (He et al. 2017's released `ml-1m.test.negative`,
 * `pinterest-20.test.negative`): one line per test positive, `(user,item)` then its negatives,
 * tab-separated, in the original ids of the data files. Read whole (gzip too: a 6,040 × 99 file is
 * 2.5 MB); ids are mapped through the split's id maps.
 */
export interface FixedNegatives {
  /** negatives per positive (every line has the same count) */
  perPositive: number
  /** the file it came from, for messages */
  file: string
  /** the negatives of test positive (user, item) in dense ids, or undefined when the file has no line for it */
  of(user: number, item: number): Int32Array | undefined
}

const GZIP = [0x1f, 0x8b]

export function readNegativesFile(file: string, split: Split): FixedNegatives {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (err) {
    throw dataError('data.file_missing', `cannot read the negatives file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {hint: 'check eval.negatives_file', cause: err})
  }
  if (bytes[0] === GZIP[0] && bytes[1] === GZIP[1]) bytes = gunzipSync(bytes)
  const {numItems} = split.train
  const userIndex = new Map(split.train.userIds.map((id, u) => [id, u]))
  const itemIndex = new Map(split.train.itemIds.map((id, i) => [id, i]))
  const lists = new Map<number, Int32Array>()
  let perPositive = -1
  const lines = bytes.toString('utf8').split(/\r?\n/)
  lines.forEach((line, k) => {
    if (line.trim() === '') return
    const at = `${file}:${k + 1}`
    const fields = line.split('\t')
    const m = /^\(\s*([^,]+?)\s*,\s*([^)]+?)\s*\)$/.exec(fields[0].trim())
    if (!m) throw dataError('data.bad_row', `${at}: expected (user,item) in the first field, found ${clipQuoted(fields[0])}`, {hint: 'the NCF format: (user,item)<TAB>neg1<TAB>neg2...'})
    const negs = fields.slice(1).map((s) => s.trim()).filter((s) => s !== '')
    if (perPositive < 0) perPositive = negs.length
    else if (negs.length !== perPositive) throw dataError('data.bad_row', `${at}: ${negs.length} negatives where the lines before have ${perPositive}`, {hint: 'every test positive needs the same number of negatives'})
    const user = userIndex.get(m[1])
    const item = itemIndex.get(m[2])
    if (user === undefined) throw dataError('data.unknown_id', `${at}: user ${clipQuoted(m[1])} is not in the data`, {hint: 'the negatives file must use the ids of the data files'})
    if (item === undefined) throw dataError('data.unknown_id', `${at}: item ${clipQuoted(m[2])} is not in the data`, {hint: 'the negatives file must use the ids of the data files'})
    const out = new Int32Array(negs.length)
    negs.forEach((s, q) => {
      const i = itemIndex.get(s)
      if (i === undefined) throw dataError('data.unknown_id', `${at}: negative item ${clipQuoted(s)} is not in the data`, {hint: 'the negatives file must use the ids of the data files'})
      out[q] = i
    })
    lists.set(user * numItems + item, out)
  })
  if (perPositive <= 0) throw dataError('data.empty', `the negatives file ${file} has no negatives`, {hint: 'the NCF format: (user,item)<TAB>neg1<TAB>neg2...'})
  return {perPositive, file, of: (user, item) => lists.get(user * numItems + item)}
}
