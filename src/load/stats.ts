/**
 * Live run statistics of the load generator: counts by status, schedule lag, TTFT/TPOT/E2E and token
 * totals, on live-mode distributions (src/metrics/histogram.ts: hdr-backed, constant memory). They feed the progress line, the lag flag, the
 * `--max-error-rate` check and the end-of-run summary. Warmup requests count in `sent`/`lag` (the
 * schedule must hold for them too) but not in the latency and throughput figures.
 */
import { Distribution } from '../metrics/histogram.js';

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
  /** Trace seconds. */
  readonly ttft?: number | undefined;
  readonly tpot?: number | undefined;
  readonly e2e?: number | undefined;
  /** Trace seconds from t0 of send and end. */
  readonly send?: number | undefined;
  readonly end?: number | undefined;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly tokensReceived: number;
}

export class LiveStats {
  sent = 0;
  inFlight = 0;
  done = 0;
  readonly byStatus = { ok: 0, error: 0, timeout: 0, cancelled: 0 };
  readonly errorCodes = new Map<string, number>();
  fewerTokens = 0;
  moreTokens = 0;
  readonly lag = Distribution.live();
  readonly ttft = Distribution.live();
  readonly tpot = Distribution.live();
  readonly e2e = Distribution.live();
  /** Measured (non-warmup) window, trace seconds from t0. */
  firstSend = Infinity;
  lastEnd = -Infinity;
  okMeasured = 0;
  inputTokens = 0;
  outputTokens = 0;

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
    if (r.warmup) return;
    if (r.send !== undefined && r.send < this.firstSend) this.firstSend = r.send;
    if (r.status !== 'ok') return;
    if (r.end !== undefined && r.end > this.lastEnd) this.lastEnd = r.end;
    this.okMeasured++;
    this.inputTokens += r.promptTokens;
    this.outputTokens += r.tokensReceived;
    if (r.ttft !== undefined) this.ttft.record(r.ttft);
    if (r.tpot !== undefined) this.tpot.record(r.tpot);
    if (r.e2e !== undefined) this.e2e.record(r.e2e);
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
    ttftS: DistSummary;
    tpotS: DistSummary;
    e2eS: DistSummary;
    spanS: number | null;
    throughput: { requestsPerS: number | null; inputTokensPerS: number | null; outputTokensPerS: number | null };
  } {
    const span = this.lastEnd > this.firstSend ? this.lastEnd - this.firstSend : null;
    return {
      requests: { sent: this.sent, ...this.byStatus },
      errorCodes: Object.fromEntries([...this.errorCodes.entries()].sort((a, b) => b[1] - a[1])),
      outputMismatch: { fewer: this.fewerTokens, more: this.moreTokens },
      lagS: dist(this.lag),
      ttftS: dist(this.ttft),
      tpotS: dist(this.tpot),
      e2eS: dist(this.e2e),
      spanS: span,
      throughput: {
        requestsPerS: span ? this.okMeasured / span : null,
        inputTokensPerS: span ? this.inputTokens / span : null,
        outputTokensPerS: span ? this.outputTokens / span : null,
      },
    };
  }
}
