/**
 * A worker thread of src/run/workers.ts: initialises the run's tfjs backend, then evaluates the
 * metrics of one variant per request (evaluateVariantMetrics, the sequential path's own code) and
 * replies with them or with its error.
 */
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {parentPort, workerData} from 'node:worker_threads'

import {initBackend, type BackendRequest} from '../backend/index.js'
import {silentProgress} from '../progress.js'
import {evaluateVariantMetrics} from './evaluate-stage.js'
import {serializeError, type WorkerReply, type WorkerRequest, type WorkerSetup} from './workers.js'

const setup = workerData as WorkerSetup
const port = parentPort!
const ready = initBackend(setup.backend as BackendRequest)
mkdirSync(setup.scratch, {recursive: true})

port.on('message', async (req: WorkerRequest) => {
  let reply: WorkerReply
  try {
    await ready
    const metrics = await evaluateVariantMetrics(setup.cfg, setup.split, req.v, silentProgress, join(setup.scratch, `${req.id}.optimized.onnx`))
    reply = {id: req.id, metrics}
  } catch (err) {
    reply = {id: req.id, error: serializeError(err)}
  }
  port.postMessage(reply)
})
