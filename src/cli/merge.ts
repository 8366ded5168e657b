/** `splitbench merge`: the shard stores of one sharded run into one run (raw rows; summaries from the union). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { setExitCode } from './main.js';
import { printJson, printTable } from './output.js';

type Args = Record<string, unknown>;

export const mergeCommand: CommandModule<object, Args> = {
  command: 'merge <shards..>',
  describe: 'merge the shard stores of one sharded replay (--shard / launch) into one run: checks, clock correction, raw rows',
  builder: (y: Argv) =>
    y
      .positional('shards', { type: 'string', array: true, describe: 'shard stores (SQLite files), one per shard 0..N-1' })
      .option('out', { type: 'string', describe: 'results store that receives the merged run (created when missing)', demandOption: true })
      .option('max-offset-ms', { type: 'number', describe: 'largest accepted clock offset of a shard to the reference, at start or end (ms; default 1)' })
      .option('run-uuid', { type: 'string', describe: 'the run to merge when a file holds shards of several runs' })
      .option('name', { type: 'string', describe: "name of the merged run (default: the shards' run name)" })
      .option('any-host', {
        type: 'boolean',
        describe:
          'the shards reached one target and clock reference under different host names or addresses (one per network): compare those URLs by scheme, port and path only',
      })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' })
      .example('$0 merge shard-0.db shard-1.db shard-2.db --out results/run.db', 'merge three shards, then `splitbench summary --db results/run.db`')
      .example(
        '$0 merge /scratch/*/shard.db --out run.db --max-offset-ms 5',
        'accept clock offsets up to 5 ms (timelines are corrected by the measured offsets)',
      ),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const { ConfigError } = await import('../errors.js');
    const { mergeShards } = await import('../scale/index.js');
    const shards = ((argv.shards as unknown[]) ?? []).map(String);
    const maxOffset = argv.maxOffsetMs;
    if (maxOffset !== undefined && !(typeof maxOffset === 'number' && Number.isFinite(maxOffset) && maxOffset >= 0)) {
      throw new ConfigError(`expected a number >= 0, got ${String(maxOffset)}`, { path: '--max-offset-ms' });
    }
    for (const k of ['out', 'runUuid', 'name'] as const) {
      if (Array.isArray(argv[k])) throw new ConfigError('given more than once; give it once', { path: `--${k === 'runUuid' ? 'run-uuid' : k}` });
    }
    const { storeTargetProblem } = await import('../store/index.js');
    const outWhy = storeTargetProblem(String(argv.out));
    if (outWhy) throw new ConfigError(outWhy, { path: '--out' });
    const r = await mergeShards(shards, {
      out: String(argv.out),
      ...(maxOffset !== undefined ? { maxOffsetMs: maxOffset as number } : {}),
      ...(argv.runUuid !== undefined ? { runUuid: String(argv.runUuid) } : {}),
      ...(argv.name !== undefined ? { name: String(argv.name) } : {}),
      ...(argv.anyHost === true ? { anyHost: true } : {}),
    });
    if (argv.json) printJson('merge', r);
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
