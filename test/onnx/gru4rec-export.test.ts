import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as ort from 'onnxruntime-node'
import {afterAll, describe, expect, it} from 'vitest'

import {initGru4rec, type Gru4recWeights} from '../../src/models/gru4rec.js'
import {gru4recReferenceScores} from '../../src/models/gru4rec-reference.js'
import {exportGru4recOnnx} from '../../src/onnx/export-gru4rec.js'
import {onnx} from '../../src/onnx/graph.js'
import {Rng} from '../../src/rng.js'

const I = 30
const L = 8
const cfg = {embedding: 16, hidden: 16, maxLen: L}

/** initialised weights with non-zero biases, so every term of the GRU equations counts */
function weights(seed: number, layers = 1): Gru4recWeights {
  const w = initGru4rec(I, {...cfg, layers}, seed)
  const rng = new Rng(seed + 99)
  for (const [name, t] of Object.entries(w.tensors)) {
    if (name.endsWith('.b') || name === 'dense.bias') for (let k = 0; k < t.data.length; k++) t.data[k] = (rng.next() - 0.5) * 0.6
  }
  return w
}

/** left-padded histories of every length 0..L (rows b with b % (L + 1) = 0 are empty) */
function histories(B: number, seed: number): Int32Array {
  const rng = new Rng(seed)
  const out = new Int32Array(B * L)
  for (let b = 0; b < B; b++) {
    const len = b % (L + 1)
    for (let t = L - len; t < L; t++) out[b * L + t] = 1 + rng.int(I)
  }
  return out
}

const sessions: ort.InferenceSession[] = []
const dirs: string[] = []
afterAll(async () => {
  for (const s of sessions) await s.release()
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

async function session(bytes: Uint8Array, optimizedModelFilePath?: string) {
  const s = await ort.InferenceSession.create(bytes, {graphOptimizationLevel: 'all', intraOpNumThreads: 1, logSeverityLevel: 3, ...(optimizedModelFilePath ? {optimizedModelFilePath} : {})})
  sessions.push(s)
  return s
}

async function score(s: ort.InferenceSession, seqs: Int32Array): Promise<Float32Array> {
  const B = seqs.length / L
  const out = await s.run({seqs: new ort.Tensor('int64', BigInt64Array.from(seqs, (x) => BigInt(x)), [B, L])})
  expect(out.scores.dims).toEqual([B, I])
  return out.scores.data as Float32Array
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, j) => Math.max(m, Math.abs(x - b[j])), 0)

describe('gru4rec ONNX export', () => {
  it.each([1, 2])('equals the plain-JS reference within 1e-4, empty histories included (%i layers)', async (layers) => {
    const w = weights(3, layers)
    const seqs = histories(27, 5)
    const s = await session(exportGru4recOnnx(w))
    expect(maxDiff(await score(s, seqs), gru4recReferenceScores(w, seqs))).toBeLessThan(1e-4)
  })

  it('an empty history scores dense.bias · item_emb[j + 1] (h = 0)', async () => {
    const w = weights(4)
    const s = await session(exportGru4recOnnx(w))
    const got = await score(s, new Int32Array(L))
    const expected = new Float32Array(I)
    for (let i = 0; i < I; i++) for (let j = 0; j < 16; j++) expected[i] += w.tensors['dense.bias'].data[j] * w.tensors.item_emb.data[(i + 1) * 16 + j]
    expect(maxDiff(got, expected)).toBeLessThan(1e-5)
  })

  it('scores a sequence alone exactly as in a batch', async () => {
    const w = weights(6)
    const B = 37
    const seqs = histories(B, 7)
    const s = await session(exportGru4recOnnx(w))
    const all = await score(s, seqs)
    for (let b = 0; b < B; b++) {
      const alone = await score(s, seqs.slice(b * L, (b + 1) * L))
      expect(Array.from(alone), `row ${b}`).toEqual(Array.from(all.subarray(b * I, (b + 1) * I)))
    }
  })

  it('ORT keeps a GRU node in its optimized graph; metadata says what the graph is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-gru4rec-'))
    dirs.push(dir)
    const path = join(dir, 'model.optimized.onnx')
    const bytes = exportGru4recOnnx(weights(8))
    await session(bytes, path)
    const ops = onnx.ModelProto.decode(readFileSync(path)).graph!.node.map((n) => n.opType)
    console.log(`gru4rec optimized graph: ${ops.join(', ')}`)
    expect(ops.filter((o) => o === 'GRU')).toHaveLength(1)
    const meta = Object.fromEntries(onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key, p.value]))
    expect(meta['rec.kind']).toBe('gru4rec')
    expect(meta['rec.num_items']).toBe(String(I))
    expect(meta['rec.max_len']).toBe(String(L))
  })
})
