import {spawn, type ChildProcess} from 'node:child_process'

import {cliArgv, repoRoot, type CliResult} from '../helpers/cli.js'


export interface SpawnedCli {
  child: ChildProcess
  /** resolves when the process has exited (by itself or by a signal); never rejects */
  done: Promise<CliResult & {signal: NodeJS.Signals | null}>
}

/**
 * Start the rec CLI (as test/helpers/cli.ts does) in a child process without waiting for it, so a test can
 * kill it (SIGKILL) at a chosen moment, or signal it when its progress (stderr) says something
 * (`onStderr` gets all of stderr so far on every chunk). stdout / stderr are collected for the result.
 */
export function spawnCli(args: string[], options: {cwd?: string; env?: Record<string, string>; onStderr?: (soFar: string) => void} = {}): SpawnedCli {
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
