import type {RecConfig} from '../config/schema.js'
import type {Progress} from '../progress.js'
import {runStream, type StreamResult} from './replay.js'

/** what `rec run` reports of its stream stage (the per-window rows are in stream/windows.json) */
export type StreamStageResult = Pick<StreamResult, 'dir' | 'events' | 'metrics' | 'summary'> & {interrupted?: boolean}

/**
 * The stream stage of `rec run`, as a unit the pipeline calls after evaluation when the experiment
 * has a stream section: the same replay as `rec stream` in the same run directory (its own cache:
 * stream/<model>/state.json, keyed by what decides the replay; a finished replay is not redone).
 */
export const streamStage = {
  name: 'stream' as const,
  wanted: (cfg: RecConfig): boolean => cfg.stream !== undefined,
  async run(cfg: RecConfig, runDir: string, options: {progress: Progress; signal?: AbortSignal}): Promise<StreamStageResult> {
    const r = await runStream(cfg, runDir, options)
    return {dir: r.dir, events: r.events, metrics: r.metrics, summary: r.summary, ...(r.interrupted ? {interrupted: true} : {})}
  },
}
