/**
 * Look at a `rec report` page as a person would: open it in headless Chromium (Debian's `chromium`
 * package) and save a PNG screenshot. The README's picture is made with this script:
 *
 *   npx rec report runs/ml100k-neumf-compress --out report.html
 *   npx tsx bench/report-screenshot.ts report.html docs/report.png [--width 1200] [--height 1700]
 *
 * The page is self-contained (inline SVG and CSS, no script), so Chromium runs offline with
 * networking disabled; a page that asked for anything outside itself would show the gap.
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {parseArgs} from 'node:util'

const {values, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    width: {type: 'string', default: '1200'},
    height: {type: 'string', default: '1700'},
    chromium: {type: 'string', default: process.env.CHROMIUM ?? 'chromium'},
  },
})
const [html = 'report.html', png = 'docs/report.png'] = positionals
const page = resolve(html)
const out = resolve(png)
if (!existsSync(page)) {
  process.stderr.write(`no ${page}: make it first with \`rec report <run-dir> --out ${html}\`\n`)
  process.exit(2)
}
mkdirSync(dirname(out), {recursive: true})
// a throw-away profile: the run leaves nothing in the user's Chromium profile
const profile = mkdtempSync(join(tmpdir(), 'rec-chromium-'))
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--hide-scrollbars',
  '--no-first-run',
  '--disable-extensions',
  '--proxy-server=127.0.0.1:9',
  `--user-data-dir=${profile}`,
  `--window-size=${values.width},${values.height}`,
  `--screenshot=${out}`,
  pathToFileURL(page).href,
]
const t0 = performance.now()
const r = spawnSync(values.chromium!, args, {encoding: 'utf8', timeout: 120_000})
rmSync(profile, {recursive: true, force: true})
if (r.error || r.status !== 0 || !existsSync(out)) {
  process.stderr.write(`chromium failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}\n`)
  process.exit(1)
}
process.stdout.write(`${out}: ${(statSync(out).size / 1024).toFixed(0)} KiB, ${values.width}×${values.height}, ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
