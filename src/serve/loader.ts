import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {loadCompressed} from '../compress/io.js'
import type {VariantSpec} from '../compress/registry.js'
import {toFloatWeights} from '../compress/tensors.js'
import {modelLabel, type ModelConfig, type RecConfig} from '../config/schema.js'
import type {Split} from '../data/types.js'
import {usageError} from '../errors.js'
import {loadModel} from '../models/io.js'
import {modelRegistry} from '../models/registry.js'
import type {ModelWeights} from '../models/types.js'
import {variantGrid, ONNX_FILE} from '../run/compress-stage.js'
import {FileDigests} from '../run/digests.js'
import {readResolvedConfig} from '../run/pipeline.js'
import {readManifest} from '../run/rundir.js'
import {loadSplit} from '../run/split-io.js'
import {parseSetArgs, resolveConfigFromObject} from '../config/load.js'

/** one model variant of a run, as `rec serve` loads it (everything read was checked against its recorded digest) */
export interface ServedVariant {
  runDir: string
  cfg: RecConfig
  split: Split
  /** the model's label (config `name`, default its registry name) and the variant (`base` or a compression variant) */
  model: string
  variant: string
  modelConfig: ModelConfig
  /** the variant's compression recipe (undefined for base) */
  spec?: VariantSpec
  /** the trained base model's float weights (what an incremental update starts from) */
  base: ModelWeights
  /** the variant's own weights as floats (kind, sizes, params) */
  weights: ModelWeights
  /** the variant's ONNX graph: what evaluation measured and what is served */
  onnx: Uint8Array
  /** scores are probabilities (neumf) */
  probabilities: boolean
}

/**
 * Load one variant of a run for serving: the resolved config (with `--set` on serve.* only), the
 * split (ids, every known interaction), the base weights and the variant's ONNX file, each checked
 * against the sha256 its stage recorded in the manifest (a file changed after rec wrote it is a
 * data error, exit 3, never served).
 */
export function loadServedVariant(runDir: string, options: {model?: string; variant?: string; set?: string[]} = {}): ServedVariant {
  const manifest = readManifest(runDir)
  let cfg = readResolvedConfig(runDir, manifest.configHash)
  const sets = options.set ?? []
  const outside = parseSetArgs(sets).filter((s) => s.path[0] !== 'serve')
  if (outside.length > 0) {
    throw usageError('usage.bad_set', `rec serve can only change serve.* (got ${outside.map((s) => s.arg).join(', ')})`, {hint: 'the model and its data are the run\'s; change the experiment file and use rec run for anything else'})
  }
  if (sets.length > 0) cfg = resolveConfigFromObject(cfg, {set: sets, baseDir: runDir}).config
  const labels = cfg.models.map(modelLabel)
  if (labels.length === 0) throw usageError('serve.no_model', `${runDir} has no model to serve`, {hint: 'add a model to the experiment and run it'})
  const model = options.model ?? labels[0]
  const mi = labels.indexOf(model)
  if (mi < 0) throw usageError('serve.unknown_model', `no model "${model}" in ${runDir}`, {hint: `known models: ${labels.join(', ')}`})
  const modelConfig = cfg.models[mi]
  const grid = variantGrid(cfg).filter((g) => g.label === model)
  const variants = ['base', ...grid.map((g) => g.spec.name)]
  const variant = options.variant ?? 'base'
  if (!variants.includes(variant)) throw usageError('serve.unknown_variant', `no variant "${variant}" of ${model} in ${runDir}`, {hint: `known variants: ${variants.join(', ')}`})

  const stageName = variant === 'base' ? `train:${model}` : `compress:${model}/${variant}`
  const stage = manifest.stages[stageName]
  if (stage?.status !== 'done') {
    throw usageError('serve.not_built', `${model}/${variant} of ${runDir} is not built yet (stage ${stageName} has not finished)`, {hint: `finish the run first: rec run <experiment>${variant === 'base' ? '' : ' (or rec compress <run-dir>)'}`})
  }
  const digests = new FileDigests(runDir)
  digests.verify('data', manifest.stages.data?.files)
  digests.verify('train', manifest.stages[`train:${model}`]?.files)
  if (variant !== 'base') digests.verify('compress', stage.files)

  const split = loadSplit(join(runDir, 'data', 'split'))
  const baseDir = join(runDir, 'models', model, 'base')
  const base = loadModel(baseDir).weights
  const dir = join(runDir, 'models', model, variant)
  const weights = variant === 'base' ? base : toFloatWeights(loadCompressed(dir))
  const onnxFile = join(dir, ONNX_FILE)
  if (!existsSync(onnxFile)) throw usageError('serve.no_onnx', `${onnxFile} is missing`, {hint: 'rec run --from compress rebuilds it'})
  return {
    runDir,
    cfg,
    split,
    model,
    variant,
    modelConfig,
    ...(variant === 'base' ? {} : {spec: grid.find((g) => g.spec.name === variant)!.spec}),
    base,
    weights,
    onnx: new Uint8Array(readFileSync(onnxFile)),
    probabilities: modelRegistry[weights.kind].probabilities,
  }
}
