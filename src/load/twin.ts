/**
 * The live run's self-check (docs/replay.md "Twin check"). A replay against the bundled backend also simulates
 * the same requests on the same deployment (the twin: a sim run, linked by `runs.twin_run_id`), arriving when
 * the live run sent them, and compares TTFT, TBT and E2E at p50 and p99 (relative deviation live / twin − 1,
 * both from the stored rows). The run is flagged **distorted** (runs.distorted, with the reason) when
 * - a deviation exceeds the bound (default 5%);
 * - the client's coalescing exceeds it: the fraction of token-chunk gaps whose chunk arrived in the same read as
 *   the one before it (the client could not time them apart);
 * - the server's own emission delay exceeds it relative to the TBTs measured: the mean over requests of the
 *   per-request mean delay (actual − intended write of each chunk, reported in the `splitbench` object) above
 *   bound × TBT p50;
 * - the send lag was flagged (lag p99 above 10 ms).
 */
import { loadSimInput } from '../config/index.js';
import { summarizeRun, type RunSummary } from '../metrics/index.js';
import type { Stats } from '../metrics/histogram.js';
import { simulate } from '../sim/simulate.js';
import type { Store } from '../store/index.js';
import type { RequestSpec } from '../trace/index.js';
import type { StreamCheck } from './replay.js';

export const TWIN_METRICS = ['ttft', 'tbt', 'e2e'] as const;
export type TwinMetric = (typeof TWIN_METRICS)[number];

export interface TwinFigure {
  readonly live: number;
  readonly twin: number;
  /** live / twin − 1. */
  readonly deviation: number;
}

export interface SelfCheck {
  readonly twinRunId?: number;
  /** Per metric, p50 and p99 (absent when either run has no value). */
  readonly twin: Partial<Record<TwinMetric, { p50?: TwinFigure; p99?: TwinFigure }>>;
  readonly bound: number;
  /** Coalesced token-chunk gaps / all token-chunk gaps. */
  readonly coalescedFraction: number;
  /** The server's emission delay (engine seconds): mean of per-request means, largest. */
  readonly emitDelayMeanS?: number;
  readonly emitDelayMaxS?: number;
  readonly distorted: boolean;
  readonly reasons: readonly string[];
}

export interface SelfCheckInput {
  readonly store: Store;
  readonly runId: number;
  readonly runName: string;
  /** The bundled backend's deployment (and model override). */
  readonly deployment: string;
  readonly model?: string | undefined;
  readonly warmupS: number;
  readonly bound: number;
  readonly check: StreamCheck;
  /** Prefix block hashes by request seq (a prefix-caching deployment's twin needs them to see the same hits). */
  readonly hashIds?: ReadonlyMap<number, readonly number[]>;
  readonly lagFlagged: boolean;
  readonly lagP99S: number | undefined;
  readonly lagLimitS: number;
  /** The live run's summary from its stored rows. */
  readonly live: RunSummary;
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
const ms = (s: number): string => (s >= 1 ? `${s.toFixed(3)} s` : `${(s * 1000).toFixed(2)} ms`);

/** Simulate the twin, compare, and record the verdict on the live run. */
export async function selfCheck(i: SelfCheckInput): Promise<SelfCheck> {
  // The backend's deployment and the engine data, read here at the end of the run (the simulator reads no file).
  const { deployment: dep, data } = loadSimInput({ deployment: i.deployment, model: i.model });
  // The same requests, arriving when the live run sent them (the server saw them then).
  const specs: RequestSpec[] = [];
  for (const r of i.store.requests(i.runId, { chunks: false })) {
    if (r.send === null || !Number.isFinite(r.send)) continue;
    const hashIds = i.hashIds?.get(r.seq);
    specs.push({
      id: `${r.shard}-${r.seq}`,
      arrival: Math.max(0, r.send),
      promptTokens: r.promptTokens,
      outputTokens: r.outputTokens,
      ...(hashIds ? { hashIds } : {}),
    });
  }
  specs.sort((a, b) => a.arrival - b.arrival);
  const writer = i.store.createRun(
    {
      kind: 'sim',
      name: `${i.runName}-twin`,
      target: `sim:${dep.name}`,
      deployment: i.deployment,
      model: dep.model,
      warmupS: i.warmupS,
      options: { twinOf: i.runId, deployment: i.deployment },
      tags: { twin_of: String(i.runId) },
    },
    { bulk: true },
  );
  const sim = await simulate({ deployment: dep, data, requests: specs, sink: writer, warmupS: i.warmupS, sampleIntervalS: 1 });
  writer.finish('completed', { notes: { twinOf: i.runId, wallS: sim.wallS, virtualEndS: sim.endTime } });
  const twin = summarizeRun(i.store, writer.runId);

  const reasons: string[] = [];
  const figures: SelfCheck['twin'] = {};
  const over: string[] = [];
  for (const m of TWIN_METRICS) {
    const a = i.live.latencyS[m];
    const b = twin.latencyS[m];
    const entry: { p50?: TwinFigure; p99?: TwinFigure } = {};
    for (const k of ['p50', 'p99'] as const) {
      const f = figureOf(a, b, k);
      if (!f) continue;
      entry[k] = f;
      if (Math.abs(f.deviation) > i.bound) over.push(`${m.toUpperCase()} ${k} ${pct(f.deviation)} (${ms(f.live)} vs ${ms(f.twin)})`);
    }
    figures[m] = entry;
  }
  if (over.length > 0) reasons.push(`the simulated twin deviates beyond ${pct(i.bound).slice(1)}: ${over.join(', ')}`);
  const c = i.check;
  const coalescedFraction = c.tokenGaps > 0 ? c.coalesced / c.tokenGaps : 0;
  if (coalescedFraction > i.bound) {
    reasons.push(
      `client coalescing: ${(100 * coalescedFraction).toFixed(1)}% of token chunks arrived in one read with the one before (${c.coalesced} of ${c.tokenGaps})`,
    );
  }
  const tbtP50 = i.live.latencyS.tbt?.p50;
  const emitMean = c.emitDelayRequests > 0 ? c.emitDelaySumS / c.emitDelayRequests : undefined;
  if (emitMean !== undefined && tbtP50 !== undefined && tbtP50 > 0 && emitMean > i.bound * tbtP50) {
    reasons.push(
      `server emission delay: mean ${ms(emitMean)} (max ${ms(c.emitDelayMaxS)}) is ${((100 * emitMean) / tbtP50).toFixed(1)}% of the TBT p50 ${ms(tbtP50)}`,
    );
  }
  if (i.lagFlagged) reasons.push(`send lag: p99 ${i.lagP99S === undefined ? '?' : ms(i.lagP99S)} above ${ms(i.lagLimitS)}`);

  const result: SelfCheck = {
    twinRunId: writer.runId,
    twin: figures,
    bound: i.bound,
    coalescedFraction,
    ...(emitMean === undefined ? {} : { emitDelayMeanS: emitMean, emitDelayMaxS: c.emitDelayMaxS }),
    distorted: reasons.length > 0,
    reasons,
  };
  i.store.setRunCheck(i.runId, { distorted: result.distorted, ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}), twinRunId: writer.runId });
  i.store.setRunNotes(i.runId, { selfCheck: result });
  return result;
}

function figureOf(a: Stats | undefined, b: Stats | undefined, k: 'p50' | 'p99'): TwinFigure | undefined {
  if (!a || !b) return undefined;
  const live = a[k];
  const twin = b[k];
  if (!Number.isFinite(live) || !Number.isFinite(twin) || twin <= 0) return undefined;
  return { live, twin, deviation: live / twin - 1 };
}

/** The check as text: one line per metric, then the verdict. */
export function formatSelfCheck(c: SelfCheck): string {
  const lines: string[] = [];
  const f = (x: TwinFigure | undefined): string => (x ? `${ms(x.live)} vs ${ms(x.twin)} (${pct(x.deviation)})` : '-');
  lines.push(`twin check (live vs simulated twin, sim run ${c.twinRunId ?? '?'}; bound ${(100 * c.bound).toFixed(1)}%):`);
  for (const m of TWIN_METRICS) {
    const e = c.twin[m];
    lines.push(`  ${m.toUpperCase().padEnd(4)} p50 ${f(e?.p50)}   p99 ${f(e?.p99)}`);
  }
  lines.push(
    `  coalesced token chunks ${(100 * c.coalescedFraction).toFixed(2)}%` +
      (c.emitDelayMeanS === undefined ? '' : `; server emission delay mean ${ms(c.emitDelayMeanS)}, max ${ms(c.emitDelayMaxS ?? 0)}`),
  );
  lines.push(c.distorted ? `DISTORTED: ${c.reasons.join('; ')}` : 'undistorted: within the bounds');
  return lines.join('\n');
}
