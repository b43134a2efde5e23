import {Flags} from '@oclif/core'

/** flags shared by the commands that read an experiment file */
export const experimentFlags = {
  set: Flags.string({
    char: 's',
    description: 'override a config value: --set train.epochs=5 (repeatable; wins over every file)',
    multiple: true,
    default: [],
  }),
}

export const outFlag = {
  out: Flags.string({description: 'root folder for run directories (default: output.dir of the config, "runs")'}),
}

export const formatFlags = {
  format: Flags.string({description: 'output format of the comparison', options: ['table', 'csv', 'md', 'json'], default: 'table'}),
  sort: Flags.string({description: 'sort rows by this metric (best first), e.g. ndcg@10'}),
  metrics: Flags.string({description: 'comma-separated columns to show, e.g. ndcg@10,recall@10,p50'}),
  baseline: Flags.string({description: 'row to compute deltas against: variant, model/variant or run:model/variant'}),
  width: Flags.integer({description: 'maximum table width in columns', default: 120}),
}
