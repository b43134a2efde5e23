import {join} from 'node:path'

import {parse} from 'yaml'
import {describe, expect, it} from 'vitest'

import {describeSource, renderConfig} from '../../src/config/explain.js'
import {loadConfig} from '../../src/config/load.js'
import {fixture} from './fixtures.js'

describe('renderConfig', () => {
  const dir = fixture({
    'models/mf.yaml': '# a comment line\nmodels:\n  - model: mf\n    factors: 16\n',
    'exp.yaml': ['extends: models/mf.yaml', 'name: demo', 'eval:', '  k: [5, 10]', ''].join('\n'),
  })

  it('plain: YAML that parses back to the resolved config; the only comments mark ignored options', async () => {
    const loaded = await loadConfig(join(dir, 'exp.yaml'), {set: ['train.lr=0.01']})
    const text = renderConfig(loaded)
    for (const line of text.split('\n').filter((l) => l.includes('#'))) expect(line).toMatch(/ # ignored: /)
    expect(text).toContain('k: [5, 10]\n')
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(loaded.config)))
  })

  it('explain: each leaf names its source', async () => {
    const loaded = await loadConfig(join(dir, 'exp.yaml'), {set: ['train.lr=0.01']})
    const text = renderConfig(loaded, {explain: true, cwd: dir})
    const lines = text.split('\n')
    expect(lines).toContain('name: demo # experiment:2')
    expect(lines).toContain('  k: [5, 10] # experiment:4')
    expect(lines).toContain('  lr: 0.01 # --set train.lr=0.01')
    expect(lines).toContain('  - model: mf # models/mf.yaml:3')
    expect(lines).toContain('    factors: 16 # models/mf.yaml:4')
    expect(lines).toContain('seed: 42 # default')
    expect(lines).toContain('  variants: [] # default')
    expect(text).toMatch(/^# resolved from exp\.yaml/)
    // still valid YAML with the same content
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(loaded.config)))
    // every leaf line carries a comment
    const leafLines = lines.filter((l) => /^\s*(- )?[\w$]+: \S/.test(l))
    for (const l of leafLines) expect(l).toMatch(/ # \S/)
  })

  it('describeSource', () => {
    expect(describeSource({kind: 'default'})).toBe('default')
    expect(describeSource({kind: 'set', arg: 'a.b=1'})).toBe('--set a.b=1')
    expect(describeSource({kind: 'experiment', file: '/x/e.yaml', line: 12, col: 3})).toBe('experiment:12')
    expect(describeSource({kind: 'extends', file: '/x/configs/models/mf.yaml', line: 3, col: 1}, '/x')).toBe('configs/models/mf.yaml:3')
  })
})
