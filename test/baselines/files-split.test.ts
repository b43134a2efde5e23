import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {configSchema, type RecConfig} from '../../src/config/schema.js'
import {prepareData} from '../../src/run/data-stage.js'
import {silentProgress} from '../../src/progress.js'
import type {Interactions, Split} from '../../src/data/types.js'
import {evaluate} from '../../src/eval/evaluate.js'
import {initWeights} from '../../src/models/registry.js'
import {createTfjsScorer} from '../../src/models/scorer.js'
import {Rng} from '../../src/rng.js'
import {loadSchema, parseJson, tempDir} from '../commands/fixtures.js'
import {runCli} from '../helpers/cli.js'
import {checkSchema} from '../commands/schema-check.js'

/**
 * A split given as files (split.method files) and fixed negatives in the NCF format
 * (eval.negatives_file) reproduce the numbers of the same split made inside rec: the split is made
 * by rec (leave-one-out, latest events, unique timestamps), written out as train / valid / test
 * files plus a negatives file holding the very negatives rec's sampled evaluation drew, and both
 * are evaluated end to end (`rec run`, a trained mf and an itemknn), metrics compared for equality.
 */

/** 40 users × 30 items, 6-12 distinct items each, unique timestamps, string ids, rows in random order */
function makeRows(): string[][] {
  const rng = new Rng(5)
  const rows: string[][] = []
  let t = 1_000
  for (let u = 0; u < 40; u++) {
    const n = 6 + rng.int(7)
    const items = new Set<number>()
    while (items.size < n) items.add(rng.int(30))
    for (const i of items) rows.push([`u${u}`, `i${i}`, String(1 + rng.int(5)), String((t += 1 + rng.int(50)))])
  }
  rng.shuffle(rows)
  return rows
}

const tsv = (rows: string[][]) => rows.map((r) => r.join('\t')).join('\n') + '\n'

/** a part's rows in its order, in original ids */
function rowsOf(p: Interactions): string[][] {
  return Array.from({length: p.length}, (_, r) => [p.userIds[p.user[r]], p.itemIds[p.item[r]], String(p.rating[r]), String(p.timestamp[r])])
}

const config = (over: Record<string, unknown>): RecConfig => configSchema.parse({data: {format: 'delimited', delimiter: '\t', columns: {user: 0, item: 1, rating: 2, timestamp: 3}}, ...over})

const yaml = (lines: string[]) => lines.join('\n') + '\n'

describe('split given as files + NCF negatives file', () => {
  it('reproduce the split, the sampled negatives and the metrics of the same split made in rec', {timeout: 120_000}, async () => {
    const dir = tempDir('files-split')
    mkdirSync(join(dir, 'runs'))
    writeFileSync(join(dir, 'all.tsv'), tsv(makeRows()))
    const loo = {method: 'leave_one_out', order: 'latest'}
    const made = (await prepareData(config({data: {format: 'delimited', delimiter: '\t', path: join(dir, 'all.tsv')}, split: loo}), silentProgress)).split
    // the same events, train first: rec's split of this file is the same split, with ids numbered
    // in first-seen order over train, validation, test, as split.method files numbers them
    const parts = [made.train, made.valid, made.test]
    writeFileSync(join(dir, 'ordered.tsv'), tsv(parts.flatMap(rowsOf)))
    for (const [name, p] of [['train', made.train], ['valid', made.valid], ['test', made.test]] as const) writeFileSync(join(dir, `${name}.tsv`), tsv(rowsOf(p)))

    const inRec = (await prepareData(config({data: {format: 'delimited', delimiter: '\t', path: join(dir, 'ordered.tsv')}, split: loo}), silentProgress)).split
    const fromFiles = (await prepareData(config({split: {method: 'files', train: join(dir, 'train.tsv'), valid: join(dir, 'valid.tsv'), test: join(dir, 'test.tsv')}}), silentProgress)).split
    const same = (a: Split, b: Split) => {
      expect(b.train.userIds).toEqual(a.train.userIds)
      expect(b.train.itemIds).toEqual(a.train.itemIds)
      for (const k of ['train', 'valid', 'test'] as const) {
        expect(Array.from(b[k].user)).toEqual(Array.from(a[k].user))
        expect(Array.from(b[k].item)).toEqual(Array.from(a[k].item))
      }
    }
    same(inRec, fromFiles)
    expect(fromFiles.test.length).toBe(40)

    // the negatives rec's sampled evaluation draws for this split and seed (independent of the model), as an NCF file
    const negatives = 15
    const evalCfg = {...config({}).eval, mode: 'sampled' as const, negatives: negatives as 99}
    const pop = initWeights(configSchema.parse({models: [{model: 'pop'}]}).models[0], {numUsers: inRec.train.numUsers, numItems: inRec.train.numItems}, 1, inRec.train)
    const scorer = createTfjsScorer(pop)
    const drawn = await evaluate({scorer, split: inRec, part: 'test', cfg: evalCfg, seed: 42, negatives: config({}).negatives, record: true, pointwise: false})
    scorer.dispose()
    const s = drawn.draws!.sampled!
    const {userIds, itemIds} = inRec.train
    const lines = Array.from(s.users, (u, p) => [`(${userIds[u]},${itemIds[s.items[p]]})`, ...Array.from(s.negatives.subarray(p * negatives, (p + 1) * negatives), (i) => itemIds[i])].join('\t'))
    writeFileSync(join(dir, 'x.test.negative'), lines.join('\n') + '\n')

    const common = [
      'seed: 42',
      'models:',
      '  - {model: mf, factors: 8}',
      '  - {model: itemknn, k: 10}',
      'train: {epochs: 2, batch_size: 64}',
      'eval:',
      '  mode: sampled',
      `  negatives: ${negatives}`,
      '  k: [5, 10]',
      '  latency: {requests: 2, warmup: 1, batch: 4}',
    ]
    const dataLines = (path?: string) => ['data:', '  format: delimited', '  delimiter: "\\t"', ...(path ? [`  path: ${path}`] : [])]
    writeFileSync(join(dir, 'a.yaml'), yaml(['name: in-rec', ...dataLines('ordered.tsv'), 'split: {method: leave_one_out, order: latest}', ...common]))
    writeFileSync(join(dir, 'b.yaml'), yaml(['name: files', ...dataLines(), 'split: {method: files, train: train.tsv, valid: valid.tsv, test: test.tsv}', ...common, '  negatives_file: x.test.negative']))
    const [a, b] = await Promise.all(['a.yaml', 'b.yaml'].map((f) => runCli(['run', join(dir, f), '--json', '--out', join(dir, 'runs')], {cwd: dir, timeoutMs: 110_000})))
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const ra = parseJson(a.stdout)
    const rb = parseJson(b.stdout)
    expect(rb.protocol.description).toContain('x.test.negative')
    expect(checkSchema(rb, loadSchema('run-result'))).toEqual([])
    expect(rb.variants.map((v: any) => v.model)).toEqual(['mf', 'itemknn'])
    for (const [k, v] of (rb.variants as any[]).entries()) {
      expect(v.metrics['ndcg@10']).toBeGreaterThan(0)
      expect(v.metrics).toEqual(ra.variants[k].metrics)
    }
  })
})
