/**
 * Checks that `rec run` makes before any work (the trust issue's "protocol lies" and "paths escape"),
 * through the CLI as a user meets them: each stops with its exit code before training, writes
 * nothing outside the output folder, and what the protocol line says is what the run did.
 */
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {tempDir, tinyYaml, writeYaml} from './helpers.js'

const dir = tempDir('before-work')

describe('rec run stops before any work', () => {
  it('--run-id ../../x is a usage error and writes nothing', async () => {
    const exp = writeYaml(dir, 'ids.yaml', tinyYaml({name: 'ids'}))
    const out = join(dir, 'ids-out')
    const r = await runCli(['run', exp, '--out', out, '--run-id', '../../escaped'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('--run-id "../../escaped" is not a plain folder name')
    expect(existsSync(out)).toBe(false)
    expect(existsSync(join(dir, 'escaped'))).toBe(false)
  })

  it('--from eval --until data is a usage error naming both', async () => {
    const exp = writeYaml(dir, 'range.yaml', tinyYaml({name: 'range'}))
    const r = await runCli(['run', exp, '--out', join(dir, 'range-out'), '--from', 'eval', '--until', 'data'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('--from eval comes after --until data')
  })

  it('a sampled protocol with more distinct negatives than the catalogue has is a data error before training', async () => {
    const exp = writeYaml(dir, 'sampled.yaml', tinyYaml({name: 'sampled'}).replace('  k: [10]', '  k: [10]\n  mode: sampled\n  negatives: 999'))
    const out = join(dir, 'sampled-out')
    const r = await runCli(['run', exp, '--out', out])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain('eval.negatives = 999 needs 999 distinct negatives per test positive')
    expect(r.stderr).not.toContain('[train mf]')
    const [id] = readdirSync(join(out, 'sampled'))
    const stages = JSON.parse(readFileSync(join(out, 'sampled', id, 'manifest.json'), 'utf8')).stages
    expect(Object.keys(stages)).toEqual(['data'])
  })

  it('a temporal split of data without timestamps is a data error; with split.row_order the protocol line says row order', async () => {
    const rows: string[] = []
    for (let r = 0; r < 600; r++) rows.push(`${r % 30},${(r * 17 + Math.floor(r / 30) * 3) % 40}`) // 20 distinct items per user
    writeFileSync(join(dir, 'pairs.csv'), rows.join('\n') + '\n')
    const yaml = tinyYaml({name: 'rows'})
      .replace(/data:\n  format: synth\n  synth: .*\n/, 'data: {format: delimited, path: pairs.csv, columns: {user: 0, item: 1}}\n')
      .replace('split: {method: random,', 'split: {method: temporal,')
    expect(yaml).toContain('format: delimited')
    const out = join(dir, 'rows-out')
    const refused = await runCli(['run', writeYaml(dir, 'rows.yaml', yaml), '--out', out])
    expect(refused.code, refused.stderr).toBe(3)
    expect(refused.stderr).toContain('needs timestamps, and the data has none')
    expect(refused.stderr).toContain('split.row_order: true')

    const ok = await runCli(['run', writeYaml(dir, 'rows-ok.yaml', yaml.replace('split: {method: temporal,', 'split: {row_order: true, method: temporal,')), '--out', out, '--json'])
    expect(ok.code, ok.stderr).toBe(0)
    const result = JSON.parse(ok.stdout) as {protocol: {description: string}}
    expect(result.protocol.description).toContain('temporal per-user 80/10/10 split (input row order)')
  })
})
