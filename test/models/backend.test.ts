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

describe('auto with a native addon that is installed but broken', () => {
  it('falls back to wasm with one warning line naming the package and the cause, and does not crash', async () => {
    const {mkdtempSync, writeFileSync} = await import('node:fs')
    const {tmpdir} = await import('node:os')
    const {join} = await import('node:path')
    const {pathToFileURL} = await import('node:url')
    const {selectAuto} = await import('../../src/backend/index.js')
    await initBackend('wasm')
    // what tfjs-node looks like when its install script was skipped: the binding cannot be loaded
    const dir = mkdtempSync(join(tmpdir(), 'rec-broken-addon-'))
    const broken = join(dir, 'index.mjs')
    writeFileSync(broken, "throw new Error('Cannot find module lib/napi-v8/tfjs_binding.node\\nRequire stack: ...')\n")
    const warnings: string[] = []
    const progress = {stage() {}, update() {}, done() {}, info() {}, warn: (m: string) => warnings.push(m)}
    const info = await selectAuto(progress, [
      {kind: 'tensorflow-gpu', pkg: '@tensorflow/tfjs-node-gpu-not-installed'},
      {kind: 'tensorflow', pkg: pathToFileURL(broken).href},
    ])
    expect(info.name).toBe('wasm')
    // the missing package is silent; the broken one is exactly one line
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toBe(`${pathToFileURL(broken).href} failed to load: Cannot find module lib/napi-v8/tfjs_binding.node; falling back`)
    expect(info.fallbackReason).toContain('@tensorflow/tfjs-node-gpu-not-installed is not installed')
    expect(tf.getBackend()).toBe('wasm')
  })
})
