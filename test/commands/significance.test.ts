/**
 * Repeated seeds and significance, end to end on a tiny experiment (mf + int8 and low-rank
 * variants, 2 seeds): `rec run --seeds 2` (mean ± std, seed-paired tests), `rec compare
 * --significance` on one seed's run (tests over test users, checked against src/stats on the
 * saved per-user values), the significance gate, and `--check` with a tolerance in standard
 * deviations over seeds.
 */
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {holm} from '../../src/stats/holm.js'
import {meanStd, pairedTest} from '../../src/stats/paired.js'
import type {RunResult} from '../../src/run/pipeline.js'
import type {SeedsResult} from '../../src/run/seeds.js'
import type {Significance} from '../../src/run/significance.js'
import {runCli, type CliResult} from '../helpers/cli.js'
import {loadSchema, parseJson, tempDir, tinyYaml, writeExperiment} from './fixtures.js'
import {checkSchema} from './schema-check.js'

let tmp: string
let experiment: string
let run: CliResult
let result: SeedsResult

beforeAll(async () => {
  tmp = tempDir('seeds')
  const yaml = tinyYaml({name: 'tinyseeds', models: ['{model: mf, factors: 8}'], variants: ['{name: int8, quantize: {dtype: int8}}', '{lowrank: {rank: 2}}']})
    // every drop beyond 0 fails unless it is not significant
    .replace('gate: {metric: ndcg@10, max_relative_drop: 0.5}', 'gate: {metric: ndcg@10, max_relative_drop: 0, significant: true}')
  experiment = writeExperiment(tmp, 'tiny.yaml', yaml)
  run = await runCli(['run', experiment, '--seeds', '2', '--json', '--out', join(tmp, 'runs')])
  if (run.code !== 0) throw new Error(`rec run --seeds 2 failed (${run.code}):\n${run.stdout}\n${run.stderr}`)
  result = parseJson(run.stdout) as SeedsResult
}, 120_000)

afterAll(() => {
  if (tmp) rmSync(tmp, {recursive: true, force: true})
})

const perSeed = () => result.runs.map((r) => JSON.parse(readFileSync(join(r.runDir, 'results.json'), 'utf8')) as RunResult)

describe('rec run --seeds 2', () => {
  it('matches schemas/run-seeds.schema.json and saves the same object as seeds.json', () => {
    expect(checkSchema(result, loadSchema('run-seeds'))).toEqual([])
    expect(result.seeds).toEqual([1, 2])
    expect(JSON.parse(readFileSync(join(result.seedsDir, 'seeds.json'), 'utf8'))).toEqual(result)
  })

  it('runs each seed in its own run directory with seed = s; the random split is drawn per seed', () => {
    const runs = perSeed()
    expect(runs.map((r) => r.protocol.seed)).toEqual([1, 2])
    expect(runs[0].keys.data).not.toBe(runs[1].keys.data)
    expect(result.shared).toEqual(['reading and cleaning the data'])
    expect(result.perSeed[0]).toMatch(/^the split \(random, per_user draws from the seed\)/)
  })

  it('rows are mean ± std (n − 1) of the seeds\' own results', () => {
    const runs = perSeed()
    for (const row of result.rows) {
      for (const metric of ['ndcg@10', 'recall@10', 'auc']) {
        const values = runs.map((r) => r.variants.find((v) => v.model === row.model && v.name === row.variant)!.metrics[metric])
        const {mean, std} = meanStd(values)
        expect(row.stats[metric].values).toEqual(values)
        expect(row.stats[metric].mean).toBeCloseTo(mean, 12)
        expect(row.stats[metric].std).toBeCloseTo(std, 12)
        expect(row.metrics[metric]).toBe(row.stats[metric].mean)
      }
    }
  })

  it('tests each variant against its base over the seeds, Holm across the table', () => {
    expect(result.comparisons.length).toBeGreaterThan(0)
    const adjusted = holm(result.comparisons.map((c) => c.tTest.pValue))
    result.comparisons.forEach((c, i) => {
      const row = result.rows.find((r) => r.model === c.model && r.variant === c.variant)!
      const base = result.rows.find((r) => r.model === c.model && r.variant === 'base')!
      const t = pairedTest(row.stats[c.metric].values, base.stats[c.metric].values)!
      expect(c.tTest.pValue).toBeCloseTo(t.tTest.pValue, 12)
      expect(c.tTest.df).toBe(1)
      expect(c.tTest.pHolm).toBeCloseTo(adjusted[i]!, 12)
      expect(c.significant).toBe(c.tTest.pHolm <= 0.05)
    })
  })

  it('compress.gate.significant: a drop beyond the bound fails only when significant', () => {
    for (const run of perSeed()) {
      for (const v of run.variants.filter((x) => x.name !== 'base')) {
        const g = v.gate!
        expect(g.significance).toBeDefined()
        expect(g.passed).toBe(g.relativeDrop <= 0 + 1e-12 || !g.significance!.significant)
      }
    }
  })
})

describe('rec compare --significance on one seed\'s run', () => {
  it('tests every delta on the per-user values (as src/stats computes them) and marks the cells', async () => {
    const dir = result.runs[0].runDir
    const r = await runCli(['compare', dir, '--significance', '--metrics', 'ndcg@10,recall@10', '--json'])
    expect(r.code).toBe(0)
    const report = parseJson(r.stdout) as {significance: Significance}
    expect(checkSchema(report, loadSchema('compare'))).toEqual([])
    const sig = report.significance
    expect(sig.comparisons.map((c) => `${c.row.split(':')[1]} ${c.metric}`)).toEqual(['mf/int8 ndcg@10', 'mf/int8 recall@10', 'mf/lowrank-r2 ndcg@10', 'mf/lowrank-r2 recall@10'])
    const load = (v: string) => JSON.parse(readFileSync(join(dir, 'models', 'mf', v, 'per-user.json'), 'utf8')) as {values: Record<string, (number | null)[]>}
    const base = load('base')
    const tested = sig.comparisons.filter((c) => !c.identical)
    const adjusted = holm(tested.map((c) => c.tTest.pValue))
    for (const c of sig.comparisons) {
      const v = load(c.row.split('/').pop()!)
      const t = pairedTest(v.values[c.metric].map((x) => x ?? Number.NaN), base.values[c.metric].map((x) => x ?? Number.NaN))!
      expect(c.tTest.pValue).toBe(t.tTest.pValue)
      expect(c.wilcoxon?.pValue).toBe(t.wilcoxon?.pValue)
      expect(c.ci95).toEqual(t.ci95)
      if (!c.identical) expect(c.tTest.pHolm).toBe(adjusted[tested.indexOf(c)])
      expect(c.significant).toBe(c.tTest.pHolm <= 0.05)
    }
    const human = await runCli(['compare', dir, '--significance', '--metrics', 'ndcg@10'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/\((?:[−+]|±)\d\.\d{4}, (?:[−+]|±)\d+\.\d%\)(?: \*| p=[\d.<]+)/)
    expect(human.stdout).toContain('significance at α = 0.05')
  })

  it('--alpha must be a level in (0, 1) and needs --significance (exit 2)', async () => {
    const dir = result.runs[0].runDir
    const [bad, alone] = await Promise.all([runCli(['compare', dir, '--significance', '--alpha', '2']), runCli(['compare', dir, '--alpha', '0.01'])])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--alpha 2 is not a level between 0 and 1')
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('--alpha sets the level of --significance')
  })
})

describe('--check with a tolerance in standard deviations over seeds', () => {
  it('passes against its own spread and fails when the reference moves by more than k·std', async () => {
    const ref = join(tmp, 'ref.json')
    writeFileSync(ref, JSON.stringify(result))
    const row = result.rows.find((r) => r.variant === 'base')!
    const moved = structuredClone(result)
    const m = moved.rows.find((r) => r.variant === 'base')!
    // 3·std away: outside ±2sd
    m.metrics['ndcg@10'] += 3 * row.stats['ndcg@10'].std + 1e-9
    const refMoved = join(tmp, 'ref-moved.json')
    writeFileSync(refMoved, JSON.stringify(moved))
    // one after the other: both use the same run directories (and their locks)
    const ok = await runCli(['run', experiment, '--seeds', '2', '--out', join(tmp, 'runs'), '--check', ref, '--tolerance', '0sd'])
    const failed = await runCli(['run', experiment, '--seeds', '2', '--out', join(tmp, 'runs'), '--check', refMoved, '--tolerance', '2sd'])
    expect(ok.code).toBe(0)
    // the human report: mean ± std cells, what each seed re-draws, the seeds' stages reused
    expect(ok.stdout).toMatch(/\d\.\d{4} ± \d\.\d{4}/)
    expect(ok.stdout).toContain('over seeds 1, 2')
    expect(ok.stdout).toMatch(/reused \d+ finished stage/)
    expect(failed.code).toBe(4)
    expect(failed.stdout + failed.stderr).toMatch(/mf\/base ndcg@10/)
  })
})
