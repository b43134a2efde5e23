import {randomBytes} from 'node:crypto'
import {closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

/**
 * Stream a large file into place atomically (same contract as src/run/atomic.ts, which needs the
 * whole content in memory): chunks go to a temp file beside the target, then fsync + rename.
 * On any error the temp file is removed and the target is untouched.
 */
export function writeChunksAtomic(path: string, produce: (write: (chunk: string | Uint8Array) => void) => void): void {
  mkdirSync(dirname(path), {recursive: true})
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(tmp, 'w')
  let closed = false
  try {
    produce((chunk) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      let off = 0
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    })
    fsyncSync(fd)
    closeSync(fd)
    closed = true
    renameSync(tmp, path)
  } catch (err) {
    if (!closed) closeSync(fd)
    rmSync(tmp, {force: true})
    throw err
  }
}
