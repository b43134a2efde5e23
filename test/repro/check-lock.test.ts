/**
 * Reference checks (`rec run --check`, exit 4 with a readable diff) and the run-directory lock
 * (a second writer is refused with exit 2, naming the holder).
 */
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {processStart} from '../../src/run/lock.js'
import {runCli} from '../helpers/cli.js'
import {runJson, tempDir, tinyYaml, writeYaml, type RunJson} from './helpers.js'

let dir: string
let exp: string
let out: string
let first: RunJson
let firstStdout: string

beforeAll(async () => {
  dir = tempDir('check')
  exp = writeYaml(dir, 'tiny.yaml', tinyYaml({name: 'tiny-check'}))
  out = join(dir, 'runs')
  const r = await runJson(['run', exp, '--out', out])
  expect(r.code, r.stderr).toBe(0)
  first = r.json
  firstStdout = r.stdout
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('rec run --check', () => {
  it('the --json output of a run, saved as reference.json, passes: exit 0, nothing moved', async () => {
    const ref = join(dir, 'reference.json')
    writeFileSync(ref, firstStdout)
    const r = await runJson(['run', exp, '--out', out, '--check', ref])
    expect(r.code, r.stderr).toBe(0)
    const metrics = Object.keys(first.variants[0].metrics).length
    expect(metrics).toBeGreaterThan(5)
    expect(r.json.check).toMatchObject({ok: true, compared: metrics, moved: [], failed: []})
  })

  it('a reference value nudged by 0.01 fails --tolerance 0.002: exit 4, a diff naming variant, metric, old and new', async () => {
    const actual = first.variants[0].metrics['ndcg@10']
    const nudged = actual + 0.01
    const body = JSON.parse(firstStdout)
    body.variants[0].metrics['ndcg@10'] = nudged
    const ref = join(dir, 'nudged.json')
    writeFileSync(ref, JSON.stringify(body))

    const r = await runCli(['run', exp, '--out', out, '--check', ref, '--tolerance', '0.002'])
    expect(r.code).toBe(4)
    const total = Object.keys(first.variants[0].metrics).length
    // the error on stderr: code, count, and one line per failed metric with old → new, delta, allowed
    expect(r.stderr).toContain(`Error [check.failed]: 1 of ${total} metrics moved beyond tolerance against ${ref}`)
    expect(r.stderr).toContain(`  - mf/base ndcg@10: ${nudged} → ${actual} (Δ -0.01, allowed ±0.002)`)
    expect(r.stderr).toContain('Hint: if the change is intended, save the new --json output as the reference')
    // the human report (stdout) holds the diff table: variant, metric, reference, new, delta, allowed, verdict
    expect(r.stdout).toContain(`check against ${ref}: FAILED (1 of ${total} metrics beyond tolerance)`)
    const row = r.stdout.split('\n').find((l) => l.includes('ndcg@10') && l.includes('FAIL'))
    expect(row, r.stdout).toBeDefined()
    const cells = row!.split('│').map((c) => c.trim()).filter(Boolean)
    expect(cells).toEqual(['mf/base', 'ndcg@10', String(Number(nudged.toPrecision(6))), String(Number(actual.toPrecision(6))), '-0.01', '±0.002', 'FAIL'])
  })

  it('with --json a failed check is one JSON document on stdout (result, check and error), exit 4', async () => {
    const body = JSON.parse(firstStdout)
    body.variants[0].metrics['ndcg@10'] += 0.01
    const ref = join(dir, 'nudged-json.json')
    writeFileSync(ref, JSON.stringify(body))
    const j = await runCli(['run', exp, '--out', out, '--check', ref, '--tolerance', '0.002', '--json'])
    expect(j.code).toBe(4)
    const doc = JSON.parse(j.stdout)
    expect(doc.check).toMatchObject({ok: false, failed: [{variant: 'mf/base', metric: 'ndcg@10', ok: false}]})
    expect(doc.error).toMatchObject({code: 'check.failed', exitCode: 4})
  })

  it('a per-metric tolerance (ndcg@10=0.02) admits the same nudge: exit 0', async () => {
    const ref = join(dir, 'nudged.json')
    const r = await runJson(['run', exp, '--out', out, '--check', ref, '--tolerance', 'ndcg@10=0.02'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.check).toMatchObject({ok: true, failed: []})
    expect(r.json.check!.moved).toEqual([
      {variant: 'mf/base', metric: 'ndcg@10', reference: first.variants[0].metrics['ndcg@10'] + 0.01, actual: first.variants[0].metrics['ndcg@10'], delta: expect.closeTo(-0.01, 12), allowed: 0.02, ok: true},
    ])
  })

  it('a hand-written {"mf/base": {"ndcg@10": value}} reference works (pass, then fail when nudged)', async () => {
    const v = first.variants[0].metrics['ndcg@10']
    const ok = join(dir, 'hand.json')
    writeFileSync(ok, JSON.stringify({'mf/base': {'ndcg@10': v}}))
    const r = await runJson(['run', exp, '--out', out, '--check', ok])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json.check).toMatchObject({ok: true, compared: 1, moved: []})

    const bad = join(dir, 'hand-bad.json')
    writeFileSync(bad, JSON.stringify({'mf/base': {'ndcg@10': v - 0.05}}))
    const f = await runCli(['run', exp, '--out', out, '--check', bad])
    expect(f.code).toBe(4)
    expect(f.stderr).toContain(`1 of 1 metrics moved beyond tolerance against ${bad}`)
    expect(f.stderr).toContain(`mf/base ndcg@10: ${v - 0.05} → ${v}`)
  })
})

describe('run directory lock', () => {
  it('a live process holding .lock: exit 2, a message naming the holder, nothing written', async () => {
    const lock = join(first.runDir, '.lock')
    expect(existsSync(lock)).toBe(false) // released by the finished runs
    // this test runner is alive, on this host, and is not the child; with its start time the lock
    // reads as one a live rec process took (src/run/lock.ts)
    const holder = JSON.stringify({pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00.000Z', start: processStart(process.pid)})
    writeFileSync(lock, holder)
    const manifestBefore = readFileSync(join(first.runDir, 'manifest.json'))
    try {
      const r = await runCli(['run', exp, '--out', out])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`Error [run.locked]: the run directory ${first.runDir} is in use by process ${process.pid} (since 2026-01-01T00:00:00.000Z)`)
      expect(r.stderr).toContain('Hint: wait for it to finish, or use another run directory')
      // the refused process neither took nor removed the lock, and wrote nothing
      expect(readFileSync(lock, 'utf8')).toBe(holder)
      expect(readFileSync(join(first.runDir, 'manifest.json')).equals(manifestBefore)).toBe(true)

      const j = await runCli(['run', exp, '--out', out, '--json'])
      expect(j.code).toBe(2)
      expect(JSON.parse(j.stdout).error).toMatchObject({code: 'run.locked', kind: 'usage', exitCode: 2})
    } finally {
      rmSync(lock, {force: true})
    }
  })

  it('a lock on another host is refused too, naming pid and host', async () => {
    const lock = join(first.runDir, '.lock')
    writeFileSync(lock, JSON.stringify({pid: 4242, host: 'ci-runner-7', since: '2026-01-01T00:00:00.000Z'}))
    try {
      const r = await runCli(['run', exp, '--out', out])
      expect(r.code).toBe(2)
      expect(r.stderr).toContain(`locked by process 4242 on host ci-runner-7`)
      expect(r.stderr).toContain(`delete ${lock}`)
    } finally {
      rmSync(lock, {force: true})
    }
  })
})
