import {createHash} from 'node:crypto'

import type {DataConfig, PreprocessConfig, RecConfig} from '../config/schema.js'
import {configError, dataError} from '../errors.js'
import {silentProgress, type Progress} from '../progress.js'
import {IdMap, InteractionBuilder, selectRows} from './arrays.js'
import {preprocess, type PreprocessReport, type PreprocessResult} from './preprocess.js'
import {inputSha256, readInteractions, type ReadResult} from './read.js'
import {splitInteractions, type SplitResult} from './split.js'
import type {Interactions} from './types.js'

/**
 * `split: {method: files, train, valid, test}`: a split someone else made (RecBole's benchmark
 * `.train.inter` / `.valid.inter` / `.test.inter`, a paper's released `train.rating` / `test.rating`),
 * evaluated as given. Each file is read with the data section's reader (format, delimiter, columns,
 * encoding; gzip read directly) and preprocessed on its own (dedupe, implicit; k-core would move
 * events between parts, so it is refused). Ids are mapped consistently across the files by their
 * original string: dense ids in first-seen order over train, then validation, then test. Items
 * seen only in validation / test are part of the catalogue; validation / test rows of users
 * without a training row are dropped (counted, as the other splits do). Without `valid`, the
 * validation part is empty (no early stopping, no validation threshold).
 */

type Part = 'train' | 'valid' | 'test'
const PARTS: readonly Part[] = ['train', 'valid', 'test']

/** the split files of a config, in part order (valid may be absent) */
function splitFiles(cfg: RecConfig): {part: Part; path: string}[] {
  const s = cfg.split
  const out: {part: Part; path: string}[] = []
  for (const part of PARTS) {
    const path = s[part]
    if (path) out.push({part, path})
    else if (part !== 'valid') throw configError('config.invalid', `split.method files needs split.${part} (a file of the ${part} interactions)`)
  }
  return out
}

/** the sha256 standing for the input of a files split: over the three files' own sha256, in part order */
export async function splitFilesSha256(cfg: RecConfig): Promise<string> {
  const h = createHash('sha256')
  for (const f of splitFiles(cfg)) h.update(`${f.part}:${await inputSha256({...cfg.data, path: f.path})}\n`)
  return h.digest('hex')
}

export interface ReadSplit {
  /** every interaction of the dataset (all parts; the dataset statistics are computed on it) */
  interactions: Interactions
  report: PreprocessReport
  skippedRows: number
  bytesSha256: string
  split: SplitResult
}

/** sum of the per-file preprocessing reports, with the output counts of the merged dataset */
function mergedReport(reports: PreprocessReport[], all: Interactions): PreprocessReport {
  const sum = (f: (r: PreprocessReport) => number) => reports.reduce((a, r) => a + f(r), 0)
  return {
    input: {interactions: sum((r) => r.input.interactions), users: all.numUsers, items: all.numItems},
    duplicatesRemoved: sum((r) => r.duplicatesRemoved),
    belowThreshold: sum((r) => r.belowThreshold),
    positives: sum((r) => r.positives),
    kcore: {rowsRemoved: 0, usersRemoved: 0, itemsRemoved: 0, iterations: 0},
    output: {interactions: all.length, users: all.numUsers, items: all.numItems},
    usersRemoved: sum((r) => r.usersRemoved),
    itemsRemoved: sum((r) => r.itemsRemoved),
  }
}

/** read the split files and join them into one id space (see the module comment) */
export async function readSplitFiles(cfg: RecConfig, progress: Progress = silentProgress): Promise<ReadSplit> {
  const pre: PreprocessConfig = cfg.preprocess
  if (pre.kcore.user > 0 || pre.kcore.item > 0) {
    throw configError('config.invalid', 'preprocess.kcore cannot be applied to a split given as files (it would drop events of one part because of another)', {
      hint: 'set preprocess.kcore to {user: 0, item: 0}, or filter the files before',
    })
  }
  const data: DataConfig = cfg.data
  if (data.format === 'synth') throw configError('config.invalid', 'split.method files reads files: set data.format to the format of the split files (e.g. recbole, ml-100k, delimited)')
  const users = new IdMap()
  const items = new IdMap()
  const out = new InteractionBuilder(1 << 12)
  const partOf: number[] = []
  const reports: PreprocessReport[] = []
  const shas: string[] = []
  let skipped = 0
  let hasTimestamps = true
  for (const f of splitFiles(cfg)) {
    const read: ReadResult = await readInteractions({...data, path: f.path}, {progress})
    const p: PreprocessResult = preprocess(read.interactions, pre)
    const inter = p.interactions
    reports.push(p.report)
    shas.push(`${f.part}:${read.bytesSha256}\n`)
    skipped += read.skippedRows
    if (inter.hasTimestamps === false) hasTimestamps = false
    const code = PARTS.indexOf(f.part)
    for (let r = 0; r < inter.length; r++) {
      out.push(users.get(inter.userIds[inter.user[r]]), items.get(inter.itemIds[inter.item[r]]), inter.rating[r], inter.timestamp[r])
      partOf.push(code)
    }
  }
  const all = out.build({userIds: users.ids, itemIds: items.ids, ...(hasTimestamps ? {} : {hasTimestamps: false})})
  // validation / test rows of users with no training row cannot be evaluated (as in splitInteractions)
  const hasTrain = new Uint8Array(all.numUsers)
  for (let r = 0; r < all.length; r++) if (partOf[r] === 0) hasTrain[all.user[r]] = 1
  const rows: number[][] = [[], [], []]
  const cold = new Set<number>()
  let coldRows = 0
  for (let r = 0; r < all.length; r++) {
    if (partOf[r] !== 0 && !hasTrain[all.user[r]]) {
      cold.add(all.user[r])
      coldRows++
    } else rows[partOf[r]].push(r)
  }
  if (rows[0].length === 0) throw dataError('data.empty_split', `the training file ${cfg.split.train} has no interactions left`)
  const [train, valid, test] = rows.map((r) => selectRows(all, r))
  const split: SplitResult = {
    train,
    valid,
    test,
    stats: {
      method: 'files',
      scope: cfg.split.scope,
      train: train.length,
      valid: valid.length,
      test: test.length,
      coldUsersDropped: cold.size,
      coldRowsDropped: coldRows,
      shortUsersTrainOnly: 0,
      order: null,
    },
  }
  const bytesSha256 = createHash('sha256').update(shas.join('')).digest('hex')
  return {interactions: all, report: mergedReport(reports, all), skippedRows: skipped, bytesSha256, split}
}

/** the input hash the data stage keys on: the data file's, or the split files' (method files) */
export async function dataInputSha256(cfg: RecConfig): Promise<string> {
  return cfg.split.method === 'files' ? splitFilesSha256(cfg) : inputSha256(cfg.data)
}
