import {join, resolve} from 'node:path'

import type {LoadedConfig} from '../config/load.js'
import {canonicalJson, sha256Hex} from '../config/hash.js'
import {assertInside} from '../config/paths.js'
import type {RecConfig} from '../config/schema.js'
import {usageError} from '../errors.js'
import {silentProgress} from '../progress.js'
import {holm} from '../stats/holm.js'
import {meanStd, pairedTest} from '../stats/paired.js'
import {writeJsonAtomic} from './atomic.js'
import {sharedPreparation, splitUsesSeed} from './data-stage.js'
import {defaultRunId, runPipeline, type ProtocolInfo, type RunOptions, type RunResult, type VariantResult} from './pipeline.js'

/**
 * Repeated seeds (`seeds: [1, 2, 3]` or `rec run --seeds 3`): the experiment runs once per seed,
 * each a complete run directory `<output.dir>/<experiment>/seeds-<id>/seed-<s>/` whose config is
 * the experiment's with `seed: s`. In this codebase `seed` decides: the split when it draws (random
 * splits, leave-one-out with order: random; see splitUsesSeed), the initialisation, the negatives
 * of training and fine-tuning (and the order of the batches), the sampled negatives and pointwise
 * negatives of evaluation, and the users timed for latency. Reading and cleaning the data do not
 * depend on it and run once; a split that does not draw runs once too (sharedPreparation).
 *
 * The result: each model variant's metrics as mean ± sample standard deviation over the seeds, and
 * for every compression variant a paired t-test over seeds against its base (seed s's variant
 * against seed s's base; Holm across the table). With 3 seeds that test has 2 degrees of freedom
 * (t(0.975, 2) = 4.30): only a difference that is large against its seed-to-seed spread shows.
 */
export interface SeedStat {
  mean: number
  /** sample standard deviation (n − 1) over the seeds */
  std: number
  /** one value per seed, in the order of `seeds` */
  values: number[]
}

export interface SeedRow {
  model: string
  variant: string
  backend: string
  runtime: string
  execution: string
  /** mean over seeds of each metric (what a metric table reads: `rec run --check` and reference files) */
  metrics: Record<string, number>
  /** each metric over the seeds */
  stats: Record<string, SeedStat>
  /** p50 latency (ms) over the seeds (each seed's own measurement) */
  p50Ms?: SeedStat
  sizeBytes?: number
}

export interface SeedComparison {
  model: string
  variant: string
  baseline: string
  metric: string
  /** seeds paired */
  n: number
  meanDiff: number
  ci95: [number, number]
  tTest: {statistic: number; df: number; pValue: number; pHolm: number}
  significant: boolean
}

export interface SeedsResult {
  experiment: string
  /** the folder holding one run directory per seed and seeds.json */
  seedsDir: string
  seeds: number[]
  runs: {seed: number; runDir: string; cached: string[]}[]
  /** what was computed once for all seeds, and what each seed computed again */
  shared: string[]
  perSeed: string[]
  rows: SeedRow[]
  alpha: number
  comparisons: SeedComparison[]
  /** the first seed's protocol (the others differ only in the seed) */
  protocol: ProtocolInfo
  columns?: string[]
  interrupted?: boolean
}

/** `--seeds N` → [1..N]; the config's `seeds` otherwise (undefined: a single run) */
export function seedList(cfg: RecConfig, count: number | undefined): number[] | undefined {
  const seeds = count === undefined ? cfg.seeds : Array.from({length: count}, (_, i) => i + 1)
  if (seeds === undefined) return undefined
  if (seeds.length < 2) throw usageError('usage.bad_seeds', `repeated seeds need at least 2 seeds (got ${seeds.length})`, {hint: 'e.g. --seeds 3 or seeds: [1, 2, 3]'})
  if (new Set(seeds).size !== seeds.length) throw usageError('usage.bad_seeds', `seeds repeat a value: ${seeds.join(', ')}`, {hint: 'each seed once, e.g. seeds: [1, 2, 3]'})
  return seeds
}

/** the folder of a seeds run: everything but the seed decides it, and the seed list */
export function seedsDirName(cfg: RecConfig, seeds: number[]): string {
  return `seeds-${sha256Hex(canonicalJson([defaultRunId({...cfg, seed: 0}), seeds])).slice(0, 10)}`
}

/** run the experiment once per seed (sharing what does not depend on it) and summarize */
export async function runSeeds(loaded: LoadedConfig, seeds: number[], options: RunOptions = {}): Promise<SeedsResult> {
  const cfg = loaded.config
  const progress = options.progress ?? silentProgress
  if (options.runId !== undefined || options.shard !== undefined) {
    throw usageError('usage.seeds_conflict', 'repeated seeds choose their own run directories and run the whole grid', {hint: 'drop --run-id / --shard, or run one seed with --set seed=N'})
  }
  const outRoot = options.outDir ? resolve(options.outDir) : resolve(cfg.output.dir)
  const seedsDir = join(outRoot, cfg.name, seedsDirName(cfg, seeds))
  assertInside(outRoot, seedsDir)
  const prepare = sharedPreparation()
  const results: RunResult[] = []
  for (const [i, seed] of seeds.entries()) {
    progress.info(`seed ${seed} (${i + 1} of ${seeds.length})`)
    const seeded: RecConfig = {...cfg, seed, seeds: undefined}
    const r = await runPipeline(seeded, join(seedsDir, `seed-${seed}`), loaded.file, {...options, prepareData: prepare})
    results.push(r)
    if (r.interrupted) break
  }
  const done = results.filter((r) => r.variants.length > 0)
  const summary = summarizeSeeds(done.map((r) => r.variants))
  const result: SeedsResult = {
    experiment: cfg.name,
    seedsDir,
    seeds: results.flatMap((r, i) => (r.variants.length > 0 ? [seeds[i]] : [])),
    runs: results.map((r, i) => ({seed: seeds[i], runDir: r.runDir, cached: r.cached})),
    shared: ['reading and cleaning the data', ...(splitUsesSeed(cfg.split) ? [] : ['the split (it does not draw from the seed)'])],
    perSeed: [
      ...(splitUsesSeed(cfg.split) ? [`the split (${cfg.split.method}${cfg.split.method === 'leave_one_out' ? `, order ${cfg.split.order}` : `, ${cfg.split.scope}`} draws from the seed)`] : []),
      'initialisation',
      'training and fine-tuning negatives and batch order',
      'evaluation draws (sampled and pointwise negatives, latency users)',
    ],
    ...summary,
    protocol: (done[0] ?? results[0]).protocol,
    ...(cfg.eval.metrics ? {columns: cfg.eval.metrics} : {}),
    ...(results.some((r) => r.interrupted) ? {interrupted: true} : {}),
  }
  writeJsonAtomic(join(seedsDir, 'seeds.json'), result)
  return result
}

/** rows of mean ± std over seeds, and the seed-paired t-tests of each variant against its base */
export function summarizeSeeds(perSeed: VariantResult[][], alpha = 0.05): Pick<SeedsResult, 'rows' | 'comparisons' | 'alpha'> {
  const keys = [...new Set(perSeed.flatMap((vs) => vs.map((v) => `${v.model}/${v.name}`)))]
  const find = (vs: VariantResult[], key: string) => vs.find((v) => `${v.model}/${v.name}` === key)
  const rows: SeedRow[] = keys.map((key) => {
    const found = perSeed.map((vs) => find(vs, key))
    const first = found.find((v) => v !== undefined)!
    const stats: Record<string, SeedStat> = {}
    for (const metric of Object.keys(first.metrics)) {
      const values = found.map((v) => v?.metrics[metric] ?? Number.NaN)
      stats[metric] = {...withoutN(meanStd(values)), values}
    }
    const p50 = found.map((v) => v?.latency.p50Ms ?? Number.NaN)
    return {
      model: first.model,
      variant: first.name,
      backend: first.backend,
      runtime: first.runtime,
      execution: first.execution,
      metrics: Object.fromEntries(Object.entries(stats).map(([m, s]) => [m, s.mean])),
      stats,
      p50Ms: {...withoutN(meanStd(p50)), values: p50},
      sizeBytes: first.sizeBytes,
    }
  })
  const raw: Omit<SeedComparison, 'tTest' | 'significant'>[] = []
  const tests: NonNullable<ReturnType<typeof pairedTest>>[] = []
  for (const row of rows) {
    if (row.variant === 'base') continue
    const base = rows.find((r) => r.model === row.model && r.variant === 'base')
    if (!base) continue
    for (const metric of Object.keys(row.stats)) {
      if (!base.stats[metric]) continue
      const t = pairedTest(row.stats[metric].values, base.stats[metric].values)
      if (!t || t.identical) continue
      raw.push({model: row.model, variant: row.variant, baseline: 'base', metric, n: t.n, meanDiff: t.meanDiff, ci95: t.ci95})
      tests.push(t)
    }
  }
  const adjusted = holm(tests.map((t) => t.tTest.pValue))
  const comparisons = raw.map((c, i) => ({...c, tTest: {...tests[i].tTest, pHolm: adjusted[i]!}, significant: adjusted[i]! <= alpha}))
  return {rows, comparisons, alpha}
}

const withoutN = ({mean, std}: {mean: number; std: number}) => ({mean, std})
