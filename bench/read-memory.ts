/**
 * Peak memory and wall time of reading a large synthetic CSV through readInteractions.
 *
 *   node --import tsx bench/read-memory.ts [rows=1e7] [file=/tmp/rec-synth-<rows>.csv]
 *
 * The file is generated first (in a child process, so the generator's memory does not count)
 * unless it exists. Never point this at a path inside the repository.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, statSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {dataSchema, synthSchema} from '../src/config/schema.js'
import {readInteractions} from '../src/data/read.js'
import {writeSyntheticCsv} from '../src/data/synth.js'

const rows = Number(process.argv[2] ?? 1e7)
const file = process.argv[3] ?? `/tmp/rec-synth-${rows}.csv`

if (process.env.REC_BENCH_GENERATE) {
  const users = Math.max(1000, Math.round(rows / 100))
  const items = Math.max(500, Math.round(rows / 500))
  const t = Date.now()
  const r = writeSyntheticCsv(synthSchema.parse({users, items, interactions: rows, seed: 1}), file)
  console.log(`generated ${r.out}: ${r.interactions} rows, ${r.users} users, ${r.items} items, ${(r.bytes / 1e6).toFixed(0)} MB in ${((Date.now() - t) / 1000).toFixed(1)}s`)
  process.exit(0)
}

if (!existsSync(file)) {
  execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), String(rows), file], {
    stdio: 'inherit',
    env: {...process.env, REC_BENCH_GENERATE: '1'},
  })
}

const base = process.memoryUsage()
let peakRss = base.rss
let peakHeap = base.heapUsed
const timer = setInterval(() => {
  const m = process.memoryUsage()
  if (m.rss > peakRss) peakRss = m.rss
  if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
}, 25)
const t0 = performance.now()
const r = await readInteractions(
  dataSchema.parse({format: 'delimited', path: file, header: true, columns: {user: 'user', item: 'item', rating: 'rating', timestamp: 'timestamp'}}),
)
const secs = (performance.now() - t0) / 1000
clearInterval(timer)
const end = process.memoryUsage()
peakRss = Math.max(peakRss, end.rss)
const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
const x = r.interactions
console.log(
  JSON.stringify(
    {
      file,
      fileBytes: statSync(file).size,
      rows: x.length,
      users: x.numUsers,
      items: x.numItems,
      wallSeconds: Number(secs.toFixed(2)),
      rowsPerSecond: Math.round(x.length / secs),
      rssBefore: mb(base.rss),
      peakRss: mb(peakRss),
      peakHeapUsed: mb(peakHeap),
      arraysBytes: mb(x.user.byteLength + x.item.byteLength + x.rating.byteLength + x.timestamp.byteLength),
    },
    null,
    2,
  ),
)
