/** `splitbench runs list|show|delete|export`: look after the runs in a results store. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_DB } from '../paths.js';

interface DbArgs {
  db: string;
}
interface RunArgs extends DbArgs {
  run: string;
}

const withDb = <T>(y: Argv<T>) => y.option('db', { type: 'string', default: DEFAULT_DB, describe: 'results store (SQLite file)', requiresArg: true });
const withJson = <T>(y: Argv<T>) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' });
const withRun = <T>(y: Argv<T>) =>
  y.positional('run', { type: 'string', describe: 'run id, name (the latest run with it), uuid, or latest', demandOption: true });

const started = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

const list: CommandModule<DbArgs, DbArgs & { json: boolean }> = {
  command: 'list',
  describe: 'List the runs in the store',
  builder: (y) => withJson(withDb(y)).example('$0 runs list', 'all runs, oldest first').example('$0 runs list --db other.db --json', 'as JSON'),
  handler: async (argv) => {
    const { openStore, isStale } = await import('../store/index.js');
    const { printJson, printTable } = await import('./output.js');
    const store = openStore(argv.db, { readonly: true });
    try {
      const runs = store.listRuns().map((r) => ({ run: r, counts: store.requestCounts(r.id), stale: isStale(r) }));
      if (argv.json) {
        printJson(
          'runs list',
          runs.map(({ run, counts, stale }) => ({ ...run, requests: counts.total, ok: counts.ok, stale: stale ?? null })),
        );
        return;
      }
      if (runs.length === 0) {
        process.stdout.write(`no runs in ${argv.db}\n`);
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

const show: CommandModule<DbArgs, RunArgs & { json: boolean }> = {
  command: 'show <run>',
  describe: 'Show one run: every run column, request counts by status, machines',
  builder: (y) =>
    withJson(withRun(withDb(y)))
      .example('$0 runs show 3', 'run with id 3')
      .example('$0 runs show baseline --json', 'the latest run named "baseline", as JSON'),
  handler: async (argv) => {
    const { openStore, isStale } = await import('../store/index.js');
    const { printJson, printTable } = await import('./output.js');
    const store = openStore(argv.db, { readonly: true });
    try {
      const run = store.findRun(argv.run);
      const counts = store.requestCounts(run.id);
      const machines = store.machines(run.id);
      const stale = isStale(run);
      if (argv.json) {
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

const del: CommandModule<DbArgs, RunArgs & { json: boolean; force: boolean }> = {
  command: 'delete <run>',
  describe: 'Delete one run and all its rows',
  builder: (y) =>
    withJson(withRun(withDb(y)))
      .option('force', { type: 'boolean', default: false, describe: 'delete even while the run is still being written' })
      .example('$0 runs delete 3', 'delete run 3 and its requests, samples and SLO results'),
  handler: async (argv) => {
    const { openStore, isStale } = await import('../store/index.js');
    const { ConfigError } = await import('../errors.js');
    const { printJson } = await import('./output.js');
    const store = openStore(argv.db, { create: false });
    try {
      const run = store.findRun(argv.run);
      if (isStale(run) === false && !argv.force) {
        throw new ConfigError(`run ${run.id} (${run.name}) is still being written by process ${String(run.env.pid)}`, {
          hint: 'stop that run first, or pass --force',
        });
      }
      const counts = store.requestCounts(run.id);
      store.deleteRun(run.id);
      if (argv.json) printJson('runs delete', { deleted: { id: run.id, name: run.name, requests: counts.total } });
      else process.stdout.write(`deleted run ${run.id} (${run.name}, ${run.kind}, ${run.status}) with ${counts.total} requests\n`);
    } finally {
      store.close();
    }
  },
};

const exp: CommandModule<DbArgs, RunArgs & { format: 'csv' | 'json' | 'jsonl'; out?: string | undefined }> = {
  command: 'export <run>',
  describe: "Export a run's per-request rows (every column; chunk times decoded) as CSV, JSON or JSON Lines",
  builder: (y) =>
    withRun(withDb(y))
      .option('format', { choices: ['csv', 'json', 'jsonl'] as const, default: 'csv' as const, describe: 'output format' })
      .option('out', { type: 'string', describe: 'write to this file instead of stdout', requiresArg: true })
      .example('$0 runs export 3 --format jsonl --out run3.jsonl', 'one JSON object per request')
      .example('$0 runs export baseline > baseline.csv', 'CSV on stdout'),
  handler: async (argv) => {
    const { openStore, exportRequests } = await import('../store/index.js');
    const { ConfigError } = await import('../errors.js');
    const store = openStore(argv.db, { readonly: true });
    try {
      const run = store.findRun(argv.run);
      if (argv.out === undefined) {
        try {
          await exportRequests(store, run.id, argv.format, process.stdout);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e; // the reader went away (e.g. `| head`)
        }
        return;
      }
      const file = createWriteStream(argv.out);
      try {
        await once(file, 'open');
      } catch (e) {
        throw new ConfigError(`cannot write ${argv.out}: ${(e as Error).message}`, { path: '--out' });
      }
      const n = await exportRequests(store, run.id, argv.format, file);
      file.end();
      await once(file, 'finish');
      process.stderr.write(`exported ${n} requests of run ${run.id} (${run.name}) to ${argv.out}\n`);
    } finally {
      store.close();
    }
  },
};

export const runsCommand: CommandModule<object, DbArgs> = {
  command: 'runs',
  describe: 'list, show, delete and export the runs in a results store',
  builder: (y) =>
    y
      .command(list as unknown as CommandModule<object, DbArgs>)
      .command(show as unknown as CommandModule<object, DbArgs>)
      .command(del as unknown as CommandModule<object, DbArgs>)
      .command(exp as unknown as CommandModule<object, DbArgs>)
      .demandCommand(1, 'name a runs subcommand: list, show, delete or export') as unknown as Argv<DbArgs>,
  handler: () => {},
};
