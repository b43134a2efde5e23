import {mkdirSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base.js'
import {renderCells} from '../../src/cli/cells.js'
import {usageError} from '../../src/errors.js'
import {writeJsonAtomic} from '../../src/run/atomic.js'
import {resolveRunDir} from '../../src/run/rundir.js'
import {benchServe, checkZeroErrors, type BenchServeResult} from '../../src/serve/bench.js'
import {benchCells, benchGains, soakLine} from '../../src/serve/bench-render.js'

const both = (v: string) => (v === 'both' ? [false, true] : [v === 'on'])

export default class BenchServe extends BaseCommand {
  static summary = 'Load-test rec serve on the variants of a run: req/s and p50/p95/p99 under concurrency, cache and micro-batching on and off.'
  static description = `For each variant (default: every variant of the model) and each cache / micro-batching setting,
starts rec serve in a child process on 127.0.0.1, warms it up, then drives it with autocannon at each
concurrency for --duration seconds, with user ids drawn from the data's user activity. Prints one
table (variant, cache, batching, concurrency, req/s, p50/p95/p99 ms, hit ratio, errors), what
micro-batching and the cache each buy at the highest concurrency, and saves it as JSON (--out).
--soak 60 adds a 60 s run reporting the server's RSS before and after. Any failed request: exit 4.`
  static examples = [
    '<%= config.bin %> bench serve runs/ml100k-neumf-compress base int8 structured-0.5',
    '<%= config.bin %> bench serve runs/ml100k-sasrec-compress base int8 --duration 5 --soak 60 --json',
  ]
  static strict = false
  static args = {run: Args.string({description: 'run directory (or runs/<experiment> for the newest), then the variants to measure', required: true})}
  static flags = {
    model: Flags.string({description: 'model of the run (default: the first)'}),
    concurrency: Flags.string({description: 'comma-separated concurrent connections', default: '1,8,64'}),
    duration: Flags.integer({description: 'measured seconds per concurrency', default: 5, min: 1, max: 600}),
    warmup: Flags.integer({description: 'unmeasured seconds at the highest concurrency after each server start', default: 1, min: 0, max: 60}),
    cache: Flags.string({description: 'answer cache setting(s) to measure', options: ['both', 'on', 'off'], default: 'both'}),
    batching: Flags.string({description: 'micro-batching setting(s) to measure', options: ['both', 'on', 'off'], default: 'both'}),
    repeat: Flags.integer({description: 'passes over the whole grid, interleaved; the table shows the medians', default: 1, min: 1, max: 20}),
    soak: Flags.integer({description: 'seconds of a long run (first variant, cache and batching on, highest concurrency) reporting server RSS before / after; 0: none', default: 0, min: 0, max: 3600}),
    k: Flags.integer({description: 'k of every request', default: 10, min: 1}),
    seed: Flags.integer({description: 'seed of the user draws', default: 42}),
    out: Flags.string({description: 'where the JSON result is saved (default: <run-dir>/bench/serve.json)'}),
  }

  async run(): Promise<BenchServeResult> {
    const {argv, flags} = await this.parse(BenchServe)
    const [run, ...variants] = argv as string[]
    const runDir = resolveRunDir(run)
    const concurrency = flags.concurrency.split(',').map((c) => Number(c.trim()))
    if (concurrency.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) throw usageError('usage.bad_flag', `--concurrency takes integers in 1..1024, comma-separated (got ${flags.concurrency})`)
    const result = await this.interruptibly(async (signal) => ({
      ...(await benchServe({
        runDir,
        model: flags.model,
        variants: variants.length > 0 ? variants : ['base'],
        concurrency,
        cache: both(flags.cache),
        batching: both(flags.batching),
        durationSeconds: flags.duration,
        warmupSeconds: flags.warmup,
        repeat: flags.repeat,
        soakSeconds: flags.soak,
        k: flags.k,
        seed: flags.seed,
        cli: [process.execPath, ...process.execArgv, process.argv[1]],
        log: (line) => this.progress.info(line),
        signal,
      })),
      interrupted: signal.aborted,
    }))
    const out = resolve(flags.out ?? join(runDir, 'bench', 'serve.json'))
    mkdirSync(dirname(out), {recursive: true})
    writeJsonAtomic(out, result)
    const lines = [renderCells(benchCells(result), 3), '', ...benchGains(result)]
    const soak = soakLine(result)
    if (soak) lines.push(soak)
    const m = result.machine
    lines.push(`${m.cores} cores (${m.cpuModel}), node ${m.node}; load average ${m.loadAverageBefore.map((x) => x.toFixed(2)).join(' ')} before, ${m.loadAverageAfter.map((x) => x.toFixed(2)).join(' ')} after; saved ${out}`)
    this.out(lines.join('\n'))
    checkZeroErrors(result)
    return result
  }
}
