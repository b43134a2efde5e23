import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../src/cli/base.js'
import {experimentFlags} from '../src/cli/flags.js'
import {resolveRunDir} from '../src/run/rundir.js'
import {serveUntilStopped, type ServeSummary} from '../src/serve/server.js'

export default class Serve extends BaseCommand {
  static summary = 'Serve a model variant of a run over HTTP: top-K answers scored as evaluation scores them.'
  static description = `Loads one variant of a run (its ONNX graph, checked against the digests the run recorded) and
answers GET /v1/recommend?user=<id>&k=10, POST /v1/recommend {"users": [...], "k": 10} and
POST /v1/events {"events": [{"user", "item"}]} (excluded from later answers at once), with
an LRU answer cache and micro-batching (serve.* in the config; --set serve.cache.capacity=0 turns
the cache off). GET /healthz, GET /metrics (Prometheus text). Listens on 127.0.0.1 unless --host
says otherwise; SIGTERM / Ctrl-C stops accepting, finishes the requests in flight, then exits 0.
The startup line (stderr) gives the address and what is loaded.`
  static examples = [
    '<%= config.bin %> serve runs/ml100k-neumf-compress --variant int8 --port 8080',
    '<%= config.bin %> serve runs/ml100k-sasrec-compress --port 0 --update incremental --set serve.update.min_events=20',
  ]
  static args = {run: Args.string({description: 'run directory (or runs/<experiment> for the newest)', required: true})}
  static flags = {
    model: Flags.string({description: 'model to serve (its label in the run; default: the first)'}),
    variant: Flags.string({description: 'variant to serve: base or a compression variant of the run', default: 'base'}),
    port: Flags.integer({description: 'TCP port (0: any free port, printed at startup)', default: 8080, min: 0, max: 65535}),
    host: Flags.string({description: 'address to listen on', default: '127.0.0.1'}),
    update: Flags.string({description: 'incremental: posted events update the model in the background (swapped in atomically); default serve.update.mode', options: ['none', 'incremental']}),
    set: experimentFlags.set,
  }

  async run(): Promise<ServeSummary> {
    const {args, flags} = await this.parse(Serve)
    const runDir = resolveRunDir(args.run)
    const summary = await this.interruptibly((signal) =>
      serveUntilStopped(runDir, {
        model: flags.model,
        variant: flags.variant,
        set: flags.set,
        port: flags.port,
        host: flags.host,
        signal,
        ...(flags.update ? {update: flags.update as 'none' | 'incremental'} : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      }),
    )
    const hit = summary.cacheHitRatio === null ? 'no cacheable request' : `cache hit ratio ${(100 * summary.cacheHitRatio).toFixed(1)}%`
    this.out(`served ${summary.requests} requests in ${summary.uptimeSeconds.toFixed(1)} s (${hit}; ${summary.eventsPosted} events; ${summary.swaps} model swaps)`)
    return summary
  }
}
