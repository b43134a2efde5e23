import {mkdtempSync, readFileSync, writeFileSync, existsSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {RecError} from '../../src/errors.js'
import {lockRunDir} from '../../src/run/lock.js'

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
