import CliTable from 'cli-table3'

/** a plain compact table of preformatted cells (first row: the header); the first `leftColumns` columns left-aligned, the rest right-aligned */
export function renderCells(cells: string[][], leftColumns = 1): string {
  const [head, ...rows] = cells
  const table = new CliTable({head, style: {head: [], border: [], compact: true}, colAligns: head.map((_, i) => (i < leftColumns ? 'left' : 'right'))})
  table.push(...rows)
  return table.toString()
}
