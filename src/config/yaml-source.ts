import {LineCounter, type Node, isAlias, isMap, isScalar, isSeq, parseDocument} from 'yaml'

/** 1-based line and column */
export interface Pos {
  line: number
  col: number
}

/** where a node sits in its file: the key (for map entries) and the value */
export interface NodePos {
  key?: Pos
  value?: Pos
}

export interface ParsedYaml {
  /** the document as plain JS (aliases resolved); null for an empty document */
  value: unknown
  /** config path ("train.lr", "models.0.factors"; "" = the root) → position of that node */
  positions: Map<string, NodePos>
  errors: {pos?: Pos; message: string}[]
}

/** Parse YAML text, keeping the position of every key and value so problems can name file:line:col. */
export function parseYamlText(text: string): ParsedYaml {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: true, uniqueKeys: true})
  const positions = new Map<string, NodePos>()
  const errors: ParsedYaml['errors'] = doc.errors.map((e) => ({
    pos: e.linePos?.[0] ? {line: e.linePos[0].line, col: e.linePos[0].col} : undefined,
    message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
  }))
  if (errors.length > 0) return {value: null, positions, errors}

  const at = (offset: number | undefined): Pos | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset))
  const walk = (node: Node | null | undefined, path: string): void => {
    if (!node || isAlias(node)) return
    if (isMap(node)) {
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode)
        const childPath = path === '' ? key : `${path}.${key}`
        const valueNode = pair.value as Node | null
        positions.set(childPath, {key: at(keyNode?.range?.[0]), value: at(valueNode?.range?.[0]) ?? at(keyNode?.range?.[0])})
        walk(valueNode, childPath)
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const childPath = path === '' ? String(i) : `${path}.${i}`
        positions.set(childPath, {value: at((item as Node | null)?.range?.[0])})
        walk(item as Node | null, childPath)
      })
    }
  }
  const root = doc.contents as Node | null
  positions.set('', {value: at(root?.range?.[0]) ?? {line: 1, col: 1}})
  walk(root, '')
  let value: unknown
  try {
    value = doc.toJS({maxAliasCount: 1000})
  } catch (error) {
    return {value: null, positions, errors: [{message: (error as Error).message}]}
  }
  return {value, positions, errors}
}
