import {describe, expect, it} from 'vitest'

import {renderTable, wrapText} from '../../src/cli/table.js'
import type {Latency} from '../../src/eval/latency.js'
import type {Protocol} from '../../src/eval/protocol.js'
import {isRecError} from '../../src/errors.js'
import {formatBytes, formatCount, formatMetric, formatMs} from '../../src/report/format.js'
import {renderCsv, renderJson, renderMarkdown, tableToJson} from '../../src/report/render.js'
import {buildTable, type ReportRow} from '../../src/report/table.js'
import {fullProtocol} from './fixtures.js'

/** one tolerance for every numeric comparison: float32 has ~7 significant digits */
const TOL = 1e-6

const latency = (p50: number): Latency => ({p50Ms: p50, p95Ms: p50 * 2, p99Ms: p50 * 3, meanMs: p50 * 1.2, requests: 200, throughputUsersPerS: 5000, batch: 256, runtime: 'wasm'})

const protocol: Protocol = fullProtocol([10, 20])

function rows(): ReportRow[] {
  return [
    {run: 'runs/a', model: 'mf', variant: 'int8', backend: 'wasm', execution: 'int8-kernel', metrics: {'ndcg@10': 0.2812, 'hr@10': 0.61, auc: 0.9, logloss: 0.41}, latency: latency(0.8), sizeBytes: 400 * 1024, params: 123456, protocol},
    {run: 'runs/a', model: 'mf', variant: 'base', backend: 'wasm', execution: 'float32', metrics: {'ndcg@10': 0.2852, 'hr@10': 0.6, auc: 0.91, logloss: 0.4}, latency: latency(1.234), sizeBytes: 1.5 * 1024 * 1024, params: 123456, protocol},
    {run: 'runs/a', model: 'pop', variant: 'base', backend: 'wasm', execution: 'float32', metrics: {'ndcg@10': 0.1, 'hr@10': 0.3, auc: 0.8, logloss: 0.6}, latency: latency(0.05), sizeBytes: 2000, params: 1682, protocol},
  ]
}

const col = (t: ReturnType<typeof buildTable>, key: string) => t.columns.findIndex((c) => c.key === key)

describe('formatting', () => {
  it('metrics with 4 decimals, ms with 3 significant digits, sizes in KiB/MiB, params as k/M', () => {
    expect(formatMetric(0.28123)).toBe('0.2812')
    expect(formatMetric(Number.NaN)).toBe('–')
    expect([0.012345, 1.23456, 12.345, 123.45, 4321.5].map(formatMs)).toEqual(['0.0123', '1.23', '12.3', '123', '4322'])
    expect([512, 1536, 400 * 1024, 1.5 * 1024 * 1024].map(formatBytes)).toEqual(['512 B', '1.50 KiB', '400 KiB', '1.50 MiB'])
    expect([950, 12345, 1.2e6].map(formatCount)).toEqual(['950', '12.3k', '1.2M'])
  })
})

describe('buildTable', () => {
  it('default columns: keys, backend, then only the metrics and figures present', () => {
    const t = buildTable(rows())
    expect(t.columns.map((c) => c.key)).toEqual(['model', 'variant', 'backend', 'execution', 'ndcg@10', 'hr@10', 'auc', 'p50_ms', 'p95_ms', 'size', 'params'])
    expect(t.columns.map((c) => c.title)).toContain('p50 ms')
    expect(t.keyColumns).toBe(2)
    // one run only: no run column; with two runs it appears as a key column
    const two = buildTable([...rows(), {...rows()[0], run: 'runs/b'}])
    expect(two.columns.slice(0, 3).map((c) => c.key)).toEqual(['run', 'model', 'variant'])
    expect(two.keyColumns).toBe(3)
  })

  it('explicit columns, with aliases; unknown names are usage errors', () => {
    const t = buildTable(rows(), {metrics: ['auc', 'p99', 'logloss', 'throughput']})
    expect(t.columns.map((c) => c.key)).toEqual(['model', 'variant', 'backend', 'auc', 'p99_ms', 'logloss', 'throughput'])
    const err = (() => {
      try {
        buildTable(rows(), {metrics: ['nope@3']})
      } catch (error) {
        return error
      }
    })()
    expect(isRecError(err) && err.kind).toBe('usage')
  })

  it('sorts best first by the metric direction (higher for ndcg, lower for latency and logloss)', () => {
    const byNdcg = buildTable(rows(), {sort: 'ndcg@10'})
    expect(byNdcg.raw.map((r) => `${r.model}/${r.variant}`)).toEqual(['mf/base', 'mf/int8', 'pop/base'])
    const byP50 = buildTable(rows(), {sort: 'p50_ms'})
    expect(byP50.raw.map((r) => `${r.model}/${r.variant}`)).toEqual(['pop/base', 'mf/int8', 'mf/base'])
    const byLoss = buildTable(rows(), {sort: 'logloss'})
    expect(byLoss.raw[0].variant).toBe('base')
    expect(byLoss.raw[0].model).toBe('mf')
    const forced = buildTable(rows(), {sort: 'ndcg@10', descending: false})
    expect(forced.raw[0].model).toBe('pop')
  })

  it('rows without the sort value go last', () => {
    const r = rows()
    delete r[1].metrics['ndcg@10']
    expect(buildTable(r, {sort: 'ndcg@10'}).raw.map((x) => x.variant)).toEqual(['int8', 'base', 'base'])
    expect(buildTable(r, {sort: 'ndcg@10'}).raw[2].model).toBe('mf')
  })

  it('deltas against a baseline: `0.2812 (−0.0040, −1.4%)`, numbers in deltas', () => {
    const t = buildTable(rows(), {baseline: 'mf/base'})
    expect(t.baseline).toBe(1)
    const int8 = 0
    expect(t.rows[int8][col(t, 'ndcg@10')]).toBe('0.2812 (\u22120.0040, \u22121.4%)')
    expect(t.rows[int8][col(t, 'hr@10')]).toBe('0.6100 (+0.0100, +1.7%)')
    expect(t.rows[1][col(t, 'variant')]).toBe('base (baseline)')
    expect(t.rows[1][col(t, 'ndcg@10')]).toBe('0.2852')
    expect(t.deltas[1]).toBeNull()
    const d = t.deltas[int8]!
    expect(Math.abs(d['ndcg@10'].abs - -0.004)).toBeLessThanOrEqual(TOL)
    expect(Math.abs(d['ndcg@10'].rel! - -0.004 / 0.2852)).toBeLessThanOrEqual(TOL)
    // latency and size deltas are in the data too (shown only for metric cells)
    expect(Math.abs(d.p50_ms.abs - (0.8 - 1.234))).toBeLessThanOrEqual(TOL)
    expect(t.rows[int8][col(t, 'p50_ms')]).toBe('0.800')
    expect(t.notes.some((n) => n.includes('against runs/a:mf/base'))).toBe(true)
  })

  it('a variant name matching one row per model: each row against its own model\'s baseline', () => {
    const t = buildTable([...rows(), {...rows()[2], variant: 'int8', metrics: {...rows()[2].metrics, 'ndcg@10': 0.09}}], {baseline: 'base'})
    // mf/int8 against mf/base, pop/int8 against pop/base; the bases have no deltas
    expect(t.deltas.map((d) => (d ? Number(d['ndcg@10'].abs.toFixed(4)) : null))).toEqual([-0.004, null, null, -0.01])
    expect(t.rows.map((r) => r[col(t, 'variant')])).toEqual(['int8', 'base (baseline)', 'base (baseline)', 'int8'])
    expect(t.notes.some((n) => n.includes("against each model's base row"))).toBe(true)
  })

  it('baseline by variant, by run:model/variant; unknown and ambiguous baselines are usage errors', () => {
    expect(buildTable(rows(), {baseline: 'int8'}).baseline).toBe(0)
    expect(buildTable(rows(), {baseline: 'runs/a:pop/base'}).baseline).toBe(2)
    expect(buildTable(rows(), {baseline: 'a:pop/base'}).baseline).toBe(2) // last path segment of the run
    // two rows of the same run and model named alike are ambiguous
    const dup = [...rows(), {...rows()[1]}]
    for (const [spec, code, data] of [['nope', 'report.baseline_not_found', rows()], ['mf/base', 'report.baseline_ambiguous', dup]] as const) {
      let err: unknown
      try {
        buildTable([...data], {baseline: spec})
      } catch (error) {
        err = error
      }
      expect(isRecError(err) && err.code).toBe(code)
      expect(isRecError(err) && err.exitCode).toBe(2)
    }
  })

  it('a zero baseline gives a null relative delta and "n/a"', () => {
    const r = rows()
    r[1].metrics['ndcg@10'] = 0
    const t = buildTable(r, {baseline: 'mf/base'})
    expect(t.deltas[0]!['ndcg@10'].rel).toBeNull()
    expect(t.rows[0][col(t, 'ndcg@10')]).toContain('n/a')
  })

  it('notes describe the protocol once; mixed protocols are flagged', () => {
    expect(buildTable(rows()).notes[0]).toMatch(/^Protocol: Full ranking over all items on the test part/)
    const r = rows()
    r[2].protocol = {...protocol, mode: 'sampled', candidates: '1 positive + 99 sampled negatives', negatives: {...protocol.negatives, perPositive: 99}}
    expect(buildTable(r).notes[0]).toMatch(/different protocols/)
  })
})

describe('renderers', () => {
  it('CSV: column keys, raw values, delta columns with a baseline', () => {
    const csv = renderCsv(buildTable(rows(), {baseline: 'mf/base', metrics: ['ndcg@10', 'size']}))
    const lines = csv.trimEnd().split('\n')
    expect(lines[0]).toBe('model,variant,backend,ndcg@10,ndcg@10_delta,ndcg@10_delta_rel,size,size_delta,size_delta_rel')
    expect(lines).toHaveLength(4)
    const int8 = lines[1].split(',')
    expect(int8.slice(0, 4)).toEqual(['mf', 'int8', 'wasm', '0.2812'])
    expect(Math.abs(Number(int8[4]) + 0.004)).toBeLessThanOrEqual(TOL)
    expect(int8[6]).toBe(String(400 * 1024))
    expect(lines[2].split(',').slice(4, 6)).toEqual(['', '']) // the baseline has no deltas
  })

  it('CSV quotes fields with commas and quotes', () => {
    const r = rows()
    r[0].backend = 'wasm, "simd"'
    expect(renderCsv(buildTable(r, {metrics: ['auc']}))).toContain('"wasm, ""simd"""')
  })

  it('Markdown: header, alignment row, one line per row, notes under it', () => {
    const md = renderMarkdown(buildTable(rows(), {baseline: 'mf/base'}))
    const lines = md.split('\n')
    expect(lines[0]).toBe('| model | variant | backend | execution | ndcg@10 | hr@10 | auc | p50 ms | p95 ms | size | params |')
    expect(lines[1]).toBe('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    expect(lines.slice(2, 5).every((l) => l.startsWith('| ') && l.endsWith(' |'))).toBe(true)
    expect(lines[2]).toContain('0.2812 (\u22120.0040, \u22121.4%)')
    expect(md).toContain('Protocol: Full ranking')
  })

  it('JSON: the rows with numeric deltas and the baseline key', () => {
    const t = buildTable(rows(), {baseline: 'mf/base'})
    const json = JSON.parse(renderJson(t))
    expect(json.baseline).toBe('runs/a:mf/base')
    expect(json.rows).toHaveLength(3)
    expect(json.rows[0].key).toBe('runs/a:mf/int8')
    expect(typeof json.rows[0].deltas['ndcg@10'].abs).toBe('number')
    expect(typeof json.rows[0].deltas['ndcg@10'].rel).toBe('number')
    expect(json.rows[1].baseline).toBe(true)
    expect(json.rows[1].deltas).toBeNull()
    expect(json.rows[0].metrics['ndcg@10']).toBe(0.2812)
    expect(tableToJson(t).columns[0]).toEqual({key: 'model', title: 'model', kind: 'key'})
  })
})

describe('terminal table (cli-table3)', () => {
  const wide = () => {
    const metrics = ['accuracy', 'precision', 'recall', 'f1', 'ndcg@10', 'recall@10', 'hr@10', 'mrr@10', 'map@10', 'ndcg@20', 'auc', 'logloss']
    const r = rows().map((x, j) => ({...x, metrics: Object.fromEntries(metrics.map((m, q) => [m, 0.1 + 0.01 * q + 0.1 * j]))}))
    return buildTable(r, {metrics: [...metrics, 'p50_ms', 'p95_ms', 'p99_ms', 'size', 'params'], baseline: 'mf/base'})
  }

  it('fits in the width by stacking tables that repeat the key columns', () => {
    for (const width of [120, 80, 60]) {
      const out = renderTable(wide(), {width})
      const lines = out.split('\n')
      for (const l of lines) expect([...l].length, `${width}: ${l}`).toBeLessThanOrEqual(width)
      const headers = lines.filter((l) => /│ model +│ variant/.test(l) || /\| model +\| variant/.test(l))
      expect(headers.length, `width ${width}`).toBeGreaterThan(1)
      // every column still appears somewhere
      for (const c of wide().columns) expect(out).toContain(c.title)
    }
  })

  it('a narrow table stays one table', () => {
    const out = renderTable(buildTable(rows(), {metrics: ['ndcg@10']}))
    expect(out.split('\n').filter((l) => l.includes('variant')).length).toBe(1)
    expect(out).toContain('0.2852')
    expect(out).not.toMatch(/\u001b\[/) // no colour codes
  })

  it('never overflows even when one column alone is too wide (cells wrap)', () => {
    const r = rows()
    r[0].variant = 'x'.repeat(150)
    const out = renderTable(buildTable(r, {metrics: ['ndcg@10']}), {width: 60})
    for (const l of out.split('\n')) expect([...l].length).toBeLessThanOrEqual(60)
  })

  it('wrapText wraps on words and cuts words longer than the width', () => {
    expect(wrapText('aa bb cc', 5)).toEqual(['aa bb', 'cc'])
    expect(wrapText('abcdefgh', 3)).toEqual(['abc', 'def', 'gh'])
  })
})
