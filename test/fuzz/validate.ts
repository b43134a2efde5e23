import type {RecConfig} from '../../src/config/schema.js'
import {validateCompressConfig} from '../../src/run/compress-stage.js'

/** what `rec run` checks before any work starts (and `rec config validate` reports) */
export function validateBeforeWork(cfg: RecConfig): void {
  validateCompressConfig(cfg)
}
