#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// bin/run.js runs the build (dist/), whatever NODE_ENV says; bin/dev.js runs the TypeScript sources
settings.enableAutoTranspile = false
await execute({dir: import.meta.url})
// tfjs-wasm and onnxruntime keep handles open; the command is finished, so leave with its code.
process.exit(process.exitCode ?? 0)
