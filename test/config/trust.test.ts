import {join} from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {loadConfig, resolveConfigFromObject} from '../../src/config/load.js'
import {fixture, rejection, thrown} from './fixtures.js'

/** load `text` as exp.yaml and return the error */
async function problem(text: string, set?: string[]) {
  const dir = fixture({'exp.yaml': text})
  return rejection(loadConfig(join(dir, 'exp.yaml'), {set, cwd: dir}))
}

afterEach(() => {
  // a polluted prototype would leak into every later test: clean up, and the assertion below fails
  delete (Object.prototype as Record<string, unknown>).x
  delete (Object.prototype as Record<string, unknown>).polluted
})

describe('--set keys that name object internals', () => {
  for (const arg of ['__proto__.x=1', 'constructor.prototype.x=1', 'train.toString=1', 'train.__proto__.x=1', 'models.0.__proto__.x=1']) {
    it(`${arg}: exit 2, and no prototype is touched`, () => {
      const err = thrown(() => resolveConfigFromObject({models: [{model: 'mf'}]}, {set: [arg]}))
      expect(err.exitCode).toBe(2)
      expect(err.message).toMatch(/unknown key|not a config key/)
      expect(({} as Record<string, unknown>).x).toBeUndefined()
    })
  }

  it('a YAML file with a __proto__ key is an unknown key, not a prototype', async () => {
    const err = await problem('__proto__: {polluted: 1}\ntrain:\n  __proto__: {polluted: 2}\n')
    expect(err.exitCode).toBe(2)
    expect(err.details.join('\n')).toContain('__proto__: unknown key')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('names are path-safe: they name folders of the run directory', () => {
  const rule = "letters, digits, '.', '_' or '-', not starting with '.'"
  it('experiment name ".." is rejected with the rule', async () => {
    const err = await problem('name: ".."\n')
    expect(err.exitCode).toBe(2)
    expect(err.message).toBe(`\`name\` at exp.yaml:1:7: must be ${rule} (it names a folder); got string ".."`)
  })

  it('model and variant names "." / ".." / "a/b" are rejected, every one', async () => {
    const err = await problem(
      ['models:', '  - {model: mf, name: "."}', '  - {model: mf, name: "a/b"}', 'compress:', '  variants:', '    - {name: "..", quantize: {dtype: int8}}', ''].join('\n'),
    )
    expect(err.exitCode).toBe(2)
    expect(err.details).toEqual([
      `exp.yaml:2:23 models.0.name: must be ${rule} (it names a folder); got string "."`,
      `exp.yaml:3:23 models.1.name: must be ${rule} (it names a folder); got string "a/b"`,
      `exp.yaml:6:14 compress.variants.0.name: must be ${rule} (it names a folder); got string ".."`,
    ])
  })

  it('ordinary names pass', () => {
    const {config} = resolveConfigFromObject({name: 'ml-100k_v2.1', models: [{model: 'mf', name: 'MF-64'}], compress: {variants: [{name: 'q8', quantize: {dtype: 'int8'}}]}})
    expect(config.name).toBe('ml-100k_v2.1')
  })
})
