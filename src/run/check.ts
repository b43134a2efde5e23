import {checkError, clip, configError, isRecError, RecError, usageError} from '../errors.js'
import {parseMetricName} from '../eval/metrics.js'
import {signedChange} from '../report/format.js'
import type {RecConfig} from '../config/schema.js'
import {holm} from '../stats/holm.js'
import {pairedTest} from '../stats/paired.js'
import type {VariantResult} from './evaluate-stage.js'
import {readJson} from './rundir.js'
import {pairUp, readPerUser} from './significance.js'

/**
 * Reference checks for CI: compare the metrics of a new run with a reference and fail (exit 4)
 * when any moved beyond its tolerance.
 *
 * A reference is either the `--json` output of `rec run` / `rec eval` / `rec compare`
 * (`{variants: [{model, name, metrics}]}` or `{rows: [{model, variant, metrics}]}`), or a small
 * hand-written file `{"<model>/<variant>" | "<variant>": {"<metric>": value}}`.
 */
export type MetricTable = Record<string, Record<string, number>>

export interface CheckRow {
  variant: string
  metric: string
  reference: number | null
  actual: number | null
  delta: number | null
  allowed: number
  ok: boolean
}

export interface CheckResult {
  ok: boolean
  tolerance: Tolerance
  /** every compared metric; `moved` lists those with a non-zero delta or a missing side */
  compared: number
  moved: CheckRow[]
  failed: CheckRow[]
}

export interface Tolerance {
  default: number
  perMetric: Record<string, number>
  /**
   * tolerances in standard deviations over seeds (`2sd`, `ndcg@10=3sd`): allowed = k × the std of
   * the metric in a reference made by `rec run --seeds N --json`. A metric's own tolerance (either
   * unit) wins over a default; a default in sd replaces the absolute default.
   */
  sd?: {default?: number; perMetric: Record<string, number>}
}

/**
 * `0.002` or `ndcg@10=0.005,recall@10=0.01` or both mixed: `0.001,ndcg@10=0.005`. A part with an
 * empty value (`ndcg@10=`, which Number() reads as 0) or a metric the registry does not know would
 * silently tighten or never apply: usage errors. Metric names are stored canonical (`NDCG@10` →
 * `ndcg@10`), the key results use.
 */
export function parseTolerance(spec: string | undefined): Tolerance {
  const tol: Tolerance = {default: 0.002, perMetric: {}}
  if (!spec) return tol
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=')
    const bad = (why: string) => usageError('usage.bad_tolerance', `bad --tolerance part "${clip(part)}": ${why}`, {hint: 'e.g. --tolerance 0.002 or --tolerance ndcg@10=0.005,recall@10=0.01'})
    let raw = (eq === -1 ? part : part.slice(eq + 1)).trim()
    if (raw === '') throw bad('the value is missing')
    const inSd = /sd$/i.test(raw)
    if (inSd) raw = raw.slice(0, -2).trim()
    const value = raw === '' ? Number.NaN : Number(raw)
    if (!Number.isFinite(value) || value < 0) throw bad('expected a number >= 0 or metric=number (2sd: twice the reference\'s std over seeds)')
    const sd = inSd ? (tol.sd ??= {perMetric: {}}) : undefined
    if (eq === -1) {
      if (sd) sd.default = value
      else tol.default = value
      continue
    }
    const name = part.slice(0, eq).trim()
    if (name === '') throw bad('the metric name is missing')
    const key = metricKey(name, bad)
    if (sd) {
      sd.perMetric[key] = value
      delete tol.perMetric[key]
    } else {
      tol.perMetric[key] = value
      delete tol.sd?.perMetric[key]
    }
  }
  return tol
}

/** the canonical key of a metric name, or the usage error `bad` makes of the registry's complaint */
function metricKey(name: string, bad: (why: string) => RecError): string {
  try {
    return parseMetricName(name).key
  } catch (err) {
    if (!isRecError(err)) throw err
    const e = bad(err.message)
    throw new RecError(e.kind, e.code, e.message, {hint: err.hint ?? e.hint})
  }
}

interface VariantLike {
  model?: string
  name?: string
  variant?: string
  run?: string
  metrics?: Record<string, number>
}

/** the metric table of a result or reference object, keyed `model/variant` */
export function metricTable(value: unknown, source: string): MetricTable {
  const v = value as {variants?: VariantLike[]; rows?: VariantLike[]} | null
  const list = v && typeof v === 'object' ? (Array.isArray(v.variants) ? v.variants : Array.isArray(v.rows) ? v.rows : undefined) : undefined
  const out: MetricTable = {}
  if (list) {
    for (const row of list) {
      const variant = row.variant ?? row.name ?? 'base'
      const key = row.model ? `${row.model}/${variant}` : variant
      out[key] = {...(row.metrics ?? {})}
    }
    return out
  }
  if (v && typeof v === 'object') {
    for (const [key, metrics] of Object.entries(v)) {
      if (!metrics || typeof metrics !== 'object' || Array.isArray(metrics)) {
        throw configError('check.bad_reference', `${source}: "${key}" should map metric names to numbers`)
      }
      for (const [m, x] of Object.entries(metrics as Record<string, unknown>)) {
        if (typeof x !== 'number') throw configError('check.bad_reference', `${source}: ${key}.${m} is not a number`)
      }
      out[key] = metrics as Record<string, number>
    }
    return out
  }
  throw configError('check.bad_reference', `${source} is not a rec result or a {variant: {metric: value}} object`)
}

export function readReference(file: string): MetricTable {
  return metricTable(readJson(file), file)
}

/**
 * The spreads of a reference made over seeds (`rec run --seeds N --json`: rows with `stats`
 * {metric: {std}}), keyed like metricTable; undefined for any other reference.
 */
export function readReferenceSpreads(file: string): MetricTable | undefined {
  const v = readJson<{rows?: {model?: string; variant?: string; stats?: Record<string, {std?: unknown}>}[]}>(file)
  if (!v || !Array.isArray(v.rows) || !v.rows.some((r) => r.stats)) return undefined
  const out: MetricTable = {}
  for (const r of v.rows) {
    const key = r.model ? `${r.model}/${r.variant ?? 'base'}` : (r.variant ?? 'base')
    out[key] = Object.fromEntries(Object.entries(r.stats ?? {}).filter(([, s]) => typeof s?.std === 'number').map(([m, s]) => [m, s.std as number]))
  }
  return out
}

/** find the actual row for a reference key: exact `model/variant`, or a bare variant name when unique */
function lookup(actual: MetricTable, key: string): Record<string, number> | undefined {
  if (actual[key]) return actual[key]
  if (!key.includes('/')) {
    const matches = Object.keys(actual).filter((k) => k.split('/').at(-1) === key)
    if (matches.length === 1) return actual[matches[0]]
  }
  return undefined
}

/**
 * Compare every metric of the reference with the actual value: |actual − reference| <= allowed,
 * where allowed is the metric's own tolerance or the default. A metric or variant of the reference
 * that the new run lacks is a failure; extra metrics in the new run are ignored.
 */
export function checkAgainst(reference: MetricTable, actual: MetricTable, tolerance: Tolerance, spreads?: MetricTable): CheckResult {
  const moved: CheckRow[] = []
  let compared = 0
  for (const [variant, metrics] of Object.entries(reference)) {
    const got = lookup(actual, variant)
    for (const [metric, ref] of Object.entries(metrics)) {
      compared++
      const allowed = allowedFor(tolerance, metric, () => spreads?.[variant]?.[metric])
      const value = got?.[metric]
      if (value === undefined) {
        moved.push({variant, metric, reference: ref, actual: null, delta: null, allowed, ok: false})
        continue
      }
      const delta = value - ref
      // a tiny epsilon so that a tolerance written as 0.002 admits a delta of exactly 0.002
      const ok = Math.abs(delta) <= allowed + 1e-12
      if (delta !== 0 || !ok) moved.push({variant, metric, reference: ref, actual: value, delta, allowed, ok})
    }
  }
  const failed = moved.filter((r) => !r.ok)
  return {ok: failed.length === 0, tolerance, compared, moved, failed}
}

/** the allowed |delta| of a metric: its own tolerance, else the default; sd units times the reference's std over seeds */
function allowedFor(tolerance: Tolerance, metric: string, std: () => number | undefined): number {
  const own = tolerance.perMetric[metric]
  if (own !== undefined) return own
  const k = tolerance.sd?.perMetric[metric] ?? tolerance.sd?.default
  if (k === undefined) return tolerance.default
  const s = std()
  if (s === undefined) {
    throw usageError('check.no_spread', `a tolerance in standard deviations needs the reference's spread over seeds, and it has none for ${metric}`, {
      hint: 'make the reference with `rec run <experiment> --seeds 3 --json > reference.json`, or give an absolute tolerance',
    })
  }
  return k * s
}

export function checkFailure(result: CheckResult, referenceFile: string, output?: object) {
  return checkError('check.failed', `${result.failed.length} of ${result.compared} metrics moved beyond tolerance against ${referenceFile}`, {
    details: result.failed.map((r) => (r.actual === null ? `${r.variant} ${r.metric}: missing in this run (reference ${r.reference})` : `${r.variant} ${r.metric}: ${r.reference} → ${r.actual} (Δ ${signedChange(r.delta!)}, allowed ±${r.allowed})`)),
    hint: 'if the change is intended, save the new --json output as the reference',
    result: output,
  })
}

/**
 * compress.gate.significant: a variant whose gated metric dropped beyond max_relative_drop fails
 * only when the drop is significant: the paired t-test of the metric's per-user values (variant −
 * base, over the test users), Holm-adjusted across the gated variants of the run, p <= gate.alpha.
 * A variant without per-user values keeps the plain verdict. Variants are returned with
 * `gate.significance` and the new `passed`.
 */
export function applySignificantGate(cfg: RecConfig, variants: VariantResult[], runDir: string): VariantResult[] {
  const gate = cfg.compress.gate
  if (!gate?.significant) return variants
  const perUser = (model: string, variant: string) => {
    const r = readPerUser({runDir, model, variant})
    return typeof r === 'string' ? undefined : r
  }
  const tests = variants.map((v) => {
    if (!v.gate || v.name === 'base') return undefined
    const [a, b] = [perUser(v.model, v.name), perUser(v.model, 'base')]
    if (!a || !b) return undefined
    return pairedTest(...pairUp(a, b, gate.metric))
  })
  const adjusted = holm(tests.map((t) => (t && !t.identical ? t.tTest.pValue : null)))
  return variants.map((v, i) => {
    const t = tests[i]
    if (!v.gate || !t) return v
    const pHolm = adjusted[i] ?? 1
    const significant = pHolm <= gate.alpha
    const within = v.gate.relativeDrop <= v.gate.maxRelativeDrop + 1e-12
    const significance = {test: 'paired t-test over test users', alpha: gate.alpha, n: t.n, pValue: t.tTest.pValue, pHolm, significant}
    return {...v, gate: {...v.gate, passed: within || !significant, significance}}
  })
}
