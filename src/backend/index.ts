import * as stockTf from '@tensorflow/tfjs'

import {configError} from '../errors.js'
import type {Progress} from '../progress.js'
import {registerScatterKernels} from './kernels.js'

/** the tfjs API; a native package (tfjs-node, tfjs-node-gpu) exports the same surface */
export type Tf = typeof stockTf
export type BackendRequest = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu'

export interface BackendInfo {
  /** the backend in use: 'tensorflow-gpu', 'tensorflow', 'wasm' or 'cpu' */
  name: string
  requested: string
  /** why auto (or a broken native addon) did not get the first choice */
  fallbackReason?: string
}

/**
 * The one tfjs instance every module must use. A native package brings its own copy of tfjs-core,
 * so tensors made with another copy would not be seen by its engine: import `tf` from here
 * (an ESM live binding, rebound by initBackend) or call `getTf()`, never '@tensorflow/tfjs'.
 */
// eslint-disable-next-line import/no-mutable-exports
export let tf: Tf = stockTf

export function getTf(): Tf {
  return tf
}

const NATIVE_PACKAGES = {'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node'} as const
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm'

let current: BackendInfo | undefined
let pending: Promise<BackendInfo> | undefined
let pendingRequest: string | undefined

/** the backend chosen by the last initBackend, if any */
export function currentBackend(): BackendInfo | undefined {
  return current
}

async function importOptional(name: string): Promise<{module?: Tf; error?: unknown; missing: boolean}> {
  try {
    const mod = (await import(name)) as Tf & {default?: Tf}
    // a CommonJS package may surface under `default`
    const api = (typeof mod.tensor === 'function' ? mod : mod.default) as Tf
    return {module: api, missing: false}
  } catch (error) {
    const code = (error as {code?: string}).code
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes(name)
    return {error, missing}
  }
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]
}

async function tryNative(kind: 'tensorflow-gpu' | 'tensorflow', pkg: string = NATIVE_PACKAGES[kind]): Promise<{ok: true} | {ok: false; reason: string; missing: boolean}> {
  const {module, error, missing} = await importOptional(pkg)
  if (!module) return {ok: false, missing, reason: missing ? `${pkg} is not installed` : `${pkg} failed to load: ${firstLine(error)}`}
  try {
    if (!(await module.setBackend('tensorflow'))) return {ok: false, missing: false, reason: `${pkg} loaded but its backend did not initialise`}
    await module.ready()
    tf = module
    return {ok: true}
  } catch (error_) {
    return {ok: false, missing: false, reason: `${pkg} failed to initialise: ${firstLine(error_)}`}
  }
}

async function tryWasm(): Promise<{ok: true} | {ok: false; reason: string}> {
  const {error} = await importOptional(WASM_PACKAGE)
  if (error) return {ok: false, reason: `${WASM_PACKAGE} failed to load: ${firstLine(error)}`}
  // after the package registered its kernels, so that ours replace them
  registerScatterKernels(stockTf, 'wasm')
  try {
    // SIMD works in Node 20; the threaded build needs browser workers and hangs or fails in Node
    stockTf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false)
    if (!(await stockTf.setBackend('wasm'))) return {ok: false, reason: 'the wasm backend did not initialise'}
    await stockTf.ready()
    tf = stockTf
    return {ok: true}
  } catch (error_) {
    return {ok: false, reason: `the wasm backend failed to initialise: ${firstLine(error_)}`}
  }
}

async function useCpu(): Promise<void> {
  await stockTf.setBackend('cpu')
  await stockTf.ready()
  tf = stockTf
}

async function select(requested: BackendRequest, progress?: Progress): Promise<BackendInfo> {
  // silences tfjs's "install tfjs-node" banner and duplicate-registration chatter
  stockTf.enableProdMode()
  registerScatterKernels(stockTf, 'cpu')

  if (requested === 'tensorflow-gpu' || requested === 'tensorflow') {
    const r = await tryNative(requested)
    if (r.ok) return {name: requested, requested}
    throw configError('backend.unavailable', `backend "${requested}" is not available: ${r.reason}`, {
      hint: `install ${NATIVE_PACKAGES[requested]} (npm install ${NATIVE_PACKAGES[requested]}), or set backend: auto | wasm | cpu`,
    })
  }
  if (requested === 'wasm') {
    const r = await tryWasm()
    if (r.ok) return {name: 'wasm', requested}
    throw configError('backend.unavailable', `backend "wasm" is not available: ${r.reason}`, {
      hint: `install ${WASM_PACKAGE} (npm install ${WASM_PACKAGE}), or set backend: auto | cpu`,
    })
  }
  if (requested === 'cpu') {
    await useCpu()
    return {name: 'cpu', requested}
  }
  if (requested !== 'auto') {
    throw configError('backend.unknown', `unknown backend "${String(requested)}"; known: auto, tensorflow-gpu, tensorflow, wasm, cpu`)
  }

  return selectAuto(progress)
}

/**
 * `auto`: the first native package that loads and initialises, else wasm, else cpu. The native
 * candidates are a parameter so that tests can offer a package that is installed but broken.
 */
export async function selectAuto(
  progress?: Progress,
  natives: readonly {kind: 'tensorflow-gpu' | 'tensorflow'; pkg: string}[] = (['tensorflow-gpu', 'tensorflow'] as const).map((kind) => ({kind, pkg: NATIVE_PACKAGES[kind]})),
): Promise<BackendInfo> {
  const requested = 'auto'
  const reasons: string[] = []
  for (const {kind, pkg} of natives) {
    const r = await tryNative(kind, pkg)
    if (r.ok) return reasons.length > 0 ? {name: kind, requested, fallbackReason: reasons.join('; ')} : {name: kind, requested}
    // a package that is installed but broken deserves a warning; a missing one is the normal case
    if (!r.missing) progress?.warn(`${r.reason}; falling back`)
    reasons.push(r.reason)
  }
  const w = await tryWasm()
  if (w.ok) return {name: 'wasm', requested, fallbackReason: reasons.join('; ')}
  progress?.warn(`${w.reason}; falling back to cpu`)
  reasons.push(w.reason)
  await useCpu()
  return {name: 'cpu', requested, fallbackReason: reasons.join('; ')}
}

/**
 * Choose and initialise the tfjs backend. `auto` prefers tensorflow-gpu > tensorflow (native
 * addons, when installed and working) > wasm > cpu; an installed-but-broken native addon costs
 * one warning, not the run. An explicitly requested backend that is unavailable is a config error
 * (exit 2) naming the package to install. Idempotent: the same request returns the same answer.
 * Registers the fast UnsortedSegmentSum kernel (gradient of gather) for wasm and cpu.
 */
export async function initBackend(requested: BackendRequest, progress?: Progress): Promise<BackendInfo> {
  if (pending && pendingRequest === requested) return pending
  if (pending) await pending.catch(() => undefined)
  pendingRequest = requested
  pending = select(requested, progress).then(
    (info) => {
      current = info
      return info
    },
    (error) => {
      pending = undefined
      pendingRequest = undefined
      throw error
    },
  )
  return pending
}
