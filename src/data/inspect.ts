import type {DataConfig, PreprocessConfig} from '../config/schema.js'
import {silentProgress, type Progress} from '../progress.js'
import {datasetFingerprint} from './fingerprint.js'
import {preprocess, type PreprocessReport} from './preprocess.js'
import {readInteractions} from './read.js'
import {datasetStats, formatStats, type DatasetStats} from './stats.js'

export interface InspectResult {
  source: {format: DataConfig['format']; files: string[]; bytesSha256: string; skippedRows: number}
  /** as read, before preprocessing */
  raw: {users: number; items: number; interactions: number}
  preprocess: PreprocessReport
  /** rows that are positives after dedupe and the implicit conversion (before k-core) */
  positives: number
  /** after preprocessing */
  users: number
  items: number
  interactions: number
  stats: DatasetStats
  fingerprint: string
}

/** Read + preprocess + describe: what `rec data inspect` reports. */
export async function inspectDataset(data: DataConfig, pre: PreprocessConfig, options: {progress?: Progress} = {}): Promise<InspectResult> {
  const progress = options.progress ?? silentProgress
  const read = await readInteractions(data, {progress})
  progress.stage('preprocess')
  const {interactions, report} = preprocess(read.interactions, pre)
  progress.done(`${report.output.interactions} interactions`)
  const stats = datasetStats(interactions)
  return {
    source: {format: data.format, files: read.sourceFiles, bytesSha256: read.bytesSha256, skippedRows: read.skippedRows},
    raw: {users: read.interactions.numUsers, items: read.interactions.numItems, interactions: read.interactions.length},
    preprocess: report,
    positives: report.positives,
    users: stats.users,
    items: stats.items,
    interactions: stats.interactions,
    stats,
    fingerprint: datasetFingerprint(read.bytesSha256, data, pre),
  }
}

export function formatInspect(r: InspectResult, pre: PreprocessConfig): string {
  const p = r.preprocess
  const src = r.source.files.length > 0 ? r.source.files.join(', ') : 'synthetic generator'
  const implicit = pre.implicit.mode === 'threshold' ? `rating >= ${pre.implicit.threshold}` : 'all rows'
  const lines = [
    `source        ${src} (${r.source.format})`,
    `read          ${r.raw.interactions} rows, ${r.raw.users} users, ${r.raw.items} items${r.source.skippedRows > 0 ? `, ${r.source.skippedRows} malformed rows skipped` : ''}`,
    `preprocess    dedupe ${pre.dedupe}: -${p.duplicatesRemoved} rows; positives (${implicit}): ${p.positives} (-${p.belowThreshold}); ` +
      `k-core ${pre.kcore.user}/${pre.kcore.item}: -${p.kcore.rowsRemoved} rows, -${p.kcore.usersRemoved} users, -${p.kcore.itemsRemoved} items` +
      (p.kcore.iterations > 0 ? ` (${p.kcore.iterations} passes)` : ''),
    formatStats(r.stats),
    `fingerprint   ${r.fingerprint}`,
  ]
  return lines.join('\n')
}
