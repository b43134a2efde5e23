import {mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join, relative} from 'node:path'

import {runCli, type CliResult} from '../helpers/cli.js'

/** a fresh temp folder for one test file */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `rec-repro-${prefix}-`))
}

/**
 * The tiny synthetic experiment these tests run (about 1.5-2.5 s per CLI call, mostly start-up):
 * 120 users × 80 items, 2500 interactions, one MF with 8 factors, 6 epochs, tfjs evaluation.
 * `extra` is appended verbatim (YAML), e.g. a compress section.
 */
export function tinyYaml(opts: {name?: string; interactions?: number; items?: number; epochs?: number; runtime?: 'tfjs' | 'onnx'; extra?: string} = {}): string {
  return [
    `name: ${opts.name ?? 'tiny'}`,
    'seed: 42',
    'data:',
    '  format: synth',
    `  synth: {users: 120, items: ${opts.items ?? 80}, interactions: ${opts.interactions ?? 2500}, factors: 4, seed: 3}`,
    'split: {method: random, scope: per_user, ratios: [0.8, 0.1, 0.1]}',
    'models:',
    '  - {model: mf, factors: 8, loss: bpr}',
    `train: {optimizer: adam, lr: 0.01, batch_size: 256, epochs: ${opts.epochs ?? 6}, early_stopping: null}`,
    'eval:',
    '  k: [10]',
    `  runtime: ${opts.runtime ?? 'tfjs'}`,
    '  latency: {requests: 5, warmup: 1, batch: 16}',
    opts.extra ?? '',
  ].join('\n')
}

export function writeYaml(dir: string, name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

export interface RunJson {
  runDir: string
  experiment: string
  cached: string[]
  keys: {data?: string; train: Record<string, string>}
  variants: {name: string; model: string; metrics: Record<string, number>}[]
  shard?: {index: number; count: number}
  check?: {ok: boolean; compared: number; moved: unknown[]; failed: unknown[]}
  error?: {code: string; message: string; exitCode: number}
}

/** `rec run ... --json`, parsed; fails the test with the CLI's stderr when stdout is not JSON */
export async function runJson(args: string[]): Promise<CliResult & {json: RunJson}> {
  const r = await runCli([...args, '--json'])
  let json: RunJson
  try {
    json = JSON.parse(r.stdout) as RunJson
  } catch {
    throw new Error(`rec ${args.join(' ')} --json: exit ${r.code}, stdout is not JSON:\n${r.stdout}\n--- stderr ---\n${r.stderr}`)
  }
  return {...r, json}
}

/** `model/variant` → JSON.stringify(metrics): the bytes the determinism contract is about */
export function metricsBytes(json: RunJson): Record<string, string> {
  return Object.fromEntries(json.variants.map((v) => [`${v.model}/${v.name}`, JSON.stringify(v.metrics)]))
}

/** every file under dir, relative, sorted */
export function listFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(relative(dir, p))
    }
  }
  walk(dir)
  return out.sort()
}

/** temp files of src/run/atomic.ts: `.<name>.<pid>.<8 hex>.tmp` */
export const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/

/**
 * Every non-temp file of a run directory is complete: JSON parses, split files match their header,
 * weights.bin / optimizer.bin / variant.bin hold the bytes their JSON manifests describe, ONNX
 * files are non-empty protobufs. Returns the problems found (empty = all complete) and the temp files.
 */
export function checkRunDirComplete(dir: string): {problems: string[]; tempFiles: string[]} {
  const problems: string[] = []
  const tempFiles: string[] = []
  const files = listFiles(dir)
  const json = (rel: string): unknown => JSON.parse(readFileSync(join(dir, rel), 'utf8'))
  // a checkpoint is the folder its state.json names (src/train/train.ts); a folder being written
  // when the process died is not part of any checkpoint and is removed by the next save
  const live = new Set<string>()
  for (const rel of files.filter((f) => basename(f) === 'state.json' && f.includes('checkpoint'))) {
    const st = json(rel) as {dir?: string; bestDir?: string}
    for (const d of [st.dir, st.bestDir]) if (d) live.add(join(rel, '..', d))
  }
  // a model folder's manifest (model.json, optimizer.json, variant.json) is written after its data
  // file: a data file without its manifest is a save the kill interrupted, which the stage (not
  // marked done) redoes; each file on its own is still whole
  const manifestOf: Record<string, string> = {'weights.bin': 'model.json', 'optimizer.bin': 'optimizer.json', 'variant.bin': 'variant.json'}
  for (const rel of files) {
    const name = basename(rel)
    if (TEMP_FILE.test(name)) {
      tempFiles.push(rel)
      continue
    }
    const ck = /^(.*checkpoint\/(?:epoch|best)-\d+)\//.exec(rel)
    if (ck && !live.has(ck[1])) continue
    if (manifestOf[name] && !files.includes(join(rel, '..', manifestOf[name]))) continue
    const full = join(dir, rel)
    try {
      if (name.endsWith('.json') || name === '.lock') {
        json(rel)
      } else if (name.endsWith('.yaml')) {
        if (statSync(full).size === 0) problems.push(`${rel}: empty`)
      } else if (rel.startsWith(join('data', 'split')) && name.endsWith('.bin')) {
        const b = readFileSync(full)
        const n = b.length >= 16 ? b.readUInt32LE(12) : -1
        if (b.subarray(0, 8).toString('latin1') !== 'RECSPLIT' || b.length !== 16 + n * 20) problems.push(`${rel}: ${b.length} bytes, header says ${n} rows`)
      } else if (name === 'weights.bin') {
        const m = json(join(rel, '..', 'model.json')) as {weightsManifest: {weights: {shape: number[]}[]}[]}
        const expected = m.weightsManifest.flatMap((g) => g.weights).reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * 4, 0)
        if (statSync(full).size !== expected) problems.push(`${rel}: ${statSync(full).size} bytes, model.json needs ${expected}`)
      } else if (name === 'optimizer.bin') {
        const m = json(join(rel, '..', 'optimizer.json')) as {entries: {length: number}[]}
        const expected = m.entries.reduce((a, e) => a + e.length * 4, 0)
        if (statSync(full).size !== expected) problems.push(`${rel}: ${statSync(full).size} bytes, optimizer.json needs ${expected}`)
      } else if (name === 'variant.bin') {
        const m = json(join(rel, '..', 'variant.json')) as {tensors: Record<string, Record<string, unknown>>}
        const blobs: {offset: number; length: number; dtype: string}[] = []
        const collect = (x: unknown) => {
          if (!x || typeof x !== 'object') return
          const o = x as Record<string, unknown>
          if (typeof o.offset === 'number' && typeof o.length === 'number' && typeof o.dtype === 'string') blobs.push(o as never)
          else for (const v of Object.values(o)) collect(v)
        }
        collect(m.tensors)
        const bytes: Record<string, number> = {float32: 4, uint16: 2, int8: 1, uint8: 1}
        const end = Math.max(0, ...blobs.map((b) => b.offset + b.length * bytes[b.dtype]))
        if (statSync(full).size !== end) problems.push(`${rel}: ${statSync(full).size} bytes, variant.json describes ${end}`)
      } else if (name.endsWith('.onnx')) {
        if (statSync(full).size < 100) problems.push(`${rel}: only ${statSync(full).size} bytes`)
      }
    } catch (err) {
      problems.push(`${rel}: ${(err as Error).message}`)
    }
  }
  return {problems, tempFiles}
}

/** a small seeded PRNG (mulberry32): the kill points are the same on every run of the test */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
