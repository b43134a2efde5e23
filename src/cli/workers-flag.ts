import {Flags} from '@oclif/core'

import {usageError} from '../errors.js'

/** `--workers N|auto`: worker threads for the metrics of several variants (eval.workers) */
export const workersFlag = {
  workers: Flags.string({
    description: 'worker threads that evaluate several variants\' metrics at once (N or auto; overrides eval.workers; latency is then measured alone, variant after variant)',
  }),
}

/** the flag's value as RunOptions.workers; a usage error (exit 2) for anything but a positive integer or auto */
export function parseWorkers(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined) return undefined
  if (value === 'auto') return 'auto'
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw usageError('usage.bad_workers', `--workers ${value}: expected a positive integer or auto`, {hint: 'e.g. --workers 2'})
  return n
}
