import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {fullProtocol} from '../report/fixtures.js'

/** one variant of a fake run: name, ndcg@10, p50 ms, ONNX bytes */
export type FakeVariant = [name: string, ndcg: number, p50Ms: number, sizeBytes: number]

/** the variants of FAKE_RUN: base, int8 (smaller, faster, same NDCG), a lossy pruned one, a dominated one */
export const FAKE_VARIANTS: FakeVariant[] = [
  ['base', 0.3, 0.3, 1_000_000],
  ['int8', 0.2995, 0.2, 260_000],
  ['structured-0.5-mlp', 0.28, 0.15, 990_000],
  ['magnitude-0.5', 0.27, 0.31, 1_000_000],
]

/**
 * A run directory as `rec run` leaves it, with only the files `rec report` reads: manifest.json
 * (its presence marks a run), results.json (schema-valid rows) and models/<model>/train.json (the
 * training history, validated on mrr@10 with epoch 3 kept). The gate: ndcg@10, 1% drop.
 */
export function writeFakeRun(dir: string, model = 'neumf', variants: FakeVariant[] = FAKE_VARIANTS): string {
  mkdirSync(join(dir, 'models', model), {recursive: true})
  const protocol = {...fullProtocol([10]), description: 'Full ranking over all items (fake run)'}
  const rows = variants.map(([name, ndcg, p50, size]) => ({
    name,
    model,
    architecture: model,
    method: name === 'base' ? 'none' : 'fake',
    methodParams: {},
    backend: 'wasm',
    runtime: 'onnxruntime-cpu',
    execution: name === 'int8' ? 'int8-kernel' : 'float32',
    metrics: {'ndcg@10': ndcg, 'recall@10': ndcg * 2, 'mrr@10': ndcg * 1.5},
    latency: {p50Ms: p50, p95Ms: p50 * 1.5, p99Ms: p50 * 2, meanMs: p50 * 1.1, requests: 100, throughputUsersPerS: 1000, batch: 16, runtime: 'onnxruntime-cpu'},
    sizeBytes: size,
    sizeBytesTfjs: size,
    sizeBytesOnnx: size,
    params: 1000,
    paramsNonZero: 1000,
    flopsPerPair: 100,
    evalSeconds: 1,
    notes: [],
    ...(name === 'base' ? {} : {gate: {metric: 'ndcg@10', maxRelativeDrop: 0.01, relativeDrop: (0.3 - ndcg) / 0.3, passed: (0.3 - ndcg) / 0.3 <= 0.01}}),
  }))
  writeFileSync(join(dir, 'manifest.json'), '{}')
  writeFileSync(join(dir, 'results.json'), JSON.stringify({runDir: dir, experiment: 'fake', variants: rows, protocol, keys: {train: {}}, cached: []}))
  const history = [1, 2, 3, 4].map((epoch) => ({epoch, loss: 1 / epoch, seconds: 1, rowsPerSec: 1000, valid: [0.2, 0.3, 0.35, 0.34][epoch - 1]}))
  writeFileSync(join(dir, 'models', model, 'train.json'), JSON.stringify({model: {model}, train: {early_stopping: {metric: 'mrr@10'}}, epochs: 4, bestEpoch: 3, stoppedEarly: true, seconds: 4, history}))
  return dir
}
