import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'

import {describe, expect, it} from 'vitest'

import {resolveConfigFromObject} from '../../src/config/load.js'
import {configSchema} from '../../src/config/schema.js'
import {readNegativesFile} from '../../src/data/negatives-file.js'
import {readInteractions} from '../../src/data/read.js'
import {floorCounts, splitInteractions} from '../../src/data/split.js'
import type {Interactions} from '../../src/data/types.js'
import {interactions as inter} from './fixtures.js'
import {evaluate} from '../../src/eval/evaluate.js'
import {initWeights} from '../../src/models/registry.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import {isRecError} from '../../src/errors.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'rec-h13b-'))


async function thrown(p: Promise<unknown> | (() => unknown)): Promise<any> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return err
  }
  throw new Error('expected an error')
}

describe('RecBole atomic .inter files', () => {
  const text = 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n'

  it('reads the typed header by field name, plain and gzip, ids as tokens', async () => {
    const dir = tmp()
    writeFileSync(join(dir, 'ml.inter'), text)
    writeFileSync(join(dir, 'ml.inter.gz'), gzipSync(text))
    for (const f of ['ml.inter', 'ml.inter.gz']) {
      const data = configSchema.parse({data: {format: 'recbole', path: join(dir, f)}}).data
      const {interactions: x} = await readInteractions(data)
      expect(x.length).toBe(3)
      expect(x.userIds).toEqual(['196', '186'])
      expect(x.itemIds).toEqual(['242', '302', '377'])
      expect(Array.from(x.rating)).toEqual([3, 3, 1])
      expect(Array.from(x.timestamp)).toEqual([881250949, 891717742, 878887116])
      expect(x.hasTimestamps).toBe(true)
    }
  })

  it('columns in another order and without timestamp; a missing item_id field or an untyped header is a data error', async () => {
    const dir = tmp()
    writeFileSync(join(dir, 'a.inter'), 'item_id:token\tuser_id:token\n10\t1\n11\t1\n')
    const {interactions: x} = await readInteractions(configSchema.parse({data: {format: 'recbole', path: join(dir, 'a.inter')}}).data)
    expect(x.userIds).toEqual(['1'])
    expect(x.itemIds).toEqual(['10', '11'])
    expect(x.hasTimestamps).toBe(false)
    writeFileSync(join(dir, 'b.inter'), 'user_id:token\tmovie:token\n1\t10\n')
    const e1 = await thrown(readInteractions(configSchema.parse({data: {format: 'recbole', path: join(dir, 'b.inter')}}).data))
    expect(e1.code).toBe('data.column_missing')
    expect(e1.message).toContain('no item_id field')
    writeFileSync(join(dir, 'c.inter'), 'user\titem\n1\t10\n')
    const e2 = await thrown(readInteractions(configSchema.parse({data: {format: 'recbole', path: join(dir, 'c.inter')}}).data))
    expect(e2.code).toBe('data.bad_header')
    expect(e2.exitCode).toBe(3)
  })
})

describe('leave_one_out with validation: none', () => {
  it('holds out only the latest event; tied timestamps: the later row in the file', () => {
    // user 0: items 0,1,2 at t 1,2,3 · user 1: items 0 and 1 tied at t 5 (row order decides), item 2 earlier · user 2: one event
    const x = inter([[0, 0, 1], [0, 1, 2], [0, 2, 3], [1, 0, 5], [1, 1, 5], [1, 2, 4], [2, 0, 9]], 3, 3)
    const s = splitInteractions(x, configSchema.parse({split: {method: 'leave_one_out', validation: 'none'}}).split, 1)
    expect(s.valid.length).toBe(0)
    expect(Array.from(s.test.user)).toEqual([0, 1])
    expect(Array.from(s.test.item)).toEqual([2, 1])
    expect(s.train.length).toBe(5)
    expect(s.stats.shortUsersTrainOnly).toBe(1)
    // with validation (default): the tie's earlier row is the validation event
    const v = splitInteractions(x, configSchema.parse({split: {method: 'leave_one_out'}}).split, 1)
    expect(Array.from(v.valid.item)).toEqual([1, 0])
  })

  it('early stopping or a validation threshold on a split without validation part is a config error', () => {
    const err = (() => {
      try {
        resolveConfigFromObject({split: {method: 'leave_one_out', validation: 'none'}, models: [{model: 'mf'}], train: {early_stopping: {metric: 'ndcg@10'}}})
      } catch (e) {
        return e
      }
      return undefined
    })() as any
    expect(isRecError(err)).toBe(true)
    expect(err.exitCode).toBe(2)
    expect(err.message).toContain('validation is none, but early stopping of model mf validates on it')
  })
})

describe("split.rounding: floor (RecBole's _calcu_split_ids)", () => {
  it('floors validation and test counts; a part with 0 < n·r < 1 gets one event while train keeps more than one', () => {
    // n = 25: RecBole int(2.5) = 2 each (round would give 3); n = 20: 2 each; n = 5: 0.5 → test 1, valid 1, train 3; n = 2: train keeps 2 - 1 ... stops at 1
    expect(floorCounts(25, 0.1, 0.1)).toEqual([2, 2])
    expect(floorCounts(20, 0.1, 0.1)).toEqual([2, 2])
    expect(floorCounts(5, 0.1, 0.1)).toEqual([1, 1])
    expect(floorCounts(2, 0.1, 0.1)).toEqual([0, 1])
    expect(floorCounts(1, 0.1, 0.1)).toEqual([0, 0])
  })
})

describe('eval.negatives_file (NCF format)', () => {
  const x = inter([[0, 0, 1], [0, 1, 2], [0, 2, 3], [1, 1, 1], [1, 2, 2], [1, 3, 3]], 2, 6)
  const split = splitInteractions(x, configSchema.parse({split: {method: 'leave_one_out', validation: 'none'}}).split, 1)

  it('the file decides the negatives: recorded draws are the lines of the file, ranks follow from them', async () => {
    const dir = tmp()
    // test positives: (u0, i2), (u1, i3); item popularity in train: i1 2, i0 1, i2 1, i3 0
    writeFileSync(join(dir, 'n.negative'), '(u0,i2)\ti4\ti5\ti3\n(u1,i3)\ti1\ti4\ti5\n')
    const fixed = readNegativesFile(join(dir, 'n.negative'), split)
    expect(fixed.perPositive).toBe(3)
    const pop = initWeights(configSchema.parse({models: [{model: 'pop'}]}).models[0], {numUsers: 2, numItems: 6}, 1, split.train)
    const scorer = createTfjsScorer(pop)
    const cfg = {...configSchema.parse({}).eval, mode: 'sampled' as const, k: [1, 2]}
    const r = await evaluate({scorer, split, part: 'test', cfg, seed: 3, negatives: configSchema.parse({}).negatives, record: true, pointwise: false, fixedNegatives: fixed})
    scorer.dispose()
    expect(Array.from(r.draws!.sampled!.negatives)).toEqual([4, 5, 3, 1, 4, 5])
    // u0's i2 (count 1) beats i4, i5, i3 (0): rank 0; u1's i3 (0) is behind i1 (2) and tied with i4, i5 (ties go first): rank 3
    expect(Array.from(r.draws!.sampled!.ranks)).toEqual([0, 3])
    expect(r.metrics['hr@1']).toBe(0.5)
    expect(r.protocol.candidates).toBe('1 positive + 3 negatives from n.negative')
  })

  it('unknown ids, uneven lines, a malformed pair and a missing line are data errors with the line', async () => {
    const dir = tmp()
    const cases: [string, string, string][] = [
      ['(u9,i2)\ti4\n', 'data.unknown_id', ':1: user "u9"'],
      ['(u0,i2)\ti4\ti5\n(u1,i3)\ti4\n', 'data.bad_row', ':2: 1 negatives where the lines before have 2'],
      ['u0,i2\ti4\n', 'data.bad_row', ':1: expected (user,item)'],
      ['(u0,i2)\ti7\n', 'data.unknown_id', 'negative item "i7"'],
    ]
    for (const [k, [body, code, text]] of cases.entries()) {
      writeFileSync(join(dir, `${k}.negative`), body)
      const err = await thrown(() => readNegativesFile(join(dir, `${k}.negative`), split))
      expect(err.code).toBe(code)
      expect(err.message).toContain(text)
    }
    writeFileSync(join(dir, 'short.negative'), '(u0,i2)\ti4\n')
    const scorer = createTfjsScorer(initWeights(configSchema.parse({models: [{model: 'pop'}]}).models[0], {numUsers: 2, numItems: 6}, 1, split.train))
    const cfg = {...configSchema.parse({}).eval, mode: 'sampled' as const}
    const err = await thrown(evaluate({scorer, split, part: 'test', cfg, seed: 3, negatives: configSchema.parse({}).negatives, pointwise: false, fixedNegatives: readNegativesFile(join(dir, 'short.negative'), split)}))
    scorer.dispose()
    expect(err.code).toBe('eval.no_negatives')
    expect(err.message).toContain('(u1,i3)')
  })
})
