import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {RecError, usageError} from '../errors.js'

/**
 * Stream a file into place so that readers see either the old content or the whole new content,
 * never a half-written file: chunks go to a temp file beside the target
 * (`.<name>.<pid>.<random>.tmp`), then fsync and rename over the target. On any error the temp file
 * is removed, the target is untouched, and the error says which file could not be written.
 */
export function writeChunksAtomic(path: string, produce: (write: (chunk: string | Uint8Array) => void) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let fd: number | undefined
  try {
    mkdirSync(dirname(path), {recursive: true})
    fd = openSync(tmp, 'w')
    const out = fd
    produce((chunk) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      let off = 0
      while (off < buf.length) off += writeSync(out, buf, off, buf.length - off)
    })
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
  } catch (err) {
    if (fd !== undefined) closeSync(fd)
    rmSync(tmp, {force: true})
    throw writeFailed(path, err)
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeChunksAtomic(path, (write) => write(data))
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`)
}

/** a write that failed (disk full, read-only folder, a directory in the way): exit 2 with the path, not a bug */
export function writeFailed(path: string, err: unknown): RecError {
  if (err instanceof RecError) return err
  const e = err as NodeJS.ErrnoException
  const why =
    e.code === 'ENOSPC'
      ? 'the disk is full'
      : e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? 'permission denied'
        : e.code === 'EISDIR'
          ? 'a directory is in the way'
          : e.message
  return usageError('run.write_failed', `cannot write ${path}: ${why}`, {
    hint: 'free disk space, fix the folder permissions, or write elsewhere (--out / output.dir); nothing half-written was left behind',
    cause: err,
  })
}
