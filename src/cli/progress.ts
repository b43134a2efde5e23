import ora, {type Ora} from 'ora'

import type {Progress} from '../progress.js'

/**
 * Progress on stderr: an ora spinner on a TTY, one plain line per update otherwise (CI, pipes),
 * nothing at all under --json or --quiet.
 */
export function makeProgress(options: {silent: boolean; stream?: NodeJS.WriteStream}): Progress {
  const stream = options.stream ?? process.stderr
  if (options.silent) {
    return {stage() {}, update() {}, done() {}, info() {}, warn: (m) => stream.write(`warning: ${m}\n`)}
  }
  const tty = Boolean(stream.isTTY) && !process.env.CI
  // stages nest (a run's data stage contains the reader's): each line names the innermost open
  // stage, and done() closes it and returns to the one around it
  const open: string[] = []
  const current = () => open.at(-1) ?? ''
  if (!tty) {
    return {
      stage(name) {
        open.push(name)
        stream.write(`[${name}] started\n`)
      },
      update(message) {
        stream.write(`[${current()}] ${message}\n`)
      },
      done(message) {
        stream.write(`[${current()}] ${message ?? 'done'}\n`)
        open.pop()
      },
      info: (m) => stream.write(`${m}\n`),
      warn: (m) => stream.write(`warning: ${m}\n`),
    }
  }
  let spinner: Ora | undefined
  return {
    stage(name) {
      open.push(name)
      if (spinner) spinner.text = name
      else spinner = ora({text: name, stream}).start()
    },
    update(message) {
      if (spinner) spinner.text = `${current()}: ${message}`
    },
    done(message) {
      const name = current()
      open.pop()
      if (!spinner) return
      if (open.length === 0) {
        spinner.succeed(`${name}${message ? `: ${message}` : ''}`)
        spinner = undefined
      } else {
        spinner.stopAndPersist({symbol: '✔', text: `${name}${message ? `: ${message}` : ''}`})
        spinner.start(current())
      }
    },
    info(m) {
      if (spinner) spinner.info(m).start()
      else stream.write(`${m}\n`)
    },
    warn(m) {
      if (spinner) spinner.warn(m).start()
      else stream.write(`warning: ${m}\n`)
    },
  }
}
