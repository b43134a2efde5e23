#!/usr/bin/env node
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
// tfjs-wasm and onnxruntime keep handles open; the command is finished, so leave with its code.
process.exit(process.exitCode ?? 0)
