import {mkdtempSync, readFileSync, writeFileSync, existsSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {RecError} from '../../src/errors.js'
import {lockRunDir, processStart} from '../../src/run/lock.js'

describe('run directory lock', () => {
  it('refuses a second writer while the first holds the lock (exit 2), and frees on release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-lock-'))
    // a live process that is not us: our parent
    writeFileSync(join(dir, '.lock'), JSON.stringify({pid: process.ppid, host: hostname(), since: 'then'}))
    try {
      lockRunDir(dir)
      expect.unreachable()
    } catch (err) {
      expect((err as RecError).code).toBe('run.locked')
      expect((err as RecError).exitCode).toBe(2)
      expect((err as RecError).message).toContain(String(process.ppid))
    }
  })

  it('takes over the lock of a process that died (kill -9)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-lock-'))
    writeFileSync(join(dir, '.lock'), JSON.stringify({pid: 2 ** 22 + 12345, host: hostname(), since: 'then'}))
    const notes: string[] = []
    const lock = lockRunDir(dir, (m) => notes.push(m))
    expect(notes[0]).toContain('stale lock')
    expect(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid).toBe(process.pid)
    lock.release()
    expect(existsSync(join(dir, '.lock'))).toBe(false)
  })
})

describe('a lock whose pid is alive but is not the rec process that took it', () => {
  it('a live process that is not rec (no start time recorded): exit 2, says so and how to remove the lock', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-lock-'))
    const file = join(dir, '.lock')
    // our parent is alive, on this host, and is the test runner, not rec
    writeFileSync(file, JSON.stringify({pid: process.ppid, host: hostname(), since: 'then'}))
    try {
      lockRunDir(dir)
      expect.unreachable()
    } catch (err) {
      const e = err as RecError
      expect(e.code).toBe('run.locked')
      expect(e.exitCode).toBe(2)
      expect(e.message).toContain(`process ${process.ppid}, which holds ${file}, is alive but is not rec`)
      expect(e.hint).toContain(`delete ${file}`)
      expect(e.hint).toContain('reused')
    }
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.ppid) // left in place
  })

  it('a live pid whose start time differs from the one the lock recorded (pid reuse after a reboot): exit 2 with the hint', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-lock-'))
    const file = join(dir, '.lock')
    writeFileSync(file, JSON.stringify({pid: process.ppid, host: hostname(), since: 'then', start: 1}))
    try {
      lockRunDir(dir)
      expect.unreachable()
    } catch (err) {
      const e = err as RecError
      expect(e.code).toBe('run.locked')
      expect(e.message).toContain(`process ${process.ppid}, which holds ${file}, is alive but is not rec`)
      expect(e.hint).toContain(`delete ${file}`)
    }
  })

  it('the lock records its process start time, so a live holder that is the same process keeps the plain message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-lock-'))
    const file = join(dir, '.lock')
    const lock = lockRunDir(dir)
    const held = JSON.parse(readFileSync(file, 'utf8')) as {start?: number}
    expect(held.start).toBe(processStart(process.pid))
    // the same record under our parent's pid and start time: a live rec holder
    writeFileSync(file, JSON.stringify({pid: process.ppid, host: hostname(), since: 'then', start: processStart(process.ppid)}))
    try {
      lockRunDir(dir)
      expect.unreachable()
    } catch (err) {
      expect((err as RecError).message).toContain(`is in use by process ${process.ppid}`)
      expect((err as RecError).hint).toContain('wait for it to finish')
    }
    lock.release()
  })
})
