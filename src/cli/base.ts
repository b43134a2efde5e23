import {Command, Flags, type Interfaces} from '@oclif/core'

import {RecError, isRecError} from '../errors.js'
import type {Progress} from '../progress.js'
import {makeProgress} from './progress.js'

/**
 * Every rec command extends this: `--json` (typed result on stdout, nothing else there), errors
 * rendered in one place with their exit code (also under --json, where oclif would lose it),
 * and a progress reporter on stderr that is silent under --json.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true
  static baseFlags = {
    quiet: Flags.boolean({char: 'q', description: 'no progress output on stderr', helpGroup: 'GLOBAL'}),
  }

  private _progress?: Progress

  protected get progress(): Progress {
    if (!this._progress) {
      const silent = this.jsonEnabled() || this.argv.includes('--quiet') || this.argv.includes('-q')
      this._progress = makeProgress({silent})
    }
    return this._progress
  }

  /**
   * Run long work that Ctrl-C or SIGTERM may interrupt: the first signal aborts `signal` (the work
   * stops after its current batch and keeps what finished), a second quits at once. SIGTERM (what
   * CI runners, `timeout` and container stops send) takes the same graceful path as Ctrl-C, so a
   * cancelled job leaves a run the same command resumes. An interrupted result leaves with
   * 128 + the signal's number, as shells report it: 130 for SIGINT, 143 for SIGTERM.
   */
  protected async interruptibly<T extends {interrupted?: boolean}>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const {signal, received, release} = stopSignals((name) =>
      this.progress.warn(`${name === 'SIGINT' ? 'interrupt' : name}: stopping after the current batch (${name === 'SIGINT' ? 'Ctrl-C' : name} again to quit now)`),
    )
    try {
      const result = await work(signal)
      if (result.interrupted) process.exitCode = exitCodeOf(received() ?? 'SIGINT')
      return result
    } finally {
      release()
    }
  }

  /** human output goes to stdout only when not in --json mode */
  protected out(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  async catch(err: Interfaces.CommandError | Error): Promise<void> {
    const rec = toRecError(err)
    process.exitCode = rec.exitCode
    if (this.jsonEnabled()) {
      // one JSON document: the partial result (if any) with the error beside it
      process.stdout.write(`${JSON.stringify({...(rec.result ?? {}), error: rec.toJSON()}, null, 2)}\n`)
      return
    }
    process.stderr.write(formatError(rec))
  }
}

type StopSignal = 'SIGINT' | 'SIGTERM'

/** 128 + the signal number, the code a shell reports for a process the signal ended */
function exitCodeOf(name: StopSignal): number {
  return name === 'SIGTERM' ? 143 : 130
}

/**
 * SIGINT and SIGTERM abort one AbortSignal (the first one calls `onFirst` with its name); a second
 * signal of either kind exits at once with its code.
 */
function stopSignals(onFirst: (name: StopSignal) => void): {signal: AbortSignal; received: () => StopSignal | undefined; release: () => void} {
  const controller = new AbortController()
  let first: StopSignal | undefined
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((name) => {
    const handler = () => {
      if (controller.signal.aborted) process.exit(exitCodeOf(name))
      first = name
      onFirst(name)
      controller.abort()
    }
    process.on(name, handler)
    return [name, handler] as const
  })
  return {
    signal: controller.signal,
    received: () => first,
    release: () => {
      for (const [name, handler] of handlers) process.off(name, handler)
    },
  }
}

/** oclif's own errors (bad flags, missing args) are usage errors; anything unknown is a bug. */
export function toRecError(err: unknown): RecError {
  if (isRecError(err)) return err
  const e = err as {message?: string; oclif?: {exit?: number}; code?: string; stack?: string}
  const oclifExit = e?.oclif?.exit
  if (oclifExit !== undefined && oclifExit !== 1) {
    return new RecError('usage', e.code ?? 'usage.invalid', stripAnsi(e.message ?? String(err)), {hint: 'see --help'})
  }
  const message = e?.message ?? String(err)
  const bug = new RecError('bug', 'internal', message, {
    hint: 'this is a bug in rec; please report it with the command you ran (set REC_DEBUG=1 for a stack trace)',
  })
  if (process.env.REC_DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`)
  return bug
}

export function formatError(err: RecError): string {
  const lines = [`Error [${err.code}]: ${err.message}`]
  for (const d of err.details) lines.push(`  - ${d}`)
  if (err.hint) lines.push(`Hint: ${err.hint}`)
  return `${lines.join('\n')}\n`
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001B\[[0-9;]*m/g, '')
}
