/**
 * `splitbench time-server`: the clock reference of a multi-node run, independent of the target.
 *
 * It answers `GET /time` → `{"wall_ms": <epoch ms>}` (what every shard's clock check reads, see
 * src/scale/clock.ts) and nothing else, so replays against vLLM, SGLang or any OpenAI-compatible server,
 * which have no `/time`, still get measured offsets and merge. `splitbench launch` starts one on the first
 * allocated node (Slurm) or as a Deployment behind a Service (Kubernetes).
 */
import { camelKey } from '../flagspec.js';
import { defineCommand } from './define.js';

/** A whole number in [lo, hi], else an error in these words. */
const whole =
  (lo: number, hi: number, words: string) =>
  (v: number): number => {
    if (!(Number.isInteger(v) && v >= lo && v <= hi)) throw new Error(`expected ${words}, got ${v}`);
    return v;
  };

const TIME_SERVER_FLAGS = {
  host: { type: 'string', default: '127.0.0.1', describe: 'address to listen on (0.0.0.0: every interface, for other nodes)' },
  port: { type: 'number', default: 18780, describe: 'port (0: any free port, see --port-file)', parse: whole(0, 65535, 'a port number 0..65535') },
  'port-file': {
    type: 'string',
    describe: 'once listening, write the port to this file (renamed into place, so a reader never sees it half-written)',
  },
  barrier: {
    type: 'number',
    describe:
      'also serve a start barrier for N shards: GET /barrier?shard=i answers every shard the same start instant once all N asked (replay --start-at barrier)',
    parse: whole(1, Number.MAX_SAFE_INTEGER, 'a shard count >= 1'),
  },
  'barrier-lead-s': { type: 'number', min: 0, default: 5, describe: 'with --barrier: the start instant is the last arrival + this (seconds)' },
  'barrier-timeout-s': {
    type: 'number',
    min: 0,
    default: 900,
    describe: 'with --barrier: fail the barrier (HTTP 504 naming the missing shards) this long after the first arrival (seconds)',
  },
  'exit-when': { type: 'string', describe: 'exit once this file exists (checked every second; e.g. the merge step touches it on a shared volume)' },
} as const;

export const timeServerCommand = defineCommand({
  command: 'time-server',
  describe: "serve GET /time (this host's wall clock) as the clock reference of sharded replays (--time-url), until stopped",
  flags: TIME_SERVER_FLAGS,
  examples: [['$0 time-server --host 0.0.0.0 --port 18780', 'on one node; then every shard: replay ... --time-url http://THAT_NODE:18780']],
  read: (f, problems, argv) => {
    if (f.barrier === undefined)
      for (const k of ['barrier-lead-s', 'barrier-timeout-s'] as const) if (argv[camelKey(k)] !== undefined) problems.add(`--${k}`, 'applies with --barrier N');
    return f;
  },
  run: async (f) => {
    const { ConfigError } = await import('../errors.js');
    const { startTimeServer } = await import('../scale/clock.js');
    const { renameSync, writeFileSync } = await import('node:fs');
    const { existsSync } = await import('node:fs');
    const barrier = f.barrier === undefined ? undefined : { count: f.barrier, leadMs: f.barrierLeadS * 1000, timeoutMs: f.barrierTimeoutS * 1000 };
    const { host, port } = f;
    let server: Awaited<ReturnType<typeof startTimeServer>>;
    try {
      server = await startTimeServer({ host, port, ...(barrier ? { barrier } : {}) });
    } catch (e) {
      throw new ConfigError(`cannot listen on ${host}:${port}: ${(e as Error).message}`, { path: '--port' });
    }
    const actual = new URL(server.url).port;
    if (f.portFile !== undefined) {
      const file = f.portFile;
      try {
        writeFileSync(`${file}.tmp-${process.pid}`, `${actual}\n`);
        renameSync(`${file}.tmp-${process.pid}`, file);
      } catch (e) {
        await server.close();
        throw new ConfigError(`cannot write the port: ${(e as Error).message}`, { path: '--port-file' });
      }
    }
    process.stderr.write(`splitbench time-server: listening on ${server.url}${barrier ? ` (start barrier for ${barrier.count} shards)` : ''}\n`);
    await new Promise<void>((resolve) => {
      const exitWhen = f.exitWhen;
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
});
