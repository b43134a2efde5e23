import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {compressVariant, expandVariants} from '../../src/compress/registry.js'
import {compressedBytes, loadCompressed, saveCompressed} from '../../src/compress/io.js'
import {RecError} from '../../src/errors.js'
import {tinyModel} from './fixtures.js'

const tinyNeuMF = () => tinyModel('neumf', {users: 300, items: 200, d: 32, mlp: [32, 16]})

describe('compressed variants on disk', () => {
  it('round-trip every stored form exactly and keep int8 storage about 4x smaller', () => {
    const w = tinyNeuMF()
    const specs = expandVariants([
      {name: 'int8', quantize: {dtype: 'int8', granularity: 'per_channel', symmetric: false, target: 'all'}},
      {name: 'fp16', quantize: {dtype: 'float16', granularity: 'per_channel', symmetric: true, target: 'all'}},
      {name: 'int4', quantize: {dtype: 'int4', granularity: 'per_channel', symmetric: true, target: 'embeddings'}},
      {name: 'lr', lowrank: {rank: 4, target: 'all'}},
      {name: 'mag', prune: {method: 'magnitude', sparsity: 0.5, scope: 'global', target: 'all', norm: 'l2', schedule: 'oneshot'}},
    ])
    const sizes: Record<string, number> = {}
    for (const spec of specs) {
      const {model} = compressVariant(w, spec)
      const dir = mkdtempSync(join(tmpdir(), 'rec-cio-'))
      saveCompressed(dir, model)
      const back = loadCompressed(dir)
      expect(back).toEqual(model)
      sizes[spec.name] = statSync(join(dir, 'variant.bin')).size
      expect(compressedBytes(dir)).toBeGreaterThan(sizes[spec.name])
    }
    const floats = Object.values(w.tensors).reduce((a, t) => a + t.data.length, 0)
    // rows of 32 int8 values + a float scale and an int8 zero point each: 128 / 37 = 3.46x smaller
    expect(sizes.int8).toBeLessThan((floats * 4) / 3.3)
    expect(sizes.fp16).toBeLessThan(floats * 4 * 0.55)
  })

  it('a truncated variant.bin is a data error naming the file (exit 3)', () => {
    const {model} = compressVariant(tinyNeuMF(), expandVariants([{name: 'int8', quantize: {dtype: 'int8', granularity: 'per_channel', symmetric: true, target: 'all'}}])[0])
    const dir = mkdtempSync(join(tmpdir(), 'rec-cio-'))
    saveCompressed(dir, model)
    const bin = join(dir, 'variant.bin')
    writeFileSync(bin, readFileSync(bin).subarray(0, 10))
    try {
      loadCompressed(dir)
      expect.unreachable()
    } catch (err) {
      expect((err as RecError).exitCode).toBe(3)
      expect((err as RecError).message).toContain('variant.bin')
    }
  })
})
