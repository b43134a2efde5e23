import type {RecConfig, SplitConfig} from '../config/schema.js'
import {preprocess, type PreprocessResult} from '../data/preprocess.js'
import {readInteractions, type ReadResult} from '../data/read.js'
import {splitInteractions, type SplitResult} from '../data/split.js'
import {readSplitFiles} from '../data/files-split.js'
import type {Progress} from '../progress.js'

/** what the data stage computes before it writes anything: the rows read, cleaned, and split */
export interface PreparedData {
  read: ReadResult
  pre: PreprocessResult
  split: SplitResult
}

/** read → preprocess → split, as the data stage of one run does */
export async function prepareData(cfg: RecConfig, progress: Progress): Promise<PreparedData> {
  if (cfg.split.method === 'files') return preparedFromFiles(cfg, progress)
  const {read, pre} = await readAndClean(cfg, progress)
  return {read, pre, split: splitInteractions(pre.interactions, cfg.split, cfg.seed)}
}

/** split.method files: the split files read into one id space (src/data/files-split.ts); nothing to clean */
async function preparedFromFiles(cfg: RecConfig, progress: Progress): Promise<PreparedData> {
  const {interactions, report, skippedRows, bytesSha256, split} = await readSplitFiles(cfg, progress)
  return {read: {interactions, skippedRows, bytesSha256, sourceFiles: []}, pre: {interactions, report}, split}
}

async function readAndClean(cfg: RecConfig, progress: Progress): Promise<Omit<PreparedData, 'split'>> {
  const read = await readInteractions(cfg.data, {progress})
  return {read, pre: preprocess(read.interactions, cfg.preprocess)}
}

/**
 * prepareData for the runs of one experiment under several seeds: the data is read and cleaned
 * once (nothing there draws from the seed), the split once too when it does not use the seed
 * (splitUsesSeed), else once per seed. Only called on a data-stage miss, so a seed whose split is
 * cached reads nothing.
 */
export function sharedPreparation(): (cfg: RecConfig, progress: Progress) => Promise<PreparedData> {
  let cleaned: Promise<Omit<PreparedData, 'split'>> | undefined
  let split: SplitResult | undefined
  let fromFiles: Promise<PreparedData> | undefined
  return async (cfg, progress) => {
    if (cfg.split.method === 'files') return (fromFiles ??= preparedFromFiles(cfg, progress))
    cleaned ??= readAndClean(cfg, progress)
    const {read, pre} = await cleaned
    if (splitUsesSeed(cfg.split)) return {read, pre, split: splitInteractions(pre.interactions, cfg.split, cfg.seed)}
    split ??= splitInteractions(pre.interactions, cfg.split, cfg.seed)
    return {read, pre, split}
  }
}

/**
 * Whether a split draws from `seed`: random splits (global or per user) shuffle with it, and so
 * does leave-one-out with order: random; temporal splits and leave-one-out on the latest rows
 * order by time and never draw.
 */
export function splitUsesSeed(split: SplitConfig): boolean {
  if (split.method === 'random') return true
  if (split.method === 'leave_one_out') return split.order === 'random'
  return false
}
