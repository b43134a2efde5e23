/**
 * Rows of different protocols (another split, full vs sampled ranking) are never merged under one
 * protocol line: each row names its protocol, rows are grouped per protocol, each protocol is
 * printed, and deltas never cross protocols.
 */
import {describe, expect, it} from 'vitest'

import {renderTable} from '../../src/cli/table.js'
import {describeProtocol, type Protocol} from '../../src/eval/protocol.js'
import {renderCsv} from '../../src/report/render.js'
import {buildTable, type ReportRow} from '../../src/report/table.js'
import {fullProtocol} from './fixtures.js'

const full: Protocol = {...fullProtocol(), split: {method: 'random', ratios: [0.8, 0.1, 0.1], scope: 'per_user', order: 'latest', row_order: false}}
const loo: Protocol = {...full, split: {...full.split, method: 'leave_one_out'}}
const sampled: Protocol = {...full, mode: 'sampled', candidates: '1 positive + 99 sampled negatives', excluded: 'items the user interacted with (never sampled as negatives)', negatives: {...full.negatives, perPositive: 99}}

const row = (run: string, variant: string, ndcg: number, protocol: Protocol): ReportRow => ({run, model: 'mf', variant, backend: 'wasm', metrics: {'ndcg@10': ndcg}, protocol})

describe('the protocol line names the split', () => {
  it('random per-user 80/10/10, leave-one-out, temporal by row order', () => {
    expect(describeProtocol(full)).toMatch(/^Full ranking over all items on the test part of a random per-user 80\/10\/10 split \(train \+ validation items excluded\)/)
    expect(describeProtocol(loo)).toContain('on the test part of a leave-one-out split (latest events)')
    expect(describeProtocol({...full, split: {method: 'temporal', scope: 'global', ratios: [0.7, 0.15, 0.15], row_order: true}})).toContain('of a temporal global 70/15/15 split (input row order)')
    expect(describeProtocol(sampled)).toMatch(/^Sampled ranking on the test part of a random per-user 80\/10\/10 split: 1 positive \+ 99 sampled negatives/)
  })
})

describe('rows of different protocols', () => {
  const rows = () => [row('runs/a', 'base', 0.2, full), row('runs/b', 'base', 0.6, sampled), row('runs/c', 'base', 0.3, loo), row('runs/a', 'int8', 0.19, full)]

  it('are grouped per protocol (first appearance order, the sort within each group), each labelled', () => {
    const t = buildTable(rows(), {sort: 'ndcg@10'})
    expect(t.columns.slice(0, 4).map((c) => c.key)).toEqual(['protocol', 'run', 'model', 'variant'])
    expect(t.keyColumns).toBe(4)
    // sorted by ndcg@10: b (0.6) > c (0.3) > a/base (0.2) > a/int8 (0.19); then grouped: P1 = sampled (b) first
    expect(t.values.map((v) => `${v[0]} ${v[1]}/${v[3]}`)).toEqual(['P1 runs/b/base', 'P2 runs/c/base', 'P3 runs/a/base', 'P3 runs/a/int8'])
    expect(t.notes[0]).toBe('These rows were evaluated under 3 different protocols: their metrics are comparable only within one protocol (rows are grouped by protocol).')
    expect(t.notes.slice(1, 4)).toEqual([`P1: ${describeProtocol(sampled)}`, `P2: ${describeProtocol(loo)}`, `P3: ${describeProtocol(full)}`])
  })

  it('deltas stay within a protocol', () => {
    const t = buildTable(rows(), {baseline: 'runs/a:mf/base'})
    const at = (variant: string, run: string) => t.raw.findIndex((r) => r.run === run && r.variant === variant)
    expect(t.deltas[at('int8', 'runs/a')]!['ndcg@10'].abs).toBeCloseTo(-0.01, 10)
    expect(t.deltas[at('base', 'runs/b')]).toBeNull()
    expect(t.deltas[at('base', 'runs/c')]).toBeNull()
    expect(t.notes).toContain('Deltas (absolute, relative) against runs/a:mf/base, for rows of its protocol (P1).')
  })

  it('every renderer shows the protocol of each row', () => {
    const t = buildTable(rows())
    expect(renderCsv(t).split('\n')[1].startsWith('P1,runs/a,mf,base,')).toBe(true)
    const text = renderTable(t, {width: 400})
    expect(text).toContain('P1: Full ranking over all items on the test part of a random per-user 80/10/10 split')
    expect(text).toContain('P2: Sampled ranking')
  })

  it('runs that differ only in the seed share one protocol (a seed is a draw, not a protocol); the line lists the seeds', () => {
    const t = buildTable([row('runs/a', 'base', 0.2, full), row('runs/b', 'base', 0.3, {...full, seed: 7})])
    expect(t.columns.map((c) => c.key)).not.toContain('protocol')
    expect(t.notes[0]).toBe(`Protocol: ${describeProtocol(full).replace('; seed 42.', '; seeds 42, 7.')}`)
  })

  it('one protocol: no protocol column, one protocol line as before', () => {
    const t = buildTable([row('runs/a', 'base', 0.2, full), row('runs/b', 'base', 0.3, {...full})])
    expect(t.columns.map((c) => c.key)).not.toContain('protocol')
    expect(t.notes[0]).toBe(`Protocol: ${describeProtocol(full)}`)
  })
})
