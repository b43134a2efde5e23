import {execFileSync} from 'node:child_process'
import {join} from 'node:path'

import {repoRoot} from './helpers/cli.js'

/**
 * The command tests run the built CLI (bin/run.js over dist/), as `npx rec` does: compile first,
 * incrementally (a few seconds when little changed), so the tests never see a stale build.
 */
export default function setup(): void {
  if (process.env.REC_TEST_SOURCES) return
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', join('dist', '.tsbuildinfo')], {
    cwd: repoRoot,
    stdio: 'inherit',
  })
}
