/**
 * The real-time loop's library (README, Streaming): the incremental update a server can call
 * (updateIncrementally: fold in new users / items, then train on a batch of new events; no replay
 * state), and the prequential replay behind `rec stream`.
 */
export {foldIn, updateIncrementally, type FoldIn, type IncrementalUpdate, type IncrementalUpdateArgs, type RawEvent} from './update.js'
export {runStream, streamExperiment, type StreamOptions, type StreamResult} from './replay.js'
export type {StreamSummaryRow, WindowRow} from './report.js'
