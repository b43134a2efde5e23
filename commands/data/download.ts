import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../src/cli/base.js'
import {DATASET_NAMES, downloadDataset, type DatasetName, type DownloadResult} from '../../src/data/download.js'

export type DataDownloadResult = DownloadResult

export default class DataDownload extends BaseCommand {
  static summary = 'Download and unpack a MovieLens dataset from GroupLens (checks its sha256).'
  static description = `Fetches https://files.grouplens.org/datasets/movielens/<name>.zip, verifies its sha256 against the
pinned value, and unpacks it to <dir>/<name>/ (replacing an older copy only once the new one is
complete). MovieLens may be used for research only and must not be redistributed: keep it out of
your repository. The terms are printed after the download.`
  static examples = [
    '<%= config.bin %> data download ml-100k',
    '<%= config.bin %> data download ml-1m --dir ~/datasets',
  ]
  static args = {name: Args.string({description: 'dataset', options: DATASET_NAMES, required: true})}
  static flags = {
    dir: Flags.string({description: 'folder to unpack into (the dataset lands in <dir>/<name>)', default: 'data'}),
    'expected-sha256': Flags.string({description: 'expected sha256 of the archive (overrides the pinned value)'}),
    'base-url': Flags.string({description: 'where the archives are served (tests)', hidden: true}),
  }

  async run(): Promise<DataDownloadResult> {
    const {args, flags} = await this.parse(DataDownload)
    const result = await downloadDataset(args.name as DatasetName, flags.dir, {
      baseUrl: flags['base-url'],
      expectedSha256: flags['expected-sha256'],
      progress: this.progress,
    })
    this.out(
      [
        `unpacked ${result.files.length} files to ${result.dir}`,
        `sha256 ${result.sha256} ${result.verified ? '(verified)' : '(NOT verified: no known checksum for this file)'}`,
        result.ratingsFile ? `ratings: ${result.ratingsFile}  (data.format: ${args.name}, data.path: ${result.ratingsFile})` : '',
        '',
        result.license,
      ]
        .filter((l, i) => l !== '' || i === 3)
        .join('\n'),
    )
    return result
  }
}
