import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker less than the cores (1 here, on 2 cores); most CLI tests wait on
    // a child process, so two workers keep both cores busy (the suite took 5 min with one)
    maxWorkers: 2,
    env: {FORCE_COLOR: '0', NO_COLOR: '1'},
  },
})
