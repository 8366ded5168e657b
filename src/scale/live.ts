/**
 * Live view of a running replay (shard): Prometheus metrics on `--metrics-port`, for the user's Grafana.
 * Results never travel this way (they go to the store); this is for watching.
 *
 *   splitbench_replay_in_flight                  gauge    requests sent, not finished
 *   splitbench_replay_requests_sent_total        counter  requests handed to the HTTP client
 *   splitbench_replay_requests_completed_total   counter  finished requests, by status (ok, error, timeout, cancelled)
 *   splitbench_replay_errors_total               counter  error + timeout
 *   splitbench_replay_input_tokens_total         counter  prompt tokens of ok requests
 *   splitbench_replay_output_tokens_total        counter  output tokens received
 *   splitbench_replay_dispatch_lag_seconds       histogram send − scheduled (trace seconds), per finished request
 *   splitbench_replay_shard_info                 gauge    1, labels shard, shards, run_uuid
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConfigError } from '../errors.js';
import type { RequestRow } from '../store/index.js';

export interface LiveSource {
  readonly inFlight: number;
  readonly sent: number;
}

export class LiveMetrics {
  readonly registry = new Registry();
  private source: LiveSource | undefined;
  private lastSent = 0;
  private readonly completed: Counter<'status'>;
  private readonly errors: Counter;
  private readonly inputTokens: Counter;
  private readonly outputTokens: Counter;
  private readonly lag: Histogram;

  constructor(labels: { shard: string; shards: string; runUuid: string }) {
    const registers = [this.registry];
    const self = this;
    new Gauge({
      name: 'splitbench_replay_in_flight',
      help: 'requests sent and not finished',
      registers,
      collect() {
        this.set(self.source?.inFlight ?? 0);
      },
    });
    new Counter({
      name: 'splitbench_replay_requests_sent_total',
      help: 'requests handed to the HTTP client',
      registers,
      collect() {
        const now = self.source?.sent ?? 0;
        if (now > self.lastSent) this.inc(now - self.lastSent);
        self.lastSent = now;
      },
    });
    this.completed = new Counter({ name: 'splitbench_replay_requests_completed_total', help: 'finished requests by status', labelNames: ['status'], registers });
    this.errors = new Counter({ name: 'splitbench_replay_errors_total', help: 'requests that failed (error or timeout)', registers });
    this.inputTokens = new Counter({ name: 'splitbench_replay_input_tokens_total', help: 'prompt tokens of ok requests', registers });
    this.outputTokens = new Counter({ name: 'splitbench_replay_output_tokens_total', help: 'output tokens received', registers });
    this.lag = new Histogram({
      name: 'splitbench_replay_dispatch_lag_seconds',
      help: 'send − scheduled of finished requests (trace seconds)',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    new Gauge({ name: 'splitbench_replay_shard_info', help: 'this process\'s shard', labelNames: ['shard', 'shards', 'run_uuid'], registers }).set(
      { shard: labels.shard, shards: labels.shards, run_uuid: labels.runUuid },
      1,
    );
  }

  /** Where in-flight and sent counts come from (the replay's live stats, once the run exists). */
  attach(source: LiveSource): void {
    this.source = source;
  }

  /** Account one finished request (called as its row is written). */
  observe(row: RequestRow): void {
    this.completed.inc({ status: row.status });
    if (row.status === 'error' || row.status === 'timeout') this.errors.inc();
    if (row.status === 'ok') this.inputTokens.inc(row.promptTokens);
    if (row.tokensReceived > 0) this.outputTokens.inc(row.tokensReceived);
    if (row.send !== undefined && Number.isFinite(row.send)) this.lag.observe(Math.max(0, row.send - row.scheduled));
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serve `GET /metrics` on `port` (0: any free port) of `host` (default all interfaces). */
export function serveMetrics(m: LiveMetrics, port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('splitbench replay: only /metrics here\n');
      return;
    }
    m.text().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': m.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      },
      (e: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`metrics failed: ${(e as Error).message}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new ConfigError(`cannot listen on port ${port}: ${e.code === 'EADDRINUSE' ? 'in use' : e.message}`, { path: '--metrics-port' })),
    );
    server.listen(port, host, () => {
      const a = server.address() as AddressInfo;
      server.unref();
      resolve({
        url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a.port}/metrics`,
        port: a.port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
