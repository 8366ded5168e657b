/**
 * Live run statistics of the load generator: counts by status, error codes, output-length mismatches, token
 * totals and the schedule lag (a live-mode `Distribution`: hdr-backed, constant memory). They feed the progress
 * line, the lag flag, the `--max-error-rate` check and the counts of the end-of-run summary, whose latency and
 * throughput figures come from the stored rows (src/load/summary.ts). Warm-up requests count in `sent`/`lag`
 * (the schedule must hold for them too) but not in the token totals.
 */
import { Distribution } from '../metrics/histogram.js';
import type { RequestStarted, RunListener } from '../run/events.js';
import type { RequestRow } from '../store/index.js';

export interface DistSummary {
  readonly count: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

function dist(h: Distribution): DistSummary {
  return {
    count: h.count,
    p50: h.percentile(50) ?? null,
    p90: h.percentile(90) ?? null,
    p99: h.percentile(99) ?? null,
    max: h.max() ?? null,
    mean: h.mean() ?? null,
  };
}

export interface FinishedRequest {
  readonly status: 'ok' | 'error' | 'timeout' | 'cancelled';
  readonly warmup: boolean;
  readonly errorCode?: string | undefined;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly tokensReceived: number;
}

/** A run-events subscriber (src/run/events.ts): the runner subscribes it before anything else. */
export class LiveStats implements RunListener {
  sent = 0;
  inFlight = 0;
  done = 0;
  readonly byStatus = { ok: 0, error: 0, timeout: 0, cancelled: 0 };
  readonly errorCodes = new Map<string, number>();
  fewerTokens = 0;
  moreTokens = 0;
  readonly lag = Distribution.live();
  /** Tokens of ok, non-warm-up requests. */
  inputTokens = 0;
  outputTokens = 0;

  requestStarted(e: RequestStarted): void {
    this.onSent(e.lagS);
  }

  outcome(row: RequestRow): void {
    this.onFinished({
      status: row.status as FinishedRequest['status'],
      warmup: row.warmup === true,
      errorCode: row.errorCode,
      promptTokens: row.promptTokens,
      outputTokens: row.outputTokens,
      tokensReceived: row.tokensReceived,
    });
  }

  onSent(lagS: number): void {
    this.sent++;
    this.inFlight++;
    this.lag.record(lagS);
  }

  onFinished(r: FinishedRequest): void {
    this.inFlight--;
    this.done++;
    this.byStatus[r.status]++;
    if (r.status !== 'ok' && r.errorCode) this.errorCodes.set(r.errorCode, (this.errorCodes.get(r.errorCode) ?? 0) + 1);
    if (r.status === 'ok') {
      if (r.tokensReceived < r.outputTokens) this.fewerTokens++;
      else if (r.tokensReceived > r.outputTokens) this.moreTokens++;
    }
    if (r.warmup || r.status !== 'ok') return;
    this.inputTokens += r.promptTokens;
    this.outputTokens += r.tokensReceived;
  }

  /** Requests that failed (error or timeout), not counting cancelled ones. */
  get failed(): number {
    return this.byStatus.error + this.byStatus.timeout;
  }

  summary(): {
    requests: { sent: number; ok: number; error: number; timeout: number; cancelled: number };
    errorCodes: Record<string, number>;
    outputMismatch: { fewer: number; more: number };
    lagS: DistSummary;
  } {
    return {
      requests: { sent: this.sent, ...this.byStatus },
      errorCodes: Object.fromEntries([...this.errorCodes.entries()].sort((a, b) => b[1] - a[1])),
      outputMismatch: { fewer: this.fewerTokens, more: this.moreTokens },
      lagS: dist(this.lag),
    };
  }
}
