/**
 * Training throughput of the SASRec trainer step at MovieLens-100K-like sizes (synthetic ids; the
 * step's cost does not depend on which items are in the sequences).
 *
 *   npx tsx bench/sasrec-step.ts [--loss ce|bce] [--steps 8] [--batch 256] [--backend wasm|cpu]
 *
 * One ml-100k epoch is ≈ 99k training positions (≈ 2000 sequences of 50); the figure printed is the
 * time of that many positions at the measured rate.
 */
import {initBackend, tf} from '../src/backend/index.js'
import {Rng} from '../src/rng.js'
import {createSasrecTrainer, initSasrec, type SasrecLoss} from '../src/models/sasrec.js'

const argv = process.argv.slice(2)
const opt = (name: string, dflt: string) => {
  const k = argv.indexOf(name)
  return k >= 0 ? argv[k + 1] : dflt
}
const loss = opt('--loss', 'ce') as SasrecLoss
const steps = Number(opt('--steps', '8'))
const B = Number(opt('--batch', '256'))
const I = Number(opt('--items', '1682'))
const backend = opt('--backend', 'wasm') as 'wasm' | 'cpu'
const EPOCH_POSITIONS = 99_000

await initBackend(backend)
const cfg = {hidden: 64, layers: 2, heads: 2, inner: 256, maxLen: 50, dropout: 0.5}
const L = cfg.maxLen
const trainer = createSasrecTrainer(initSasrec(I, cfg, 1), {lr: 1e-3, loss, seed: 1})
const rng = new Rng(2)
const inputs = new Int32Array(B * L)
const targets = new Int32Array(B * L)
const fill = () => {
  for (let k = 0; k < B * L; k++) {
    inputs[k] = 1 + rng.int(I)
    targets[k] = 1 + rng.int(I)
  }
}

fill()
trainer.step(inputs, targets) // warm-up (Adam slots, wasm code paths)
let positions = 0
// CPU time as well as wall time: on a shared machine the wall clock also counts other processes
const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
const c0 = cpu()
const t0 = performance.now()
for (let s = 0; s < steps; s++) {
  fill()
  trainer.step(inputs, targets)
  positions += B * L
}
const sec = (performance.now() - t0) / 1000
const cpuSec = cpu() - c0
const rate = positions / sec
console.log(
  `backend ${tf.getBackend()}, loss ${loss}, batch ${B}×${L}, I=${I}: ${(sec / steps).toFixed(3)} s/step, ${Math.round(rate)} positions/s, ` +
    `ml-100k epoch (99k positions) ≈ ${(EPOCH_POSITIONS / rate).toFixed(1)} s wall, ${((EPOCH_POSITIONS / positions) * cpuSec).toFixed(1)} s CPU`,
)
trainer.dispose()
