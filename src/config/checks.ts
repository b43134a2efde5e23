import {expandVariants, validateVariants} from '../compress/registry.js'
import {isRecError} from '../errors.js'
import {parseMetricName} from '../eval/metrics.js'
import {checkModel, getModelSpec, type ModelDims} from '../models/registry.js'
import {initFromProblems} from '../models/ncf.js'
import {modelLabel, modelTrainConfig, type RecConfig} from './schema.js'

/**
 * Checks across fields of a config that already has the schema's shape: everything `rec run` would
 * otherwise reject (or silently get wrong) after work has started. The loader runs them, so
 * `rec config validate` and `rec run` report the same problems, all at once, with positions.
 */

/** one problem at a config path */
export interface ConfigProblem {
  path: (string | number)[]
  message: string
  hint?: string
  /** the error code when this is the only problem (default config.invalid), e.g. compress.bad_value */
  code?: string
}

/** where a config path was set, e.g. `exp.yaml:4:5` or `--set models.1.name=a` (undefined: a default) */
export type Locate = (path: (string | number)[]) => string | undefined

/**
 * The catalogue size model and compression checks assume before the data is read, as the compress
 * stage's own pre-check does (rank limits come from embedding sizes and layer widths; the real
 * shapes are checked again when the data is known).
 */
export const PLACEHOLDER_DIMS: ModelDims = {numUsers: 1024, numItems: 1024}

export function experimentProblems(cfg: RecConfig, locate: Locate): ConfigProblem[] {
  return [
    ...duplicateModels(cfg, locate),
    ...splitProblems(cfg),
    ...noValidationProblems(cfg),
    ...cfg.models.flatMap((_, i) => initFromProblems(cfg.models, i).map((p) => ({path: ['models', i, ...(p.key === 'model' ? ['init_from'] : ['init_from', p.key])], message: p.message}))),
    ...columnProblems(cfg),
    ...gateProblems(cfg),
    ...modelProblems(cfg),
    ...sequentialProblems(cfg),
    ...variantProblems(cfg, locate),
    ...streamProblems(cfg),
  ]
}

/**
 * The stream section (rec stream): sliding needs a span; models and variants it names must exist;
 * strategy labels name folders, so they must differ.
 */
function streamProblems(cfg: RecConfig): ConfigProblem[] {
  const s = cfg.stream
  if (!s) return []
  const out: ConfigProblem[] = []
  const labels = new Set(cfg.models.map(modelLabel))
  s.models?.forEach((m, i) => {
    if (!labels.has(m)) out.push({path: ['stream', 'models', i], message: `stream.models names ${m}, which is not a models[] label`, hint: `known: ${[...labels].join(', ') || 'none'}`})
  })
  const variantNames = new Set<string>()
  try {
    for (const v of expandVariants(cfg.compress.variants)) variantNames.add(v.name)
  } catch {
    // variantProblems reports a bad variant
  }
  const seen = new Set<string>()
  s.strategies.forEach((st, i) => {
    if (st.name === 'sliding' && !st.span) out.push({path: ['stream', 'strategies', i, 'span'], message: 'a sliding strategy needs span: {events: N} or {duration: 30d}', code: 'stream.no_span'})
    if (st.name !== 'sliding' && st.span) out.push({path: ['stream', 'strategies', i, 'span'], message: `span applies to sliding only, not ${st.name}`})
    if (st.variant && !variantNames.has(st.variant))
      out.push({path: ['stream', 'strategies', i, 'variant'], message: `variant ${st.variant} is not defined in compress.variants`, hint: `known: ${[...variantNames].join(', ') || 'none'}`})
    const label = st.label ?? (st.variant ? `${st.name}-${st.variant}` : st.name)
    for (const m of st.models ?? []) if (!labels.has(m)) out.push({path: ['stream', 'strategies', i, 'models'], message: `strategy ${label} names model ${m}, which is not a models[] label`, hint: `known: ${[...labels].join(', ') || 'none'}`})
    const owners = st.models ?? [...labels]
    if (owners.some((m) => seen.has(`${m}\u0000${label}`))) out.push({path: ['stream', 'strategies', i], message: `two strategies are labelled ${label}`, hint: 'give one a label: (it names the folder of its weights)'})
    for (const m of owners) seen.add(`${m}\u0000${label}`)
  })
  return out
}

/**
 * Sequential models read each user's history in time order and predict what comes next: the split
 * must hold out each user's latest events (leave_one_out with order latest, or temporal), and the
 * validation threshold (picked on validation items with test histories) would leak.
 */
function sequentialProblems(cfg: RecConfig): ConfigProblem[] {
  const sequential = cfg.models.filter((m) => getModelSpec(m.model).sequential).map(modelLabel)
  if (sequential.length === 0) return []
  const who = `${sequential.length === 1 ? 'model' : 'models'} ${sequential.join(', ')} ${sequential.length === 1 ? 'is' : 'are'} sequential (${sequential.length === 1 ? 'it predicts' : 'they predict'} the next item from the history in time order)`
  const out: ConfigProblem[] = []
  if (cfg.split.method === 'random')
    out.push({path: ['split', 'method'], message: `${who}, but a random split has no time order`, code: 'config.sequential_split', hint: 'use split: {method: leave_one_out, order: latest} (the SASRec protocol) or method: temporal'})
  else if (cfg.split.method === 'leave_one_out' && cfg.split.order === 'random')
    out.push({path: ['split', 'order'], message: `${who}, but leave_one_out with order random holds out random events, not each user's latest`, code: 'config.sequential_split', hint: 'use order: latest'})
  if (cfg.eval.threshold === 'validation')
    out.push({path: ['eval', 'threshold'], message: `${who}: eval.threshold validation would score validation items with the test histories, which contain them`, hint: 'set eval.threshold to a number, e.g. 0.5'})
  return out
}

const at = (where: string | undefined) => (where ? ` (${where})` : '')

/**
 * Model labels name folders (`models/<label>/`): two models with one label would overwrite each
 * other, and so would `MF` and `mf` where folder names ignore case.
 */
function duplicateModels(cfg: RecConfig, locate: Locate): ConfigProblem[] {
  const first = new Map<string, number>()
  const out: ConfigProblem[] = []
  cfg.models.forEach((m, i) => {
    const label = modelLabel(m)
    const j = first.get(label.toLowerCase())
    if (j === undefined) {
      first.set(label.toLowerCase(), i)
      return
    }
    const other = modelLabel(cfg.models[j])
    const where = locate(['models', j])
    out.push({
      path: m.name === undefined ? ['models', i] : ['models', i, 'name'],
      message:
        other === label
          ? `model label "${label}" is also the label of models.${j}${at(where)}; each model writes models/<label>/`
          : `model label "${label}" names the same folder as models.${j} ("${other}"${where ? `, ${where}` : ''}): folder names ignore case on macOS and Windows`,
      code: 'config.duplicate_model',
      hint: 'give each model a distinct name, e.g. name: mf-32',
    })
  })
  return out
}

/** a part the protocol needs must not be empty: random and temporal cut by ratio (leave_one_out always holds one of each) */
function splitProblems(cfg: RecConfig): ConfigProblem[] {
  if (cfg.split.method === 'leave_one_out' || cfg.split.method === 'files') return []
  const out: ConfigProblem[] = []
  if (cfg.split.ratios[2] === 0) out.push({path: ['split', 'ratios', 2], message: 'the test fraction is 0: there would be nothing to evaluate'})
  if (cfg.split.ratios[1] === 0) {
    const users = cfg.models.filter((m) => modelTrainConfig(cfg, m).early_stopping).map((m) => `early stopping of model ${modelLabel(m)}`)
    if (cfg.eval.threshold === 'validation') users.push('eval.threshold: validation')
    if (users.length > 0) out.push({path: ['split', 'ratios', 1], message: `the validation fraction is 0, but ${users.join(' and ')} validates on it`})
  }
  return out
}

/**
 * Splits without a validation part (leave_one_out with validation: none, files without split.valid):
 * nothing may validate on it. And eval.negatives_file replaces drawn negatives only in mode sampled.
 */
function noValidationProblems(cfg: RecConfig): ConfigProblem[] {
  const out: ConfigProblem[] = []
  if (cfg.eval.negatives_file && cfg.eval.mode !== 'sampled') {
    out.push({path: ['eval', 'negatives_file'], message: 'fixed negatives are read in eval.mode sampled only', hint: 'set eval.mode: sampled, or remove eval.negatives_file'})
  }
  const s = cfg.split
  const none = s.method === 'leave_one_out' && s.validation === 'none' ? (['split', 'validation'] as const) : s.method === 'files' && !s.valid ? (['split', 'valid'] as const) : undefined
  if (!none) return out
  const users = cfg.models.filter((m) => modelTrainConfig(cfg, m).early_stopping).map((m) => `early stopping of model ${modelLabel(m)}`)
  if (cfg.eval.threshold === 'validation') users.push('eval.threshold: validation')
  const what = s.method === 'files' ? 'no split.valid file is given' : 'validation is none'
  if (users.length > 0) out.push({path: [...none], message: `${what}, but ${users.join(' and ')} validates on it`, hint: 'set train.early_stopping: null (and a numeric eval.threshold), or keep a validation part'})
  return out
}

/** a top-K metric is computed only at the cut-offs of eval.k: any other K would be an empty cell */
function notComputed(cfg: RecConfig, m: ReturnType<typeof parseMetricName>): ConfigProblem | undefined {
  if (m.k === undefined || cfg.eval.k.includes(m.k)) return undefined
  return {path: [], message: `${m.key} is not computed: eval.k is [${cfg.eval.k.join(', ')}]`, hint: `add ${m.k} to eval.k, or use ${m.base}@${cfg.eval.k[0]}`}
}

/** eval.metrics are the table's columns: each must be a metric evaluation computes */
function columnProblems(cfg: RecConfig): ConfigProblem[] {
  return (cfg.eval.metrics ?? []).flatMap((name, i) => {
    const problem = notComputed(cfg, parseMetricName(name)) // the schema has checked the name
    return problem ? [{...problem, path: ['eval', 'metrics', i]}] : []
  })
}

/** the gate compares a metric of the results: it must be one evaluation computes, under the key results use */
function gateProblems(cfg: RecConfig): ConfigProblem[] {
  const gate = cfg.compress.gate
  if (!gate) return []
  const path = ['compress', 'gate', 'metric']
  let parsed: ReturnType<typeof parseMetricName>
  try {
    parsed = parseMetricName(gate.metric)
  } catch (err) {
    if (!isRecError(err)) throw err
    return [{path, message: `${err.message}${err.hint ? `; ${err.hint}` : ''}`}]
  }
  if (parsed.key !== gate.metric) return [{path, message: `write it as ${parsed.key} (the key results use)`}]
  const problem = notComputed(cfg, parsed)
  return problem ? [{...problem, path}] : []
}

/** architecture constraints and memory, before any data is read */
function modelProblems(cfg: RecConfig): ConfigProblem[] {
  const out: ConfigProblem[] = []
  cfg.models.forEach((m, i) => {
    const problem = problemOf(() => checkModel(m, PLACEHOLDER_DIMS))
    if (problem) out.push({path: ['models', i], ...problem})
  })
  return out
}

/**
 * Every compression variant, expanded one config entry at a time (so each problem points at its
 * entry), checked against every model's shapes: names unique and not `base`, values possible,
 * methods applicable. The same checks the compress stage makes, without allocating weights.
 */
function variantProblems(cfg: RecConfig, locate: Locate): ConfigProblem[] {
  const out: ConfigProblem[] = []
  const made = new Map<string, number>()
  cfg.compress.variants.forEach((v, i) => {
    const path = ['compress', 'variants', i]
    const bad = problemOf(() => expandVariants([v]))
    if (bad) {
      out.push({path, message: bad.message.replace(/^compress\.variants\[0\][.:]?\s*/, ''), hint: bad.hint, code: bad.code})
      return
    }
    for (const spec of expandVariants([v])) {
      const j = made.get(spec.name)
      if (spec.name === 'base') out.push({path, message: 'variant name "base" is reserved for the trained model', code: 'compress.bad_variant'})
      else if (j !== undefined) {
        const where = at(j === i ? undefined : locate(['compress', 'variants', j]))
        out.push({path, message: `variant name "${spec.name}" is also made by compress.variants.${j}${where}; each variant writes models/<model>/<variant>/`, code: 'compress.duplicate_variant', hint: 'give the variants distinct names (name: ...)'})
      }
      else made.set(spec.name, i)
    }
    const messages = new Set<string>()
    for (const m of cfg.models) {
      const spec = getModelSpec(m.model)
      if (problemOf(() => spec.check?.(m))) continue // reported with the model
      const problem = problemOf(() => validateVariants([v], m.model, spec.shapes(m, PLACEHOLDER_DIMS), {config: m, dims: PLACEHOLDER_DIMS}))
      if (problem && !messages.has(problem.message)) {
        messages.add(problem.message)
        out.push({path, message: `model ${modelLabel(m)}: ${problem.message}`, hint: problem.hint, code: problem.code})
      }
    }
  })
  return out
}

/** run `fn`; the RecError it throws becomes a problem (message, hint), anything else propagates */
function problemOf(fn: () => unknown): {message: string; hint?: string; code: string} | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    if (!isRecError(err)) throw err
    return {message: err.message, hint: err.hint, code: err.code}
  }
}
