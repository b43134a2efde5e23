/**
 * Interactions as typed arrays: 25M rows fit comfortably (4+4+4+8 = 20 bytes a row).
 * Ids are dense (0..numUsers-1, 0..numItems-1); `userIds` / `itemIds` map them back to the
 * original ids of the input file.
 */
export interface Interactions {
  user: Int32Array
  item: Int32Array
  rating: Float32Array
  timestamp: Float64Array
  /** number of rows (the typed arrays may be longer; only the first `length` rows count) */
  length: number
  numUsers: number
  numItems: number
  userIds: string[]
  itemIds: string[]
  /**
   * false when the input had no timestamp column: `timestamp` then holds each row's input
   * position, which orders events by row but is no time (a split must not call that temporal, nor
   * inspect print dates from it). Absent means true: synthetic data and MovieLens always have them.
   */
  hasTimestamps?: boolean
}

/** train / validation / test parts share the id space (numUsers, numItems, userIds, itemIds) */
export interface Split {
  train: Interactions
  valid: Interactions
  test: Interactions
}
