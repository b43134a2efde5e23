import {describe, expect, it} from 'vitest'

import {currentBackend, getTf, initBackend, tf} from '../../src/backend/index.js'
import {RecError} from '../../src/errors.js'

describe('initBackend', () => {
  it('auto falls back to wasm when no native package is installed, and says why', async () => {
    const warnings: string[] = []
    const progress = {stage() {}, update() {}, done() {}, info() {}, warn: (m: string) => warnings.push(m)}
    const info = await initBackend('auto', progress)
    expect(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).toContain(info.name)
    expect(info.requested).toBe('auto')
    if (info.name === 'wasm') {
      expect(info.fallbackReason).toMatch(/tfjs-node/)
      // a package that is simply not installed is not worth a warning
      expect(warnings).toEqual([])
    }
    expect(tf.getBackend()).toBe(info.name === 'tensorflow-gpu' ? 'tensorflow' : info.name)
    expect(getTf()).toBe(tf)
    expect(currentBackend()).toEqual(info)
    // idempotent
    expect(await initBackend('auto', progress)).toEqual(info)
  })

  it('an explicitly requested unavailable backend is a config error naming the package', async () => {
    let installed = true
    try {
      await import(['@tensorflow', 'tfjs-node'].join('/'))
    } catch {
      installed = false
    }
    if (installed) return
    const err = await initBackend('tensorflow').catch((error: unknown) => error)
    expect(err).toBeInstanceOf(RecError)
    expect((err as RecError).exitCode).toBe(2)
    expect((err as RecError).hint).toContain('@tensorflow/tfjs-node')
  })

  it('switches between cpu and wasm', async () => {
    expect((await initBackend('cpu')).name).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect((await initBackend('wasm')).name).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
  })
})
