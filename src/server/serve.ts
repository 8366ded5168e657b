/**
 * `splitbench serve` as a library call: build the emulated cluster, listen, print the listening line
 * (first stdout line, parsed by `replay`), serve until SIGINT/SIGTERM, then shut down cleanly.
 */
import fs from 'node:fs';
import { ConfigError, ExitCode } from '../errors.js';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_BUFFERED_BYTES,
  startServer,
  type RunningServer,
} from './app.js';
import { createBackend } from './backend.js';
import type { ServedModel } from './openai.js';

export interface ServeOptions {
  readonly deployment: string;
  readonly model?: string;
  /** auto | profile | roofline (default: the deployment's perfModel). */
  readonly perfModel?: string;
  readonly host: string;
  readonly port: number;
  readonly timeScale: number;
  readonly maxQueue: number;
  readonly compat?: 'splitwise';
  readonly seed?: number;
  /** Serve one pool of a split deployment as a disaggregated-serving endpoint. */
  readonly role?: 'prefill' | 'decode';
  /** The HTTP layer's limits and key (shared with `serve --engine real`). */
  readonly http?: HttpLimits;
}

/** `serve`'s HTTP-layer flags, in the units the flags use. */
export interface HttpLimits {
  readonly headerTimeoutS: number;
  readonly bodyTimeoutS: number;
  readonly maxBodyMiB: number;
  readonly maxBufferedMiB: number;
  /** Empty or absent: no key needed. */
  readonly apiKey?: string | undefined;
  /** `--max-output-tokens`: cap on every request's output length (absent: none, up to the context). */
  readonly maxOutputTokens?: number | undefined;
}

/** The served model with the `--max-output-tokens` cap of the HTTP limits. */
export function cappedModel<M extends ServedModel>(model: M, l: HttpLimits): M {
  return l.maxOutputTokens === undefined ? model : { ...model, maxOutputTokens: l.maxOutputTokens };
}

const MIB = 1024 * 1024;
export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headerTimeoutS: DEFAULT_HEADER_TIMEOUT_MS / 1000,
  bodyTimeoutS: DEFAULT_BODY_TIMEOUT_MS / 1000,
  maxBodyMiB: DEFAULT_MAX_BODY_BYTES / MIB,
  maxBufferedMiB: DEFAULT_MAX_BUFFERED_BYTES / MIB,
};

/** Problems with the HTTP-layer flags, each named by its flag. */
export function httpLimitProblems(l: HttpLimits): string[] {
  const out: string[] = [];
  const secs = (flag: string, v: number): void => {
    if (!(v > 0) || !Number.isFinite(v) || v > 3600) out.push(`${flag}: must be a number of seconds > 0 and ≤ 3600, got ${v}`);
  };
  secs('--header-timeout', l.headerTimeoutS);
  secs('--body-timeout', l.bodyTimeoutS);
  if (!(l.maxBodyMiB > 0) || !Number.isFinite(l.maxBodyMiB) || l.maxBodyMiB > 1024)
    out.push(`--max-body-mib: must be a number > 0 and ≤ 1024, got ${l.maxBodyMiB}`);
  if (!(l.maxBufferedMiB > 0) || !Number.isFinite(l.maxBufferedMiB) || l.maxBufferedMiB > 16384) {
    out.push(`--max-buffered-mib: must be a number > 0 and ≤ 16384, got ${l.maxBufferedMiB}`);
  } else if (l.maxBufferedMiB < l.maxBodyMiB) out.push(`--max-buffered-mib (${l.maxBufferedMiB}) must be at least --max-body-mib (${l.maxBodyMiB})`);
  const cap = l.maxOutputTokens;
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 1)) out.push(`--max-output-tokens: must be an integer ≥ 1, got ${cap}`);
  return out;
}

/** `startServer` options from the HTTP-layer flags. */
export function httpServerOptions(l: HttpLimits): {
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  maxBodyBytes: number;
  maxBufferedBytes: number;
  apiKey?: string;
} {
  return {
    headerTimeoutMs: Math.round(l.headerTimeoutS * 1000),
    bodyTimeoutMs: Math.round(l.bodyTimeoutS * 1000),
    maxBodyBytes: Math.floor(l.maxBodyMiB * MIB),
    maxBufferedBytes: Math.floor(l.maxBufferedMiB * MIB),
    ...(l.apiKey ? { apiKey: l.apiKey } : {}),
  };
}

/** Whether a bound address is a loopback one (127.0.0.0/8, ::1, or IPv4-mapped 127.x). */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  return a === '::1' || a === 'localhost' || /^(::ffff:)?127\./.test(a);
}

/** The stderr warning for a server bound to a non-loopback address (undefined on loopback). */
export function exposureWarning(address: string, apiKey: string | undefined): string | undefined {
  if (isLoopback(address)) return undefined;
  return (
    `splitbench serve: warning: listening on ${address}, which is not a loopback address: other machines can reach this server` +
    (apiKey ? ' (requests to /v1/* need the API key)' : ' and use it without authentication; set SPLITBENCH_API_KEY (or --api-key) to require a key') +
    '\n'
  );
}

/** What a failed listen on `--host`/`--port` throws: a ConfigError naming the flag where the address is the cause. */
export function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return new ConfigError(`port ${port} on ${host} is already in use`, { path: '--port', hint: 'pick another --port, or --port 0 for a free one' });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES')
    return new ConfigError(`cannot listen on ${host}:${port} (${code})`, { path: '--host' });
  return e;
}

/** The first stdout line of `serve`. */
export function listeningLine(url: string): string {
  return `splitbench serve: listening on ${url}`;
}

/** Validate flags (all problems named by flag), build, listen and serve until a signal; returns the exit code. */
export async function serve(opts: ServeOptions): Promise<number> {
  const problems: string[] = [];
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) problems.push(`--port: must be an integer from 0 to 65535, got ${opts.port}`);
  if (!(opts.timeScale > 0) || !Number.isFinite(opts.timeScale)) problems.push(`--time-scale: must be a number > 0, got ${opts.timeScale}`);
  if (!Number.isInteger(opts.maxQueue) || opts.maxQueue < 1) problems.push(`--max-queue: must be an integer ≥ 1, got ${opts.maxQueue}`);
  if (opts.host.trim() === '') problems.push('--host: must not be empty');
  const limits = opts.http ?? DEFAULT_HTTP_LIMITS;
  problems.push(...httpLimitProblems(limits));
  if (problems.length > 0) throw new ConfigError(problems.join('; '), { hint: 'see `splitbench serve --help`' });

  const backend = createBackend({
    deployment: opts.deployment,
    timeScale: opts.timeScale,
    ...(opts.model === undefined ? {} : { model: opts.model }),
    ...(opts.perfModel === undefined ? {} : { perfModel: opts.perfModel }),
    ...(opts.compat === undefined ? {} : { compat: opts.compat }),
    ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    ...(opts.role === undefined ? {} : { role: opts.role }),
  });
  let server: RunningServer;
  try {
    server = await startServer({
      cluster: backend.cluster,
      clock: backend.clock,
      model: cappedModel(backend.model, limits),
      host: opts.host,
      port: opts.port,
      maxQueue: opts.maxQueue,
      gpuModel: (t) => backend.gpuModel(t),
      ...(backend.role ? { role: { role: backend.role, ...(backend.promptMachine ? { promptMachine: backend.promptMachine } : {}) } } : {}),
      onIteration: (f) => backend.onIteration(f),
      ...httpServerOptions(limits),
    });
  } catch (e) {
    backend.clock.close();
    throw listenError(e, opts.host, opts.port);
  }
  process.stdout.write(`${listeningLine(server.url)}\n`);
  const exposed = exposureWarning(server.host, limits.apiKey);
  if (exposed) process.stderr.write(exposed);
  const machines = backend.cluster.machines();
  const pools = [...new Set(machines.map((m) => m.pool))].map(
    (p) => `${p}: ${machines.filter((m) => m.pool === p).length} × ${machines.find((m) => m.pool === p)!.type}`,
  );
  process.stderr.write(
    `splitbench serve: ${backend.deployment.name} (${pools.join(', ')}), model ${backend.model.name}, ` +
      `time scale ${opts.timeScale}${opts.compat ? `, compat ${opts.compat}` : ''}${backend.role ? `, ${backend.role} endpoint (kv_transfer_params)` : ''}; Ctrl-C to stop\n`,
  );

  return serveUntilStopped(() => server.close());
}

/**
 * Keep a started server up until SIGINT/SIGTERM (a second one exits at once with 130) or until the parent
 * holding our stdin pipe goes away; then `close()` it and resolve with exit code 0. Shared by the emulated
 * and the real-inference servers.
 */
export async function serveUntilStopped(close: () => Promise<void>): Promise<number> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`splitbench serve: ${why}: shutting down\n`);
      void close().then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        unwatch();
        resolve();
      });
    };
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`splitbench serve: ${sig} again: exiting now\n`);
        process.exit(ExitCode.interrupted);
      }
      stop(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const unwatch = watchParentPipe(() => stop('stdin closed (parent gone)'));
  });
  return ExitCode.ok;
}

/**
 * When stdin is a pipe (a parent such as `replay` started us and holds its end), its closing means the
 * parent is gone, even if it died by SIGKILL: shut down then. A terminal or /dev/null stdin is not watched.
 * Returns a function that stops watching.
 */
function watchParentPipe(onGone: () => void): () => void {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(0);
  } catch {
    return () => undefined;
  }
  if (!st.isFIFO() && !st.isSocket()) return () => undefined;
  const stdin = process.stdin;
  stdin.on('data', () => undefined);
  stdin.once('end', onGone);
  stdin.once('close', onGone);
  stdin.on('error', onGone);
  stdin.resume();
  return () => {
    stdin.off('end', onGone);
    stdin.off('close', onGone);
    stdin.off('error', onGone);
    stdin.destroy();
  };
}
