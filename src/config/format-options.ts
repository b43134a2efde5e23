import type {DataConfig} from './schema.js'

/** one `data.<key>` the chosen format never reads */
export interface IgnoredOption {
  key: string
  message: string
  hint: string
}

type Format = DataConfig['format']

/**
 * The `data` keys each format reads (besides `format`). The `synth` block is deliberately not
 * checked under file formats: dataset blocks are shared through `extends`, and an inherited
 * generator block must not stop `--set data.format=ml-100k`; the format's name already says that
 * no generator runs. Every other key a format does not read would be a setting the user believes
 * applied (columns remapped, a file read) while the run silently did something else.
 */
const READS: Record<Format, readonly string[]> = {
  synth: ['synth'],
  'ml-100k': ['path', 'encoding', 'on_bad_row', 'synth'],
  'ml-1m': ['path', 'encoding', 'on_bad_row', 'synth'],
  delimited: ['path', 'delimiter', 'header', 'columns', 'encoding', 'on_bad_row', 'synth'],
  recbole: ['path', 'encoding', 'on_bad_row', 'synth'],
}

const WHY: Record<Format, string> = {
  synth: 'it generates its data and reads no file',
  'ml-100k': 'its layout is fixed: user, item, rating, timestamp, tab-separated, no header',
  'ml-1m': 'its layout is fixed: user::item::rating::timestamp, no header',
  delimited: '',
  recbole: 'its layout is RecBole\'s atomic .inter: tab-separated, a typed header, fields user_id, item_id, rating, timestamp',
}

/**
 * Keys set in a (merged, not yet defaulted) `data` mapping that its format ignores, in the
 * mapping's key order. Defaults never count: only what a config file or --set wrote. An unknown
 * or missing format is left to the schema (missing means synth, the default).
 */
export function ignoredDataOptions(data: Record<string, unknown>): IgnoredOption[] {
  const format = data.format ?? 'synth'
  if (typeof format !== 'string' || !(format in READS)) return []
  const reads = READS[format as Format]
  return Object.keys(data)
    .filter((key) => key !== 'format' && data[key] !== undefined && !reads.includes(key))
    .map((key) => ({
      key,
      message: `format ${format} ignores it (${WHY[format as Format]})`,
      hint: format === 'synth' ? 'remove it, or set data.format to the format of your file' : 'remove it, or use format: delimited to read a file with your own layout',
    }))
}
