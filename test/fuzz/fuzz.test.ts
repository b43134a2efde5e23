/**
 * Property-based fuzzing of everything that comes from outside: experiment configs, `--set`
 * arguments, data files and run directories. Whatever the input, rec either works or stops with one
 * of its own errors (a RecError: exit 2 usage/config, 3 data; the CLI prints those without a stack
 * trace), never an internal error (exit 1), and never reports metrics from a corrupted artifact.
 *
 * The library is driven in-process (the same functions the commands call), so a few hundred cases
 * stay within seconds; test/fuzz/cli.test.ts checks the CLI's side of the contract (exit codes,
 * no stack trace) on a sample. Seeds are fixed; FUZZ_RUNS multiplies the number of cases (the longer
 * run: `npm run fuzz`, see bench/fuzz.sh).
 */
import {cpSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {gzipSync} from 'node:zlib'

import fc from 'fast-check'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {resolveConfigFromObject} from '../../src/config/load.js'
import {dataSchema} from '../../src/config/schema.js'
import {preprocess} from '../../src/data/preprocess.js'
import {readInteractions} from '../../src/data/read.js'
import {splitInteractions} from '../../src/data/split.js'
import {isRecError} from '../../src/errors.js'
import {silentProgress} from '../../src/progress.js'
import {continueRun, runExperiment, type RunResult} from '../../src/run/pipeline.js'

const scale = Number(process.env.FUZZ_RUNS ?? '1')
const runs = (n: number) => Math.max(1, Math.round(n * scale))

/** fc.assert, with the report cut (a counterexample may hold a 20 000-character value) */
async function check(property: fc.IAsyncPropertyWithHooks<any> | fc.IAsyncProperty<any>, params: fc.Parameters<any>): Promise<void> {
  try {
    await fc.assert(property, params)
  } catch (err) {
    const e = err as Error
    e.message = e.message.replace(/(.)\1{199,}/g, (m, c: string) => `${c.repeat(20)}…(${m.length} chars)`)
    if (e.message.length > 6000) e.message = `${e.message.slice(0, 6000)}…`
    throw e
  }
}

/** the outcome of one case: ok, or a RecError with a user-facing exit code; anything else is a bug */
async function outcome<T>(f: () => Promise<T> | T): Promise<{ok: true; value: T} | {ok: false; exitCode: number; message: string}> {
  try {
    return {ok: true, value: await f()}
  } catch (err) {
    if (!isRecError(err)) throw new Error(`not a RecError (the CLI would exit 1 with a stack trace): ${(err as Error)?.stack ?? String(err)}`)
    return {ok: false, exitCode: err.exitCode, message: err.message}
  }
}

const validConfig = () => ({
  name: 'fz',
  seed: 1,
  data: {format: 'synth', synth: {users: 30, items: 20, interactions: 300, seed: 2}},
  split: {method: 'random', ratios: [0.8, 0.1, 0.1]},
  models: [{model: 'mf', factors: 4}, {model: 'neumf', name: 'n', factors: 4, mlp_layers: [8, 4]}],
  train: {epochs: 1, batch_size: 64, early_stopping: {metric: 'ndcg@5', patience: 2}},
  eval: {k: [5], mode: 'full'},
  compress: {variants: [{quantize: {dtype: 'int8'}}, {name: 'p', prune: {method: 'magnitude', sparsity: 0.5}}], gate: {metric: 'ndcg@5', max_relative_drop: 0.1}},
})

/** every path (as keys) to a value inside a plain JSON value */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix]
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]))
  return out
}

const hostile = fc.oneof(
  fc.constant(null),
  fc.constant('..'),
  fc.constant('.'),
  fc.constant('../../x'),
  fc.constant(100_000_000),
  fc.constant(-1),
  fc.constant(0),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.constant('x'.repeat(20_000)),
  fc.constant('ndcg@0'),
  fc.constant('unknown@10'),
  fc.integer({min: -5, max: 5000}),
  fc.double({noNaN: true, min: -10, max: 10}),
  fc.boolean(),
  fc.string({maxLength: 12}),
  fc.array(fc.integer({min: -3, max: 300}), {maxLength: 4}),
  fc.dictionary(fc.constantFrom('a', 'model', 'dtype', 'method', '__proto__', 'constructor'), fc.integer(), {maxKeys: 2}),
)

type Mutation = {op: 'set' | 'delete' | 'add'; at: number; key: string; value: unknown}
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('set', 'delete', 'add'),
  at: fc.nat(),
  key: fc.constantFrom('name', 'model', 'factors', 'mlp_layers', 'ratios', 'method', 'k', 'mode', 'negatives', 'metric', 'dtype', 'sparsity', '__proto__', 'constructor', 'toString', 'extra'),
  value: hostile,
})

function mutate(obj: Record<string, unknown>, muts: Mutation[]): Record<string, unknown> {
  for (const m of muts) {
    const all = paths(obj)
    const path = all[m.at % all.length]
    if (path.length === 0) continue
    let parent: any = obj
    for (const p of path.slice(0, -1)) parent = parent[p]
    const last = path[path.length - 1]
    if (m.op === 'set') parent[last] = structuredClone(m.value)
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1)
      else delete parent[last]
    } else {
      const target = parent[last]
      if (target && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, m.key, {value: structuredClone(m.value), enumerable: true, writable: true, configurable: true})
    }
  }
  return obj
}

describe('fuzz: configs', () => {
  it('a mutated config is valid or a config error (exit 2/3), never a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-fuzz-cfg-'))
    await check(
      fc.asyncProperty(fc.array(mutation, {minLength: 1, maxLength: 4}), async (muts) => {
        const obj = mutate(validConfig(), muts)
        const r = await outcome(() => resolveConfigFromObject(obj, {baseDir: dir}))
        if (!r.ok) {
          expect([2, 3]).toContain(r.exitCode)
          // echoed values are cut: a 100 000-character field never comes back whole
          expect(r.message.length).toBeLessThan(5_000)
        }
      }),
      {seed: 8, numRuns: runs(300)},
    )
  })

  it('--set with hostile keys and values is a usage/config error or a valid config, and pollutes no prototype', async () => {
    const key = fc.array(fc.constantFrom('train', 'lr', 'eval', 'k', '__proto__', 'constructor', 'prototype', 'toString', 'models', '0', 'factors', 'name', 'x'), {minLength: 1, maxLength: 4})
    const value = fc.constantFrom('1', '0.5', '-1', 'null', '[1,2]', '{a: 1}', '"..', 'ndcg@10', '')
    await check(
      fc.asyncProperty(key, value, async (k, v) => {
        const r = await outcome(() => resolveConfigFromObject(validConfig(), {set: [`${k.join('.')}=${v}`]}))
        if (!r.ok) expect([2, 3]).toContain(r.exitCode)
        expect(({} as Record<string, unknown>).x).toBeUndefined()
        expect(({} as Record<string, unknown>).lr).toBeUndefined()
      }),
      {seed: 9, numRuns: runs(200)},
    )
  })
})

/** a small valid tab-separated file: user, item, rating, timestamp */
function tsv(rows = 120): string {
  const lines: string[] = []
  for (let r = 0; r < rows; r++) lines.push(`${r % 17}\t${(r * 7) % 23}\t${1 + (r % 5)}\t${1000 + r}`)
  return lines.join('\n') + '\n'
}

type ByteMutation = {op: 'truncate' | 'insert' | 'replace' | 'dupline' | 'header' | 'dropfield' | 'nul' | 'gzip' | 'bom' | 'crlf'; at: number; bytes: Uint8Array}
const byteMutation: fc.Arbitrary<ByteMutation> = fc.record({
  op: fc.constantFrom('truncate', 'insert', 'replace', 'dupline', 'header', 'dropfield', 'nul', 'gzip', 'bom', 'crlf'),
  at: fc.nat(),
  bytes: fc.uint8Array({minLength: 1, maxLength: 6}),
})

function mutateBytes(buf: Buffer, m: ByteMutation): Buffer {
  const at = m.at % Math.max(1, buf.length)
  const text = buf.toString('latin1')
  switch (m.op) {
    case 'truncate':
      return buf.subarray(0, at)
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)])
    case 'replace':
      return Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(Math.min(buf.length, at + m.bytes.length))])
    case 'dupline': {
      const lines = text.split('\n')
      const i = at % lines.length
      lines.splice(i, 0, lines[i])
      return Buffer.from(lines.join('\n'), 'latin1')
    }
    case 'header':
      return Buffer.concat([Buffer.from('userID\titemID\trating\ttimestamp\n'), buf])
    case 'dropfield': {
      const lines = text.split('\n')
      const i = at % lines.length
      lines[i] = lines[i].split('\t').slice(0, 1 + (m.bytes[0] % 3)).join('\t')
      return Buffer.from(lines.join('\n'), 'latin1')
    }
    case 'nul':
      return Buffer.concat([buf.subarray(0, at), Buffer.from([0, 0, 0]), buf.subarray(at)])
    case 'gzip':
      return gzipSync(buf)
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf])
    case 'crlf':
      return Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1')
  }
}

describe('fuzz: data files', () => {
  it('a mutated delimited file reads (with sane ids) or is a data/config error, never a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-fuzz-data-'))
    const original = Buffer.from(tsv())
    let n = 0
    await check(
      fc.asyncProperty(fc.array(byteMutation, {minLength: 1, maxLength: 3}), fc.constantFrom('error', 'skip'), async (muts, onBad) => {
        let buf = original
        for (const m of muts) buf = mutateBytes(buf, m)
        const path = join(dir, `d${n++}.tsv`)
        writeFileSync(path, buf)
        const data = dataSchema.parse({format: 'delimited', path, delimiter: '\t', on_bad_row: onBad})
        const r = await outcome(async () => {
          const read = await readInteractions(data)
          const pre = preprocess(read.interactions, {dedupe: 'last', implicit: {mode: 'all', threshold: 4}, kcore: {user: 0, item: 0}})
          const s = splitInteractions(pre.interactions, {method: 'temporal', ratios: [0.8, 0.1, 0.1], scope: 'per_user', order: 'latest', row_order: false}, 1)
          return {read, s}
        })
        if (!r.ok) {
          expect([2, 3]).toContain(r.exitCode)
          return
        }
        const {read, s} = r.value
        const inter = read.interactions
        // dense ids within their maps, and the split partitions what was read
        expect(inter.userIds.length).toBe(inter.numUsers)
        for (let i = 0; i < inter.length; i++) {
          expect(inter.user[i] >= 0 && inter.user[i] < inter.numUsers && inter.item[i] >= 0 && inter.item[i] < inter.numItems).toBe(true)
        }
        expect(s.train.length + s.valid.length + s.test.length).toBeLessThanOrEqual(inter.length)
      }),
      {seed: 10, numRuns: runs(250)},
    )
  })
})

/** every file of a run directory, relative, except the lock */
function runFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) return runFiles(p, base)
    return f === '.lock' ? [] : [relative(base, p)]
  })
}

const metricsOf = (r: RunResult) => Object.fromEntries(r.variants.map((v) => [`${v.model}/${v.name}`, v.metrics]))

describe('fuzz: corrupted run directories', () => {
  let runDir: string
  let files: string[]
  let reference: Record<string, Record<string, number>>
  const cfgYaml: Record<string, unknown> = {
    ...validConfig(),
    models: [{model: 'mf', factors: 4}],
    train: {epochs: 2, batch_size: 64, early_stopping: null},
    eval: {k: [5], runtime: 'onnx', latency: {requests: 4, warmup: 1, batch: 4}},
    compress: {variants: [{quantize: {dtype: 'int8'}}, {name: 'p', prune: {method: 'magnitude', sparsity: 0.5}, finetune: {epochs: 1}}]},
  }

  beforeAll(async () => {
    await initBackend('wasm')
    const out = mkdtempSync(join(tmpdir(), 'rec-fuzz-run-'))
    const loaded = resolveConfigFromObject({...cfgYaml, output: {dir: out}}, {baseDir: out})
    const r = await runExperiment(loaded, {progress: silentProgress})
    runDir = r.runDir
    files = runFiles(runDir).sort()
    reference = metricsOf(r)
  }, 120_000)

  type Corruption = {file: number; op: 'truncate' | 'flip' | 'empty' | 'json' | 'swap' | 'yaml'; at: number; other: number; json: unknown}
  const corruption: fc.Arbitrary<Corruption> = fc.record({
    file: fc.nat(),
    op: fc.constantFrom('truncate', 'flip', 'empty', 'json', 'swap', 'yaml'),
    at: fc.nat(),
    other: fc.nat(),
    json: fc.oneof(fc.constant({}), fc.constant([]), fc.constant(null), fc.constant({variants: 3, metrics: 'x'}), fc.constant({stages: {x: 1}})),
  })

  function corrupt(dir: string, c: Corruption): string {
    const rel = files[c.file % files.length]
    const p = join(dir, rel)
    const buf = readFileSync(p)
    const at = c.at % Math.max(1, buf.length)
    switch (c.op) {
      case 'truncate':
        writeFileSync(p, buf.subarray(0, at))
        break
      case 'flip': {
        const b = Buffer.from(buf)
        if (b.length > 0) b[at] ^= 0x5a
        writeFileSync(p, b)
        break
      }
      case 'empty':
        writeFileSync(p, '')
        break
      case 'json':
        writeFileSync(p, JSON.stringify(c.json))
        break
      case 'yaml':
        writeFileSync(p, ': - [unclosed\n\t{')
        break
      case 'swap': {
        // a file of the same name from another model / variant (e.g. model.onnx copied over)
        const twins = files.filter((f) => f !== rel && f.split('/').pop() === rel.split('/').pop())
        if (twins.length > 0) writeFileSync(p, readFileSync(join(dir, twins[c.other % twins.length])))
        else writeFileSync(p, buf.subarray(0, at))
      }
    }
    return rel
  }

  it('rec eval on a corrupted run is a data/config error or reports exactly the uncorrupted metrics', async () => {
    const base = mkdtempSync(join(tmpdir(), 'rec-fuzz-copies-'))
    let n = 0
    await check(
      fc.asyncProperty(corruption, async (c) => {
        const copy = join(base, `r${n++}`)
        cpSync(runDir, copy, {recursive: true})
        const rel = corrupt(copy, c)
        const r = await outcome(() => continueRun(copy, {progress: silentProgress, from: 'eval'}))
        if (!r.ok) {
          expect([2, 3], `${rel} (${c.op}): ${r.message}`).toContain(r.exitCode)
          return
        }
        expect(metricsOf(r.value), `${rel} (${c.op}) was used and changed the metrics`).toEqual(reference)
      }),
      {seed: 11, numRuns: runs(30)},
    )
  }, 240_000 * Math.max(1, scale))
})

