import {clipQuoted, dataError} from '../errors.js'

/**
 * RecBole's atomic `.inter` files: tab-separated, one typed header line `name:type` per column, e.g.
 * `user_id:token item_id:token rating:float timestamp:float` (tab-separated) (types token, token_seq, float,
 * float_seq). `rec` reads the user and item by RecBole's default field names (USER_ID_FIELD user_id,
 * ITEM_ID_FIELD item_id) as string tokens, and rating and timestamp when the header has them.
 */
export const RECBOLE_FIELDS = {user: 'user_id', item: 'item_id', rating: 'rating', timestamp: 'timestamp'} as const

/** column positions of a `.inter` header: −1 for an absent rating (every row 1) or timestamp (row order) */
export function recbolePlan(header: readonly string[], file: string): {user: number; item: number; rating: number; timestamp: number; numericIds: false} {
  const fields = header.map((h) => {
    const cell = h.trim()
    const colon = cell.lastIndexOf(':')
    return {name: colon > 0 ? cell.slice(0, colon) : cell, type: colon > 0 ? cell.slice(colon + 1) : ''}
  })
  if (!fields.some((f) => f.type !== '')) {
    throw dataError('data.bad_header', `${file}:1: a RecBole .inter file starts with a typed header (user_id:token, item_id:token, ... separated by tabs); found ${fields.slice(0, 4).map((f) => clipQuoted(f.name)).join(', ')}`, {
      hint: 'use data.format: delimited for a file without RecBole\'s typed header',
    })
  }
  const at = (name: string, required: boolean): number => {
    const i = fields.findIndex((f) => f.name === name)
    if (i < 0 && required) {
      throw dataError('data.column_missing', `${file}:1: the .inter header has no ${name} field (it has ${fields.map((f) => clipQuoted(`${f.name}:${f.type}`)).join(', ')})`, {
        hint: 'rec reads RecBole\'s default field names user_id and item_id (rating and timestamp when present)',
      })
    }
    return i
  }
  return {user: at(RECBOLE_FIELDS.user, true), item: at(RECBOLE_FIELDS.item, true), rating: at(RECBOLE_FIELDS.rating, false), timestamp: at(RECBOLE_FIELDS.timestamp, false), numericIds: false}
}
