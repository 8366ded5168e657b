/**
 * What a report draws, read from the store through `src/metrics` (run lookup, request rows and the
 * per-request metric formulas) and shaped for charts: ascending per-request distributions, per-token gaps,
 * request intervals, the TTFT phase breakdown, sampled timelines, power and SLO verdicts.
 */
import { findRun, forEachTbtSample, isCompatRun, measure, requestRecords, type RunInfo } from '../metrics/index.js';
import type { MachineRecord, Store } from '../store/index.js';
import { LogHistogram, sortedFinite } from './stats.js';

export interface PhaseBreakdown {
  /** Seconds, ascending, over ok non-warmup requests that carry the column. */
  readonly queue: Float64Array;
  readonly prefill: Float64Array;
  readonly kvTransfer: Float64Array;
}

export interface SloVerdict {
  readonly sloFile: string;
  readonly rule: string;
  readonly metric: string;
  readonly value: number | null;
  readonly limit: number | null;
  readonly op: string;
  readonly passed: boolean;
}

export interface TimedValue {
  readonly t: number;
  readonly value: number | null;
}

export interface RunData {
  readonly info: RunInfo;
  /** Position in the report (decides the colour). */
  readonly index: number;
  /** Label used in legends and tables (the run's name, made unique with #id when names repeat). */
  readonly label: string;
  /** Per-request distributions in seconds, ascending (ok, non-warmup requests). */
  readonly ttft: Float64Array;
  readonly tpot: Float64Array;
  readonly e2e: Float64Array;
  /** Per-token gaps (token-weighted), seconds. */
  readonly tbt: LogHistogram;
  /** Schedule lag of every sent request (warm-up included, as in the summary), seconds, ascending. */
  readonly lag: Float64Array;
  /** [send, end) of every sent request (end: last token or failure; unfinished: the run's end). */
  readonly intervals: { start: number; end: number }[];
  /** Span of the run on its clock: [0, last end]. */
  readonly spanS: number;
  readonly breakdown: PhaseBreakdown;
  /** Timeline samples by name → role → series key → samples. */
  readonly timeline: Map<string, Map<string, Map<string, TimedValue[]>>>;
  /** Power samples by role (pool) → machine → samples. */
  readonly power: Map<string, Map<string, TimedValue[]>>;
  readonly machines: MachineRecord[];
  readonly slo: SloVerdict[];
  readonly counts: { readonly total: number; readonly ok: number; readonly warmup: number; readonly outputTokens: number; readonly inputTokens: number };
}

/** Load the runs named (ids or names), in the given order. */
export function loadRuns(store: Store, refs: readonly string[]): RunData[] {
  const infos = refs.map((r) => findRun(store, r));
  const seen = new Map<string, number>();
  for (const i of infos) seen.set(i.name, (seen.get(i.name) ?? 0) + 1);
  return infos.map((info, index) => loadRun(store, info, index, seen.get(info.name)! > 1 ? `${info.name}#${info.id}` : info.name));
}

function loadRun(store: Store, info: RunInfo, index: number, label: string): RunData {
  const ttft: number[] = [];
  const tpot: number[] = [];
  const e2e: number[] = [];
  const lag: number[] = [];
  const queue: number[] = [];
  const prefill: number[] = [];
  const kv: number[] = [];
  const tbt = new LogHistogram();
  const intervals: { start: number; end: number }[] = [];
  const open: number[] = [];
  let spanS = 0;
  let total = 0;
  let ok = 0;
  let warmup = 0;
  let outputTokens = 0;
  let inputTokens = 0;
  const compat = isCompatRun(info);
  for (const r of requestRecords(store, info.id)) {
    if (r.end !== null && Number.isFinite(r.end)) spanS = Math.max(spanS, r.end);
    if (r.send !== null && Number.isFinite(r.send)) {
      spanS = Math.max(spanS, r.send);
      if (r.end !== null && Number.isFinite(r.end)) intervals.push({ start: r.send, end: r.end });
      else open.push(r.send);
    }
    const m = measure(r, compat);
    // lag covers every sent request, warm-up included (as the summary's): it judges the load generator
    if (m.lag !== undefined) lag.push(m.lag);
    if (r.warmup) {
      warmup++;
      continue;
    }
    total++;
    if (r.status !== 'ok') continue;
    ok++;
    outputTokens += r.tokensReceived;
    inputTokens += r.promptTokens;
    if (m.ttft !== undefined) ttft.push(m.ttft);
    if (m.tpot !== undefined) tpot.push(m.tpot);
    if (m.e2e !== undefined) e2e.push(m.e2e);
    forEachTbtSample(m, (gap, count) => tbt.add(gap, count));
    if (r.queueS !== null) queue.push(r.queueS);
    if (r.prefillS !== null) prefill.push(r.prefillS);
    if (r.kvTransferS !== null) kv.push(r.kvTransferS);
  }
  for (const s of open) intervals.push({ start: s, end: spanS });

  const timeline = new Map<string, Map<string, Map<string, TimedValue[]>>>();
  for (const s of store.timelineSamples(info.id)) {
    const byRole = timeline.get(s.name) ?? new Map<string, Map<string, TimedValue[]>>();
    timeline.set(s.name, byRole);
    const bySeries = byRole.get(s.role) ?? new Map<string, TimedValue[]>();
    byRole.set(s.role, bySeries);
    const key = `${s.source}|${JSON.stringify(s.labels)}`;
    const arr = bySeries.get(key) ?? [];
    bySeries.set(key, arr);
    arr.push({ t: s.t, value: s.value });
    spanS = Math.max(spanS, s.t);
  }
  const power = new Map<string, Map<string, TimedValue[]>>();
  for (const p of store.powerSamples(info.id)) {
    const byMachine = power.get(p.role) ?? new Map<string, TimedValue[]>();
    power.set(p.role, byMachine);
    const arr = byMachine.get(p.machineId) ?? [];
    byMachine.set(p.machineId, arr);
    arr.push({ t: p.t, value: p.watts });
    spanS = Math.max(spanS, p.t);
  }
  const slo = latestVerdicts(store, info.id);

  return {
    info,
    index,
    label,
    ttft: sortedFinite(ttft),
    tpot: sortedFinite(tpot),
    e2e: sortedFinite(e2e),
    tbt,
    lag: sortedFinite(lag),
    intervals,
    spanS,
    breakdown: { queue: sortedFinite(queue), prefill: sortedFinite(prefill), kvTransfer: sortedFinite(kv) },
    timeline,
    power,
    machines: store.machines(info.id),
    slo,
    counts: { total, ok, warmup, outputTokens, inputTokens },
  };
}

/** The latest verdict of each (SLO file, rule) of a run, in first-evaluated order. */
export function latestVerdicts(store: Store, runId: number): SloVerdict[] {
  const latest = new Map<string, SloVerdict>();
  const results = [...store.sloResults(runId)].sort((a, b) => (a.evaluatedAt < b.evaluatedAt ? -1 : a.evaluatedAt > b.evaluatedAt ? 1 : 0));
  for (const r of results) {
    latest.set(`${r.sloFile}\u0000${r.rule}`, {
      sloFile: r.sloFile,
      rule: r.rule,
      metric: r.metric,
      value: r.value,
      limit: r.limitValue,
      op: r.op,
      passed: r.passed,
    });
  }
  return [...latest.values()];
}
