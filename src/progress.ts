/**
 * How library code reports progress without knowing about terminals: the CLI passes an
 * implementation (ora on a TTY, plain lines in CI, nothing under --json); tests pass `silentProgress`.
 */
export interface Progress {
  /** a new stage begins, e.g. "train mf" */
  stage(name: string): void
  /** progress inside the current stage, e.g. "epoch 3/20 loss 0.41 120k rows/s ETA 12s" */
  update(message: string): void
  /** the current stage ended well, with a closing line */
  done(message?: string): void
  /** a one-line notice that is not an error (cache hit, fallback backend...) */
  info(message: string): void
  warn(message: string): void
}

export const silentProgress: Progress = {
  stage() {},
  update() {},
  done() {},
  info() {},
  warn() {},
}
