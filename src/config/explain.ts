import {Document, type Node, isMap, isScalar, isSeq} from 'yaml'

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
 * precedence and the files read.
 */
export function renderConfig(loaded: Pick<LoadedConfig, 'config'> & Partial<LoadedConfig>, options: RenderOptions = {}): string {
  const cwd = options.cwd ?? process.cwd()
  const doc = new Document(loaded.config)
  const sources = loaded.sources ?? {}

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
        visit(pair.value as Node | null, path === '' ? key : `${path}.${key}`)
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
    if (!options.explain) return
    const source = sources[path]
    if (source) node.comment = ` ${describeSource(source, cwd)}`
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
