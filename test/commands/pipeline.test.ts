/**
 * Command-level contract of rec run / eval / compare / train / compress: the CLI runs from its
 * sources in a child process (as a user runs it) on the tiny experiment of ./fixtures.ts. The
 * experiment runs once (beforeAll) and its run directory is shared; tests that write into a run
 * directory work on their own copy, so the concurrent tests never contend for a run's lock.
 */
import {cpSync, existsSync, readFileSync, rmSync} from 'node:fs'
import {basename, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {JsonReport} from '../../src/report/render.js'
import type {RunResult, VariantResult} from '../../src/run/pipeline.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {parseJson, loadSchema, signed, tempDir, TINY, TINY_VARIANT_NAMES, tinyYaml, width, writeExperiment} from './fixtures.js'
import {checkSchema} from './schema-check.js'

const runSchema = loadSchema('run-result')
const compareSchema = loadSchema('compare')

const TOP_K = ['ndcg@10', 'recall@10', 'precision@10', 'f1@10', 'hr@10', 'mrr@10']
const POINTWISE = ['auc', 'accuracy', 'precision', 'recall', 'f1']
const EXPECTED_EXECUTION: Record<string, string> = {
  base: 'float32',
  int8: 'int8-kernel',
  'magnitude-0.5': 'sparse-zeros',
  'lowrank-r4': 'factorized',
  'structured-0.5': 'shrunk',
}

let tmp: string
let experiment: string
let out: string
/** the first `rec run --json` */
let run: CliResult
let result: RunResult
/** the same experiment with --set seed=7, in human mode, into the same --out */
let second: CliResult
let secondDir: string

const variant = (r: RunResult, model: string, name: string): VariantResult => {
  const v = r.variants.find((x) => x.model === model && x.name === name)
  if (!v) throw new Error(`no variant ${model}/${name} in ${r.variants.map((x) => `${x.model}/${x.name}`).join(', ')}`)
  return v
}
/** copies of the shared run directory (made before the concurrent tests), for commands that write into a run */
const copies: Record<string, string> = {}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

beforeAll(async () => {
  tmp = tempDir('pipeline')
  experiment = writeExperiment(tmp, 'tiny.yaml', tinyYaml())
  out = join(tmp, 'runs')
  ;[run, second] = await Promise.all([
    runCli(['run', experiment, '--json', '--out', out]),
    runCli(['run', experiment, '--set', 'seed=7', '--out', out]),
  ])
  if (run.code !== 0) throw new Error(`rec run --json failed (${run.code}):\n${run.stdout}\n${run.stderr}`)
  if (second.code !== 0) throw new Error(`rec run --set seed=7 failed (${second.code}):\n${second.stdout}\n${second.stderr}`)
  result = parseJson(run.stdout) as RunResult
  secondDir = /^run directory: (.+)$/m.exec(second.stdout)?.[1] ?? ''
  for (const label of ['eval-json', 'eval-k5', 'eval-refused']) {
    copies[label] = join(tmp, label, 'tiny', basename(result.runDir))
    cpSync(result.runDir, copies[label], {recursive: true})
  }
}, 60_000)

afterAll(() => {
  if (tmp) rmSync(tmp, {recursive: true, force: true})
})

describe('rec run <tiny> --json', () => {
  it('writes exactly one JSON document on stdout, nothing on stderr, and exits 0', () => {
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    expect(run.stdout.trimStart().startsWith('{')).toBe(true)
    expect(run.stdout.trimEnd().endsWith('}')).toBe(true)
    expect(() => JSON.parse(run.stdout)).not.toThrow()
  })

  it('matches schemas/run-result.schema.json', () => {
    expect(checkSchema(result, runSchema)).toEqual([])
  })

  it('names the run, its stages and the protocol', () => {
    expect(result.experiment).toBe('tiny')
    expect(result.runDir.startsWith(join(out, 'tiny'))).toBe(true)
    expect(result.cached).toEqual([])
    expect(Object.keys(result.keys.train).sort()).toEqual(['mf', 'neumf'])
    expect(typeof result.keys.data).toBe('string')
    expect(Object.keys(result.timings).sort()).toEqual(['compressSeconds', 'dataSeconds', 'evalSeconds', 'trainSeconds'])
    expect(result.protocol.description).toContain('Full ranking over all items')
    expect(result.protocol.k).toEqual([10, 20])
    expect(result.stoppedAfter).toBeUndefined()
  })

  it('lists base then the variants in config order, for each model', () => {
    const names = result.variants.map((v) => `${v.model}/${v.name}`)
    expect(names).toEqual(['mf', 'neumf'].flatMap((m) => ['base', ...TINY_VARIANT_NAMES].map((n) => `${m}/${n}`)))
  })

  it('reports every field of every variant, with metrics in [0, 1] and ordered percentiles', () => {
    for (const v of result.variants) {
      const where = `${v.model}/${v.name}`
      expect(v.architecture, where).toBe(v.model)
      expect(v.method, where).toEqual(v.name === 'base' ? 'none' : expect.stringMatching(/^(quantize|prune|lowrank)/))
      expect(v.execution, where).toBe(EXPECTED_EXECUTION[v.name])
      for (const m of [...TOP_K, ...POINTWISE]) {
        expect(v.metrics[m], `${where} ${m}`).toBeGreaterThanOrEqual(0)
        expect(v.metrics[m], `${where} ${m}`).toBeLessThanOrEqual(1)
      }
      expect(v.latency.p50Ms, where).toBeLessThanOrEqual(v.latency.p95Ms)
      expect(v.latency.p95Ms, where).toBeLessThanOrEqual(v.latency.p99Ms)
      expect(v.latency.requests, where).toBe(5)
      expect(v.latency.batch, where).toBe(16)
      expect(v.latency.throughputUsersPerS, where).toBeGreaterThan(0)
      expect(v.paramsNonZero, where).toBeLessThanOrEqual(v.params)
      expect(v.flopsPerPair, where).toBeGreaterThan(0)
      expect(Array.isArray(v.notes), where).toBe(true)
      expect(v.onnxMaxAbsDiff, where).toBeTypeOf('number')
    }
  })

  it('under the default runtime onnx, measures in ONNX Runtime and sizeBytes is the ONNX file', () => {
    for (const v of result.variants) {
      expect(v.runtime, `${v.model}/${v.name}`).toBe('onnxruntime-cpu')
      expect(v.latency.runtime).toBe('onnxruntime-cpu')
      expect(v.sizeBytes, `${v.model}/${v.name}`).toBe(v.sizeBytesOnnx)
    }
  })

  it('base models: float32, closed-form size for mf, ONNX agrees with tfjs within 1e-4, no deltas or gate', () => {
    const mf = variant(result, 'mf', 'base')
    // (users + items) × factors; an MF score is a dot product: factors multiplies + factors adds
    expect(mf.params).toBe((TINY.users + TINY.items) * TINY.factors)
    expect(mf.paramsNonZero).toBe(mf.params)
    expect(mf.flopsPerPair).toBe(2 * TINY.factors)
    for (const m of ['mf', 'neumf']) {
      const b = variant(result, m, 'base')
      expect(b.execution).toBe('float32')
      expect(b.method).toBe('none')
      expect(b.onnxMaxAbsDiff!).toBeLessThan(1e-4)
      expect(b.deltas).toBeUndefined()
      expect(b.gate).toBeUndefined()
      expect(b.epochs).toBe(3)
    }
  })

  it('non-base variants carry deltas against their base and the gate verdict', () => {
    for (const v of result.variants.filter((x) => x.name !== 'base')) {
      const b = variant(result, v.model, 'base')
      const where = `${v.model}/${v.name}`
      expect(v.deltas, where).toBeDefined()
      expect(v.deltas!['ndcg@10'].abs, where).toBeCloseTo(v.metrics['ndcg@10'] - b.metrics['ndcg@10'], 12)
      expect(v.deltas!['ndcg@10'].rel!, where).toBeCloseTo((v.metrics['ndcg@10'] - b.metrics['ndcg@10']) / b.metrics['ndcg@10'], 12)
      expect(v.deltas!.sizeBytes.abs, where).toBe(v.sizeBytes - b.sizeBytes)
      expect(v.deltas!.p50Ms.abs, where).toBeCloseTo(v.latency.p50Ms - b.latency.p50Ms, 12)
      expect(v.gate, where).toBeDefined()
      expect(v.gate!.metric).toBe('ndcg@10')
      expect(v.gate!.maxRelativeDrop).toBe(0.5)
      expect(v.gate!.relativeDrop, where).toBeCloseTo((b.metrics['ndcg@10'] - v.metrics['ndcg@10']) / b.metrics['ndcg@10'], 12)
      expect(v.gate!.passed, where).toBe(v.gate!.relativeDrop <= 0.5)
    }
  })

  it('int8: runs an int8 kernel and its ONNX file is smaller than the base one', () => {
    for (const m of ['mf', 'neumf']) {
      const v = variant(result, m, 'int8')
      expect(v.execution).toBe('int8-kernel')
      expect(v.method).toBe('quantize.int8')
      expect(v.sizeBytesOnnx).toBeLessThan(variant(result, m, 'base').sizeBytesOnnx)
      expect(v.params).toBe(variant(result, m, 'base').params)
    }
  })

  it('magnitude 0.5: half the parameters are zero, executed densely, with no claimed FLOP saving', () => {
    for (const m of ['mf', 'neumf']) {
      const v = variant(result, m, 'magnitude-0.5')
      const b = variant(result, m, 'base')
      expect(v.execution).toBe('sparse-zeros')
      expect(v.params).toBe(b.params)
      expect(Math.abs(v.paramsNonZero / v.params - 0.5)).toBeLessThanOrEqual(0.02)
      expect(v.flopsPerPair).toBe(b.flopsPerPair)
    }
  })

  it('lowrank r4: factorized, fewer parameters and FLOPs per pair than the mf base', () => {
    const v = variant(result, 'mf', 'lowrank-r4')
    const b = variant(result, 'mf', 'base')
    expect(v.execution).toBe('factorized')
    expect(v.flopsPerPair).toBeLessThan(b.flopsPerPair)
    // two rank-4 tables plus the 4 × 8 right factor of each
    expect(v.params).toBe((TINY.users + TINY.items) * 4 + 2 * 4 * TINY.factors)
  })

  it('structured 0.5: neumf shrinks, with fewer FLOPs per pair and parameters than its base', () => {
    const v = variant(result, 'neumf', 'structured-0.5')
    const b = variant(result, 'neumf', 'base')
    expect(v.execution).toBe('shrunk')
    expect(v.flopsPerPair).toBeLessThan(b.flopsPerPair)
    expect(v.params).toBeLessThan(b.params)
    expect(v.paramsNonZero).toBe(v.params)
    // mf: half of the 8 embedding dimensions removed from both tables
    expect(variant(result, 'mf', 'structured-0.5').params).toBe((TINY.users + TINY.items) * TINY.factors / 2)
  })

  it('saves the same variants as results.json, which rec compare reads', () => {
    const saved = JSON.parse(readFileSync(join(result.runDir, 'results.json'), 'utf8')) as RunResult
    expect(saved.variants).toEqual(result.variants)
    expect(saved.protocol).toEqual(result.protocol)
  })
})

describe.concurrent('commands on the finished run', () => {
  it('human mode: a rerun reuses every stage and prints the table (≤ 120 columns) with the protocol; progress on stderr', async ({expect}) => {
    const r = await runCli(['run', experiment, '--out', out])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`run directory: ${result.runDir}`)
    expect(r.stdout).toMatch(/reused \d+ finished stage\(s\)/)
    expect(r.stdout).toMatch(/│ model +│ variant +│/)
    for (const v of result.variants) expect(r.stdout).toMatch(new RegExp(`│ ${escape(v.model)} +│ ${escape(v.name)} +│`))
    expect(r.stdout).toContain('Protocol: Full ranking over all items')
    for (const line of r.stdout.split('\n')) expect(width(line), line).toBeLessThanOrEqual(120)
    expect(r.stdout).not.toMatch(/^\[/m) // no progress lines on stdout
    expect(r.stderr).toMatch(/^data: reusing the split/m)
    expect(r.stderr).toMatch(/^train mf: reusing the model/m)
  })

  it('human mode of a fresh run: epoch progress on stderr only, table within 120 columns', ({expect}) => {
    expect(secondDir).not.toBe('')
    expect(secondDir).not.toBe(result.runDir)
    expect(second.stderr).toMatch(/^\[train mf\] epoch 1\/3 loss \d/m)
    expect(second.stderr).toMatch(/^\[train neumf\] epoch 3\/3 loss \d/m)
    expect(second.stderr).toMatch(/^\[compress neumf\/structured-0\.5\] started/m)
    expect(second.stdout).not.toMatch(/^\[/m)
    expect(second.stdout).toContain('Protocol: Full ranking over all items')
    for (const line of second.stdout.split('\n')) expect(width(line), line).toBeLessThanOrEqual(120)
  })

  it('progress lines name the stage they report on (data summary, each variant\'s eval result)', ({expect}) => {
    expect(second.stderr).toMatch(/^\[data\] 150 users, 100 items/m)
    expect(second.stderr).toMatch(/^\[eval mf\/base[^\]]*\] ndcg@10 /m)
    expect(second.stderr).toMatch(/^\[eval neumf\/int8[^\]]*\] ndcg@10 /m)
  })

  it('rec compare --format csv: header with model, variant, ndcg@10; one line per variant with the raw values', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, '--format', 'csv'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    const header = lines[0].split(',')
    expect(header.slice(0, 2)).toEqual(['model', 'variant'])
    expect(header).toContain('ndcg@10')
    expect(header).toContain('p50_ms')
    expect(lines).toHaveLength(1 + result.variants.length)
    const col = (name: string) => header.indexOf(name)
    lines.slice(1).forEach((line, i) => {
      const cells = line.split(',')
      const v = result.variants[i]
      expect([cells[col('model')], cells[col('variant')]]).toEqual([v.model, v.name])
      expect(Number(cells[col('ndcg@10')])).toBe(v.metrics['ndcg@10'])
      expect(Number(cells[col('size')])).toBe(v.sizeBytes)
      expect(cells[col('execution')]).toBe(v.execution)
    })
  })

  it('rec compare --format md: a markdown table (| separators, --- row), protocol below', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, '--format', 'md'])
    expect(r.code).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(/^\| model \| variant \| .* \|$/)
    expect(lines[1]).toMatch(/^\|( -{3,}:? \|)+$/)
    const body = lines.slice(2, 2 + result.variants.length)
    body.forEach((line, i) => expect(line.startsWith(`| ${result.variants[i].model} | ${result.variants[i].name} |`)).toBe(true))
    const columns = lines[0].split('|').length
    for (const line of body) expect(line.split('|').length).toBe(columns)
    expect(r.stdout).toContain('Protocol: Full ranking over all items')
  })

  it('rec compare --format json --sort ndcg@10: matches schemas/compare.schema.json, rows best first', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, '--format', 'json', '--sort', 'ndcg@10'])
    expect(r.code).toBe(0)
    const report = parseJson(r.stdout) as JsonReport
    expect(checkSchema(report, compareSchema)).toEqual([])
    expect(report.rows).toHaveLength(result.variants.length)
    const ndcg = report.rows.map((row) => row.metrics['ndcg@10'])
    expect(ndcg).toEqual([...ndcg].sort((a, b) => b - a))
    expect(new Set(report.rows.map((row) => row.key))).toEqual(new Set(result.variants.map((v) => `tiny/${basename(result.runDir)}:${v.model}/${v.name}`)))
    expect(report.baseline).toBeNull()
    for (const row of report.rows) expect(row.deltas).toBeNull()
    expect(report.notes.join('\n')).toContain('Protocol: Full ranking over all items')
  })

  it('rec compare --json --metrics ndcg@10,p50 --baseline mf/base: only those metric columns, deltas against mf/base', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, '--json', '--metrics', 'ndcg@10,p50', '--baseline', 'mf/base'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const report = parseJson(r.stdout) as JsonReport
    expect(checkSchema(report, compareSchema)).toEqual([])
    expect(report.columns.filter((c) => c.kind === 'key').map((c) => c.key)).toEqual(['model', 'variant'])
    expect(report.columns.filter((c) => c.kind !== 'key' && c.kind !== 'text').map((c) => c.key)).toEqual(['ndcg@10', 'p50_ms'])
    const label = `tiny/${basename(result.runDir)}`
    expect(report.baseline).toBe(`${label}:mf/base`)
    const base = variant(result, 'mf', 'base')
    for (const row of report.rows) {
      if (row.model === 'mf' && row.variant === 'base') {
        expect(row.baseline).toBe(true)
        expect(row.deltas).toBeNull()
        continue
      }
      expect(row.baseline).toBe(false)
      expect(Object.keys(row.deltas!).sort()).toEqual(['ndcg@10', 'p50_ms'])
      const d = row.metrics['ndcg@10'] - base.metrics['ndcg@10']
      expect(row.deltas!['ndcg@10'].abs).toBeCloseTo(d, 12)
      expect(row.deltas!['ndcg@10'].rel!).toBeCloseTo(d / base.metrics['ndcg@10'], 12)
      expect(row.deltas!.p50_ms.abs).toBeCloseTo(row.latency!.p50Ms - base.latency.p50Ms, 12)
    }
    expect(report.notes).toContain(`Deltas (absolute, relative) against ${label}:mf/base.`)
  })

  it('rec compare --baseline mf/base (table): metric cells read "0.0xxx (−0.0xxx, −x.x%)"', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, '--baseline', 'mf/base', '--metrics', 'ndcg@10'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/│ mf +│ base \(baseline\) +│/)
    const base = variant(result, 'mf', 'base').metrics['ndcg@10']
    for (const v of result.variants) {
      if (v.model === 'mf' && v.name === 'base') continue
      const x = v.metrics['ndcg@10']
      const cell = `${x.toFixed(4)} (${signed(x - base, 4)}, ${signed(((x - base) / base) * 100, 1)}%)`
      expect(r.stdout, `${v.model}/${v.name}`).toContain(cell)
    }
    expect(r.stdout).toMatch(/\d\.\d{4} \([−+±]\d\.\d{4}, [−+±]\d+\.\d%\)/)
    for (const line of r.stdout.split('\n')) expect(width(line)).toBeLessThanOrEqual(120)
  })

  it('rec compare gate column reads "pass +1.8%" / "FAIL −12.3%"', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, '--metrics', 'gate', '--format', 'csv'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n').slice(1)
    lines.forEach((line, i) => {
      const v = result.variants[i]
      const gate = line.split(',').slice(4).join(',').replace(/^"|"$/g, '')
      if (!v.gate) expect(gate).toBe('')
      else expect(gate).toBe(`${v.gate.passed ? 'pass' : 'FAIL'} ${signed(-v.gate.relativeDrop * 100, 1)}%`)
    })
  })

  it('rec compare of two run dirs adds a run column', async ({expect}) => {
    const r = await runCli(['compare', result.runDir, secondDir, '--metrics', 'ndcg@10'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/│ run +│ model +│ variant +│/)
    const labels = [result.runDir, secondDir].map((d) => `tiny/${basename(d)}`)
    expect(labels[0]).not.toBe(labels[1])
    for (const label of labels) {
      const rows = r.stdout.split('\n').filter((l) => l.startsWith(`│ ${label} `))
      expect(rows, label).toHaveLength(result.variants.length)
    }
  })

  it('rec eval <runDir> --json: the run-result contract again, metrics reproduced, only eval stages redone', async ({expect}) => {
    const dir = copies['eval-json']
    const r = await runCli(['eval', dir, '--json'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const e = parseJson(r.stdout) as RunResult
    expect(checkSchema(e, runSchema)).toEqual([])
    expect(e.runDir).toBe(dir)
    expect(e.variants.map((v) => `${v.model}/${v.name}`)).toEqual(result.variants.map((v) => `${v.model}/${v.name}`))
    expect(e.cached).toEqual(expect.arrayContaining(['data', 'train:mf', 'train:neumf', 'compress:neumf/int8']))
    expect(e.cached.filter((c) => c.startsWith('eval:'))).toEqual([])
    e.variants.forEach((v, i) => {
      const before = result.variants[i]
      expect(Object.keys(v.metrics).sort()).toEqual(Object.keys(before.metrics).sort())
      for (const [k, x] of Object.entries(before.metrics)) expect(v.metrics[k], `${v.model}/${v.name} ${k}`).toBeCloseTo(x, 9)
      expect(v.execution).toBe(before.execution)
      expect(v.sizeBytes).toBe(before.sizeBytes)
      expect(v.params).toBe(before.params)
    })
  })

  it('rec eval --set eval.k=[5] with a gate at @10: exit 2 naming the gate metric, before any work', async ({expect}) => {
    const r = await runCli(['eval', copies['eval-k5'], '--set', 'eval.k=[5]'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('ndcg@10')
  })

  it('rec eval --set eval.k=[5]: top-K metrics at 5 instead of 10', async ({expect}) => {
    const dir = copies['eval-k5']
    // the gate metric must be one that eval.k computes (else every gate cell would be empty: a config error)
    const r = await runCli(['eval', dir, '--set', 'eval.k=[5]', '--set', 'compress.gate.metric=ndcg@5', '--json'])
    expect(r.code).toBe(0)
    const e = parseJson(r.stdout) as RunResult
    expect(checkSchema(e, runSchema)).toEqual([])
    expect(e.protocol.k).toEqual([5])
    for (const v of e.variants) {
      for (const m of ['ndcg@5', 'recall@5', 'precision@5', 'hr@5', 'mrr@5']) {
        expect(v.metrics[m], `${v.model}/${v.name} ${m}`).toBeGreaterThanOrEqual(0)
        expect(v.metrics[m]).toBeLessThanOrEqual(1)
      }
      expect(v.metrics['ndcg@10']).toBeUndefined()
    }
  })

  it('rec eval --set train.lr=1 is refused with exit 2 and leaves the run as it was', async ({expect}) => {
    const dir = copies['eval-refused']
    const config = readFileSync(join(dir, 'config.resolved.yaml'), 'utf8')
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8')
    const r = await runCli(['eval', dir, '--set', 'train.lr=1'])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^Error \[usage\.bad_set\]: .*only compress\.\* and eval\.\* can be changed.*train\.lr=1/m)
    expect(readFileSync(join(dir, 'config.resolved.yaml'), 'utf8')).toBe(config)
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(manifest)
  })

  it('rec train --json stops after training; rec compress --json then makes the variants', async ({expect}) => {
    const trainOut = join(tmp, 'train-only')
    const t = await runCli(['train', experiment, '--json', '--out', trainOut])
    expect(t.code).toBe(0)
    expect(t.stderr).toBe('')
    const tr = parseJson(t.stdout) as RunResult
    expect(checkSchema(tr, runSchema)).toEqual([])
    expect(tr.stoppedAfter).toBe('train')
    expect(tr.variants).toEqual([])
    for (const m of ['mf', 'neumf']) expect(existsSync(join(tr.runDir, 'models', m, 'base', 'model.json')), m).toBe(true)
    expect(existsSync(join(tr.runDir, 'models', 'mf', 'int8'))).toBe(false)
    expect(existsSync(join(tr.runDir, 'results.json'))).toBe(false)

    const c = await runCli(['compress', tr.runDir, '--json'])
    expect(c.code).toBe(0)
    expect(c.stderr).toBe('')
    const cr = parseJson(c.stdout) as RunResult
    expect(checkSchema(cr, runSchema)).toEqual([])
    expect(cr.runDir).toBe(tr.runDir)
    expect(cr.stoppedAfter).toBe('compress')
    expect(cr.variants).toEqual([])
    expect(cr.cached).toEqual(expect.arrayContaining(['data', 'train:mf', 'train:neumf']))
    for (const m of ['mf', 'neumf']) {
      for (const name of TINY_VARIANT_NAMES) {
        const dir = join(tr.runDir, 'models', m, name)
        expect(existsSync(join(dir, 'model.onnx')), `${m}/${name}`).toBe(true)
        const record = JSON.parse(readFileSync(join(dir, 'compress.json'), 'utf8')) as {execution: string}
        expect(record.execution, `${m}/${name}`).toBe(EXPECTED_EXECUTION[name])
      }
    }
    expect(existsSync(join(tr.runDir, 'results.json'))).toBe(false)
  })
})
