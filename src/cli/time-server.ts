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
  describe: 'serve GET /time (this host\'s wall clock) as the clock reference of sharded replays (--time-url), until stopped',
  builder: (y: Argv) =>
    y
      .option('host', { type: 'string', describe: 'address to listen on (default 127.0.0.1; 0.0.0.0: every interface, for other nodes)' })
      .option('port', { type: 'number', describe: 'port (default 18780; 0: any free port, see --port-file)' })
      .option('port-file', { type: 'string', describe: 'once listening, write the port to this file (renamed into place, so a reader never sees it half-written)' })
      .example('$0 time-server --host 0.0.0.0 --port 18780', 'on one node; then every shard: replay ... --time-url http://THAT_NODE:18780'),
  handler: async (argv: ArgumentsCamelCase<Args>) => {
    const { ConfigError } = await import('../errors.js');
    const { startTimeServer } = await import('../scale/clock.js');
    const { renameSync, writeFileSync } = await import('node:fs');
    for (const k of ['host', 'port', 'portFile'] as const) {
      if (Array.isArray(argv[k])) throw new ConfigError('given more than once; give it once', { path: `--${k === 'portFile' ? 'port-file' : k}` });
    }
    const port = argv.port === undefined ? 18780 : argv.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`expected a port number 0..65535, got ${String(argv.port)}`, { path: '--port' });
    const host = argv.host === undefined ? '127.0.0.1' : String(argv.host);
    let server: Awaited<ReturnType<typeof startTimeServer>>;
    try {
      server = await startTimeServer({ host, port });
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
    process.stderr.write(`splitbench time-server: listening on ${server.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
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
