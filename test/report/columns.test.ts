/**
 * Tables that cannot be misread: the ranking metrics of the protocol lead, precision@10 is in the
 * default set, and the pointwise metrics (accuracy, precision, recall, F1 at a threshold, against
 * one sampled negative per positive) sit under a header that says what they are, in every renderer.
 */
import {describe, expect, it} from 'vitest'

import {renderTable} from '../../src/cli/table.js'
import type {Protocol} from '../../src/eval/protocol.js'
import {renderCsv, renderMarkdown, tableToJson} from '../../src/report/render.js'
import {buildTable, type ReportRow} from '../../src/report/table.js'
import {fullProtocol} from './fixtures.js'

const protocol: Protocol = fullProtocol()
const METRICS = {'ndcg@10': 0.2812, 'precision@10': 0.1234, 'recall@10': 0.2, 'hr@10': 0.61, 'mrr@10': 0.4, auc: 0.9, accuracy: 0.7, precision: 0.75, recall: 0.65, f1: 0.7, logloss: 0.5}
const rows = (over: Partial<Protocol> = {}): ReportRow[] => [
  {run: 'runs/a', model: 'mf', variant: 'base', backend: 'wasm', metrics: METRICS, protocol: {...protocol, ...over}},
  {run: 'runs/a', model: 'mf', variant: 'int8', backend: 'wasm', metrics: {...METRICS, precision: 0.74}, protocol: {...protocol, ...over}},
]
const GROUP = 'pointwise @0.5 vs 1:1 sampled negatives'

describe('default columns', () => {
  it('ranking metrics first (with precision@10), then the pointwise group', () => {
    const t = buildTable(rows())
    expect(t.columns.map((c) => c.key)).toEqual(['model', 'variant', 'backend', 'ndcg@10', 'precision@10', 'recall@10', 'hr@10', 'mrr@10', 'auc', 'accuracy', 'precision', 'recall', 'f1'])
    expect(t.columns.filter((c) => c.group === GROUP).map((c) => c.key)).toEqual(['accuracy', 'precision', 'recall', 'f1'])
    expect(t.columns.find((c) => c.key === 'precision@10')!.group).toBeUndefined()
    expect(t.notes).toContain(`Columns under "${GROUP}" are pointwise (classification) metrics, not top-K: precision@K and recall@K are the ranking ones.`)
  })

  it('the group header names the threshold the rows used', () => {
    expect(buildTable(rows({threshold: 0.3})).columns.find((c) => c.key === 'accuracy')!.group).toBe('pointwise @0.3 vs 1:1 sampled negatives')
    const picked = buildTable(rows({threshold: 0.41, thresholdSource: 'validation'}))
    expect(picked.columns.find((c) => c.key === 'accuracy')!.group).toBe('pointwise @best-F1 threshold vs 1:1 sampled negatives')
    // explicit --metrics keep their order; a pointwise one still carries the group
    const t = buildTable(rows(), {metrics: ['precision', 'ndcg@10', 'logloss']})
    expect(t.columns.filter((c) => c.group !== undefined).map((c) => c.key)).toEqual(['precision', 'logloss'])
  })
})

describe('renderers', () => {
  it('terminal: a header row spans the pointwise columns with the group name', () => {
    const out = renderTable(buildTable(rows()), {width: 200})
    const lines = out.split('\n')
    const head = lines.findIndex((l) => l.includes(GROUP))
    const titles = lines.findIndex((l) => l.includes('ndcg@10'))
    expect(head).toBeGreaterThan(0)
    expect(titles).toBeGreaterThan(head)
    // the group label sits above the accuracy..f1 titles
    const at = lines[head].indexOf(GROUP)
    expect(at).toBeGreaterThan(lines[titles].indexOf('auc'))
    expect(at).toBeLessThanOrEqual(lines[titles].indexOf('accuracy') + 1)
    // a rule separates the titles from the values
    expect(lines[titles + 1]).toMatch(/^├[─┼]+┤$/)
    expect(lines[titles + 2]).toContain('0.2812')
  })

  it('terminal: the group header survives stacking into narrow tables, never wider than the width', () => {
    const out = renderTable(buildTable(rows()), {width: 60})
    expect(out).toContain('pointwise')
    for (const l of out.split('\n')) expect([...l].length).toBeLessThanOrEqual(60)
  })

  it('markdown: pointwise titles say so, and the note explains the group', () => {
    const md = renderMarkdown(buildTable(rows()))
    const head = md.split('\n')[0]
    expect(head).toBe('| model | variant | backend | ndcg@10 | precision@10 | recall@10 | hr@10 | mrr@10 | auc | pointwise accuracy | pointwise precision | pointwise recall | pointwise f1 |')
    expect(md).toContain(`Columns under "${GROUP}" are pointwise`)
  })

  it('csv: the metric names of results.json (precision is never precision@10); json: the group', () => {
    const csv = renderCsv(buildTable(rows()))
    expect(csv.split('\n')[0]).toBe('model,variant,backend,ndcg@10,precision@10,recall@10,hr@10,mrr@10,auc,pointwise_accuracy,pointwise_precision,pointwise_recall,pointwise_f1')
    const json = tableToJson(buildTable(rows()))
    expect(json.columns.find((c) => c.key === 'precision')).toEqual({key: 'precision', title: 'precision', kind: 'metric', higherIsBetter: true, group: GROUP})
  })
})
