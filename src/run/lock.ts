import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {usageError} from '../errors.js'

export interface RunLock {
  release(): void
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * One writer per run directory: `.lock` is created exclusively (O_EXCL) and holds pid and host.
 * A lock left by a process that no longer exists on this host (kill -9) is taken over; a live one
 * is a usage error (exit 2) that names the holder.
 */
export function lockRunDir(dir: string, onStale?: (msg: string) => void): RunLock {
  const file = join(dir, '.lock')
  const me = {pid: process.pid, host: hostname(), since: new Date().toISOString()}
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me), {flag: 'wx'})
      let released = false
      const release = () => {
        if (released) return
        released = true
        try {
          const holder = JSON.parse(readFileSync(file, 'utf8')) as {pid: number}
          if (holder.pid === process.pid) rmSync(file, {force: true})
        } catch {
          // already gone
        }
      }
      process.once('exit', release)
      return {release}
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw usageError('run.dir_unwritable', `cannot write in the run directory ${dir}: ${(err as Error).message}`, {
          hint: 'choose a writable folder with --out (or output.dir in the config)',
          cause: err,
        })
      }
      let holder: {pid?: number; host?: string; since?: string} = {}
      try {
        holder = JSON.parse(readFileSync(file, 'utf8'))
      } catch {
        // unreadable or half-written lock: treat as stale
      }
      const sameHost = holder.host === me.host
      if (holder.pid && sameHost && alive(holder.pid) && holder.pid !== process.pid) {
        throw usageError('run.locked', `the run directory ${dir} is in use by process ${holder.pid} (since ${holder.since})`, {
          hint: 'wait for it to finish, or use another run directory (--out or --run-id)',
        })
      }
      if (holder.pid && !sameHost) {
        throw usageError('run.locked', `the run directory ${dir} is locked by process ${holder.pid} on host ${holder.host}`, {
          hint: `if that process is gone, delete ${file}`,
        })
      }
      onStale?.(`taking over a stale lock of process ${holder.pid ?? '?'} in ${dir}`)
      rmSync(file, {force: true})
    }
  }
  throw usageError('run.locked', `could not lock ${dir}`)
}
