/**
 * Sharding (issue 5): `rec run --shard i/n` runs a deterministic slice of the variant grid;
 * `rec compare dirA dirB` merges the shards into one table and refuses shards of another config.
 */
import {rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {runJson, tempDir, tinyYaml, writeYaml, type RunJson} from './helpers.js'

const COMPRESS = [
  'compress:',
  '  finetune: {epochs: 1}',
  '  variants:',
  '    - {name: int8, quantize: {dtype: int8}}',
  '    - {name: prune50, prune: {method: magnitude, sparsity: 0.5}}',
].join('\n')

let dir: string
let exp: string
let s1: RunJson
let s2: RunJson
let other: RunJson

beforeAll(async () => {
  dir = tempDir('shards')
  exp = writeYaml(dir, 'shards.yaml', tinyYaml({name: 'tiny-shards', items: 200, runtime: 'onnx', extra: COMPRESS}))
  // as CI matrix jobs would: separate output folders (separate machines)
  const [r1, r2, r3] = await Promise.all([
    runJson(['run', exp, '--shard', '1/2', '--out', join(dir, 'job1')]),
    runJson(['run', exp, '--shard', '2/2', '--out', join(dir, 'job2')]),
    // a shard of a different config: another learning rate, so other trained models
    runJson(['run', exp, '--shard', '2/2', '--out', join(dir, 'job3'), '--set', 'train.lr=0.02']),
  ])
  for (const r of [r1, r2, r3]) expect(r.code, r.stderr).toBe(0)
  s1 = r1.json
  s2 = r2.json
  other = r3.json
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('rec run --shard', () => {
  it('each shard trains the same base and evaluates its own slice of the variant grid', () => {
    expect(s1.shard).toEqual({index: 1, count: 2})
    expect(s2.shard).toEqual({index: 2, count: 2})
    expect(s1.runDir).toMatch(/-shard1of2$/)
    expect(s2.runDir).toMatch(/-shard2of2$/)
    expect(s1.variants.map((v) => v.name)).toEqual(['base', 'int8'])
    expect(s2.variants.map((v) => v.name)).toEqual(['base', 'prune50'])
    expect(s2.keys).toEqual(s1.keys)
    // the base model is the same in both shards, bit for bit
    expect(JSON.stringify(s2.variants[0].metrics)).toBe(JSON.stringify(s1.variants[0].metrics))
    expect(other.keys.train.mf).not.toBe(s1.keys.train.mf)
  })
})

describe('rec compare of shards', () => {
  it('merges two shards into one set of rows, each variant once (base once)', async () => {
    const r = await runCli(['compare', s1.runDir, s2.runDir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as {rows: {model: string; variant: string; metrics: Record<string, number>}[]}
    const names = report.rows.map((row) => `${row.model}/${row.variant}`)
    expect([...names].sort()).toEqual(['mf/base', 'mf/int8', 'mf/prune50'])
    const byName = Object.fromEntries(report.rows.map((row) => [row.variant, row.metrics]))
    // the merged rows carry the metrics each shard measured
    expect(byName.int8).toEqual(s1.variants[1].metrics)
    expect(byName.prune50).toEqual(s2.variants[1].metrics)
    expect(byName.base).toEqual(s1.variants[0].metrics)
  })

  it('refuses a shard of another config: exit 2, "cannot merge" and the reason', async () => {
    const r = await runCli(['compare', s1.runDir, other.runDir])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`Error [compare.shard_mismatch]: cannot merge ${other.runDir} with ${s1.runDir}: train keys`)
    expect(r.stderr).toContain(s1.keys.train.mf)
    expect(r.stderr).toContain(other.keys.train.mf)
    expect(r.stderr).toContain('Hint: shards must run the same experiment on the same data, split and training settings')
  })
})
