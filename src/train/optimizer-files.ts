import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {dataError} from '../errors.js'
import {packFloat32, unpackFloat32} from '../models/io.js'
import {writeFileAtomic, writeJsonAtomic} from '../run/atomic.js'

/**
 * An optimizer's state as checkpoints hold it, in tfjs' optimizer layout (Optimizer.getWeights):
 * the step count ('iter'), then for Adam every first moment and every second moment, in the order
 * of the model's tensors; `acc` the running products β1^t, β2^t (Adam). The arrays are copies.
 */
export interface OptimizerState {
  entries: {name: string; shape: number[]; length: number}[]
  parts: ArrayLike<number>[]
  acc?: [number, number]
}

export function writeOptimizerState(dir: string, s: OptimizerState): void {
  writeFileAtomic(join(dir, OPTIMIZER_BIN), packFloat32(s.parts))
  writeJsonAtomic(join(dir, OPTIMIZER_JSON), {version: 1, entries: s.entries, ...(s.acc ? {acc: s.acc} : {})})
}

const OPTIMIZER_JSON = 'optimizer.json'
const OPTIMIZER_BIN = 'optimizer.bin'

/** optimizer.json + optimizer.bin of a checkpoint folder, checked; undefined when there are none */
export function readOptimizerFiles(dir: string): {entries: {name: string; shape: number[]; length: number}[]; arrays: Float32Array[]; acc?: [number, number]} | undefined {
  const jsonPath = join(dir, OPTIMIZER_JSON)
  if (!existsSync(jsonPath)) return undefined
  let meta: {entries: {name: string; shape: number[]; length: number}[]; acc?: [number, number]}
  let bytes: Buffer
  try {
    meta = JSON.parse(readFileSync(jsonPath, 'utf8'))
    bytes = readFileSync(join(dir, OPTIMIZER_BIN))
  } catch (error) {
    throw dataError('model.corrupt', `${jsonPath} is corrupt: ${(error as Error).message}`, {hint: 'delete the checkpoint directory to start over'})
  }
  const total = meta.entries.reduce((a, e) => a + e.length, 0)
  if (bytes.byteLength !== total * 4) throw dataError('model.corrupt', `${join(dir, OPTIMIZER_BIN)} is truncated`, {hint: 'delete the checkpoint directory to start over'})
  return {entries: meta.entries, arrays: unpackFloat32(bytes, meta.entries.map((e) => e.length)), ...(meta.acc ? {acc: meta.acc} : {})}
}
