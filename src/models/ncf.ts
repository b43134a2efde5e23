import type {ModelConfig} from '../config/schema.js'
import {configError} from '../errors.js'
import type {ModelWeights, Tensor32} from './types.js'

/**
 * The NCF paper's pre-training (He et al. 2017, section 3.4.1): NeuMF starts from a trained GMF and
 * a trained MLP. Their embeddings and MLP layers are copied; the output layer is the concatenation
 * of the two output layers weighted by α: h ← [α·h_GMF ; (1 − α)·h_MLP] (α = 0.5 in the paper),
 * and, as the authors' code does, the bias α·b_GMF + (1 − α)·b_MLP. The paper then trains NeuMF
 * with vanilla SGD (`train: {optimizer: sgd}` on the neumf entry).
 */
export function neumfFromPretrained(gmf: ModelWeights, mlp: ModelWeights, alpha: number): ModelWeights {
  if (gmf.kind !== 'gmf' || mlp.kind !== 'mlp') throw new Error(`neumfFromPretrained: expected a gmf and an mlp, got ${gmf.kind} and ${mlp.kind}`)
  if (gmf.numUsers !== mlp.numUsers || gmf.numItems !== mlp.numItems) throw new Error('neumfFromPretrained: the gmf and mlp models were trained on different catalogues')
  const copy = (t: Tensor32): Tensor32 => ({shape: [...t.shape], data: t.data.slice()})
  const tensors: Record<string, Tensor32> = {}
  for (const [name, t] of Object.entries(gmf.tensors)) if (name.startsWith('gmf_')) tensors[name] = copy(t)
  for (const [name, t] of Object.entries(mlp.tensors)) if (name.startsWith('mlp_')) tensors[name] = copy(t)
  const hg = gmf.tensors['out.kernel']
  const hm = mlp.tensors['out.kernel']
  const out = new Float32Array(hg.data.length + hm.data.length)
  for (let j = 0; j < hg.data.length; j++) out[j] = alpha * hg.data[j]
  for (let j = 0; j < hm.data.length; j++) out[hg.data.length + j] = (1 - alpha) * hm.data[j]
  tensors['out.kernel'] = {shape: [out.length, 1], data: out}
  tensors['out.bias'] = {shape: [1], data: Float32Array.of(alpha * gmf.tensors['out.bias'].data[0] + (1 - alpha) * mlp.tensors['out.bias'].data[0])}
  return {
    kind: 'neumf',
    numUsers: gmf.numUsers,
    numItems: gmf.numItems,
    params: {factors: gmf.params.factors, mlp_layers: mlp.params.mlp_layers, loss: 'bce'},
    tensors,
  }
}

/**
 * What is wrong with a neumf entry's init_from in this models[] list: each label must name a model
 * earlier in the list (it is trained first) of the right kind and shape. Messages for config problems.
 */
export function initFromProblems(models: readonly ModelConfig[], index: number): {key: 'gmf' | 'mlp' | 'model'; message: string}[] {
  const m = models[index]
  const from = m.init_from
  if (!from) return []
  if (m.model !== 'neumf') return [{key: 'model', message: `init_from applies to neumf only (this entry is ${m.model})`}]
  const out: {key: 'gmf' | 'mlp' | 'model'; message: string}[] = []
  for (const key of ['gmf', 'mlp'] as const) {
    const j = models.findIndex((x) => (x.name ?? x.model) === from[key])
    if (j < 0 || j >= index) {
      out.push({key, message: `no ${key} model labelled "${from[key]}" before this entry in models[] (it must be trained first)`})
      continue
    }
    const src = models[j]
    if (src.model !== key) out.push({key, message: `"${from[key]}" is a ${src.model} model, not ${key}`})
    else if (key === 'gmf' && src.factors !== m.factors) out.push({key, message: `gmf "${from[key]}" has factors ${src.factors}, this neumf ${m.factors}`})
    else if (key === 'mlp' && src.mlp_layers.join(',') !== m.mlp_layers.join(',')) out.push({key, message: `mlp "${from[key]}" has mlp_layers [${src.mlp_layers}], this neumf [${m.mlp_layers}]`})
  }
  return out
}

/** a neumf's initial weights from its init_from models, read by `load(label)` (the trained base weights) */
export function initFromPretrained(m: ModelConfig, load: (label: string) => ModelWeights): ModelWeights | undefined {
  if (!m.init_from) return undefined
  const gmf = load(m.init_from.gmf)
  const mlp = load(m.init_from.mlp)
  if (gmf.kind !== 'gmf' || mlp.kind !== 'mlp') throw configError('config.invalid', `init_from: "${m.init_from.gmf}" / "${m.init_from.mlp}" are ${gmf.kind} / ${mlp.kind} models, not gmf / mlp`)
  return neumfFromPretrained(gmf, mlp, m.init_from.alpha)
}
