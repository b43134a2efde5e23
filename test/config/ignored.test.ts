import {parse} from 'yaml'
import {describe, expect, it} from 'vitest'

import {renderConfig} from '../../src/config/explain.js'
import {ignoredOptions} from '../../src/config/ignored.js'
import {resolveConfigFromObject} from '../../src/config/load.js'

const resolved = (obj: unknown) => resolveConfigFromObject(obj)

describe('config show marks options this configuration ignores', () => {
  const loaded = resolved({
    split: {method: 'leave_one_out'},
    models: [{model: 'neumf', loss: 'bpr', mlp_layers: [8, 4]}, {model: 'mf', loss: 'bce'}, {model: 'pop'}],
  })

  it('loss on neumf, ratios and scope under leave_one_out, layers a model does not have', () => {
    const ignored = ignoredOptions(loaded.config)
    expect(ignored['models.0.loss']).toBe('neumf always trains with bce')
    expect(ignored['models.0.mlp_layers']).toBeUndefined()
    expect(ignored['models.0.tower_layers']).toBe('only two_tower uses tower_layers')
    expect(ignored['models.1.loss']).toBeUndefined()
    expect(ignored['models.1.mlp_layers']).toBe('only neumf uses mlp_layers')
    expect(ignored['models.2.factors']).toBe('pop has no embeddings')
    expect(ignored['split.ratios']).toMatch(/^leave_one_out holds out/)
    expect(ignored['split.scope']).toBeDefined()
    expect(ignored['split.order']).toBeUndefined()
    expect(ignored['eval.negatives']).toBeDefined() // eval.mode full
  })

  it('the YAML marks the same paths, plain and with --explain, and still parses back to the config', () => {
    for (const explain of [false, true]) {
      const text = renderConfig(loaded, {explain})
      expect(text).toMatch(/^ {4}loss: bpr # (default; |experiment.*; |<object>.*; )?ignored: neumf always trains with bce$/m)
      expect(text).toMatch(/^ {2}ratios: \[0\.8, 0\.1, 0\.1\] #.*ignored: leave_one_out holds out/m)
      expect(text).toMatch(/^ {4}loss: bce(?! #.*ignored)/m)
      expect(parse(text)).toEqual(JSON.parse(JSON.stringify(loaded.config)))
    }
  })

  it('a random split ignores order; a sampled eval uses its negatives', () => {
    const ignored = ignoredOptions(resolved({split: {method: 'random'}, eval: {mode: 'sampled'}}).config)
    expect(ignored['split.order']).toBe('only leave_one_out uses order')
    expect(ignored['split.ratios']).toBeUndefined()
    expect(ignored['eval.negatives']).toBeUndefined()
  })
})
