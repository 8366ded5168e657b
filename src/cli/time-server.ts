/**
 * `splitbench time-server`: the clock reference of a multi-node run, independent of the target.
 *
 * It answers `GET /time` → `{"wall_ms": <epoch ms>}` (what every shard's clock check reads, see
 * src/scale/clock.ts) and nothing else, so replays against vLLM, SGLang or any OpenAI-compatible server,
 * which have no `/time`, still get measured offsets and merge. `splitbench launch` starts one on the first
 * allocated node (Slurm) or as a Deployment behind a Service (Kubernetes).
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

type Args = Record<string, unknown>;

export const timeServerCommand: CommandModule<object, Args> = {
  command: 'time-server',
  describe: "serve GET /time (this host's wall clock) as the clock reference of sharded replays (--time-url), until stopped",
  builder: (y: Argv) =>
    y
      .option('host', { type: 'string', describe: 'address to listen on (default 127.0.0.1; 0.0.0.0: every interface, for other nodes)' })
      .option('port', { type: 'number', describe: 'port (default 18780; 0: any free port, see --port-file)' })
      .option('port-file', {
        type: 'string',
        describe: 'once listening, write the port to this file (renamed into place, so a reader never sees it half-written)',
      })
      .option('barrier', {
        type: 'number',
        describe:
          'also serve a start barrier for N shards: GET /barrier?shard=i answers every shard the same start instant once all N asked (replay --start-at barrier)',
      })
      .option('barrier-lead-s', { type: 'number', describe: 'with --barrier: the start instant is the last arrival + this (seconds, default 5)' })
      .option('barrier-timeout-s', {
        type: 'number',
        describe: 'with --barrier: fail the barrier (HTTP 504 naming the missing shards) this long after the first arrival (seconds, default 900)',
      })
      .option('exit-when', { type: 'string', describe: 'exit once this file exists (checked every second; e.g. the merge step touches it on a shared volume)' })
      .example('$0 time-server --host 0.0.0.0 --port 18780', 'on one node; then every shard: replay ... --time-url http://THAT_NODE:18780'),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const { ConfigError } = await import('../errors.js');
    const { startTimeServer } = await import('../scale/clock.js');
    const { renameSync, writeFileSync } = await import('node:fs');
    const { existsSync } = await import('node:fs');
    const flag = (k: string): string => `--${k.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`;
    for (const k of ['host', 'port', 'portFile', 'barrier', 'barrierLeadS', 'barrierTimeoutS', 'exitWhen'] as const) {
      if (Array.isArray(argv[k])) throw new ConfigError('given more than once; give it once', { path: flag(k) });
    }
    const positive = (k: 'barrierLeadS' | 'barrierTimeoutS', def: number): number => {
      const v = argv[k] ?? def;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`expected seconds >= 0, got ${String(argv[k])}`, { path: flag(k) });
      return v;
    };
    const count = argv.barrier;
    if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 1))
      throw new ConfigError(`expected a shard count >= 1, got ${String(count)}`, { path: '--barrier' });
    if (count === undefined)
      for (const k of ['barrierLeadS', 'barrierTimeoutS'] as const)
        if (argv[k] !== undefined) throw new ConfigError('applies with --barrier N', { path: flag(k) });
    const barrier =
      count === undefined
        ? undefined
        : { count: count as number, leadMs: positive('barrierLeadS', 5) * 1000, timeoutMs: positive('barrierTimeoutS', 900) * 1000 };
    const port = argv.port === undefined ? 18780 : argv.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError(`expected a port number 0..65535, got ${String(argv.port)}`, { path: '--port' });
    const host = argv.host === undefined ? '127.0.0.1' : String(argv.host);
    let server: Awaited<ReturnType<typeof startTimeServer>>;
    try {
      server = await startTimeServer({ host, port, ...(barrier ? { barrier } : {}) });
    } catch (e) {
      throw new ConfigError(`cannot listen on ${host}:${port}: ${(e as Error).message}`, { path: '--port' });
    }
    const actual = new URL(server.url).port;
    if (argv.portFile !== undefined) {
      const f = String(argv.portFile);
      try {
        writeFileSync(`${f}.tmp-${process.pid}`, `${actual}\n`);
        renameSync(`${f}.tmp-${process.pid}`, f);
      } catch (e) {
        await server.close();
        throw new ConfigError(`cannot write the port: ${(e as Error).message}`, { path: '--port-file' });
      }
    }
    process.stderr.write(`splitbench time-server: listening on ${server.url}${barrier ? ` (start barrier for ${barrier.count} shards)` : ''}\n`);
    await new Promise<void>((resolve) => {
      const exitWhen = argv.exitWhen === undefined ? undefined : String(argv.exitWhen);
      const poll = exitWhen === undefined ? undefined : setInterval(() => existsSync(exitWhen) && stop(), 1000);
      const stop = (): void => {
        if (poll) clearInterval(poll);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await server.close();
  },
};
