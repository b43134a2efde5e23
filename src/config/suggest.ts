/** Edit distance (insert, delete, substitute; each costs 1) between two strings. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0
  let prev = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]
}

/**
 * The candidate closest to `input` by edit distance (case-insensitive), or undefined when nothing
 * is close: a suggestion must be within max(2, length/3) edits and must not be a total rewrite.
 */
export function nearest(input: string, candidates: Iterable<string>): string | undefined {
  // no key or name is this long: comparing a pasted blob with every candidate only costs time
  if (input.length > 200) return undefined
  const needle = input.toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const d = levenshtein(needle, candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  if (best === undefined) return undefined
  const limit = Math.max(2, Math.floor(Math.max(input.length, best.length) / 3))
  return bestDistance <= limit && bestDistance < Math.max(input.length, best.length) ? best : undefined
}
