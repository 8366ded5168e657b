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
 *   splitbench_replay_ttft_seconds               histogram client TTFT of requests that got a first token
 *   splitbench_replay_inter_token_latency_seconds histogram client per-token gaps (token-weighted, as the TBT samples)
 *   splitbench_replay_e2e_seconds                histogram client E2E of ok requests
 *   splitbench_replay_shard_info                 gauge    1, labels shard, shards, run_uuid
 *
 * Every scrape is consistent: the sent count is read at the start of a scrape and finished requests are never
 * applied while one renders, so at each scrape
 * requests_sent_total = in_flight + Σ requests_completed_total, and e2e_seconds_count = completed{status="ok"}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ConfigError } from '../errors.js';
import { e2eOf, forEachTbtGap, lagOf, ttftOf } from '../metrics/formulas.js';
import type { RunListener } from '../run/events.js';
import { decodeChunks, type RequestRow } from '../store/index.js';

/** Buckets of the client latency histograms: vLLM's TTFT / inter-token / request-latency buckets. */
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

/**
 * A run-events subscriber (src/run/events.ts): requests started and finished come from the run's bus, as
 * they do for progress and the live stats; nothing reads the runner.
 */
export class LiveMetrics implements RunListener {
  readonly registry = new Registry();
  /** Requests started so far (the bus's requestStarted events). */
  private sent = 0;
  private lastSent = 0;
  /** Sent count as of the last scrape, and rows applied (those with a send time) by then. */
  private sentAtScrape = 0;
  private appliedSent = 0;
  /** Rows finished since the last scrape, applied at the next one. */
  private pending: RequestRow[] = [];
  private rendering = 0;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
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
        // Sent and not yet recorded, as of this scrape's snapshot (see `text`).
        this.set(Math.max(0, self.sentAtScrape - self.appliedSent));
      },
    });
    new Counter({
      name: 'splitbench_replay_requests_sent_total',
      help: 'requests handed to the HTTP client',
      registers,
      collect() {
        const now = self.sentAtScrape;
        if (now > self.lastSent) this.inc(now - self.lastSent);
        self.lastSent = now;
      },
    });
    this.completed = new Counter({
      name: 'splitbench_replay_requests_completed_total',
      help: 'finished requests by status',
      labelNames: ['status'],
      registers,
    });
    this.errors = new Counter({ name: 'splitbench_replay_errors_total', help: 'requests that failed (error or timeout)', registers });
    this.inputTokens = new Counter({ name: 'splitbench_replay_input_tokens_total', help: 'prompt tokens of ok requests', registers });
    this.outputTokens = new Counter({ name: 'splitbench_replay_output_tokens_total', help: 'output tokens received', registers });
    this.lag = new Histogram({
      name: 'splitbench_replay_dispatch_lag_seconds',
      help: 'send − scheduled of finished requests (trace seconds)',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.ttft = new Histogram({ name: 'splitbench_replay_ttft_seconds', help: 'client time to first token (s)', buckets: TTFT_BUCKETS, registers });
    this.itl = new Histogram({
      name: 'splitbench_replay_inter_token_latency_seconds',
      help: "client per-token gaps (s): a chunk's gap from the previous token-carrying chunk, spread over its tokens",
      buckets: ITL_BUCKETS,
      registers,
    });
    this.e2e = new Histogram({ name: 'splitbench_replay_e2e_seconds', help: 'client end-to-end latency of ok requests (s)', buckets: E2E_BUCKETS, registers });
    new Gauge({ name: 'splitbench_replay_shard_info', help: "this process's shard", labelNames: ['shard', 'shards', 'run_uuid'], registers }).set(
      { shard: labels.shard, shards: labels.shards, run_uuid: labels.runUuid },
      1,
    );
  }

  /** A request was handed to the target. */
  requestStarted(): void {
    this.sent++;
  }

  /** A request finished: its row is accounted (at once, or after the scrape that is rendering). */
  outcome(row: RequestRow): void {
    if (this.rendering > 0) this.pending.push(row);
    else this.apply(row);
  }

  private apply(row: RequestRow): void {
    if (row.send !== undefined) this.appliedSent++;
    this.completed.inc({ status: row.status });
    if (row.status === 'error' || row.status === 'timeout') this.errors.inc();
    if (row.status === 'ok') this.inputTokens.inc(row.promptTokens);
    if (row.tokensReceived > 0) this.outputTokens.inc(row.tokensReceived);
    const send = row.send;
    const lag = lagOf(send, row.scheduled);
    if (lag !== undefined) this.lag.observe(Math.max(0, lag));
    if (send === undefined || !Number.isFinite(send)) return;
    const ttft = ttftOf(row.firstToken, send);
    if (ttft !== undefined) this.ttft.observe(Math.max(0, ttft));
    if (row.status !== 'ok') return;
    const e2e = e2eOf(row.end, send, row.status);
    if (e2e !== undefined) this.e2e.observe(Math.max(0, e2e));
    // A replay's rows carry their token times pre-encoded (what is stored); other writers give the chunk list.
    const chunks = row.chunks ?? (row.tokenTimesBlob ? decodeChunks(row.tokenTimesBlob) : []);
    forEachTbtGap(chunks, (gap, count) => {
      for (let k = 0; k < count; k++) this.itl.observe(Math.max(0, gap));
    });
  }

  /**
   * One consistent snapshot: the sent count is read together with the rows finished so far, synchronously,
   * before rendering (prom-client renders metric by metric, across awaits); rows finishing while the text
   * renders are held back until it is done, so they count in the next scrape.
   */
  async text(): Promise<string> {
    this.flushPending();
    this.sentAtScrape = Math.max(this.sentAtScrape, this.sent, this.appliedSent);
    this.rendering++;
    try {
      return await this.registry.metrics();
    } finally {
      this.rendering--;
      if (this.rendering === 0) this.flushPending();
    }
  }

  private flushPending(): void {
    const rows = this.pending;
    this.pending = [];
    for (const row of rows) this.apply(row);
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
