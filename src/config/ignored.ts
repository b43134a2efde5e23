import {getModelSpec} from '../models/registry.js'
import type {ModelConfig, RecConfig} from './schema.js'

/**
 * Options present in a resolved config (set, or filled in by a default) that nothing reads for this
 * configuration: `loss: bpr` on neumf (always bce), `ratios` under leave-one-out, `mlp_layers` on mf.
 * `rec config show` marks them, in its YAML and its --json alike, so that a printed value never reads
 * as if it applied. Config path → why it is ignored.
 */
export function ignoredOptions(cfg: RecConfig): Record<string, string> {
  const out: Record<string, string> = {}
  /** a model entry's options its architecture does not read (models[] and distillation students) */
  const modelOptions = (m: Pick<ModelConfig, 'model' | 'loss'> & {train?: unknown}, at: (key: string, why: string) => void) => {
    const spec = getModelSpec(m.model)
    if (!spec.trainable) {
      at('factors', `${m.model} has no embeddings`)
      if (m.train) at('train', `${m.model} is fitted from counts, not trained`)
    }
    if (!spec.losses.includes(m.loss)) at('loss', spec.losses.length === 0 ? `${m.model} has no loss` : `${m.model} always trains with ${spec.losses.join(' or ')}`)
    if (m.model !== 'neumf' && m.model !== 'mlp') at('mlp_layers', 'only neumf uses mlp_layers')
    if (m.model === 'mlp') at('factors', 'mlp sizes its embeddings from mlp_layers[0] / 2')
    if (m.model !== 'two_tower') at('tower_layers', 'only two_tower uses tower_layers')
    const set = m as Record<string, unknown>
    if (m.model !== 'itemknn') for (const key of ['k', 'shrink']) if (set[key] !== undefined) at(key, `only itemknn uses ${key}`)
    if (m.model !== 'ease' && set.lambda !== undefined) at('lambda', 'only ease uses lambda')
  }
  cfg.models.forEach((m, i) => modelOptions(m, (key, why) => (out[`models.${i}.${key}`] = why)))
  cfg.compress.variants.forEach((v, i) => {
    const students = [
      ...(v.distill ? [{path: `compress.variants.${i}.distill`, d: v.distill}] : []),
      ...(v.pipeline ?? []).flatMap((s, j) => (s.distill ? [{path: `compress.variants.${i}.pipeline.${j}.distill`, d: s.distill}] : [])),
    ]
    for (const {path, d} of students) {
      modelOptions(d.student, (key, why) => (out[`${path}.student.${key}`] = why))
      if (d.alpha === 1) out[`${path}.temperature`] = 'alpha 1 gives the teacher no weight'
    }
  })
  const split = cfg.split
  if (split.method === 'leave_one_out') {
    out['split.ratios'] = 'leave_one_out holds out one event per user for test and one for validation'
    out['split.scope'] = 'leave_one_out always works per user'
  } else out['split.order'] = 'only leave_one_out uses order'
  if (split.method === 'random') out['split.row_order'] = 'random splits do not order events'
  if (split.method !== 'leave_one_out') out['split.validation'] = 'only leave_one_out uses validation (ratio splits: ratios[1]; files: split.valid)'
  if (split.method === 'leave_one_out' || split.method === 'files' || split.scope === 'global') out['split.rounding'] = 'only per-user random and temporal splits round counts'
  if (split.method === 'files') {
    for (const key of ['ratios', 'scope', 'order', 'row_order']) out[`split.${key}`] = 'a split given as files is used as it is'
    out['data.path'] = 'split.method files reads split.train / valid / test instead'
  }
  if (cfg.eval.mode === 'full') out['eval.negatives'] = 'eval.mode full ranks all items (negatives are for mode sampled)'
  if (cfg.negatives.sampler === 'uniform') out['negatives.exponent'] = 'only the popularity sampler uses exponent'
  const es = cfg.train.early_stopping
  if (es && es.mode === 'full') out['train.early_stopping.negatives'] = 'early_stopping.mode full validates against all items'
  return out
}
