import {execFile} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {dirname, join} from 'node:path'
import {pathToFileURL} from 'node:url'

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

/**
 * Run the rec CLI (see cliArgv) in a child process, as a user would,
 * and collect stdout, stderr and the exit code. Never throws on a non-zero exit.
 */
export function runCli(args: string[], options: {cwd?: string; env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      cliArgv(args),
      {
        cwd: options.cwd ?? repoRoot,
        env: {...process.env, FORCE_COLOR: '0', NO_COLOR: '1', CI: 'true', ...options.env},
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({stdout: String(stdout), stderr: String(stderr), code})
      },
    )
  })
}
