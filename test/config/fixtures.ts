import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {RecError} from '../../src/errors.js'

/** Write `files` (relative path → text) into a fresh temp dir; returns the dir. */
export function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'rec-config-'))
  for (const [name, text] of Object.entries(files)) {
    const file = join(dir, name)
    mkdirSync(dirname(file), {recursive: true})
    writeFileSync(file, text)
  }
  return dir
}

/** the RecError a promise rejects with (fails the test when it resolves or throws something else) */
export async function rejection(p: Promise<unknown>): Promise<RecError> {
  try {
    await p
  } catch (error) {
    if (error instanceof RecError) return error
    throw error
  }
  throw new Error('expected a RecError, but the promise resolved')
}

export function thrown(fn: () => unknown): RecError {
  try {
    fn()
  } catch (error) {
    if (error instanceof RecError) return error
    throw error
  }
  throw new Error('expected a RecError, but nothing was thrown')
}
