import {Document, type Node, isMap, isScalar, isSeq} from 'yaml'

import {ignoredOptions} from './ignored.js'
import {type LoadedConfig, type ValueSource, displayPath} from './load.js'

export interface RenderOptions {
  /** annotate every leaf with where its value came from */
  explain?: boolean
  /** base for file names in annotations (default: process.cwd()) */
  cwd?: string
}

/** `# default`, `# configs/models/mf.yaml:3`, `# experiment:12`, `# --set train.lr=0.01` (without the `#`) */
export function describeSource(source: ValueSource, cwd: string = process.cwd()): string {
  switch (source.kind) {
    case 'default':
      return 'default'
    case 'set':
      return `--set ${source.arg}`
    case 'experiment':
      return `experiment:${source.line}`
    case 'extends':
      return `${displayPath(source.file, cwd)}:${source.line}`
  }
}

const isScalarValue = (v: unknown): boolean => v === null || typeof v !== 'object'

/**
 * The resolved config as YAML. Lists of scalars are written inline (`k: [10, 20]`). With
 * `explain`, each leaf carries a trailing comment naming its source, and a header states the
 * precedence and the files read. Options this configuration ignores (see ignoredOptions) always
 * carry `# ignored: <why>`, so that no printed value reads as if it applied.
 */
export function renderConfig(loaded: Pick<LoadedConfig, 'config'> & Partial<LoadedConfig>, options: RenderOptions = {}): string {
  const cwd = options.cwd ?? process.cwd()
  const doc = new Document(loaded.config)
  const sources = loaded.sources ?? {}
  const ignored = ignoredOptions(loaded.config)

  const visit = (node: Node | null | undefined, path: string): void => {
    if (!node) return
    if (isMap(node)) {
      if (node.items.length === 0) {
        node.flow = true
        annotate(node, path)
        return
      }
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
        const child = path === '' ? key : `${path}.${key}`
        // an ignored mapping (pop's train overrides) is marked on its key, and not entered
        if (ignored[child] && isMap(pair.value) && isScalar(pair.key)) pair.key.commentBefore = ` ignored: ${ignored[child]}`
        else visit(pair.value as Node | null, child)
      }
    } else if (isSeq(node)) {
      const values = node.items.map((i) => (isScalar(i) ? i.value : i))
      if (values.every(isScalarValue)) {
        node.flow = true
        annotate(node, path)
        return
      }
      node.items.forEach((item, i) => visit(item as Node, `${path}.${i}`))
    } else {
      annotate(node, path)
    }
  }
  const annotate = (node: Node, path: string): void => {
    const source = options.explain ? sources[path] : undefined
    const notes = [...(source ? [describeSource(source, cwd)] : []), ...(ignored[path] ? [`ignored: ${ignored[path]}`] : [])]
    if (notes.length > 0) node.comment = ` ${notes.join('; ')}`
  }
  visit(doc.contents as Node, '')

  if (options.explain && loaded.file) {
    const files = (loaded.files ?? []).map((f) => displayPath(f, cwd))
    doc.commentBefore = [
      ` resolved from ${displayPath(loaded.file, cwd)}${files.length > 1 ? ` (files, in merge order: ${files.join(', ')})` : ''}`,
      ' precedence: default < extends < experiment < --set',
    ].join('\n')
  }
  return doc.toString({flowCollectionPadding: false, lineWidth: 0})
}
