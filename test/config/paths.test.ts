import {describe, expect, it} from 'vitest'

import {checkRunFlags} from '../../src/cli/run-flags.js'
import {assertInside} from '../../src/config/paths.js'
import {thrown} from './fixtures.js'

describe('assertInside: a run directory is strictly inside output.dir', () => {
  it('accepts a folder below the root', () => {
    expect(() => assertInside('/tmp/runs', '/tmp/runs/exp/abc')).not.toThrow()
  })

  for (const dir of ['/tmp/runs', '/tmp/runs/exp/../..', '/tmp/runs/../x', '/etc']) {
    it(`rejects ${dir} (exit 2)`, () => {
      const err = thrown(() => assertInside('/tmp/runs', dir))
      expect(err.exitCode).toBe(2)
      expect(err.code).toBe('run.dir_outside_output')
      expect(err.message).toContain('is not inside the output folder /tmp/runs')
    })
  }
})

describe('checkRunFlags', () => {
  for (const id of ['../../x', '..', '.', 'a/b', '.hidden', '']) {
    it(`--run-id ${JSON.stringify(id)} is a usage error`, () => {
      const err = thrown(() => checkRunFlags({'run-id': id}))
      expect(err.exitCode).toBe(2)
      expect(err.code).toBe('usage.bad_run_id')
    })
  }

  it('a plain --run-id passes', () => {
    expect(() => checkRunFlags({'run-id': 'nightly-2026.01_a'})).not.toThrow()
  })

  it('--from eval --until data is a usage error naming both', () => {
    const err = thrown(() => checkRunFlags({from: 'eval', until: 'data'}))
    expect(err.exitCode).toBe(2)
    expect(err.code).toBe('usage.bad_stage_range')
    expect(err.message).toBe('--from eval comes after --until data: nothing would run')
  })

  it('--from train --until train (one stage) passes', () => {
    expect(() => checkRunFlags({from: 'train', until: 'train'})).not.toThrow()
  })
})
