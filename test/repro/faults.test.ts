/**
 * Bad input and faults through the CLI (issue 5), each with its message and exit code. What the
 * unit tests of test/data and test/config already cover is not repeated here (see the list in
 * test/repro/README.md).
 */
import {chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {runJson, tempDir, tinyYaml, writeYaml, type RunJson} from './helpers.js'

let dir: string
let exp: string
let base: RunJson

beforeAll(async () => {
  dir = tempDir('faults')
  exp = writeYaml(dir, 'tiny.yaml', tinyYaml({name: 'tiny-faults'}))
  const r = await runJson(['run', exp, '--out', join(dir, 'runs')])
  expect(r.code, r.stderr).toBe(0)
  base = r.json
})
afterAll(() => {
  try {
    chmodSync(join(dir, 'readonly'), 0o755)
  } catch {
    // not created (running as root)
  }
  rmSync(dir, {recursive: true, force: true})
})

/** a copy of the finished run, so that breaking it does not disturb the other tests */
function copyRun(name: string): string {
  const to = join(dir, 'copies', name)
  cpSync(base.runDir, to, {recursive: true})
  return to
}

describe('run directory faults', () => {
  it('an output folder that cannot be written: exit 2 and a clear message', async () => {
    // root ignores chmod: then use a path below a regular file, which fails with ENOTDIR for anyone
    const isRoot = process.getuid?.() === 0
    let out: string
    let why: string
    if (isRoot) {
      const file = join(dir, 'a-file')
      writeFileSync(file, 'not a folder\n')
      out = join(file, 'runs')
      why = 'ENOTDIR'
    } else {
      out = join(dir, 'readonly')
      mkdirSync(out)
      chmodSync(out, 0o555)
      why = 'EACCES'
    }
    const r = await runCli(['run', exp, '--out', out])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`Error [run.dir_unwritable]: cannot create the run directory ${join(out, 'tiny-faults')}`)
    expect(r.stderr).toContain(why)
    expect(r.stderr).toContain('Hint: set output.dir (or --out) to a writable folder')
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('a corrupt (truncated) model file: rec eval exits 3 naming the file, and overwrites nothing', async () => {
    const run = copyRun('corrupt')
    const weights = join(run, 'models', 'mf', 'base', 'weights.bin')
    truncateSync(weights, 100)
    const keep = ['models/mf/base/weights.bin', 'models/mf/base/model.json', 'models/mf/base/result.json', 'models/mf/base/eval.json', 'results.json']
    const before = Object.fromEntries(keep.map((f) => [f, readFileSync(join(run, f))]))

    const r = await runCli(['eval', run])
    expect(r.code).toBe(3)
    // the train stage recorded its digest: the changed file is caught before the loader reads it
    expect(r.stderr).toContain(`Error [run.file_changed]: ${weights} is not the file the train stage wrote: sha256 `)
    expect(r.stderr).toContain('Hint:')
    for (const f of keep) expect(readFileSync(join(run, f)).equals(before[f]), `${f} was rewritten`).toBe(true)
    // and the same error under --json
    const j = await runCli(['eval', run, '--json'])
    expect(j.code).toBe(3)
    expect(JSON.parse(j.stdout).error).toMatchObject({code: 'run.file_changed', kind: 'data', exitCode: 3, message: expect.stringContaining(weights)})
  })

  it('a write that fails (results.json is a folder, as a full disk would fail it): a clear error, not exit 1', async () => {
    const run = copyRun('unwritable-results')
    rmSync(join(run, 'results.json'))
    mkdirSync(join(run, 'results.json'))
    const r = await runCli(['eval', run])
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBe(1)
    expect(r.stderr).not.toContain('Error [internal]')
    expect(r.stderr).toContain(join(run, 'results.json'))
    // the temp file of the failed write is cleaned up
    expect(readdirSync(run).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
})

describe('data faults', () => {
  const delimited = (name: string, file: string, extra = 'header: true, columns: {user: user, item: item, rating: rating, timestamp: timestamp}') =>
    writeYaml(dir, `${name}.yaml`, `name: ${name}\ndata: {format: delimited, path: ${file}, ${extra}}\n`)

  it('a truncated file (the last line cut mid-row): exit 3 naming file:line', async () => {
    const csv = join(dir, 'truncated.csv')
    writeFileSync(csv, 'user,item,rating,timestamp\n1,10,5,100\n1,20,3,150\n2,10,4,50\n2,30,4,60\n3,1')
    const r = await runCli(['run', delimited('truncated', csv), '--out', join(dir, 'runs')])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`Error [data.bad_row]: ${csv}:6: expected at least 4 fields, found 2`)
    expect(r.stderr).toContain('on_bad_row: skip')
    // a data error stops the run before it writes a split
    const root = join(dir, 'runs', 'truncated')
    const runs = existsSync(root) ? readdirSync(root) : []
    for (const id of runs) expect(existsSync(join(root, id, 'data', 'split', 'train.bin'))).toBe(false)
  })

  it('a tab-separated file read with the default comma: exit 3, pointing at the delimiter', async () => {
    const tsv = join(dir, 'tabs.tsv')
    writeFileSync(tsv, 'user\titem\trating\ttimestamp\n1\t10\t5\t100\n1\t20\t3\t150\n2\t10\t4\t50\n')
    // with a header: the header reads as one column named "user\titem\t…"
    const h = await runCli(['run', delimited('tabs-header', tsv), '--out', join(dir, 'runs')])
    expect(h.code).toBe(3)
    expect(h.stderr).toContain(`Error [data.column_missing]: ${tsv}: no column named "user"`)
    expect(h.stderr).toContain('data.delimiter')
    // without a header, columns by index: the first row has one field
    writeFileSync(join(dir, 'tabs-nohead.tsv'), '1\t10\t5\t100\n1\t20\t3\t150\n')
    const n = await runCli(['run', delimited('tabs-index', join(dir, 'tabs-nohead.tsv'), 'columns: {user: 0, item: 1, rating: 2, timestamp: 3}'), '--out', join(dir, 'runs')])
    expect(n.code).toBe(3)
    expect(n.stderr).toContain(`${join(dir, 'tabs-nohead.tsv')}:1: expected at least 4 fields, found 1 (is the delimiter "," right?)`)
  })

  describe('users without train interactions after the split', () => {
    // six users with five rows each at interleaved times 1..30, and "lone" with one row, the latest of all
    const rows = ['user,item,rating,timestamp']
    for (let u = 1; u <= 6; u++) for (let k = 0; k < 5; k++) rows.push(`u${u},i${(u + k * 2) % 10},4,${k * 6 + u}`)
    rows.push('lone,i3,5,1000')
    const usersOf = (file: string, idmap: {userIds: string[]}) => {
      const b = readFileSync(file)
      const n = b.readUInt32LE(12)
      return Array.from({length: n}, (_, r) => idmap.userIds[b.readInt32LE(16 + 4 * r)])
    }
    let csv: string
    let yaml: string
    beforeAll(() => {
      csv = join(dir, 'lone.csv')
      writeFileSync(csv, `${rows.join('\n')}\n`)
      yaml = writeYaml(
        dir,
        'lone.yaml',
        [
          'name: lone',
          `data: {format: delimited, path: ${csv}, header: true, columns: {user: user, item: item, rating: rating, timestamp: timestamp}}`,
          'split: {method: temporal, scope: global, ratios: [0.8, 0.1, 0.1]}',
          'models: [{model: mf, factors: 4}]',
          'train: {epochs: 2, batch_size: 64, early_stopping: null}',
          'eval: {k: [5], runtime: tfjs, latency: {requests: 2, warmup: 1, batch: 4}}',
        ].join('\n'),
      )
    })

    it('temporal global: the lone user lands in test only, is dropped and counted, and the run still completes', async () => {
      const r = await runJson(['run', yaml, '--out', join(dir, 'runs')])
      expect(r.code, r.stderr).toBe(0)
      const stats = JSON.parse(readFileSync(join(r.json.runDir, 'data', 'stats.json'), 'utf8'))
      // 31 rows by time: 25 train (t 1..25), 3 valid (t 26..28), 3 test (t 29, 30, 1000); the lone
      // user's test row has no train history and is dropped
      expect(stats.split).toMatchObject({method: 'temporal', scope: 'global', train: 25, valid: 3, test: 2, coldUsersDropped: 1, coldRowsDropped: 1, shortUsersTrainOnly: 0})
      const idmap = JSON.parse(readFileSync(join(r.json.runDir, 'data', 'split', 'idmap.json'), 'utf8'))
      const split = join(r.json.runDir, 'data', 'split')
      expect(usersOf(join(split, 'test.bin'), idmap)).not.toContain('lone')
      expect(usersOf(join(split, 'train.bin'), idmap)).not.toContain('lone')
      const ev = JSON.parse(readFileSync(join(r.json.runDir, 'models', 'mf', 'base', 'eval.json'), 'utf8'))
      expect(ev.usersEvaluated).toBe(new Set(usersOf(join(split, 'test.bin'), idmap)).size)
      expect(Number.isFinite(r.json.variants[0].metrics['ndcg@5'])).toBe(true)
    })

    it('leave_one_out: a user with a single interaction stays whole in train, not in test (counted)', async () => {
      const r = await runJson(['run', yaml, '--out', join(dir, 'runs'), '--set', 'split.method=leave_one_out', '--until', 'data'])
      expect(r.code, r.stderr).toBe(0)
      const stats = JSON.parse(readFileSync(join(r.json.runDir, 'data', 'stats.json'), 'utf8'))
      expect(stats.split).toMatchObject({method: 'leave_one_out', train: 19, valid: 6, test: 6, shortUsersTrainOnly: 1, coldUsersDropped: 0})
      const idmap = JSON.parse(readFileSync(join(r.json.runDir, 'data', 'split', 'idmap.json'), 'utf8'))
      const split = join(r.json.runDir, 'data', 'split')
      expect(usersOf(join(split, 'test.bin'), idmap)).not.toContain('lone')
      expect(usersOf(join(split, 'valid.bin'), idmap)).not.toContain('lone')
      expect(usersOf(join(split, 'train.bin'), idmap).filter((u) => u === 'lone')).toHaveLength(1)
    })
  })
})

describe('config faults through rec run', () => {
  it('wrong type, unknown key and a --set path that does not exist: exit 2, all three reported, nothing written', async () => {
    const bad = writeYaml(dir, 'bad.yaml', `${tinyYaml({name: 'bad-config'})}\nmodles: []\n`.replace('lr: 0.01', 'lr: fast'))
    const out = join(dir, 'bad-runs')
    const r = await runCli(['run', bad, '--out', out, '--set', 'train.epoch=5'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error \[config\.invalid\]/m)
    expect(r.stderr).toMatch(/train\.lr: expected number, got string "fast"/)
    expect(r.stderr).toMatch(/modles: unknown key; did you mean `models`\?/)
    expect(r.stderr).toContain('train.epoch=5')
    expect(r.stderr).toContain('did you mean `train.epochs`')
    expect(existsSync(out)).toBe(false)

    const j = await runCli(['run', bad, '--out', out, '--set', 'train.epoch=5', '--json'])
    expect(j.code).toBe(2)
    const {error} = JSON.parse(j.stdout)
    expect(error).toMatchObject({code: 'config.invalid', kind: 'config', exitCode: 2})
    expect(error.details).toHaveLength(3)
  })
})
