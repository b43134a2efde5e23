/**
 * One error type for everything `rec` reports to a user. The exit code is decided here, once:
 * 0 ok, 1 internal bug, 2 usage or config error, 3 data error, 4 a check failed.
 */
export const ExitCode = {ok: 0, bug: 1, usage: 2, config: 2, data: 3, check: 4} as const
export type ErrorKind = 'usage' | 'config' | 'data' | 'check' | 'bug'

export interface RecErrorOptions {
  /** what the user can do about it */
  hint?: string
  /** every individual problem, when several were found (e.g. config validation) */
  details?: string[]
  cause?: unknown
  /** what the command produced before failing (e.g. the run whose --check failed): `--json` prints it beside the error */
  result?: object
}

export class RecError extends Error {
  readonly kind: ErrorKind
  /** stable machine-readable code, e.g. `config.unknown_key`, `data.bad_row` */
  readonly code: string
  readonly hint?: string
  readonly details: string[]
  readonly exitCode: number
  readonly result?: object

  constructor(kind: ErrorKind, code: string, message: string, options: RecErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'RecError'
    this.kind = kind
    this.code = code
    this.hint = options.hint
    this.details = options.details ?? []
    this.exitCode = ExitCode[kind]
    this.result = options.result
  }

  toJSON(): {code: string; kind: ErrorKind; message: string; hint?: string; details: string[]; exitCode: number} {
    return {code: this.code, kind: this.kind, message: this.message, hint: this.hint, details: this.details, exitCode: this.exitCode}
  }
}

export const usageError = (code: string, message: string, options?: RecErrorOptions) => new RecError('usage', code, message, options)
export const configError = (code: string, message: string, options?: RecErrorOptions) => new RecError('config', code, message, options)
export const dataError = (code: string, message: string, options?: RecErrorOptions) => new RecError('data', code, message, options)
export const checkError = (code: string, message: string, options?: RecErrorOptions) => new RecError('check', code, message, options)

export function isRecError(err: unknown): err is RecError {
  return err instanceof RecError
}

/** longest echoed value in an error message: a 2 MB field printed whole helps nobody */
export const ECHO_LIMIT = 60

/** `text` as given when short, else its first ECHO_LIMIT characters, `…` and its length */
export function clip(text: string, limit: number = ECHO_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length} chars)`
}

/** `text` JSON-quoted; a long one cut inside the quotes with its length after them: `"abc…" (2000000 chars)` */
export function clipQuoted(text: string, limit: number = ECHO_LIMIT): string {
  return text.length <= limit ? JSON.stringify(text) : `${JSON.stringify(`${text.slice(0, limit)}…`)} (${text.length} chars)`
}
