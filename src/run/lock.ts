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
 * When a process started, in clock ticks since boot (/proc/<pid>/stat, field 22), or undefined
 * where there is no /proc. With the pid it identifies a process: a pid reused after a reboot (or
 * after many processes) has another start time.
 */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) is in parentheses and may hold spaces: count fields after it
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const start = Number(fields[19])
    return Number.isFinite(start) ? start : undefined
  } catch {
    return undefined
  }
}

/** a rec CLI process: node running bin/run.js or bin/dev.js, or a `rec` executable */
function looksLikeRec(pid: number): boolean | undefined {
  let argv: string[]
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined // no /proc: cannot tell
  }
  return argv.some((a) => /(^|\/)(rec|bin\/run\.js|bin\/dev\.js)$/.test(a))
}

/**
 * The live pid in a lock is not the rec process that took it: the start time the lock recorded
 * differs (the pid was reused), or, for a lock without one, the process is not rec at all.
 */
function holderIsSomeoneElse(holder: {pid: number; start?: number}): boolean {
  if (holder.start !== undefined) {
    const now = processStart(holder.pid)
    return now !== undefined && now !== holder.start
  }
  return looksLikeRec(holder.pid) === false
}

/**
 * One writer per run directory: `.lock` is created exclusively (O_EXCL) and holds pid and host.
 * A lock left by a process that no longer exists on this host (kill -9) is taken over; a live one
 * is a usage error (exit 2) that names the holder, and says so when the live pid is not the rec
 * process that took the lock (it records its start time), since then only the user can tell
 * whether deleting the lock is safe.
 */
export function lockRunDir(dir: string, onStale?: (msg: string) => void): RunLock {
  const file = join(dir, '.lock')
  const start = processStart(process.pid)
  const me = {pid: process.pid, host: hostname(), since: new Date().toISOString(), ...(start === undefined ? {} : {start})}
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
      let holder: {pid?: number; host?: string; since?: string; start?: number} = {}
      try {
        holder = JSON.parse(readFileSync(file, 'utf8'))
      } catch {
        // unreadable or half-written lock: treat as stale
      }
      const sameHost = holder.host === me.host
      if (holder.pid && sameHost && alive(holder.pid) && holder.pid !== process.pid) {
        if (holderIsSomeoneElse({pid: holder.pid, start: holder.start})) {
          throw usageError('run.locked', `the run directory ${dir} is locked, but process ${holder.pid}, which holds ${file}, is alive but is not rec (since ${holder.since})`, {
            hint: `its pid was probably reused (e.g. after a reboot) by an unrelated process; if no rec is running on this run directory, delete ${file} and run again`,
          })
        }
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
