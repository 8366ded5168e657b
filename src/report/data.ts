/**
 * What a report draws, read from the store through `src/metrics` (run lookup, request rows and the
 * per-request metric formulas) and shaped for charts: ascending per-request distributions, per-token gaps,
 * request intervals, the TTFT phase breakdown, sampled timelines, power and SLO verdicts.
 */
import { secondOverheadOf, secondTokenWait, ttftOverheadOf } from '../metrics/formulas.js';
import {
  findRun,
  forEachTbtSample,
  isCompatRun,
  measure,
  requestRecords,
  resolveReference,
  slowdownOf,
  type RunInfo,
  type SlowdownReference,
} from '../metrics/index.js';
import type { MachineRecord, RunRecord, Store } from '../store/index.js';
import { sortedFinite } from './stats.js';
import { Distribution } from '../metrics/histogram.js';
import { decodeChunks } from '../store/codec.js';

/**
 * Mean seconds of each part of the breakdown over the ok, non-warm-up requests that carry all five columns
 * (`requests` of them), so that the parts add up (docs/metrics.md "Metric glossary"): TTFT = queue + prefill +
 * ttftOverhead; the wait for the second token = kvTransfer + decodeWait + secondOverhead. The overheads are
 * what the client measured beyond the server's parts (0 in sims).
 */
export interface PhaseBreakdown {
  readonly requests: number;
  readonly queue: number;
  readonly prefill: number;
  readonly ttftOverhead: number;
  readonly kvTransfer: number;
  readonly decodeWait: number;
  readonly secondOverhead: number;
}

function meanBreakdown(b: { -readonly [K in keyof PhaseBreakdown]: number }): PhaseBreakdown {
  const n = b.requests;
  if (n === 0) return b;
  return {
    requests: n,
    queue: b.queue / n,
    prefill: b.prefill / n,
    ttftOverhead: b.ttftOverhead / n,
    kvTransfer: b.kvTransfer / n,
    decodeWait: b.decodeWait / n,
    secondOverhead: b.secondOverhead / n,
  };
}

/** Seconds from the first token to the second, from the stored chunks (0 when they came together; undefined with fewer than 2 tokens). */
export { secondTokenWait };

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

/** One non-warm-up request, for charts that need per-request joint values (seconds; NaN = absent). */
export interface RequestPoint {
  readonly ok: boolean;
  /** Send time on the run's clock (arrival for sims). */
  readonly send: number;
  /** When the trace scheduled it. */
  readonly scheduled: number;
  readonly promptTokens: number;
  readonly ttft: number;
  readonly tpot: number;
  readonly tbt: number;
  readonly e2e: number;
  readonly kvTransfer: number;
  /** Slowdowns against the run's reference machine (NaN without one). */
  readonly sTtft: number;
  readonly sTpot: number;
  readonly sTbt: number;
  readonly sE2e: number;
}

export interface RunData {
  readonly info: RunInfo;
  /** The full `runs` row (version, seed, tags, trace hash). */
  readonly record: RunRecord | undefined;
  /** Runs that differ only by seed share this key (see `seedGroupKey`). */
  readonly groupKey: string;
  /** Runs that differ only by seed and offered rate share this key (see `sweepKey`). */
  readonly sweepKey: string;
  /** What slowdowns are measured against (undefined: the run records no model). */
  readonly reference: string | undefined;
  /** Every non-warm-up request, in store order. */
  readonly requests: readonly RequestPoint[];
  /** Position in the report (decides the colour). */
  readonly index: number;
  /** Label used in legends and tables (the run's name, made unique with #id when names repeat). */
  readonly label: string;
  /** Per-request distributions in seconds, ascending (ok, non-warmup requests). */
  readonly ttft: Float64Array;
  readonly tpot: Float64Array;
  readonly e2e: Float64Array;
  /** Per-token gaps (token-weighted), seconds. */
  readonly tbt: Distribution;
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

/**
 * Option keys that do not change what a run measures: naming, output, the seed itself. Two runs whose
 * kind, deployment, model, trace, offered rate, time scale and remaining options are equal differ only by
 * seed (or not at all) and are drawn as one series with error bars.
 */
const NOT_A_CONFIG = new Set(['seed', 'seeds', 'name', 'tags', 'tag', 'host', 'db', 'json', 'traceEvents', 'out', 'label', 'sweep']);

function stable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stable);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .filter((k) => !NOT_A_CONFIG.has(k))
        .map((k) => [k, stable(o[k])]),
    );
  }
  return v;
}

/** The key that runs differing only by seed share. */
export function seedGroupKey(info: RunInfo): string {
  return JSON.stringify([info.kind, info.deployment, info.model, info.tracePath, info.offeredRate, info.timeScale, info.warmupS, stable(info.options)]);
}

/** The key that the runs of one rate sweep share: the seed group's, less the offered rate. */
export function sweepKey(info: RunInfo): string {
  const { rate: _rate, ...rest } = info.options;
  return JSON.stringify([info.kind, info.deployment, info.model, info.tracePath, info.timeScale, info.warmupS, stable(rest)]);
}

/**
 * Load the runs named (ids or names), in the given order. `labels` maps a run (id or name as given to
 * --label) to its legend text; otherwise the run's name, made unique with #id when names repeat.
 */
export async function loadRuns(store: Store, refs: readonly string[], labels: ReadonlyMap<string, string> = new Map()): Promise<RunData[]> {
  const infos = refs.map((r) => findRun(store, r));
  const seen = new Map<string, number>();
  for (const i of infos) seen.set(i.name, (seen.get(i.name) ?? 0) + 1);
  const out: RunData[] = [];
  for (const [index, info] of infos.entries()) {
    const given = labels.get(String(info.id)) ?? labels.get(info.name);
    const label = given ?? (seen.get(info.name)! > 1 ? `${info.name}#${info.id}` : info.name);
    const ref = await resolveReference(store, info, { required: false });
    out.push(loadRun(store, info, index, label, ref));
  }
  return out;
}

const nan = (v: number | undefined | null): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);

function loadRun(store: Store, info: RunInfo, index: number, label: string, reference: SlowdownReference | undefined): RunData {
  const points: RequestPoint[] = [];
  const ttft: number[] = [];
  const tpot: number[] = [];
  const e2e: number[] = [];
  const lag: number[] = [];
  const bd = { requests: 0, queue: 0, prefill: 0, ttftOverhead: 0, kvTransfer: 0, decodeWait: 0, secondOverhead: 0 };
  const tbt = new Distribution();
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
    const slow = reference ? slowdownOf(r, m, reference) : undefined;
    points.push({
      ok: r.status === 'ok',
      send: nan(r.send),
      scheduled: nan(r.scheduled),
      promptTokens: r.promptTokens,
      ttft: nan(m.ttft),
      tpot: nan(m.tpot),
      tbt: nan(m.tbt),
      e2e: nan(m.e2e),
      kvTransfer: nan(r.kvTransferS),
      sTtft: nan(slow?.ttft),
      sTpot: nan(slow?.tpot),
      sTbt: nan(slow?.tbt),
      sE2e: nan(slow?.e2e),
    });
    if (r.status !== 'ok') continue;
    ok++;
    outputTokens += r.tokensReceived;
    inputTokens += r.promptTokens;
    if (m.ttft !== undefined) ttft.push(m.ttft);
    if (m.tpot !== undefined) tpot.push(m.tpot);
    if (m.e2e !== undefined) e2e.push(m.e2e);
    forEachTbtSample(m, (gap, count) => tbt.record(gap, count));
    const fin = (v: number | null): v is number => v !== null && Number.isFinite(v);
    if (m.ttft !== undefined && fin(r.queueS) && fin(r.prefillS) && fin(r.kvTransferS) && fin(r.decodeWaitS) && fin(r.decodeS)) {
      const second = secondTokenWait(m.tbtChunks.length > 0 ? m.tbtChunks : decodeChunks(r.tokenTimes));
      bd.requests++;
      bd.queue += r.queueS;
      bd.prefill += r.prefillS;
      bd.ttftOverhead += ttftOverheadOf(m.ttft, r.queueS, r.prefillS);
      bd.kvTransfer += r.kvTransferS;
      bd.decodeWait += r.decodeWaitS;
      bd.secondOverhead += secondOverheadOf(second, r.kvTransferS, r.decodeWaitS);
    }
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
  // A machine that changes pool (the mixed pool borrows it, then returns it) ends its line in the old pool: a
  // gap there, so the old pool's sample-and-hold sum stops counting it.
  const roleOf = new Map<string, string>();
  for (const p of store.powerSamples(info.id)) {
    const was = roleOf.get(p.machineId);
    if (was !== undefined && was !== p.role) power.get(was)?.get(p.machineId)?.push({ t: p.t, value: null });
    roleOf.set(p.machineId, p.role);
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
    record: store.getRun(info.id),
    groupKey: seedGroupKey(info),
    sweepKey: sweepKey(info),
    reference: reference?.describe,
    requests: points,
    index,
    label,
    ttft: sortedFinite(ttft),
    tpot: sortedFinite(tpot),
    e2e: sortedFinite(e2e),
    tbt,
    lag: sortedFinite(lag),
    intervals,
    spanS,
    breakdown: meanBreakdown(bd),
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
