/**
 * `splitbench serve --engine real`: the reference backend's HTTP face (src/server: OpenAI-compatible
 * routes, SSE, usage, the `splitbench` breakdown extension, /metrics) over worker processes running a real
 * model (llama.cpp) instead of the emulated cluster. Prints the same listening line as the emulated
 * server, serves until SIGINT/SIGTERM (or its parent's pipe on stdin closes), then stops the workers.
 */
import { ConfigError } from '../errors.js';
import {
  DEFAULT_HTTP_LIMITS,
  cappedModel,
  exposureWarning,
  httpLimitProblems,
  httpServerOptions,
  listenError,
  listeningLine,
  serveUntilStopped,
  startServer,
  type HttpLimits,
  type RunningServer,
} from '../server/index.js';
import { RealCluster, type RealClusterOptions } from './cluster.js';
import { defaultModelFile } from './model.js';

export interface RealServeOptions extends Omit<RealClusterOptions, 'modelFile'> {
  /** GGUF model file (default: the tiny generated model, made on first use). */
  readonly modelFile?: string;
  readonly host: string;
  readonly port: number;
  readonly maxQueue: number;
  /** The HTTP layer's limits and key (the same flags as the emulated server). */
  readonly http?: HttpLimits;
}

/** Start the workers and the HTTP server (for tests and `serveReal`). */
export async function startRealServer(opts: RealServeOptions): Promise<{ server: RunningServer; cluster: RealCluster; close(): Promise<void> }> {
  const problems: string[] = [];
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) problems.push(`--port: must be an integer from 0 to 65535, got ${opts.port}`);
  if (!Number.isInteger(opts.maxQueue) || opts.maxQueue < 1) problems.push(`--max-queue: must be an integer ≥ 1, got ${opts.maxQueue}`);
  const limits = opts.http ?? DEFAULT_HTTP_LIMITS;
  problems.push(...httpLimitProblems(limits));
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { hint: 'see `splitbench serve --help`' });
  const modelFile = opts.modelFile ?? defaultModelFile();
  const cluster = await RealCluster.start({ ...opts, modelFile });
  let server: RunningServer;
  try {
    server = await startServer({
      cluster,
      clock: cluster.clock,
      model: cappedModel(
        { name: cluster.shape.name, maxContextTokens: cluster.contextSize, ...(cluster.shape.vocab > 0 ? { vocabSize: cluster.shape.vocab } : {}) },
        limits,
      ),
      engineLabel: 'the real-inference workers',
      host: opts.host,
      port: opts.port,
      maxQueue: opts.maxQueue,
      ...httpServerOptions(limits),
    });
  } catch (e) {
    await cluster.close();
    throw listenError(e, opts.host, opts.port);
  }
  return {
    server,
    cluster,
    close: async () => {
      await server.close();
      await cluster.close();
    },
  };
}

/** Validate, start, print the listening line and serve until a signal; returns the exit code. */
export async function serveReal(opts: RealServeOptions): Promise<number> {
  const { server, cluster, close } = await startRealServer(opts);
  process.stdout.write(`${listeningLine(server.url)}\n`);
  const exposed = exposureWarning(server.host, opts.http?.apiKey);
  if (exposed) process.stderr.write(exposed);
  const roles = new Map<string, number>();
  for (const m of cluster.machines()) roles.set(m.pool, (roles.get(m.pool) ?? 0) + 1);
  process.stderr.write(
    `splitbench serve: real engine, ${opts.deployment} (${[...roles].map(([r, n]) => `${n} ${r} worker${n > 1 ? 's' : ''}`).join(', ')}; ` +
      `${cluster.slots} sequences × ${cluster.contextSize} tokens each, ${opts.threads ?? 1} thread(s), ${cluster.device}), ` +
      `model ${cluster.shape.name} (${cluster.shape.layers} layers, ${cluster.shape.hidden} wide); ` +
      `worker pids ${[...cluster.workerPids()].map(([id, pid]) => `${id}=${pid}`).join(' ')}; Ctrl-C to stop\n`,
  );
  return serveUntilStopped(close);
}
