import type {ModelConfig} from '../config/schema.js'
import {configError} from '../errors.js'
import {stepName, type Step, type VariantSpec} from '../compress/registry.js'
import type {StudentConfig} from '../config/schema.js'

/**
 * The candidates of a budget search, in order of expected gain per second of work: int8 (a weight
 * transform, no training, ~4× smaller and faster kernels); the ramps of structured pruning and of
 * low-rank factorization, mildest first (each step removes more, costs more metric, saves more
 * time); pipelines of a ramp step and int8; then a distilled half-size student (a full training) and
 * that student in int8. A candidate names the milder candidates it extends (`parents`): the search
 * reads their measurements to skip what cannot help (src/search/search.ts).
 */
export interface Candidate {
  spec: VariantSpec
  /** int8 | structured | lowrank | pipeline | distill */
  family: string
  /** names of the milder candidates whose measurements bound this one (ramp predecessor, pipeline parts) */
  parents: string[]
  /** trains a model (a student): costs a training, not a transform */
  trains: boolean
}

const INT8: Step = {method: 'quantize', params: {dtype: 'int8', granularity: 'per_channel', symmetric: true, target: 'all'}}
export const STRUCTURED_RAMP = [0.25, 0.5, 0.75]
/** low-rank ranks as fractions of the embedding size */
export const LOWRANK_RAMP = [1 / 2, 1 / 4, 1 / 8]

/** what structured pruning removes in a model of this kind */
function structuredTarget(kind: ModelConfig['model']): 'mlp' | 'embeddings' | 'ffn' {
  if (kind === 'neumf' || kind === 'two_tower') return 'mlp'
  if (kind === 'sasrec') return 'ffn'
  return 'embeddings'
}

/** the embedding size low-rank ranks are fractions of */
function width(m: ModelConfig): number {
  return m.model === 'sasrec' ? (m.hidden ?? 64) : m.factors
}

const half = (n: number) => Math.max(1, Math.round(n / 2))

/** the same architecture at half its widths: the student a distillation candidate trains */
export function halfStudent(m: ModelConfig): StudentConfig {
  const {name: _name, train: _train, ...rest} = m
  if (m.model === 'sasrec') {
    const heads = m.heads ?? 2
    const hidden = Math.max(heads, Math.round((m.hidden ?? 64) / 2 / heads) * heads)
    return {...rest, hidden, inner: half(m.inner ?? 256)}
  }
  return {...rest, factors: half(m.factors), mlp_layers: m.mlp_layers.map(half), tower_layers: m.tower_layers.map(half)}
}

const named = (steps: Step[], name?: string): VariantSpec => ({name: name ?? steps.map(stepName).join('+'), steps})

/**
 * The ordered candidates for one model. `studentEpochs`: how long a distilled student trains (the
 * epochs the base needed, its best epoch); `distill: false` leaves distillation out.
 */
export function searchSpace(m: ModelConfig, options: {studentEpochs: number; distill: boolean}): Candidate[] {
  if (m.model === 'pop' || m.model === 'gru4rec') {
    throw configError('search.not_applicable', `rec search compresses mf, neumf, two_tower and sasrec models; ${m.model} has ${m.model === 'pop' ? 'no weights to compress' : 'no compression method in rec yet'}`)
  }
  const out: Candidate[] = []
  out.push({spec: named([INT8], 'int8'), family: 'int8', parents: [], trains: false})
  const target = structuredTarget(m.model)
  const structured = STRUCTURED_RAMP.map((sparsity) => named([{method: 'prune', params: {method: 'structured', sparsity, scope: 'layer', target, norm: 'l2', schedule: 'oneshot'}}]))
  structured.forEach((spec, j) => out.push({spec, family: 'structured', parents: j === 0 ? [] : [structured[j - 1].name], trains: false}))
  const ranks = [...new Set(LOWRANK_RAMP.map((f) => Math.max(1, Math.round(width(m) * f))))]
  const lowrank = ranks.map((rank) => named([{method: 'lowrank', params: {target: 'all', rank}}]))
  lowrank.forEach((spec, j) => out.push({spec, family: 'lowrank', parents: j === 0 ? [] : [lowrank[j - 1].name], trains: false}))
  for (const ramp of [structured, lowrank]) {
    ramp.forEach((single, j) => {
      const spec = named([...single.steps, INT8])
      out.push({spec, family: 'pipeline', parents: [single.name, 'int8', ...(j === 0 ? [] : [`${ramp[j - 1].name}+int8`])], trains: false})
    })
  }
  if (options.distill) {
    const distill: Step = {method: 'distill', params: {student: halfStudent(m), temperature: 2, alpha: 0.5, epochs: options.studentEpochs, baseline: false}}
    const student = named([distill])
    out.push({spec: student, family: 'distill', parents: [], trains: true})
    out.push({spec: named([distill, INT8]), family: 'distill', parents: [student.name, 'int8'], trains: true})
  }
  return out
}
