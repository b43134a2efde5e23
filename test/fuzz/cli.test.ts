/**
 * The CLI's side of the fuzz contract (test/fuzz/fuzz.test.ts drives the library in-process):
 * a sample of mutated experiment files through `rec config validate` and `rec run --until data`
 * exits 0, 2, 3 or 4, never 1, and never prints a stack trace. Few cases: each is a process start.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {runCli} from '../helpers/cli.js'

const STACK = /\n\s+at .+:\d+:\d+\)?/

describe('fuzz: the CLI on mutated experiment files', () => {
  it('exits 0, 2, 3 or 4 with a message, never 1, never a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-fuzz-cli-'))
    const base = {
      name: 'fzcli',
      data: {format: 'synth', synth: {users: 20, items: 15, interactions: 150}},
      models: [{model: 'mf', factors: 4}],
      train: {epochs: 1},
      eval: {k: [5]},
      output: {dir: join(dir, 'runs')},
    }
    const edits = fc.constantFrom<[string, unknown][]>(
      [['name', '..']],
      [['models', [{model: 'mf', factors: 100_000_000}]]],
      [['models', [{model: 'mf', name: 'a'}, {model: 'neumf', name: 'a'}]]],
      [['models', [{model: 'neumf', mlp_layers: [7, 4]}]]],
      [['split', {method: 'random', ratios: [1, 0, 0]}]],
      [['eval', {k: [5], mode: 'sampled', negatives: 5000}]],
      [['compress', {variants: [{quantize: {dtype: 'int8'}}], gate: {metric: 'nope@5', max_relative_drop: 0.1}}]],
      [['data', {format: 'ml-100k', path: 'nowhere', columns: {user: 0, item: 1}}]],
    )
    let n = 0
    await fc.assert(
      fc.asyncProperty(edits, fc.constantFrom('validate', 'run'), async (e, cmd) => {
        const cfg: Record<string, unknown> = structuredClone(base)
        for (const [k, v] of e) cfg[k] = v
        const file = join(dir, `e${n++}.yaml`)
        writeFileSync(file, stringify(cfg))
        const args = cmd === 'validate' ? ['config', 'validate', file] : ['run', file, '--until', 'data']
        const r = await runCli(args)
        expect([0, 2, 3, 4], `rec ${args.join(' ')}: exit ${r.code}\n${r.stderr}`).toContain(r.code)
        expect(r.stderr).not.toMatch(STACK)
      }),
      {seed: 12, numRuns: Math.round(4 * Number(process.env.FUZZ_RUNS ?? '1'))},
    )
  }, 120_000)
})
