import {canonicalJson, sha256Hex} from '../config/hash.js'
import type {DataConfig, PreprocessConfig} from '../config/schema.js'

export {canonicalJson}

/**
 * The part of the data config that decides which interactions come out of the reader: the
 * file's location is left out (the bytes hash covers the content, so two clones at different
 * paths agree), and options the format ignores are left out too (changing `synth.seed` in an
 * ml-100k config does not change its fingerprint).
 */
export function fingerprintedDataConfig(data: DataConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {format: data.format}
  if (data.format === 'synth') {
    out.synth = data.synth
    return out
  }
  out.encoding = data.encoding
  out.on_bad_row = data.on_bad_row
  if (data.format === 'delimited') {
    out.delimiter = data.delimiter ?? ','
    out.header = data.header
    out.columns = data.columns
  }
  return out
}

/**
 * Identity of a prepared dataset: sha256 over the input-bytes hash and the canonical JSON of the
 * data and preprocess config (without paths). Equal fingerprints mean equal interactions after
 * preprocessing, so later stages can cache on it.
 */
export function datasetFingerprint(bytesSha256: string, data: DataConfig, pre: PreprocessConfig): string {
  return sha256Hex(canonicalJson({v: 1, bytes: bytesSha256, data: fingerprintedDataConfig(data), preprocess: pre}))
}
