import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {dataError} from '../errors.js'

/**
 * The sha256 of every file a stage writes is recorded in its manifest record when the stage
 * finishes, and checked before anything reads the file again (a reused stage, base weights loaded
 * for compression, files an evaluation reads). A file of the right size but other bytes — garbled,
 * or copied from another model — would otherwise be measured and reported as if rec had made it.
 * Each file is hashed at most once per invocation: a digest is cached from the moment it is
 * recorded or first verified (files are only rewritten by the stage that records them again).
 */
export class FileDigests {
  private readonly cache = new Map<string, string>()
  constructor(private readonly runDir: string) {}

  /** digests of files a stage has just written (hashed now, whatever was cached) */
  record(rels: string[]): Record<string, string> {
    const out: Record<string, string> = {}
    for (const rel of rels) {
      const file = join(this.runDir, rel)
      const digest = sha256File(file)
      this.cache.set(file, digest)
      out[rel] = digest
    }
    return out
  }

  /**
   * every file of `files` (as recorded by `stage`) still has its digest; otherwise a data error
   * naming the file, the digest found and the one expected. Runs made before digests were
   * recorded have none, and are not checked.
   */
  verify(stage: string, files: Record<string, string> | undefined): void {
    for (const [rel, expected] of Object.entries(files ?? {})) {
      const file = join(this.runDir, rel)
      const hint = rebuildHint(stage)
      if (!existsSync(file)) throw dataError('run.missing_file', `${file} is missing (the ${stage} stage wrote it)`, {hint})
      let found = this.cache.get(file)
      if (found === undefined) {
        found = sha256File(file)
        this.cache.set(file, found)
      }
      if (found !== expected) throw dataError('run.file_changed', `${file} is not the file the ${stage} stage wrote: sha256 ${found}, expected ${expected}`, {hint})
    }
  }
}

/** how to get a file back that is not what its stage wrote */
export function rebuildHint(stage: string): string {
  return `it changed after rec wrote it (edited, copied from another model or run, or damaged): \`rec run <experiment> --from ${stage}\` rebuilds it`
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}
