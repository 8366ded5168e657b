/**
 * The end-of-run summary of a replay: counts by status, TTFT/TPOT/E2E percentiles, throughput and the
 * schedule-lag verdict, as a JSON-ready object (`--json`) and as text. The latency and throughput figures are
 * those `splitbench summary` computes from the stored rows (src/metrics `summarizeRun`: exact percentiles,
 * throughput over the arrival window), so a replay and `summary` of its run print the same numbers and one
 * throughput figure; the live statistics (src/load/stats.ts) give the counts and the schedule lag. Latency and throughput
 * exclude warm-up and failed requests; all times are trace seconds.
 */
import { formatSummaries, type RunSummary } from '../metrics/index.js';
import type { Stats } from '../metrics/histogram.js';
import type { ReplayOptions } from './options.js';
import type { ReplayRunResult } from './replay.js';
import type { DistSummary } from './stats.js';
import { formatSelfCheck, type SelfCheck } from './twin.js';

export interface ReplaySummary {
  readonly runId: number;
  readonly name: string;
  readonly status: string;
  readonly reason?: string;
  readonly exitCode: number;
  readonly target: string;
  readonly model: string;
  readonly timeScale: number;
  readonly elapsedWallS: number;
  readonly requests: { sent: number; ok: number; error: number; timeout: number; cancelled: number };
  readonly errorCodes: Record<string, number>;
  readonly outputMismatch: { fewer: number; more: number };
  readonly lag: { p50S: number | null; p99S: number | null; maxS: number | null; flagged: boolean; limitS: number };
  /** From the stored rows (as `summary`): ok, non-warm-up requests; percentiles by `percentileMethod`. */
  readonly ttftS: DistSummary;
  readonly tpotS: DistSummary;
  readonly e2eS: DistSummary;
  readonly percentileMethod: string | null;
  /** From the stored rows (as `summary`): ok requests over the arrival window (`metrics.throughput` has the rest). */
  readonly throughput: { requestsPerS: number | null; inputTokensPerS: number | null; outputTokensPerS: number | null };
  /** Why the run did not sustain its offered load (as `summary`), when it did not. */
  readonly saturated?: string;
  /** The full summary `splitbench summary --json` prints for the run (absent if the store could not be read back). */
  readonly metrics?: RunSummary;
  /** Against the bundled backend: the twin check and the distortion verdict (src/load/twin.ts). */
  readonly selfCheck?: SelfCheck;
  readonly distorted: boolean;
}

const NO_DIST: DistSummary = { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };

function distOf(st: Stats | undefined): DistSummary {
  return st ? { count: st.count, p50: st.p50, p90: st.p90, p99: st.p99, max: st.max, mean: st.mean } : NO_DIST;
}

export function buildSummary(a: {
  runId: number;
  exitCode: number;
  name: string;
  target: string;
  model: string;
  opts: ReplayOptions;
  result: ReplayRunResult;
  metrics?: RunSummary;
  selfCheck?: SelfCheck;
}): ReplaySummary {
  const s = a.result.stats.summary();
  const m = a.metrics;
  return {
    runId: a.runId,
    name: a.name,
    status: a.result.status,
    ...(a.result.reason ? { reason: a.result.reason } : {}),
    exitCode: a.exitCode,
    target: a.target,
    model: a.model,
    timeScale: a.opts.timeScale,
    elapsedWallS: a.result.elapsedS,
    requests: s.requests,
    errorCodes: s.errorCodes,
    outputMismatch: s.outputMismatch,
    lag: { p50S: s.lagS.p50, p99S: s.lagS.p99, maxS: s.lagS.max, flagged: a.result.lagFlagged, limitS: a.opts.lagFlagS },
    ttftS: distOf(m?.latencyS.ttft),
    tpotS: distOf(m?.latencyS.tpot),
    e2eS: distOf(m?.latencyS.e2e),
    percentileMethod: m?.percentileMethod ?? null,
    throughput: m
      ? { requestsPerS: m.throughput.requestsPerS, inputTokensPerS: m.throughput.inputTokensPerS, outputTokensPerS: m.throughput.outputTokensPerS }
      : { requestsPerS: null, inputTokensPerS: null, outputTokensPerS: null },
    ...(m?.saturated === undefined ? {} : { saturated: m.saturated }),
    ...(m ? { metrics: m } : {}),
    ...(a.selfCheck ? { selfCheck: a.selfCheck } : {}),
    distorted: a.selfCheck?.distorted ?? false,
  };
}

/** Seconds as a short human figure (µs/ms/s). */
export function fmtS(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  const a = Math.abs(v);
  if (a < 1e-3) return `${(v * 1e6).toFixed(0)} µs`;
  if (a < 1) return `${(v * 1e3).toFixed(a < 0.01 ? 2 : 1)} ms`;
  return `${v.toFixed(a < 10 ? 3 : 1)} s`;
}

/**
 * The summary as text: the run's counts, then the table `splitbench summary` prints for the run (its SATURATED
 * line included), then the schedule-lag verdict. `latency: false` leaves out the table.
 */
export function formatSummary(s: ReplaySummary, opts: { latency?: boolean } = {}): string {
  const r = s.requests;
  const lines: string[] = [];
  lines.push(`run ${s.runId} (${s.name}): ${s.status}${s.reason ? ` (${s.reason})` : ''} — ${s.target}, model ${s.model}, time scale ${s.timeScale}`);
  lines.push(`requests: ${r.sent} sent, ${r.ok} ok, ${r.error} error, ${r.timeout} timeout, ${r.cancelled} cancelled`);
  const codes = Object.entries(s.errorCodes);
  if (codes.length > 0)
    lines.push(
      `errors: ${codes
        .slice(0, 6)
        .map(([c, n]) => `${c} ×${n}`)
        .join(', ')}`,
    );
  if (s.outputMismatch.fewer + s.outputMismatch.more > 0) {
    lines.push(`output length mismatches: ${s.outputMismatch.fewer} fewer tokens than asked, ${s.outputMismatch.more} more`);
  }
  if (opts.latency !== false) {
    if (s.metrics) lines.push(formatSummaries([s.metrics]));
    else lines.push('latency and throughput: unavailable (the store could not be read back)');
  }
  if (s.selfCheck) lines.push(formatSelfCheck(s.selfCheck));
  lines.push(
    `schedule lag: p50 ${fmtS(s.lag.p50S)}, p99 ${fmtS(s.lag.p99S)}, max ${fmtS(s.lag.maxS)}` +
      (s.lag.flagged ? ` — FLAGGED: p99 above ${fmtS(s.lag.limitS)}, the client fell behind the schedule` : ''),
  );
  return lines.join('\n');
}
