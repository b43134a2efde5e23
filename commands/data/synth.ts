import {Flags} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base.js'
import {synthSchema} from '../../src/config/schema.js'
import {usageError} from '../../src/errors.js'
import {writeSyntheticCsv} from '../../src/data/synth.js'

export interface DataSynthResult {
  out: string
  users: number
  items: number
  interactions: number
  sha256: string
}

/** numbers as Number() reads them, so 1e6 and 1_000 style inputs work ("1e6" → 1000000) */
const count = (name: string, opts: {integer?: boolean} = {integer: true}) =>
  Flags.custom<number>({
    parse: async (input) => {
      const n = Number(input)
      if (!Number.isFinite(n) || (opts.integer && !Number.isInteger(n))) {
        throw usageError('usage.number', `--${name} expects ${opts.integer ? 'an integer' : 'a number'} (1e6 notation is fine), got ${JSON.stringify(input)}`)
      }
      return n
    },
  })

export default class DataSynth extends BaseCommand {
  static summary = 'Write a synthetic interaction dataset (user,item,rating,timestamp CSV with a header).'
  static description = `Users and items get hidden latent factors; item popularity follows a power law and user activity
is heavy-tailed; every user has at least 5 interactions, timestamps increase per user over two years,
and ratings (1-5) follow the hidden affinity (all 1 with --implicit). The same flags and seed always
give the same file. Read it back with data.format: delimited, header: true.`
  static examples = [
    '<%= config.bin %> data synth --users 5000 --items 2000 --interactions 1e6 --seed 1 --out data/synth.csv',
    '<%= config.bin %> data synth --implicit --factors 16 --out /tmp/implicit.csv --json',
  ]
  static flags = {
    users: count('users')({description: 'number of users', default: 500}),
    items: count('items')({description: 'number of items', default: 300}),
    interactions: count('interactions')({description: 'number of interactions (exact when 5·users <= K <= users·items)', default: 20000}),
    seed: count('seed')({description: 'generator seed', default: 7}),
    factors: count('factors')({description: 'dimension of the hidden factors', default: 8}),
    'popularity-exponent': count('popularity-exponent', {integer: false})({description: 'power-law exponent of item popularity', default: 1}),
    implicit: Flags.boolean({description: 'all ratings 1 (implicit feedback) instead of 1-5 stars'}),
    out: Flags.string({char: 'o', description: 'output CSV file', required: true}),
  }

  async run(): Promise<DataSynthResult> {
    const {flags} = await this.parse(DataSynth)
    const parsed = synthSchema.safeParse({
      users: flags.users,
      items: flags.items,
      interactions: flags.interactions,
      seed: flags.seed,
      factors: flags.factors,
      popularity_exponent: flags['popularity-exponent'],
      explicit: !flags.implicit,
    })
    if (!parsed.success) {
      throw usageError('usage.synth', 'invalid synth parameters', {details: parsed.error.issues.map((i) => `--${String(i.path[0]).replace('_', '-')}: ${i.message}`)})
    }
    this.progress.stage('generate')
    const started = Date.now()
    const r = writeSyntheticCsv(parsed.data, flags.out)
    this.progress.done(`${((Date.now() - started) / 1000).toFixed(1)}s`)
    this.out(`wrote ${r.out}: ${r.interactions} interactions, ${r.users} users, ${r.items} items (${(r.bytes / 1e6).toFixed(1)} MB, sha256 ${r.sha256.slice(0, 12)}…)`)
    return {out: r.out, users: r.users, items: r.items, interactions: r.interactions, sha256: r.sha256}
  }
}
