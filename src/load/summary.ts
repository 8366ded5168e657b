/**
 * The end-of-run summary of a replay: counts by status, TTFT/TPOT/E2E percentiles, throughput and the
 * schedule-lag verdict, as a JSON-ready object (`--json`) and as a few lines of text. Latency and
 * throughput figures exclude warmup requests and failed requests; all times are trace seconds.
 */
import type { ReplayOptions } from './options.js';
import type { ReplayRunResult } from './replay.js';
import type { DistSummary } from './stats.js';

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
  readonly ttftS: DistSummary;
  readonly tpotS: DistSummary;
  readonly e2eS: DistSummary;
  readonly throughput: { requestsPerS: number | null; inputTokensPerS: number | null; outputTokensPerS: number | null };
}

export function buildSummary(a: { runId: number; name: string; target: string; model: string; opts: ReplayOptions; result: ReplayRunResult }): ReplaySummary {
  const s = a.result.stats.summary();
  return {
    runId: a.runId,
    name: a.name,
    status: a.result.status,
    ...(a.result.reason ? { reason: a.result.reason } : {}),
    exitCode: a.result.exitCode,
    target: a.target,
    model: a.model,
    timeScale: a.opts.timeScale,
    elapsedWallS: a.result.elapsedS,
    requests: s.requests,
    errorCodes: s.errorCodes,
    outputMismatch: s.outputMismatch,
    lag: { p50S: s.lagS.p50, p99S: s.lagS.p99, maxS: s.lagS.max, flagged: a.result.lagFlagged, limitS: a.opts.lagFlagS },
    ttftS: s.ttftS,
    tpotS: s.tpotS,
    e2eS: s.e2eS,
    throughput: s.throughput,
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

function fmtRate(v: number | null, unit: string): string {
  return v === null ? '-' : `${v >= 100 ? v.toFixed(0) : v.toFixed(2)} ${unit}`;
}

/** The summary as text; `latency: false` leaves out the latency and throughput lines (printed elsewhere). */
export function formatSummary(s: ReplaySummary, opts: { latency?: boolean } = {}): string {
  const r = s.requests;
  const lines: string[] = [];
  lines.push(`run ${s.runId} (${s.name}): ${s.status}${s.reason ? ` (${s.reason})` : ''} — ${s.target}, model ${s.model}, time scale ${s.timeScale}`);
  lines.push(`requests: ${r.sent} sent, ${r.ok} ok, ${r.error} error, ${r.timeout} timeout, ${r.cancelled} cancelled`);
  const codes = Object.entries(s.errorCodes);
  if (codes.length > 0) lines.push(`errors: ${codes.slice(0, 6).map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  if (s.outputMismatch.fewer + s.outputMismatch.more > 0) {
    lines.push(`output length mismatches: ${s.outputMismatch.fewer} fewer tokens than asked, ${s.outputMismatch.more} more`);
  }
  if (opts.latency !== false) lines.push(...latencyLines(s));
  lines.push(
    `schedule lag: p50 ${fmtS(s.lag.p50S)}, p99 ${fmtS(s.lag.p99S)}, max ${fmtS(s.lag.maxS)}` +
      (s.lag.flagged ? ` — FLAGGED: p99 above ${fmtS(s.lag.limitS)}, the client fell behind the schedule` : ''),
  );
  return lines.join('\n');
}

function latencyLines(s: ReplaySummary): string[] {
  const lines: string[] = [];
  const row = (n: string, d: ReplaySummary['ttftS']): string => `${n.padEnd(5)} p50 ${fmtS(d.p50).padStart(9)}  p99 ${fmtS(d.p99).padStart(9)}  max ${fmtS(d.max).padStart(9)}`;
  lines.push(row('TTFT', s.ttftS));
  lines.push(row('TPOT', s.tpotS));
  lines.push(row('E2E', s.e2eS));
  const t = s.throughput;
  lines.push(`throughput: ${fmtRate(t.requestsPerS, 'req/s')}, ${fmtRate(t.inputTokensPerS, 'input tok/s')}, ${fmtRate(t.outputTokensPerS, 'output tok/s')} (trace seconds)`);
  return lines;
}
