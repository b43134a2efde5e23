import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadConfig} from '../../src/config/load.js'
import {runSearch, SEARCH_JSON, type SearchResult} from '../../src/search/search.js'
import {checkSchema} from '../commands/schema-check.js'
import {loadSchema, tempDir, writeExperiment} from '../commands/fixtures.js'
import {runCli} from '../helpers/cli.js'

/** a tiny NeuMF on synthetic data: 2 epochs, 1 fine-tuning epoch, 30 latency requests */
const YAML = `name: tiny-search
seed: 42
data:
  format: synth
  synth: {users: 120, items: 80, interactions: 2400, factors: 8, seed: 7}
models:
  - {model: neumf, factors: 8, mlp_layers: [16, 8]}
train: {epochs: 2, batch_size: 256}
eval:
  latency: {requests: 30, warmup: 2, batch: 8}
compress:
  finetune: {epochs: 1}
`

/** the search result as --json prints it (NaN → null) */
const asJson = (r: SearchResult) => JSON.parse(JSON.stringify(r))

describe('runSearch', () => {
  it('a size budget: decides on validation only, keeps the best feasible candidate, saves the trajectory, then measures the test part', async () => {
    const dir = tempDir('search')
    const loaded = await loadConfig(writeExperiment(dir, 'tiny.yaml', YAML))
    // size only: the decisions depend on deterministic numbers (validation metrics, file sizes)
    const r = await runSearch(loaded, {budget: {size: {value: 0.6, relative: true}}, maxDrop: 0.05, metric: 'ndcg@10', distill: false, outDir: join(dir, 'runs')})
    expect(checkSchema(asJson(r), loadSchema('search'))).toEqual([])
    expect(r.verdict).toBe('found')
    const chosen = r.chosen!
    const tried = r.trajectory.filter((t) => t.decision !== 'skipped')
    const feasible = tried.filter((t) => t.decision === 'best-so-far' || t.decision === 'feasible')
    // the chosen one meets the budget within the drop and has the best validation metric of those that do
    expect(chosen.sizeBytes!).toBeLessThanOrEqual(0.6 * r.base.sizeBytes)
    expect(chosen.drop!).toBeLessThanOrEqual(0.05)
    expect(chosen.valid).toBe(Math.max(...feasible.map((t) => t.valid!)))
    expect(chosen.decision).toBe('best-so-far')
    // every entry says why; measured ones carry their numbers and cost, skipped ones were never made
    for (const t of r.trajectory) {
      expect(t.reason.length).toBeGreaterThan(0)
      if (t.decision === 'skipped') {
        expect(t.valid).toBeUndefined()
        expect(existsSync(join(r.searchDir, t.name))).toBe(false)
      } else {
        expect(t.seconds.total).toBeGreaterThan(0)
        expect(t.sizeRatio).toBeCloseTo(t.sizeBytes! / r.base.sizeBytes, 12)
        expect(t.meetsBudget).toBe(t.sizeBytes! <= 0.6 * r.base.sizeBytes)
        expect(existsSync(join(r.searchDir, t.name, 'model.onnx'))).toBe(true)
      }
    }
    expect(r.tried + r.skipped).toBe(r.space)
    // the test part: base and chosen, measured after the decision by the evaluator rec eval uses
    expect(r.test!.base.variant).toBe('base')
    expect(r.test!.chosen.variant).toBe(chosen.name)
    expect(r.test!.chosen.sizeBytes).toBe(chosen.sizeBytes)
    expect(r.test!.base.metrics['ndcg@10']).toBeGreaterThan(0)
    // the saved trajectory is the result
    expect(JSON.parse(readFileSync(join(r.searchDir, SEARCH_JSON), 'utf8'))).toEqual(asJson(r))
  })

  it('an impossible budget: says none exists, measures no test part', async () => {
    const dir = tempDir('search-none')
    const loaded = await loadConfig(writeExperiment(dir, 'tiny.yaml', YAML))
    const r = await runSearch(loaded, {budget: {p50: {value: 1e-9, relative: false}}, maxDrop: 0, metric: 'ndcg@10', distill: false, outDir: join(dir, 'runs')})
    expect(r.verdict).toBe('none')
    expect(r.chosen).toBeNull()
    expect(r.test).toBeNull()
    expect(r.message).toMatch(/^no candidate meets p50 ≤ 1\.00e-9 ms within a 0\.0% drop of validation ndcg@10/)
    expect(r.trajectory.every((t) => t.decision !== 'best-so-far' && t.decision !== 'feasible')).toBe(true)
  })
})

describe('rec search (CLI)', () => {
  it('usage errors before any work: no budget, a bad budget, a bad --max-drop', async () => {
    const dir = tempDir('search-cli')
    const file = writeExperiment(dir, 'tiny.yaml', YAML)
    const none = await runCli(['search', file])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('Error [search.no_budget]')
    const bad = await runCli(['search', file, '--budget', 'p50=soon', '--json'])
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error.code).toBe('search.bad_budget')
    const drop = await runCli(['search', file, '--budget', 'p50=0.5x', '--max-drop', '2'])
    expect(drop.code).toBe(2)
    expect(drop.stderr).toContain('--max-drop 2 is not a fraction')
    expect(existsSync(join(dir, 'runs'))).toBe(false)
  })
})
