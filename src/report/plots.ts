import type {TopLevelSpec} from 'vega-lite'

import {formatBytes, formatMs, shortNumber} from './format.js'

/**
 * Plots as Vega-Lite specs built from plain rows (no run directory, no file): the Pareto front of a
 * metric against p50 latency or size, and training curves. `renderSvg` turns a spec into SVG text
 * in Node (vega's headless view, no browser). The spec builders are reusable for any rows of the
 * same shape (e.g. stream windows).
 */

export type VegaLiteSpec = TopLevelSpec

/** one variant of one model, as the Pareto plots read it */
export interface ParetoPoint {
  variant: string
  /** the metric plotted on y (higher is better) */
  metric: number
  /** p50 latency in ms */
  p50Ms?: number
  /** bytes of the served file */
  sizeBytes?: number
  execution?: string
}

export type ParetoAxis = 'p50' | 'size'

/** the x value of a point on an axis (lower is better on both) */
export function axisValue(p: ParetoPoint, axis: ParetoAxis): number | undefined {
  const v = axis === 'p50' ? p.p50Ms : p.sizeBytes
  return v !== undefined && Number.isFinite(v) ? v : undefined
}

/**
 * The Pareto front of `points` for a lower-is-better x and a higher-is-better metric: the points no
 * other point beats on both (lower or equal x and higher or equal metric, strictly better on one).
 * Returned as indices into `points`, ordered by x ascending (ties: best metric first). Points
 * without a finite x or metric are never on the front.
 */
export function paretoFront(points: ParetoPoint[], axis: ParetoAxis): number[] {
  const ok = points.map((p, j) => ({j, x: axisValue(p, axis), y: p.metric})).filter((q): q is {j: number; x: number; y: number} => q.x !== undefined && Number.isFinite(q.y))
  ok.sort((a, b) => a.x - b.x || b.y - a.y || a.j - b.j)
  const front: number[] = []
  let best = Number.NEGATIVE_INFINITY
  for (const q of ok) {
    if (q.y > best) {
      front.push(q.j)
      best = q.y
    }
  }
  return front
}

export interface ParetoOptions {
  axis: ParetoAxis
  /** metric key shown on y, e.g. `ndcg@10` */
  metric: string
  title?: string
  /**
   * the gate's bound on y (a metric value: base · (1 − max relative drop)) and its label; the
   * region at or above it (what the gate lets pass) is shaded
   */
  gate?: {bound: number; label: string}
  /** the variant the others are measured against, drawn as a square (default `base`) */
  base?: string
  width?: number
  height?: number
}

/** a short label of an x value: `0.123 ms`, `512 KiB` */
const xLabel = (axis: ParetoAxis, v: number) => (axis === 'p50' ? `${formatMs(v)} ms` : formatBytes(v))

/**
 * The Pareto plot of one model's variants: every variant a point (the base a square), the front as
 * a step line through its points, the front and the base labelled with their variant names (the
 * dominated points are grey, named in the table), and the gate's acceptable band (metric ≥ bound)
 * shaded. The y axis spans the top of the range down to twice the gate's distance below it (5%
 * below the base without a gate): a variant further down sits on the bottom edge, labelled with
 * its value. x: p50 latency in ms, or size in KiB.
 */
export function paretoSpec(points: ParetoPoint[], options: ParetoOptions): VegaLiteSpec {
  const {axis, metric} = options
  const base = options.base ?? 'base'
  const front = new Set(paretoFront(points, axis))
  const scale = axis === 'size' ? 1 / 1024 : 1
  const values = points
    .map((p, j) => ({p, j, x: axisValue(p, axis)}))
    .filter((q): q is {p: ParetoPoint; j: number; x: number} => q.x !== undefined && Number.isFinite(q.p.metric))
    .map(({p, j, x}) => ({
      variant: p.variant,
      x: x * scale,
      metric: p.metric,
      xLabel: xLabel(axis, x),
      execution: p.execution ?? '',
      role: p.variant === base ? 'base' : front.has(j) ? 'on the front' : 'dominated',
      front: front.has(j),
    }))
  // the y axis shows the region that matters: down to the gate's bound (or 5% below the base)
  // and a margin; variants far below it are drawn on the bottom edge, labelled with their value
  const baseMetric = values.find((v) => v.role === 'base')?.metric ?? Math.max(...values.map((v) => v.metric))
  const floor = options.gate ? options.gate.bound - 2 * Math.max(baseMetric - options.gate.bound, 0.01 * Math.abs(baseMetric)) : baseMetric - 0.05 * Math.abs(baseMetric)
  const ys = values.map((v) => v.metric).concat(options.gate ? [options.gate.bound] : [])
  const lo = Math.max(Math.min(...ys), floor)
  const hi = Math.max(...ys)
  const pad = Math.max((hi - lo) * 0.08, Math.abs(hi) * 0.005, 1e-4)
  const yDomain = [lo - pad, hi + pad]
  // labels in the right part of the plot go to the left of their point, so they stay inside it
  const xs = values.map((v) => v.x)
  const xMid = Math.min(...xs) + 0.6 * (Math.max(...xs) - Math.min(...xs))
  for (const v of values) {
    const below = v.metric < yDomain[0]
    Object.assign(v, {label: v.role === 'dominated' && !below ? '' : below ? `${v.variant} ↓ ${v.metric.toFixed(4)}` : v.variant, right: v.x > xMid})
  }
  // variants on the bottom edge close together (within 5% of the x range) share one label
  const near = 0.05 * (Math.max(...xs) - Math.min(...xs))
  // (the names only: their values are in the table)
  const bottom = values.filter((v) => v.metric < yDomain[0]).sort((a, b) => a.x - b.x) as (typeof values[number] & {label: string})[]
  const groups: (typeof bottom)[] = []
  for (const v of bottom) {
    const g = groups.at(-1)
    if (g && v.x - g[0].x <= near) g.push(v)
    else groups.push([v])
  }
  for (const g of groups.filter((x) => x.length > 1)) {
    g[0].label = `${g.map((v) => v.variant).join(', ')} ↓`
    for (const v of g.slice(1)) v.label = ''
  }
  const frontValues = values.filter((v) => v.front).sort((a, b) => a.x - b.x)
  const xTitle = axis === 'p50' ? 'p50 latency (ms, lower is better)' : 'size (KiB, lower is better)'
  const x = {field: 'x', type: 'quantitative' as const, title: xTitle, scale: {zero: false, nice: true}}
  const y = {field: 'metric', type: 'quantitative' as const, title: `${metric} (higher is better)`, scale: {domain: yDomain, zero: false, clamp: true}}
  const layers: unknown[] = []
  if (options.gate) {
    layers.push(
      {
        data: {values: [{lo: options.gate.bound, hi: yDomain[1]}]},
        mark: {type: 'rect', color: '#2e7d32', opacity: 0.08},
        encoding: {y: {field: 'lo', type: 'quantitative', scale: {domain: yDomain}}, y2: {field: 'hi'}},
      },
      {
        data: {values: [{bound: options.gate.bound, label: options.gate.label}]},
        layer: [
          {mark: {type: 'rule', color: '#2e7d32', strokeDash: [4, 3]}, encoding: {y: {field: 'bound', type: 'quantitative'}}},
          {
            mark: {type: 'text', align: 'right', baseline: 'top', dx: -4, dy: 3, color: '#2e7d32', fontSize: 10},
            encoding: {y: {field: 'bound', type: 'quantitative'}, x: {value: options.width ?? 460}, text: {field: 'label'}},
          },
        ],
      },
    )
  }
  layers.push(
    {
      data: {values: frontValues},
      mark: {type: 'line', interpolate: 'step-after', color: '#1565c0', strokeWidth: 1.5},
      encoding: {x, y},
    },
    {
      data: {values},
      mark: {type: 'point', filled: true, size: 70},
      encoding: {
        x,
        y,
        color: {field: 'role', type: 'nominal', title: null, scale: {domain: ['base', 'on the front', 'dominated'], range: ['#212121', '#1565c0', '#9e9e9e']}},
        shape: {field: 'role', type: 'nominal', title: null, scale: {domain: ['base', 'on the front', 'dominated'], range: ['square', 'circle', 'circle']}},
        tooltip: [{field: 'variant'}, {field: 'metric', format: '.4f'}, {field: 'xLabel', title: axis === 'p50' ? 'p50' : 'size'}, {field: 'execution'}],
      },
    },
    ...[false, true].map((right) => ({
      data: {values: values.filter((v) => (v as {right?: boolean}).right === right)},
      mark: {type: 'text', align: right ? 'right' : 'left', dx: right ? -6 : 6, dy: -6, fontSize: 10},
      encoding: {x, y, text: {field: 'label'}, color: {value: '#424242'}},
    })),
  )
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? `${metric} vs ${axis === 'p50' ? 'p50 latency' : 'size'}`,
    width: options.width ?? 460,
    height: options.height ?? 300,
    config: {font: 'sans-serif', legend: {orient: 'bottom'}},
    layer: layers,
  } as VegaLiteSpec
}

/** one epoch of training, as the training-curve plot reads it (train.json's history rows) */
export interface EpochPoint {
  epoch: number
  loss: number
  /** the validation metric after this epoch, when validated */
  valid?: number
}

export interface TrainingOptions {
  /** the validation metric's name (`mrr@10`), when the history has one */
  validMetric?: string
  /** the epoch whose weights were kept */
  bestEpoch?: number
  title?: string
  width?: number
  height?: number
}

/** training loss per epoch and, beside it, the validation metric per epoch with the kept epoch marked */
export function trainingSpec(history: EpochPoint[], options: TrainingOptions = {}): VegaLiteSpec {
  const width = options.width ?? 300
  const height = options.height ?? 200
  const loss = history.filter((h) => Number.isFinite(h.loss)).map((h) => ({epoch: h.epoch, loss: h.loss}))
  const valid = history.filter((h) => h.valid !== undefined && Number.isFinite(h.valid)).map((h) => ({epoch: h.epoch, valid: h.valid, best: h.epoch === options.bestEpoch}))
  const epoch = {field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: {tickMinStep: 1}}
  const panels: unknown[] = [
    {
      title: 'training loss',
      width,
      height,
      data: {values: loss},
      mark: {type: 'line', point: loss.length <= 40, color: '#c62828'},
      encoding: {x: epoch, y: {field: 'loss', type: 'quantitative', title: 'loss', scale: {zero: false}}},
    },
  ]
  if (valid.length > 0) {
    const name = options.validMetric ?? 'validation metric'
    panels.push({
      title: `validation ${name}`,
      width,
      height,
      data: {values: valid},
      layer: [
        {mark: {type: 'line', point: valid.length <= 40, color: '#1565c0'}, encoding: {x: epoch, y: {field: 'valid', type: 'quantitative', title: name, scale: {zero: false}}}},
        {
          transform: [{filter: 'datum.best'}],
          mark: {type: 'point', shape: 'diamond', size: 120, filled: true, color: '#2e7d32'},
          encoding: {x: epoch, y: {field: 'valid', type: 'quantitative'}, tooltip: [{field: 'epoch', title: 'kept epoch'}, {field: 'valid', format: '.4f'}]},
        },
      ],
    })
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title ? {title: options.title} : {}),
    config: {font: 'sans-serif'},
    hconcat: panels,
  } as VegaLiteSpec
}

/** a Vega-Lite spec as SVG text, rendered in Node by vega's headless view (no browser, no canvas) */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  // loaded on first use: vega and vega-lite take ~0.45 s to import, and oclif imports every command
  // (so every module they import) at the start of any `rec` command
  const [vega, {compile}] = await Promise.all([import('vega'), import('vega-lite')])
  const compiled = compile(spec).spec
  const view = new vega.View(vega.parse(compiled), {renderer: 'none'})
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** the gate's band label: `gate: ndcg@10 ≥ 0.2786 (−1% of base)` */
export function gateLabel(metric: string, bound: number, maxRelativeDrop: number): string {
  return `gate: ${metric} ≥ ${bound.toFixed(4)} (−${shortNumber(maxRelativeDrop * 100, 2)}% of base)`
}
