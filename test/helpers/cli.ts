import {spawn, type ChildProcess} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/**
 * The command line of the CLI: the build (bin/run.js over dist/, which test/global-setup.ts keeps
 * current) — what `npx rec` runs, and twice as fast to start as the sources through tsx. Set
 * REC_TEST_SOURCES=1 to run bin/dev.js on the TypeScript sources instead.
 */
export function cliArgv(args: string[]): string[] {
  if (process.env.REC_TEST_SOURCES) {
    const tsxLoader = pathToFileURL(join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href
    return ['--import', tsxLoader, join(repoRoot, 'bin', 'dev.js'), ...args]
  }
  return [join(repoRoot, 'bin', 'run.js'), ...args]
}

export interface CliResult {
  stdout: string
  stderr: string
  code: number
}

export interface SpawnedCli {
  child: ChildProcess
  /** resolves when the process has exited (by itself or by a signal); never rejects */
  done: Promise<CliResult & {signal: NodeJS.Signals | null}>
}

export interface CliOptions {
  cwd?: string
  env?: Record<string, string>
  /** called with all of stderr so far on every chunk (to act on a progress line) */
  onStderr?: (soFar: string) => void
}

/**
 * Start the rec CLI (see cliArgv) in a child process without waiting for it, so a test can kill
 * it (SIGKILL) at a chosen moment, or signal it when its progress (stderr) says something.
 * stdout / stderr are collected for the result; `code` is -1 when a signal ended the process.
 */
export function spawnCli(args: string[], options: CliOptions = {}): SpawnedCli {
  const child = spawn(process.execPath, cliArgv(args), {
    cwd: options.cwd ?? repoRoot,
    env: {...process.env, FORCE_COLOR: '0', NO_COLOR: '1', CI: 'true', ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout!.on('data', (b: Buffer) => out.push(b))
  child.stderr!.on('data', (b: Buffer) => {
    err.push(b)
    options.onStderr?.(Buffer.concat(err).toString('utf8'))
  })
  const done = new Promise<CliResult & {signal: NodeJS.Signals | null}>((resolve) => {
    child.on('close', (code, signal) => {
      resolve({stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? -1, signal})
    })
  })
  return {child, done}
}

/**
 * Run the rec CLI (see cliArgv) in a child process, as a user would, and collect stdout, stderr
 * and the exit code (1 when it had to be killed after `timeoutMs`). Never throws on a non-zero exit.
 */
export async function runCli(args: string[], options: Omit<CliOptions, 'onStderr'> & {timeoutMs?: number} = {}): Promise<CliResult> {
  const run = spawnCli(args, options)
  const timer = setTimeout(() => run.child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  const {stdout, stderr, code} = await run.done
  clearTimeout(timer)
  return {stdout, stderr, code: code === -1 ? 1 : code}
}
