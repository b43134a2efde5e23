import {existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {repoRoot} from '../helpers/cli.js'
import type {Schema} from './schema-check.js'

/**
 * The tiny experiment every command test uses: 150 users × 100 items × 3000 synthetic interactions,
 * mf and neumf with 8 factors, 3 epochs, five latency requests, and one variant of each compression
 * method. Structured pruning uses target `all`: compression variants apply to every model, and
 * `target: mlp` is (rightly) a config error for mf, which has no MLP.
 */
export const TINY_VARIANTS = [
  '{name: int8, quantize: {dtype: int8}}',
  '{prune: {method: magnitude, sparsity: 0.5}}',
  '{lowrank: {rank: 4}}',
  '{prune: {method: structured, sparsity: 0.5, target: all}}',
]
/** the variant names rec derives from TINY_VARIANTS, in config order */
export const TINY_VARIANT_NAMES = ['int8', 'magnitude-0.5', 'lowrank-r4', 'structured-0.5']
export const TINY = {users: 150, items: 100, factors: 8}

export function tinyYaml(options: {name?: string; models?: string[]; variants?: string[]} = {}): string {
  const models = options.models ?? ['{model: mf, factors: 8}', '{model: neumf, factors: 8, mlp_layers: [16, 8]}']
  const variants = options.variants ?? TINY_VARIANTS
  return [
    `name: ${options.name ?? 'tiny'}`,
    'seed: 42',
    'data:',
    '  format: synth',
    `  synth: {users: ${TINY.users}, items: ${TINY.items}, interactions: 3000, factors: 8, seed: 7}`,
    'models:',
    ...models.map((m) => `  - ${m}`),
    'train: {epochs: 3, batch_size: 256}',
    'eval:',
    '  latency: {requests: 5, warmup: 1, batch: 16}',
    'compress:',
    '  finetune: {epochs: 1}',
    '  variants:',
    ...variants.map((v) => `    - ${v}`),
    '  gate: {metric: ndcg@10, max_relative_drop: 0.5}',
    '',
  ].join('\n')
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `rec-cmd-${prefix}-`))
}

/** write an experiment file into `dir` and return its path */
export function writeExperiment(dir: string, file: string, yaml: string): string {
  const path = join(dir, file)
  writeFileSync(path, yaml)
  return path
}

/** stdout as exactly one JSON document; the error names what came instead */
export function parseJson(stdout: string): any {
  try {
    return JSON.parse(stdout)
  } catch (err) {
    throw new Error(`stdout is not one JSON document (${(err as Error).message}):\n${stdout.slice(0, 2000)}`)
  }
}

export function loadSchema(name: 'run-result' | 'compare' | 'report' | 'search' | 'stream' | 'run-seeds'): Schema {
  return JSON.parse(readFileSync(join(repoRoot, 'schemas', `${name}.schema.json`), 'utf8')) as Schema
}

/** every folder named `name` below `dir` (relative paths); [] when dir does not exist */
export function findDirs(dir: string, name: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel))) {
      const r = rel ? join(rel, e) : e
      if (!statSync(join(dir, r)).isDirectory()) continue
      if (e === name) out.push(r)
      walk(r)
    }
  }
  walk('')
  return out
}

const MINUS = '\u2212'
/** how the table prints a signed delta: a real minus sign, ± for a zero */
export function signed(x: number, digits: number): string {
  const s = Math.abs(x).toFixed(digits)
  if (Number(s) === 0) return `±${s}`
  return `${x < 0 ? MINUS : '+'}${s}`
}

/** the display width of a line (code points; the table only uses narrow characters) */
export const width = (line: string): number => [...line].length
