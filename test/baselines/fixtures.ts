import type {Interactions} from '../../src/data/types.js'

/** (user, item[, time]) rows as Interactions over ids u0.. / i0.. (time: the row index when absent) */
export function interactions(rows: readonly (readonly number[])[], numUsers: number, numItems: number): Interactions {
  return {
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    rating: new Float32Array(rows.length).fill(1),
    timestamp: Float64Array.from(rows, (r, k) => r[2] ?? k),
    length: rows.length,
    numUsers,
    numItems,
    userIds: Array.from({length: numUsers}, (_, u) => `u${u}`),
    itemIds: Array.from({length: numItems}, (_, i) => `i${i}`),
  }
}
