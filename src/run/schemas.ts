import {z} from 'zod'

/**
 * The shapes of the run files rec reads back (manifest, train.json, compress.json, result.json,
 * eval.json, results.json). A file that parses as JSON but has another shape (edited by hand,
 * written by another tool, from an incompatible rec) must be a data error naming it (exit 3), not
 * a crash deep inside the code that uses it (exit 1). Objects are loose: fields rec does not read
 * may be added freely; the fields it reads must be there with their types.
 */

const num = z.number()
const numbers = z.record(z.string(), num)

const stageRecord = z.looseObject({
  status: z.enum(['running', 'done']),
  key: z.string().optional(),
  seconds: num.optional(),
  note: z.string().optional(),
  /** sha256 of every file the stage wrote, by path relative to the run directory */
  files: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)).optional(),
})

export const manifestSchema = z.looseObject({
  rec: z.string(),
  experiment: z.string(),
  configFile: z.string(),
  configHash: z.string(),
  seed: num,
  command: z.array(z.string()),
  startedAt: z.string(),
  stages: z.record(z.string(), stageRecord),
})

export const trainJsonSchema = z.looseObject({
  epochs: num,
  bestEpoch: num,
  stoppedEarly: z.boolean(),
  seconds: num,
  history: z.array(z.looseObject({epoch: num, loss: num})),
})

/** how a distilled student (or its scratch baseline) was trained (compress.json and result.json) */
const distillRecord = z.looseObject({
  teacher: z.string(),
  student: z.string(),
  scratch: z.boolean(),
  temperature: num,
  alpha: num,
  epochs: num,
  seconds: num,
  scratchVariant: z.string().optional(),
  distilledVariant: z.string().optional(),
})

export const compressJsonSchema = z.looseObject({
  name: z.string(),
  method: z.string(),
  params: z.record(z.string(), z.unknown()),
  execution: z.string(),
  paramsTotal: num,
  paramsNonZero: num,
  flopsPerPair: num,
  compressSeconds: num,
  notes: z.array(z.string()),
  finetune: z.looseObject({epochs: num, seconds: num, skipped: z.string().optional()}),
  distill: distillRecord.optional(),
  sizeBytesTfjs: num,
  sizeBytesOnnx: num,
})

const protocol = z.looseObject({description: z.string()})

export const evalJsonSchema = z.looseObject({
  metrics: numbers,
  usersEvaluated: num,
  seconds: num,
  protocol,
})

const latency = z.looseObject({p50Ms: num, p95Ms: num, p99Ms: num, meanMs: num, requests: num, throughputUsersPerS: num, batch: num, runtime: z.string()})

export const resultJsonSchema = z.looseObject({
  name: z.string(),
  model: z.string(),
  architecture: z.string(),
  method: z.string(),
  methodParams: z.record(z.string(), z.unknown()),
  backend: z.string(),
  runtime: z.string(),
  execution: z.string(),
  metrics: numbers,
  latency,
  latencyTfjs: latency.optional(),
  sizeBytes: num,
  sizeBytesTfjs: num,
  sizeBytesOnnx: num,
  params: num,
  paramsNonZero: num,
  flopsPerPair: num,
  onnxMaxAbsDiff: num.optional(),
  deltas: z.record(z.string(), z.looseObject({abs: num, rel: num.nullable()})).optional(),
  gate: z.looseObject({metric: z.string(), maxRelativeDrop: num, relativeDrop: num, passed: z.boolean()}).optional(),
  distill: distillRecord.optional(),
  versusScratch: z.looseObject({variant: z.string(), deltas: z.record(z.string(), z.looseObject({abs: num, rel: num.nullable()}))}).optional(),
  evalSeconds: num,
  notes: z.array(z.string()),
})

export const resultsJsonSchema = z.looseObject({
  runDir: z.string(),
  experiment: z.string(),
  variants: z.array(resultJsonSchema),
  protocol,
  keys: z.looseObject({data: z.string().optional(), train: z.record(z.string(), z.string())}),
  cached: z.array(z.string()),
  shard: z.looseObject({index: num, count: num}).optional(),
  columns: z.array(z.string()).optional(),
})

/** data/stats.json: only what later stages read back (the split's order, for the protocol line) */
const statsJsonSchema = z.looseObject({
  stats: z.looseObject({}),
  split: z.looseObject({order: z.enum(['timestamp', 'row']).nullable().optional()}).optional(),
})

/**
 * models/<model>/<variant>/per-user.json: the per-user values of the top-K metrics and AUC, parallel
 * to `users` (internal user indices, ascending); a user without a defined value (AUC with no
 * negative) is null. `rec compare --significance` pairs them between a variant and its baseline.
 */
const perUserJsonSchema = z.looseObject({
  users: z.array(z.number().int()),
  values: z.record(z.string(), z.array(num.nullable())),
})

/** what each schema's file is called in messages ("<file> is not a valid <name>") */
export const RUN_FILES = {
  manifest: manifestSchema,
  'dataset statistics': statsJsonSchema,
  'training record': trainJsonSchema,
  'compression record': compressJsonSchema,
  'evaluation record': evalJsonSchema,
  'result file': resultJsonSchema,
  'results file': resultsJsonSchema,
  'per-user values': perUserJsonSchema,
} as const
export type RunFileKind = keyof typeof RUN_FILES
