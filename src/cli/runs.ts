/** `splitbench runs list|show|delete|export`: look after the runs in a results store. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Argv, CommandModule } from 'yargs';
import { RESULTS_FLAGS } from '../flags.js';
import { addFlags, pickFlags, readFlags } from '../flagspec.js';

type Args = Record<string, unknown>;
type RunArgs = Args & { run: string };

/** `--db` and `--json` of every runs subcommand. */
const STORE_FLAGS = pickFlags(RESULTS_FLAGS, 'db', 'json');
const DELETE_FLAGS = {
  ...STORE_FLAGS,
  force: { type: 'boolean', default: false, describe: 'delete even while the run is still being written' },
} as const;
const EXPORT_FLAGS = {
  ...pickFlags(STORE_FLAGS, 'db'),
  format: { type: 'string', choices: ['csv', 'json', 'jsonl'], default: 'csv', describe: 'output format' },
  out: { type: 'string', describe: 'write to this file instead of stdout', requiresArg: true },
} as const;
const withRun = <T>(y: Argv<T>) =>
  y.positional('run', { type: 'string', describe: 'run id, name (the latest run with it), uuid, or latest', demandOption: true });

const started = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

const list: CommandModule<object, Args> = {
  command: 'list',
  describe: 'List the runs in the store',
  builder: (y) => addFlags(y, STORE_FLAGS).example('$0 runs list', 'all runs, oldest first').example('$0 runs list --db other.db --json', 'as JSON'),
  handler: async (argv) => {
    const f = readFlags('runs list', STORE_FLAGS, argv);
    const { openStore, isStale } = await import('../store/index.js');
    const { printJson, printTable } = await import('./output.js');
    const store = openStore(f.db, { readonly: true });
    try {
      const runs = store.listRuns().map((r) => ({ run: r, counts: store.requestCounts(r.id), stale: isStale(r) }));
      if (f.json) {
        printJson(
          'runs list',
          runs.map(({ run, counts, stale }) => ({ ...run, requests: counts.total, ok: counts.ok, stale: stale ?? null })),
        );
        return;
      }
      if (runs.length === 0) {
        process.stdout.write(`no runs in ${f.db}\n`);
        return;
      }
      printTable([
        ['id', 'name', 'kind', 'status', 'started', 'requests', 'ok', 'target / deployment'],
        ...runs.map(({ run, counts, stale }) => [
          run.id,
          run.name,
          run.kind,
          stale ? 'running (stale)' : run.status,
          started(run.startedAt),
          counts.total,
          counts.ok,
          [run.target, run.deployment].filter((x) => x).join(' / ') || null,
        ]),
      ]);
      if (runs.some((r) => r.stale)) {
        process.stderr.write('(stale: the process writing the run is gone — killed or crashed — so it will not finish)\n');
      }
    } finally {
      store.close();
    }
  },
};

const show: CommandModule<object, RunArgs> = {
  command: 'show <run>',
  describe: 'Show one run: every run column, request counts by status, machines',
  builder: (y) =>
    addFlags(withRun(y), STORE_FLAGS)
      .example('$0 runs show 3', 'run with id 3')
      .example('$0 runs show baseline --json', 'the latest run named "baseline", as JSON'),
  handler: async (argv) => {
    const f = readFlags('runs show', STORE_FLAGS, argv);
    const { openStore, isStale } = await import('../store/index.js');
    const { printJson, printTable } = await import('./output.js');
    const store = openStore(f.db, { readonly: true });
    try {
      const run = store.findRun(argv.run);
      const counts = store.requestCounts(run.id);
      const machines = store.machines(run.id);
      const stale = isStale(run);
      if (f.json) {
        printJson('runs show', { run, stale: stale ?? null, requests: counts, machines });
        return;
      }
      const lines: [string, unknown][] = Object.entries(run).map(([k, v]) => [k, v]);
      const width = Math.max(...lines.map(([k]) => k.length));
      const fmt = (v: unknown): string => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
      for (const [k, v] of lines) {
        const note = k === 'status' && stale ? ' (stale: its writing process is gone, killed or crashed; rows up to its last commit are kept)' : '';
        process.stdout.write(`${k.padEnd(width)}  ${fmt(v)}${note}\n`);
      }
      const { total, ...byStatus } = counts;
      const parts = Object.entries(byStatus)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${s} ${n}`);
      process.stdout.write(`${'requests'.padEnd(width)}  ${total}${parts.length ? ` (${parts.join(', ')})` : ''}\n`);
      if (machines.length > 0) {
        process.stdout.write('\nmachines\n');
        printTable([
          ['machine', 'type', 'pool', 'gpus', '$/h', 'tdp W', 'idle W'],
          ...machines.map((m) => [m.machineId, m.machineType, m.pool, m.gpus, m.pricePerHour, m.tdpW, m.idleW]),
        ]);
      }
    } finally {
      store.close();
    }
  },
};

const del: CommandModule<object, RunArgs> = {
  command: 'delete <run>',
  describe: 'Delete one run and all its rows',
  builder: (y) => addFlags(withRun(y), DELETE_FLAGS).example('$0 runs delete 3', 'delete run 3 and its requests, samples and SLO results'),
  handler: async (argv) => {
    const f = readFlags('runs delete', DELETE_FLAGS, argv);
    const { openStore, isStale } = await import('../store/index.js');
    const { ConfigError } = await import('../errors.js');
    const { printJson } = await import('./output.js');
    const store = openStore(f.db, { create: false });
    try {
      const run = store.findRun(argv.run);
      if (isStale(run) === false && !f.force) {
        throw new ConfigError(`run ${run.id} (${run.name}) is still being written by process ${String(run.env.pid)}`, {
          hint: 'stop that run first, or pass --force',
        });
      }
      const counts = store.requestCounts(run.id);
      store.deleteRun(run.id);
      if (f.json) printJson('runs delete', { deleted: { id: run.id, name: run.name, requests: counts.total } });
      else process.stdout.write(`deleted run ${run.id} (${run.name}, ${run.kind}, ${run.status}) with ${counts.total} requests\n`);
    } finally {
      store.close();
    }
  },
};

const exp: CommandModule<object, RunArgs> = {
  command: 'export <run>',
  describe: "Export a run's per-request rows (every column; chunk times decoded) as CSV, JSON or JSON Lines",
  builder: (y) =>
    addFlags(withRun(y), EXPORT_FLAGS)

      .example('$0 runs export 3 --format jsonl --out run3.jsonl', 'one JSON object per request')
      .example('$0 runs export baseline > baseline.csv', 'CSV on stdout'),
  handler: async (argv) => {
    const f = readFlags('runs export', EXPORT_FLAGS, argv);
    const { openStore, exportRequests } = await import('../store/index.js');
    const { ConfigError } = await import('../errors.js');
    const store = openStore(f.db, { readonly: true });
    try {
      const run = store.findRun(argv.run);
      if (f.out === undefined) {
        try {
          await exportRequests(store, run.id, f.format, process.stdout);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e; // the reader went away (e.g. `| head`)
        }
        return;
      }
      const file = createWriteStream(f.out);
      try {
        await once(file, 'open');
      } catch (e) {
        throw new ConfigError(`cannot write ${f.out}: ${(e as Error).message}`, { path: '--out' });
      }
      const n = await exportRequests(store, run.id, f.format, file);
      file.end();
      await once(file, 'finish');
      process.stderr.write(`exported ${n} requests of run ${run.id} (${run.name}) to ${f.out}\n`);
    } finally {
      store.close();
    }
  },
};

export const runsCommand: CommandModule<object, Args> = {
  command: 'runs',
  describe: 'list, show, delete and export the runs in a results store',
  builder: (y) =>
    y
      .command(list as unknown as CommandModule<object, Args>)
      .command(show as unknown as CommandModule<object, Args>)
      .command(del as unknown as CommandModule<object, Args>)
      .command(exp as unknown as CommandModule<object, Args>)
      .demandCommand(1, 'name a runs subcommand: list, show, delete or export'),
  handler: () => {},
};
