import {existsSync, mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {escapeHtml} from '../../src/report/html.js'
import {paretoFront, paretoSpec, renderSvg, trainingSpec, type ParetoPoint} from '../../src/report/plots.js'
import {Rng} from '../../src/rng.js'
import {buildReport, trainingCurve, writePlots} from '../../src/run/report.js'
import {checkSchema} from '../commands/schema-check.js'
import {loadSchema, parseJson} from '../commands/fixtures.js'
import {runCli} from '../helpers/cli.js'
import {FAKE_VARIANTS, writeFakeRun} from './fake-run.js'

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `rec-report-${prefix}-`))
const pt = (variant: string, metric: number, p50Ms?: number, sizeBytes?: number): ParetoPoint => ({variant, metric, p50Ms, sizeBytes})

/** a dominates b: no worse on both (lower x, higher metric) and better on one */
const dominates = (a: {x: number; y: number}, b: {x: number; y: number}) => a.x <= b.x && a.y >= b.y && (a.x < b.x || a.y > b.y)

describe('paretoFront', () => {
  it('keeps the points no other beats on both axes, ordered by x (worked example)', () => {
    const points = [pt('a', 0.3, 1), pt('b', 0.31, 2), pt('c', 0.25, 0.5), pt('d', 0.29, 1.5), pt('e', 0.3, 1), pt('f', 0.5, undefined)]
    // c (fastest), a (0.30 at 1 ms; e ties it and comes later), b (best metric); d is beaten by a, f has no p50
    expect(paretoFront(points, 'p50')).toEqual([2, 0, 1])
    expect(paretoFront(points, 'size')).toEqual([])
  })

  it('on random points: no front point is dominated, every other point is dominated by a front point', () => {
    const rng = new Rng(7)
    for (let trial = 0; trial < 50; trial++) {
      const points = Array.from({length: 2 + rng.int(15)}, (_, j) => pt(`v${j}`, rng.int(20) / 20, undefined, 1 + rng.int(10)))
      const q = points.map((p) => ({x: p.sizeBytes!, y: p.metric}))
      const front = paretoFront(points, 'size')
      const on = new Set(front)
      for (const j of front) expect(q.some((o) => dominates(o, q[j]))).toBe(false)
      q.forEach((p, j) => {
        if (!on.has(j)) expect(q.some((o, k) => k !== j && (dominates(o, p) || (o.x === p.x && o.y === p.y && on.has(k))))).toBe(true)
      })
      expect(front.map((j) => q[j].x)).toEqual([...front.map((j) => q[j].x)].sort((a, b) => a - b))
    }
  })
})

describe('plot specs and SVG', () => {
  const points = FAKE_VARIANTS.map(([v, m, p50, size]) => pt(v, m, p50, size))

  it('pareto: every point with its role, the front as a line, the gate band from the bound up', async () => {
    const spec = paretoSpec(points, {axis: 'size', metric: 'ndcg@10', gate: {bound: 0.297, label: 'gate'}}) as any
    const [band, , line, dots] = spec.layer
    expect(band.data.values[0].lo).toBe(0.297)
    expect(band.data.values[0].hi).toBeGreaterThan(0.3)
    // by size: int8 (260 kB) then structured (990 kB) is worse and bigger than int8 → not on the front; base is best
    expect(line.data.values.map((v: any) => v.variant)).toEqual(['int8', 'base'])
    expect(Object.fromEntries(dots.data.values.map((v: any) => [v.variant, v.role]))).toEqual({base: 'base', int8: 'on the front', 'structured-0.5-mlp': 'dominated', 'magnitude-0.5': 'dominated'})
    expect(dots.data.values.find((v: any) => v.variant === 'int8').x).toBeCloseTo(260_000 / 1024, 9)
    const svg = await renderSvg(spec)
    expect(svg.startsWith('<svg')).toBe(true)
    for (const name of ['int8', 'structured-0.5-mlp', 'magnitude-0.5', 'gate', 'size (KiB, lower is better)']) expect(svg).toContain(name)
  })

  it('training: loss per epoch, and the validation metric with the kept epoch marked', async () => {
    const spec = trainingSpec([{epoch: 1, loss: 0.7, valid: 0.2}, {epoch: 2, loss: 0.6, valid: 0.25}, {epoch: 3, loss: 0.5}], {validMetric: 'mrr@10', bestEpoch: 2}) as any
    expect(spec.hconcat).toHaveLength(2)
    expect(spec.hconcat[1].data.values).toEqual([{epoch: 1, valid: 0.2, best: false}, {epoch: 2, valid: 0.25, best: true}])
    const svg = await renderSvg(spec)
    expect(svg).toContain('validation mrr@10')
    expect(svg).toContain('training loss')
    // without validation: the loss panel alone
    expect((trainingSpec([{epoch: 1, loss: 0.7}]) as any).hconcat).toHaveLength(1)
  })
})

describe('buildReport', () => {
  it('one self-contained page: the table against base, the protocol, three inline plots; SVG files in the run', async () => {
    const run = writeFakeRun(join(tmp('lib'), 'fake', 'run1'))
    const r = await buildReport([run], {now: new Date('2026-01-01T00:00:00Z')})
    const html = r.html
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).toContain('made 2026-01-01T00:00:00.000Z')
    expect(html).toContain('Protocol: Full ranking over all items')
    expect(html).toContain('<tr class="baseline">')
    // int8 against base: 0.2995 vs 0.3 → −0.0005, −0.2%
    expect(html).toContain('0.2995 (−0.0005, −0.2%)')
    expect(html.match(/<svg/g)).toHaveLength(3)
    // nothing outside the page: no script, no external reference
    expect(html).not.toMatch(/<script/i)
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:|\/\/)/i)
    expect(r.plots[0].plots.map((p) => p.kind)).toEqual(['pareto-p50', 'pareto-size', 'training'])
    const files = writePlots(r.plots)
    expect(files.map((f) => f.slice(run.length + 1))).toEqual(['plots/neumf-pareto-p50.svg', 'plots/neumf-pareto-size.svg', 'plots/neumf-training.svg'])
    for (const f of files) expect(readFileSync(f, 'utf8')).toBe(r.plots[0].plots.find((p) => f.endsWith(`${p.kind}.svg`))!.svg)
  })

  it('reads the training curve with its validation metric and kept epoch', () => {
    const run = writeFakeRun(join(tmp('curve'), 'fake', 'run1'))
    expect(trainingCurve(run, 'neumf')).toMatchObject({validMetric: 'mrr@10', bestEpoch: 3, history: [{epoch: 1, loss: 1, valid: 0.2}, {}, {}, {}]})
    expect(trainingCurve(run, 'mf')).toBeUndefined()
  })

  it('refuses a lower-is-better metric on the y axis (usage error)', async () => {
    const run = writeFakeRun(join(tmp('metric'), 'fake', 'run1'))
    await expect(buildReport([run], {metric: 'logloss'})).rejects.toMatchObject({code: 'report.bad_metric', exitCode: 2})
  })

  it('escapes text', () => {
    expect(escapeHtml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;')
  })
})

describe('rec report (CLI)', () => {
  it('--json: the schema, the HTML file and the SVG files it names; a missing run is exit 2', async () => {
    const dir = tmp('cli')
    const run = writeFakeRun(join(dir, 'fake', 'run1'))
    const out = join(dir, 'page.html')
    const r = await runCli(['report', run, '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const json = parseJson(r.stdout)
    expect(checkSchema(json, loadSchema('report'))).toEqual([])
    expect(json.html).toBe(out)
    expect(readFileSync(out).length).toBe(json.bytes)
    expect(json.plots.map((p: any) => p.kind)).toEqual(['pareto-p50', 'pareto-size', 'training'])
    for (const p of json.plots) expect(existsSync(p.file)).toBe(true)
    const missing = await runCli(['report', join(dir, 'nope')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no run directory')
  })

  it('rec compare --plot pareto writes the two Pareto SVGs into the run straight away, the table unchanged on stdout', async () => {
    const run = writeFakeRun(join(tmp('compare'), 'fake', 'run1'))
    const r = await runCli(['compare', run, '--plot', 'pareto', '--format', 'csv', '--metrics', 'ndcg@10'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.split('\n')[0]).toBe('model,variant,backend,runtime,ndcg@10')
    for (const kind of ['p50', 'size']) {
      const file = join(run, 'plots', `neumf-pareto-${kind}.svg`)
      expect(readFileSync(file, 'utf8')).toMatch(/^<svg/)
      expect(r.stderr).toContain(`wrote ${file}`)
    }
    expect(existsSync(join(run, 'plots', 'neumf-training.svg'))).toBe(false)
  })
})
