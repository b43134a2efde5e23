import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {cpus, hostname, totalmem} from 'node:os'
import {join, resolve} from 'node:path'
import {createRequire} from 'node:module'

import {dataError, usageError} from '../errors.js'
import {writeFileAtomic, writeJsonAtomic} from './atomic.js'
import {RUN_FILES, type RunFileKind} from './schemas.js'

/**
 * A run directory (<output.dir>/<experiment>/<run id>, see defaultRunId in pipeline.ts) holds
 * everything the runs of one experiment configuration produced:
 *   config.resolved.yaml   the config after extends / --set, with absolute paths
 *   manifest.json          what decides the result (seed, config hash, dataset fingerprint, versions, backend, machine)
 *   data/                  stats.json and the split (split/{train,valid,test}.bin + idmap.json)
 *   models/<model>/<variant>/   model files, eval.json, per-user values
 *   results.json           one row per model variant (what `rec compare` reads)
 * Every file is written atomically (temp + rename).
 */
export interface Manifest {
  rec: string
  experiment: string
  configFile: string
  configHash: string
  seed: number
  datasetFingerprint?: string
  backend?: {name: string; requested: string; fallbackReason?: string}
  command: string[]
  startedAt: string
  endedAt?: string
  /** per stage (data, train:<model>, compress:<model>/<variant>, eval:<model>/<variant>): status and cache key */
  stages: Record<string, StageRecord>
  node: string
  packages: Record<string, string>
  host: {hostname: string; platform: string; arch: string; cores: number; cpuModel: string; memoryBytes: number}
}

export interface StageRecord {
  status: 'running' | 'done'
  seconds?: number
  key?: string
  note?: string
  /** sha256 of every file the stage wrote (path relative to the run directory), checked before they are read */
  files?: Record<string, string>
}

const require = createRequire(import.meta.url)

/** versions of the packages that decide numbers, read from their own package.json */
export function packageVersions(): Record<string, string> {
  const names = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node', 'ml-matrix', 'zod', 'yaml', 'csv-parse']
  const out: Record<string, string> = {}
  for (const name of names) {
    try {
      const pkgPath = require.resolve(`${name}/package.json`)
      out[name] = JSON.parse(readFileSync(pkgPath, 'utf8')).version
    } catch {
      // not installed (optional native backends)
    }
  }
  return out
}


export function newManifest(args: {experiment: string; configFile: string; configHash: string; seed: number; command: string[]}): Manifest {
  const cpu = cpus()
  return {
    rec: safeRecVersion(),
    experiment: args.experiment,
    configFile: args.configFile,
    configHash: args.configHash,
    seed: args.seed,
    command: args.command,
    startedAt: new Date().toISOString(),
    stages: {},
    node: process.version,
    packages: packageVersions(),
    host: {
      hostname: hostname(),
      platform: process.platform,
      arch: process.arch,
      cores: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
    },
  }
}

function safeRecVersion(): string {
  // works from src/ (tsx) and dist/src/ (build): walk up to the package.json named rec
  let dir = new URL('.', import.meta.url).pathname
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'package.json')
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as {name?: string; version?: string}
      if (pkg.name === 'rec') return pkg.version ?? '0.0.0'
    }
    dir = resolve(dir, '..')
  }
  return '0.0.0'
}

export function writeManifest(dir: string, manifest: Manifest): void {
  writeJsonAtomic(join(dir, 'manifest.json'), manifest)
}

export function readManifest(dir: string): Manifest {
  return readRunFile<Manifest>(join(dir, 'manifest.json'), 'manifest', 'it is not what rec wrote; `rec run <experiment> --force` rebuilds the run')
}

/**
 * read a run file and check it against its schema (src/run/schemas.ts): missing, corrupt or of
 * the wrong shape, it is a data error (exit 3) naming the file and what is wrong with it
 */
export function readRunFile<T>(path: string, kind: RunFileKind, hint = 'it is not what rec wrote; re-run the stage that wrote it (rec run <experiment> --from <stage>, or --force)'): T {
  const value = readJson<unknown>(path)
  const r = RUN_FILES[kind].safeParse(value)
  if (!r.success) {
    const problems = r.error.issues.slice(0, 10).map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`)
    throw dataError('run.bad_file', `${path} is not a valid ${kind}: ${problems[0]}`, {details: problems, hint})
  }
  return value as T
}

export function writeText(dir: string, name: string, text: string): void {
  writeFileAtomic(join(dir, name), text)
}

/** read a JSON file of a run, with a data error (exit 3) naming the file when it is missing or corrupt */
export function readJson<T>(path: string): T {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw dataError('run.missing_file', `missing file ${path}`, {hint: 'is this a run directory made by `rec run` or `rec train`?'})
  }
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw dataError('run.corrupt_file', `corrupt JSON in ${path}: ${(err as Error).message}`, {hint: 're-run the stage that wrote it (rec run --force)'})
  }
}

/** the run directory itself, or its newest run when given runs/<experiment> */
export function resolveRunDir(path: string): string {
  const abs = resolve(path)
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw usageError('run.not_found', `no run directory at ${path}`)
  }
  if (existsSync(join(abs, 'manifest.json'))) return abs
  // the run whose manifest was written last
  const children = readdirSync(abs)
    .filter((d) => existsSync(join(abs, d, 'manifest.json')))
    .map((d) => ({d, t: statSync(join(abs, d, 'manifest.json')).mtimeMs}))
    .sort((a, b) => a.t - b.t || a.d.localeCompare(b.d))
  if (children.length === 0) throw usageError('run.not_found', `${path} holds no run (no manifest.json)`)
  return join(abs, children.at(-1)!.d)
}
