/** `splitbench merge`: the shard stores of one sharded run into one run (raw rows; summaries from the union). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { addFlags, readFlags } from '../flagspec.js';
import { storeFile } from '../flags.js';
import { setExitCode } from './main.js';
import { printJson, printTable } from './output.js';

type Args = Record<string, unknown>;

const MERGE_FLAGS = {
  out: { type: 'string', required: true, describe: 'results store that receives the merged run (created when missing)', parse: storeFile },
  'max-offset-ms': {
    type: 'number',
    defaultText: '1',
    describe: 'largest accepted clock offset of a shard to the reference, at start or end (ms)',
    parse: (v: number): number => {
      if (!(v >= 0)) throw new Error(`expected a number >= 0, got ${v}`);
      return v;
    },
  },
  'run-uuid': { type: 'string', describe: 'the run to merge when a file holds shards of several runs' },
  name: { type: 'string', defaultText: "the shards' run name", describe: 'name of the merged run' },
  'any-host': {
    type: 'boolean',
    describe:
      'the shards reached one target and clock reference under different host names or addresses (one per network): compare those URLs by scheme, port and path only',
  },
  json: { type: 'boolean', describe: 'print the result as JSON' },
} as const;

export const mergeCommand: CommandModule<object, Args> = {
  command: 'merge <shards..>',
  describe: 'merge the shard stores of one sharded replay (--shard / launch) into one run: checks, clock correction, raw rows',
  builder: (y: Argv) =>
    addFlags(y.positional('shards', { type: 'string', array: true, describe: 'shard stores (SQLite files), one per shard 0..N-1' }), MERGE_FLAGS)
      .example('$0 merge shard-0.db shard-1.db shard-2.db --out results/run.db', 'merge three shards, then `splitbench summary --db results/run.db`')
      .example(
        '$0 merge /scratch/*/shard.db --out run.db --max-offset-ms 5',
        'accept clock offsets up to 5 ms (timelines are corrected by the measured offsets)',
      ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const f = readFlags('merge', MERGE_FLAGS, argv);
    const { mergeShards } = await import('../scale/index.js');
    const shards = ((argv.shards as unknown[]) ?? []).map(String);
    const r = await mergeShards(shards, {
      out: f.out,
      ...(f.maxOffsetMs !== undefined ? { maxOffsetMs: f.maxOffsetMs } : {}),
      ...(f.runUuid !== undefined ? { runUuid: f.runUuid } : {}),
      ...(f.name !== undefined ? { name: f.name } : {}),
      ...(f.anyHost === true ? { anyHost: true } : {}),
    });
    if (f.json) printJson('merge', r);
    else {
      printTable([
        ['shard', 'file', 'requests', 'host', 'offset ms', 'RTT ms', 'shift ms'],
        ...r.shards.map((s) => [
          `${s.index}/${r.shardCount}`,
          s.file,
          s.requests,
          s.host ?? '-',
          s.offsetStartMs === null ? '-' : s.offsetStartMs.toFixed(3),
          s.rttStartMs === null ? '-' : s.rttStartMs.toFixed(3),
          s.shiftMs.toFixed(3),
        ]),
      ]);
      process.stdout.write(
        r.changed
          ? `merged ${r.shardCount} shards (${r.requests} requests) into run ${r.runId} (uuid ${r.runUuid}) of ${r.out}; see \`splitbench summary --db ${r.out} --run ${r.runId}\`\n`
          : `nothing to do: run ${r.runId} (uuid ${r.runUuid}) of ${r.out} already holds exactly these shard files\n`,
      );
    }
    setExitCode(0);
  },
};
