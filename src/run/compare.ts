import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {canonicalJson} from '../config/hash.js'
import {dataError, usageError} from '../errors.js'
import type {ReportRow} from '../report/table.js'
import type {RunResult} from './pipeline.js'
import {readRunFile, resolveRunDir} from './rundir.js'
import {runLabel, toReportRows} from './rows.js'
import type {RowSource} from './significance.js'

/**
 * The rows of every run's results.json, in the order given. Shards of one experiment (`rec run
 * --shard i/n`) are merged into one run: they must agree on the data and training keys (the same
 * split and the same trained models), and the base rows every shard evaluates appear once.
 */
export function loadRunRows(paths: string[]): ReportRow[] {
  return loadRuns(paths).rows
}

/** every run's results.json (checked against its schema), shards of one run merged into one */
export function loadRunResults(paths: string[]): RunResult[] {
  const {results, merged} = readResults(paths)
  return merged ? [merged] : results
}

/**
 * loadRunRows, and where each row's files are (keyed by its row key "run:model/variant"): the
 * per-user values `--significance` pairs live in the variant's folder of the run (of the shard) that
 * evaluated it
 */
export function loadRuns(paths: string[]): {rows: ReportRow[]; sources: Map<string, RowSource>} {
  const {results, merged} = readResults(paths)
  const sources = new Map<string, RowSource>()
  for (const r of results) {
    const label = runLabel(merged ? merged.runDir : r.runDir)
    for (const v of r.variants) {
      const key = `${label}:${v.model}/${v.name}`
      if (!sources.has(key)) sources.set(key, {runDir: r.runDir, model: v.model, variant: v.name, dataKey: r.keys?.data})
    }
  }
  return {rows: merged ? toReportRows(merged) : results.flatMap((r) => toReportRows(r)), sources}
}

/** each path's results.json, and their merge when they are shards of one run */
function readResults(paths: string[]): {results: RunResult[]; merged?: RunResult} {
  const results = paths.map((p) => {
    const dir = resolveRunDir(p)
    if (!existsSync(join(dir, 'results.json'))) {
      throw dataError('run.not_evaluated', `${dir} has no results.json: it was not evaluated yet`, {hint: `run \`rec eval ${p}\` first`})
    }
    const file = join(dir, 'results.json')
    return {...readRunFile<RunResult>(file, 'results file', `it is not what rec wrote; \`rec eval ${p}\` writes it again`), runDir: dir}
  })
  return {results, merged: results.some((r) => r.shard) ? mergeShards(results) : undefined}
}

export function mergeShards(results: RunResult[]): RunResult {
  const first = results[0]
  for (const r of results) {
    if (!r.shard) throw usageError('compare.not_shards', `${r.runDir} is not a shard; compare shards of one run together, or plain runs together`)
    const why =
      r.experiment !== first.experiment
        ? `experiment ${r.experiment} ≠ ${first.experiment}`
        : r.keys?.data !== first.keys?.data
          ? `data/split key ${r.keys?.data} ≠ ${first.keys?.data}`
          : canonicalJson(r.keys?.train ?? {}) !== canonicalJson(first.keys?.train ?? {})
            ? `train keys ${canonicalJson(r.keys?.train)} ≠ ${canonicalJson(first.keys?.train)}`
            : undefined
    if (why) {
      throw usageError('compare.shard_mismatch', `cannot merge ${r.runDir} with ${first.runDir}: ${why}`, {
        hint: 'shards must run the same experiment on the same data, split and training settings',
      })
    }
  }
  const counts = new Set(results.map((r) => r.shard!.count))
  const seen = new Set<string>()
  const variants = results
    .flatMap((r) => r.variants)
    .filter((v) => {
      const key = `${v.model}/${v.name}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
  const indices = new Set(results.map((r) => r.shard!.index))
  const count = [...counts][0]
  const missing = counts.size === 1 ? Array.from({length: count}, (_, i) => i + 1).filter((i) => !indices.has(i)) : []
  const runDir = first.runDir.replace(/-shard\d+of\d+$/, '')
  return {
    ...first,
    runDir,
    variants,
    shard: undefined,
    ...(missing.length > 0 ? {protocol: {...first.protocol, description: `${first.protocol.description}\nMissing shards: ${missing.join(', ')} of ${count}.`}} : {}),
  }
}
