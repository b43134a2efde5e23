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
  if (!tty) {
    let current = ''
    return {
      stage(name) {
        current = name
        stream.write(`[${name}] started\n`)
      },
      update(message) {
        stream.write(`[${current}] ${message}\n`)
      },
      done(message) {
        stream.write(`[${current}] ${message ?? 'done'}\n`)
      },
      info: (m) => stream.write(`${m}\n`),
      warn: (m) => stream.write(`warning: ${m}\n`),
    }
  }
  let spinner: Ora | undefined
  let current = ''
  return {
    stage(name) {
      spinner?.stop()
      current = name
      spinner = ora({text: name, stream}).start()
    },
    update(message) {
      if (spinner) spinner.text = `${current}: ${message}`
    },
    done(message) {
      spinner?.succeed(`${current}${message ? `: ${message}` : ''}`)
      spinner = undefined
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
