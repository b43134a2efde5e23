import {z} from 'zod'

import {clip} from '../errors.js'
import {parseMetricName} from '../eval/metrics.js'

/**
 * The experiment config: one schema, from which the TypeScript types, the validation and the
 * shipped JSON Schema (schema/rec-config.schema.json, for editors) all come.
 *
 * Every object is strict: an unknown key is an error (with a "did you mean" from the loader).
 * Defaults live here, so `rec config show --explain` can tell a default from a value set in a file.
 */

const positiveInt = z.number().int().positive()
const nonNegativeInt = z.number().int().nonnegative()
/** a column given by header name or 0-based index */
const column = z.union([nonNegativeInt, z.string().min(1)])

/**
 * A name that becomes a folder of the run directory (experiment, model label, variant): a plain file
 * name that cannot climb out (`..`), stay in place (`.`), hide, or hold a separator.
 */
export const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/
const SAFE_NAME_RULE = "letters, digits, '.', '_' or '-', not starting with '.'"
const safeName = z.string().max(100).regex(SAFE_NAME, {message: `must be ${SAFE_NAME_RULE} (it names a folder)`})

/** a metric key known to the metric registry, e.g. ndcg@10, auc */
const metricName = z.string().superRefine((name, ctx) => {
  try {
    parseMetricName(name)
  } catch (err) {
    const message = (err as Error).message.replace(name, clip(name))
    ctx.addIssue({code: 'custom', message: `${message}; ${(err as {hint?: string}).hint ?? ''}`.trim()})
  }
})

export const synthSchema = z
  .strictObject({
    users: positiveInt.default(500).describe('number of users'),
    items: positiveInt.default(300).describe('number of items'),
    interactions: positiveInt.default(20000).describe('number of (user, item) events to generate (duplicates are dropped)'),
    factors: positiveInt.default(8).describe('dimension of the hidden latent factors that drive preferences'),
    popularity_exponent: z.number().nonnegative().default(1.0).describe('power-law exponent of item popularity'),
    seed: z.number().int().default(7).describe('generator seed (independent of the experiment seed)'),
    explicit: z.boolean().default(true).describe('emit 1-5 star ratings (true) or all-1 implicit feedback'),
  })
  .describe('synthetic dataset generator (format: synth)')

export const dataSchema = z
  .strictObject({
    format: z.enum(['synth', 'ml-100k', 'ml-1m', 'delimited', 'recbole']).default('synth').describe('reader to use (recbole: a RecBole atomic .inter file, typed header, fields user_id, item_id, rating, timestamp)'),
    path: z.string().optional().describe('input file (relative to the config file that sets it); not used by synth'),
    delimiter: z.string().min(1).optional().describe('field delimiter for delimited files (default ","); "\\t" for tab'),
    header: z.boolean().default(false).describe('first line holds column names (delimited)'),
    columns: z
      .strictObject({user: column, item: column, rating: column.optional(), timestamp: column.optional()})
      .default({user: 0, item: 1, rating: 2, timestamp: 3})
      .describe('column mapping by header name or 0-based index (delimited)'),
    encoding: z.enum(['utf-8', 'latin1']).default('utf-8').describe('text encoding of the input file'),
    on_bad_row: z.enum(['error', 'skip']).default('error').describe('a malformed row stops the run (error, exit 3) or is counted and skipped'),
    synth: synthSchema.default(synthSchema.parse({})),
  })
  .describe('where interactions come from')

export const preprocessSchema = z
  .strictObject({
    dedupe: z.enum(['last', 'first', 'none']).default('last').describe('duplicate (user, item) pairs: keep the latest by time, the first, or all'),
    implicit: z
      .strictObject({
        mode: z.enum(['all', 'threshold']).default('all').describe('all interactions are positives, or only rating >= threshold'),
        threshold: z.number().default(4).describe('mode threshold: a rating >= this is a positive'),
      })
      .default({mode: 'all', threshold: 4}),
    kcore: z
      .strictObject({user: nonNegativeInt.default(0).describe('minimum interactions per user'), item: nonNegativeInt.default(0).describe('minimum interactions per item')})
      .default({user: 0, item: 0})
      .describe('iteratively drop users / items with fewer interactions than this (0 = off)'),
  })
  .describe('cleaning applied after reading, before the split')

export const splitSchema = z
  .strictObject({
    method: z.enum(['random', 'temporal', 'leave_one_out', 'files']).default('random').describe('random by ratio, temporal (later events to test), leave-one-out, or files: a split given as files (train, valid, test)'),
    train: z.string().optional().describe('method files: the training interactions, read with the data section\'s format (relative to the config file that sets it)'),
    valid: z.string().optional().describe('method files: the validation interactions (optional: without it, no validation part)'),
    test: z.string().optional().describe('method files: the test interactions'),
    validation: z
      .enum(['one', 'none'])
      .default('one')
      .describe('leave_one_out: hold out one event per user for validation (the one before the test event), or none (all but the test event train; no early stopping)'),
    ratios: z.array(z.number().min(0).max(1)).length(3).default([0.8, 0.1, 0.1]).describe('train / validation / test fractions, summing to 1'),
    scope: z.enum(['global', 'per_user']).default('per_user').describe('random and temporal: cut over all events or within each user'),
    order: z.enum(['latest', 'random']).default('latest').describe('leave_one_out: hold out each user\'s latest events or random ones'),
    rounding: z
      .enum(['round', 'floor'])
      .default('round')
      .describe('random / temporal per_user: a user\'s validation and test counts are round(n·ratio), or floor(n·ratio) as RecBole\'s split_by_ratio (a part with 0 < n·ratio < 1 still gets one event while train keeps more than one)'),
    row_order: z.boolean().default(false).describe('temporal / leave_one_out on data without timestamps: order events by input row (the protocol line says so) instead of stopping with an error'),
  })
  .superRefine((s, ctx) => {
    const sum = s.ratios.reduce((a, b) => a + b, 0)
    if (Math.abs(sum - 1) > 1e-6) {
      ctx.addIssue({code: 'custom', path: ['ratios'], message: `split ratios must sum to 1 (they sum to ${Number(sum.toFixed(6))})`})
    }
    if (s.ratios[0] <= 0) ctx.addIssue({code: 'custom', path: ['ratios', 0], message: 'the train fraction must be > 0'})
    if (s.method === 'files') for (const key of ['train', 'test'] as const) if (!s[key]) ctx.addIssue({code: 'custom', path: [key], message: `split.method files needs split.${key} (a file of the ${key} interactions)`})
    if (s.method !== 'files') for (const key of ['train', 'valid', 'test'] as const) if (s[key]) ctx.addIssue({code: 'custom', path: [key], message: `split.${key} is only read with split.method files`})
  })
  .describe('train / validation / test split')

export const negativesSchema = z
  .strictObject({
    sampler: z.enum(['uniform', 'popularity']).default('uniform').describe('uniform over items, or popularity-weighted'),
    exponent: z.number().nonnegative().default(0.75).describe('popularity sampler: probability ∝ count^exponent'),
  })
  .describe('negative sampling (training and sampled evaluation); always excludes the user\'s positives')

export const earlyStoppingSchema = z.strictObject({
  metric: metricName.default('mrr@10').describe('validation metric, e.g. mrr@10, ndcg@10'),
  patience: positiveInt.default(10).describe('epochs without improvement before stopping'),
  mode: z.enum(['full', 'sampled']).default('full').describe('validation protocol for early stopping (a training setting: eval.mode never changes it)'),
  negatives: positiveInt.default(99).describe('mode sampled: distinct negatives per validation positive'),
  users: positiveInt
    .optional()
    .describe('validation users per check: a fixed seeded sample of this many (default 10000, so that a dataset with fewer validation users, e.g. ML-100K or ML-1M, is validated on all of them exactly)'),
})

export const trainSchema = z
  .strictObject({
    optimizer: z.enum(['adam', 'sgd']).default('adam').describe('optimizer'),
    lr: z.number().positive().default(0.001).describe('learning rate'),
    batch_size: positiveInt.default(2048).describe('training rows per step (a positive with its negatives counts as 1 + negatives rows for bce)'),
    epochs: positiveInt.default(20).describe('maximum epochs'),
    l2: z.number().nonnegative().default(0).describe('L2 penalty on the embeddings of the batch'),
    negatives: positiveInt.default(1).describe('sampled negatives per positive'),
    early_stopping: earlyStoppingSchema.nullable().default(null).describe('null disables; otherwise restores the best epoch'),
    eval_every: positiveInt.default(1).describe('validate every N epochs (early stopping)'),
  })
  .describe('training loop')

/**
 * Per-model overrides of the train section. Same fields and checks as `train`, but no defaults:
 * only the keys a model sets override the experiment's train section (`trainSchema.partial()`
 * would fill every missing key with its default and silently undo the experiment's values).
 */
export const trainOverrideSchema = z.strictObject({
  optimizer: trainSchema.shape.optimizer.unwrap().optional(),
  lr: trainSchema.shape.lr.unwrap().optional(),
  batch_size: trainSchema.shape.batch_size.unwrap().optional(),
  epochs: trainSchema.shape.epochs.unwrap().optional(),
  l2: trainSchema.shape.l2.unwrap().optional(),
  negatives: trainSchema.shape.negatives.unwrap().optional(),
  early_stopping: earlyStoppingSchema.nullable().optional().describe('null disables early stopping for this model'),
  eval_every: trainSchema.shape.eval_every.unwrap().optional(),
})
export type TrainOverrideConfig = z.infer<typeof trainOverrideSchema>

export const modelSchema = z
  .strictObject({
    model: z.enum(['pop', 'mf', 'neumf', 'two_tower', 'sasrec', 'gru4rec', 'itemknn', 'ease', 'gmf', 'mlp']).describe('registry name of the model'),
    name: safeName.optional().describe(`label in tables and folder under models/ (default: the model name); ${SAFE_NAME_RULE}`),
    factors: positiveInt.default(64).describe('embedding size (neumf, gmf: GMF embedding size; gru4rec: item embedding size; not read by mlp, itemknn, ease)'),
    loss: z
      .enum(['bpr', 'bce', 'ce'])
      .default('bpr')
      .describe('mf / two_tower: pairwise BPR or pointwise binary cross-entropy; neumf, gmf, mlp always bce; sasrec: ce (softmax over all items) or bce (one sampled negative per position), default ce; gru4rec always ce'),
    mlp_layers: z.array(positiveInt).min(1).default([64, 32, 16]).describe('neumf, mlp: MLP tower widths (first = 2 × MLP embedding size)'),
    tower_layers: z.array(positiveInt).min(1).default([64, 32]).describe('two_tower: widths of each tower\'s MLP (last = output size)'),
    hidden: positiveInt.optional().describe('sasrec / gru4rec: hidden width (default 64; sasrec: divisible by heads)'),
    layers: positiveInt.optional().describe('sasrec: transformer blocks (default 2); gru4rec: GRU layers (default 1)'),
    heads: positiveInt.optional().describe('sasrec: attention heads (default 2)'),
    inner: positiveInt.optional().describe('sasrec: feed-forward width (default 256)'),
    dropout: z.number().min(0).lt(1).optional().describe('sasrec: dropout of embeddings, attention and residual branches (default 0.5); gru4rec: embedding dropout (default 0.3)'),
    max_len: positiveInt.optional().describe('sasrec / gru4rec: the last max_len items of a history, left-padded (default 50)'),
    k: positiveInt.optional().describe('itemknn: neighbours kept per item (default 100, RecBole\'s)'),
    shrink: z.number().nonnegative().optional().describe('itemknn: added to the cosine\'s denominator (default 0, RecBole\'s)'),
    lambda: z.number().positive().optional().describe('ease: L2 weight λ of the closed form (XᵀX + λI)⁻¹ (default 250, RecBole\'s reg_weight)'),
    init_from: z
      .strictObject({
        gmf: z.string().describe('label of a gmf model earlier in models[] (same factors)'),
        mlp: z.string().describe('label of an mlp model earlier in models[] (same mlp_layers)'),
        alpha: z.number().min(0).max(1).default(0.5).describe('weight of the GMF output layer; 1 − alpha weighs the MLP\'s (the NCF paper: 0.5)'),
      })
      .optional()
      .describe('neumf: start from trained gmf and mlp models of this experiment (the NCF paper\'s pre-training): their embeddings and MLP layers, output layer [α·h_gmf ; (1 − α)·h_mlp], bias α·b_gmf + (1 − α)·b_mlp'),
    train: trainOverrideSchema.optional().describe('per-model overrides of the train section'),
  })
  .describe('one model to train')

export const latencySchema = z.strictObject({
  requests: z.number().int().min(1).default(200).describe('timed single-user requests (after warm-up)'),
  warmup: nonNegativeInt.default(20).describe('untimed requests first'),
  batch: positiveInt.default(256).describe('users per batch for the throughput figure'),
})

export const evalSchema = z
  .strictObject({
    mode: z.enum(['full', 'sampled']).default('full').describe('full ranking over all items, or 1 positive + N sampled negatives'),
    negatives_file: z
      .string()
      .optional()
      .describe('sampled mode: fixed test negatives in the NCF format, one line per test positive: (user,item) then its negatives, tab-separated, original ids (e.g. ml-1m.test.negative); replaces sampling, so published sampled numbers are reproduced exactly'),
    negatives: positiveInt.default(99).describe('sampled mode: distinct negatives per positive (99: the NCF protocol; 100: the SASRec paper\'s); every evaluated user must have that many items left'),
    also_sampled: positiveInt
      .optional()
      .describe('full mode: also rank each test item against this many sampled negatives (100: the SASRec paper\'s protocol) and show that protocol\'s top-K metrics in their own column group of the same table'),
    k: z.array(positiveInt).min(1).default([10, 20]).describe('cut-offs for top-K metrics'),
    metrics: z.array(metricName).min(1).optional().describe('metric columns of the comparison table, e.g. [ndcg@10, recall@10, auc] (default: the standard set)'),
    threshold: z.union([z.number().min(0).max(1), z.literal('validation')]).default(0.5).describe('pointwise metrics: probability threshold, or pick it on validation'),
    batch_users: positiveInt.default(256).describe('users scored per matMul in full-ranking evaluation'),
    latency: latencySchema.default(latencySchema.parse({})),
    runtime: z.enum(['onnx', 'tfjs', 'both']).default('onnx').describe('where latency is measured'),
    workers: z
      .union([z.literal('auto'), positiveInt])
      .optional()
      .describe('worker threads that evaluate the metrics of several variants at once (same numbers as one; latency is then measured alone, variant after variant); default 1 (a second worker only pays on idle cores); auto: one per core up to 4, but 1 below 1M user × item pairs (a worker costs ~1 s to start) or above 2M interactions (each worker holds the split), and 1 on a native tfjs backend. Not part of the stage keys'),
  })
  .describe('evaluation protocol')

/** compression variants (issue 4); validated in depth by the compress registry */
export const quantizeSchema = z.strictObject({
  dtype: z.enum(['int8', 'float16', 'int4']),
  granularity: z.enum(['per_tensor', 'per_channel']).default('per_channel'),
  symmetric: z.boolean().default(true),
  target: z.enum(['all', 'embeddings', 'dense']).default('all'),
})
const sparsity = z.number().min(0).lt(1, {message: 'sparsity must be below 1 (1.0 would remove everything)'})
export const pruneSchema = z.strictObject({
  method: z.enum(['magnitude', 'structured']),
  sparsity: z.union([sparsity, z.array(sparsity).min(1)]),
  scope: z.enum(['layer', 'global']).default('layer'),
  target: z
    .enum(['all', 'mlp', 'embeddings', 'heads', 'ffn', 'layers'])
    .default('all')
    .describe('what is pruned: all / mlp (dense layers) / embeddings (mf, neumf, two_tower; magnitude also sasrec); structured sasrec: heads (attention heads per block), ffn (feed-forward units) or layers (whole blocks)'),
  norm: z.enum(['l1', 'l2']).default('l2'),
  schedule: z.enum(['oneshot', 'polynomial']).default('oneshot'),
})
export const lowrankSchema = z
  .strictObject({
    rank: z.union([positiveInt, z.array(positiveInt).min(1)]).optional(),
    energy: z.number().gt(0).lte(1).optional(),
    target: z.enum(['all', 'dense', 'embeddings']).default('all'),
  })
  .refine((v) => (v.rank === undefined) !== (v.energy === undefined), {message: 'lowrank takes exactly one of rank or energy'})
/**
 * Knowledge distillation (src/compress/distill.ts): a smaller student trained on the trained model's
 * (the teacher's) softened scores plus the true labels. The student is a models[] entry without
 * name / train; its unset keys take the model's defaults, except max_len, which is the teacher's
 * (both read the same histories).
 */
export const studentSchema = modelSchema
  .omit({name: true, train: true})
  .describe('the student architecture: a models[] entry without name / train (unset keys: the model defaults; max_len: the teacher\'s)')
export const distillSchema = z.strictObject({
  student: studentSchema,
  temperature: z.number().positive().default(2).describe('T: teacher and student scores are divided by T before the softmax / sigmoid; the teacher term is scaled by T²'),
  alpha: z.number().min(0).max(1).default(0.5).describe('weight of the true-label loss; 1 − alpha weighs the teacher term (alpha 1 = training from scratch)'),
  epochs: positiveInt.optional().describe('training epochs of the student (default: the teacher model\'s train.epochs); no early stopping'),
  baseline: z
    .boolean()
    .default(true)
    .describe('also train the same student from scratch (same epochs, settings and initialisation, no teacher) as variant <name>-scratch, the row that says what distillation bought'),
})
export const stepSchema = z.strictObject({
  distill: distillSchema.optional().describe('only as the first step of a pipeline'),
  quantize: quantizeSchema.optional(),
  prune: pruneSchema.optional(),
  lowrank: lowrankSchema.optional(),
})
export const variantSchema = z.strictObject({
  name: safeName.optional().describe(`folder under models/<model>/; ${SAFE_NAME_RULE}`),
  distill: distillSchema.optional().describe('knowledge distillation: train a smaller student on this model\'s softened scores plus the labels (README, Compression)'),
  quantize: quantizeSchema.optional(),
  prune: pruneSchema.optional(),
  lowrank: lowrankSchema.optional(),
  pipeline: z.array(stepSchema).min(1).optional(),
  finetune: z.strictObject({epochs: nonNegativeInt}).optional(),
})
export const compressSchema = z
  .strictObject({
    finetune: z.strictObject({epochs: nonNegativeInt.default(2)}).default({epochs: 2}),
    variants: z.array(variantSchema).default([]),
    gate: z
      .strictObject({
        metric: z.string().default('ndcg@10'),
        max_relative_drop: z.number().min(0).max(1).default(0.01),
        significant: z.boolean().default(false).describe('a drop beyond max_relative_drop fails only when it is significant: paired t-test of the metric over test users, Holm-adjusted across the gated variants (README, Significance and repeated seeds)'),
        alpha: z.number().gt(0).lt(1).default(0.05).describe('level of the significance test of `significant`'),
      })
      .nullable()
      .default(null),
  })
  .describe('compression variants made from each trained model')

/** `rec search` (src/search/): a budget and a tolerable loss; flags override each key */
const budgetValue = z.union([z.number().positive(), z.string().min(1)])
export const searchSchema = z
  .strictObject({
    budget: z
      .strictObject({
        p50: budgetValue.optional().describe('upper bound on p50 latency: 0.1ms, 250us, or 0.5x (of the base model, measured in the same session); a bare number is ms'),
        size: budgetValue.optional().describe('upper bound on the served file: 400KiB, 1.5MB, or 0.5x (of the base model); a bare number is bytes'),
      })
      .optional()
      .describe('what the variant must meet (at least one of p50, size; --budget overrides)'),
    max_drop: z.number().min(0).max(1).default(0.01).describe('largest tolerable relative drop of the metric on the validation part against the base'),
    metric: z.string().default('ndcg@10').describe('the validation metric the search keeps highest (higher is better)'),
    model: z.string().optional().describe('the model (its label) to search for; required when the experiment has several'),
    distill: z.boolean().default(true).describe('also try a distilled half-size student (costs a training) when nothing cheaper met the budget'),
  })
  .describe('budget search (rec search): the best variant under a latency / size budget within a tolerable loss')
/** `rec serve` / `rec bench serve` (src/serve/): the answer cache, micro-batching and background updates */
export const serveSchema = z
  .strictObject({
    cache: z
      .strictObject({
        capacity: nonNegativeInt.default(10000).describe('users whose top-K answer is kept (LRU); 0 turns the cache off'),
        ttl_ms: nonNegativeInt.default(60000).describe('an answer older than this is computed again (0: no expiry)'),
      })
      .default({capacity: 10000, ttl_ms: 60000}),
    batching: z
      .strictObject({
        max_batch: positiveInt.default(32).describe('users scored in one ONNX Runtime call at most; 1 turns micro-batching off'),
        max_wait_ms: z.number().min(0).max(1000).default(2).describe('how long the first request of a batch waits for others to join it'),
      })
      .default({max_batch: 32, max_wait_ms: 2}),
    max_k: positiveInt.default(100).describe('largest k a request may ask for (a larger one is a 400)'),
    max_batch_users: positiveInt.default(256).describe('users in one POST /v1/recommend at most'),
    update: z
      .strictObject({
        mode: z.enum(['none', 'incremental']).default('none').describe('incremental: posted events update the model in the background, then it is swapped in atomically'),
        min_events: positiveInt.default(50).describe('events posted since the last update that start the next one'),
        epochs: positiveInt.default(1).describe('training epochs over the new events per update'),
      })
      .default({mode: 'none', min_events: 50, epochs: 1}),
  })
  .describe('serving: rec serve and rec bench serve')
/** a span of the stream: a number of events, or a duration of the data's time ("1d", "12h", "30m", "2w"; seconds) */
const streamSpanSchema = z.union([
  z.strictObject({events: positiveInt.describe('this many events (in time order)')}),
  z.strictObject({duration: z.string().regex(/^\d+(\.\d+)?[smhdw]$/, {message: 'a duration like 1d, 12h, 30m, 90s or 2w'}).describe('this much of the data\'s time: <number><s|m|h|d|w>')}),
])

/** one update strategy of the prequential replay (README, Streaming) */
export const streamStrategySchema = z.strictObject({
  name: z.enum(['static', 'incremental', 'retrain', 'sliding']).describe('static: never updated; incremental: a few epochs on the window\'s events only; retrain: full retrain on all events seen so far; sliding: retrain on the most recent `span` of events'),
  label: safeName.optional().describe(`name in tables and folder under stream/<model>/ (default: name, plus -<variant>); ${SAFE_NAME_RULE}`),
  every: positiveInt.default(1).describe('update after every N-th window (retrain every 10 windows: every: 10)'),
  epochs: positiveInt.optional().describe('training epochs of each update (default: incremental 1, retrain / sliding the model\'s train.epochs)'),
  lr: z.number().positive().optional().describe('learning rate of each update (default: the model\'s train.lr)'),
  batch_size: positiveInt.optional().describe('training batch of each update (default: the model\'s train.batch_size)'),
  warm_start: z.boolean().default(false).describe('retrain / sliding: start from the current weights instead of a fresh initialisation'),
  span: streamSpanSchema.optional().describe('sliding: the most recent events it retrains on (required for sliding)'),
  models: z.array(z.string()).min(1).optional().describe('labels of the models this strategy applies to (default: all): settings that differ per model'),
  variant: safeName.optional().describe('serve (and evaluate) this compress.variants entry, re-made from the float model after every update; its re-compression time is part of the update cost'),
})

export const streamSchema = z
  .strictObject({
    start: z
      .union([z.number().gt(0).lt(1), z.string().min(1)])
      .default(0.8)
      .describe('the cut: a fraction (0.8: the initial model trains on the first 80% of events by time) or a date / time (ISO 8601, e.g. 1998-03-01) before which events train the initial model'),
    window: streamSpanSchema.default({events: 1000}).describe('the replay advances one window at a time: {events: N} or {duration: 1d}'),
    strategies: z.array(streamStrategySchema).min(1).default([{name: 'static', every: 1, warm_start: false}]).describe('update strategies compared side by side on the same windows'),
    models: z.array(z.string()).min(1).optional().describe('labels of the models[] entries to replay (default: all)'),
    max_windows: positiveInt.optional().describe('stop after this many windows (default: the whole replay)'),
    eval: z
      .strictObject({k: z.array(positiveInt).min(1).default([10, 20]).describe('cut-offs of HR@K, NDCG@K and MRR@K')})
      .default({k: [10, 20]})
      .describe('each event ranked against all items the model knows, the user\'s earlier items excluded'),
  })
  .describe('prequential replay (rec stream): evaluate each window with the model as it was, then update it')

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().describe('path to the JSON Schema, for editors'),
    name: safeName.default('experiment').describe(`experiment name; runs go to <output.dir>/<name>/; ${SAFE_NAME_RULE}`),
    extends: z.union([z.string(), z.array(z.string())]).optional().describe('config files merged under this one, in order'),
    seed: z.number().int().default(42).describe('seed of the split, initialisation, negative sampling and evaluation draws'),
    seeds: z
      .array(z.number().int())
      .min(1)
      .optional()
      .describe('repeated seeds: `rec run` runs the experiment once per seed (each replaces `seed`: split when random, initialisation, negatives, evaluation draws) and reports mean ± std over them; `rec run --seeds N` means [1..N]'),
    backend: z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto').describe('tfjs backend: auto prefers gpu > node > wasm > cpu'),
    data: dataSchema.default(dataSchema.parse({})),
    preprocess: preprocessSchema.default(preprocessSchema.parse({})),
    split: splitSchema.default(splitSchema.parse({})),
    negatives: negativesSchema.default(negativesSchema.parse({})),
    models: z.array(modelSchema).default([]).describe('models to train and compare'),
    train: trainSchema.default(trainSchema.parse({})),
    eval: evalSchema.default(evalSchema.parse({})),
    compress: compressSchema.default(compressSchema.parse({})),
    search: searchSchema.default(searchSchema.parse({})),
    serve: serveSchema.default(serveSchema.parse({})),
    stream: streamSchema.optional().describe('prequential replay (rec stream, and a stream stage of rec run); absent: no replay'),
    output: z.strictObject({dir: z.string().default('runs').describe('root of run directories: the default is ./runs of the working directory; a value set in a file is relative to that file')}).default({dir: 'runs'}),
  })
  .describe('a rec experiment')

export type RecConfig = z.infer<typeof configSchema>
export type DataConfig = z.infer<typeof dataSchema>
export type SynthConfig = z.infer<typeof synthSchema>
export type PreprocessConfig = z.infer<typeof preprocessSchema>
export type SplitConfig = z.infer<typeof splitSchema>
export type NegativesConfig = z.infer<typeof negativesSchema>
export type ModelConfig = z.infer<typeof modelSchema>
export type TrainConfig = z.infer<typeof trainSchema>
export type EvalConfig = z.infer<typeof evalSchema>
export type CompressConfig = z.infer<typeof compressSchema>
export type VariantConfig = z.infer<typeof variantSchema>
export type DistillConfig = z.infer<typeof distillSchema>
export type SearchConfig = z.infer<typeof searchSchema>
export type StudentConfig = z.infer<typeof studentSchema>
export type ServeConfig = z.infer<typeof serveSchema>
export type StreamConfig = z.infer<typeof streamSchema>
export type StreamStrategyConfig = z.infer<typeof streamStrategySchema>
export type StreamSpanConfig = z.infer<typeof streamSpanSchema>

/** a model's label in tables and run directories: its `name`, else its registry name */
export function modelLabel(m: ModelConfig): string {
  return m.name ?? m.model
}

/** the training config of one model: the train section with the model's own overrides on top */
export function modelTrainConfig(cfg: RecConfig, m: ModelConfig): TrainConfig {
  return {...cfg.train, ...(m.train ?? {})} as TrainConfig
}
