/**
 * Load sweeps: one run per offered rate (Poisson arrivals, sizes drawn i.i.d. from the trace's rows, the
 * same requests `replay --rate R --seed S` sends), each judged against an SLO file; the answer is the
 * highest rate that meets it, refined by bisection between the last passing and the first failing rate.
 * The search is a generator (search.ts); the runs come from a `RateRunner`: the simulator, or (`--live`)
 * a replay against the reference backend.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { ExitCode } from '../errors.js';
import type { SimInput } from '../config/index.js';
import type { Deployment, EngineData } from '../engine/index.js';
import { loadSlo, type SloSpec } from '../metrics/index.js';
import { openStore, type Store } from '../store/index.js';
import { bundledTraceSizes } from '../config/snapshot.js';
import { DEFAULT_ARRIVALS, rateRequests, sha256File, traceSampler, type SizeSampler } from '../trace/index.js';
import type { CompatMode } from './cluster.js';
import { type FlagValues, keyValues, Problems } from '../flagspec.js';
import { type TRACE_FLAGS, traceOptions } from '../trace/options.js';
import { checkStore, compatMode, type SAMPLED_TRACE_FLAGS, SIM_DEFAULTS, type SimOptions, type SweepFlags } from './options.js';
import { drive, judgeRun, parseRates, sweepSearch, type Judgement, type SearchResult } from './search.js';
import { simulate } from './simulate.js';

/** The trace, cluster and run fields of a sweep are a sim's; the rest is the search's. */
export interface SweepOptions
  extends Pick<SimOptions, 'trace' | 'traceFormat' | 'lenient' | 'transforms' | 'deployment' | 'model' | 'compat' | 'seed' | 'db' | 'tags' | 'json'> {
  readonly rates: readonly number[];
  readonly durationS: number;
  readonly live: boolean;
  readonly timeScale: number;
  readonly slo: string;
  readonly tolerance: number;
}

/** The trace fields of a search's checked flags (sweep, provision). */
export function searchTrace(
  f: FlagValues<typeof SAMPLED_TRACE_FLAGS & typeof TRACE_FLAGS>,
): Pick<SimOptions, 'trace' | 'traceFormat' | 'lenient' | 'transforms'> {
  const t = traceOptions(f);
  return { trace: f.trace, traceFormat: t.format, lenient: t.lenient, transforms: t.transforms };
}

/** The checked flags of `sweep` (SWEEP_FLAGS) and the rules between them, every problem (those in `p` too) at once. */
export function resolveSweepOptions(f: SweepFlags, p = new Problems()): SweepOptions {
  const t = searchTrace(f);
  const rates = (f.rates === undefined ? undefined : p.try(() => parseRates(f.rates))) ?? [];
  const live = f.live === true;
  const compat = compatMode(f.compat, p);
  if (live && compat) p.add('--compat', 'applies to simulated sweeps only (the reference backend runs the realistic engine)');
  if (f.timeScale !== undefined && !live) p.add('--time-scale', 'applies to --live sweeps only');
  const o: SweepOptions = Object.freeze({
    ...t,
    deployment: f.deployment,
    model: f.model,
    compat,
    rates: Object.freeze(rates),
    durationS: f.duration,
    live,
    timeScale: f.timeScale ?? 1,
    slo: f.slo,
    seed: t.transforms.seed ?? SIM_DEFAULTS.seed,
    db: checkStore(f.db, p),
    tags: keyValues(f.tag, '--tag', p),
    tolerance: f.tolerance,
    json: f.json === true,
  });
  p.throwIfAny('sweep');
  return o;
}

/** One offered rate of one deployment, as a search asks a RateRunner to run it. */
export interface RatePoint {
  readonly rate: number;
  readonly deployment: Deployment;
  /** The deployment as named (bundled name or file), stored with the run; the live runner starts it. */
  readonly deploymentLabel: string;
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  /** Stored with the run's options (which sweep, design, …). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** Runs one offered rate and returns the stored run's id. */
export interface RateRunner {
  run(p: RatePoint): Promise<{ runId: number; overloaded?: string }>;
}

/** What a sweep, provisioning search or experiment hands its runner maker: where runs go, what they draw. */
export interface RateContext {
  readonly store: Store;
  /** The catalogs and profiles simulated runs are built from (loaded at the edge; a live runner needs none). */
  readonly data: EngineData;
  /** Sizes of the trace's rows (src/trace/rate.ts `traceSampler`). */
  readonly sampler: SizeSampler;
  readonly durationS: number;
  readonly seed: number;
  readonly compat: CompatMode;
  readonly tracePath: string;
  readonly traceSha256?: string;
  /** Record per-iteration chunks (default true). The Splitwise SLOs do not need them. */
  readonly chunks?: boolean;
  /** Virtual seconds between power/queue samples (default 1). */
  readonly sampleIntervalS?: number;
  /**
   * Stop feeding arrivals when more than this many seconds of arrivals are waiting in flight (the run is
   * hopelessly overloaded; default 60). The run is then `interrupted` and fails any SLO.
   */
  readonly overloadBacklogS?: number;
}

/** Makes the RateRunner of a search from its context; injected by the caller (the CLI picks `simRateRunner` or `liveRateRunner`). */
export type RateRunnerFactory = (ctx: RateContext) => RateRunner;

/** The simulator as a RateRunner: the rate generator's Poisson arrivals at the rate, sizes drawn jointly from the trace's rows. */
export const simRateRunner: RateRunnerFactory = (o) => ({
  async run(p) {
    const { rate } = p;
    const writer = o.store.createRun(
      {
        kind: 'sim',
        name: p.name,
        target: `sim:${p.deployment.name}`,
        deployment: p.deploymentLabel,
        model: p.deployment.model,
        tracePath: o.tracePath,
        ...(o.traceSha256 ? { traceSha256: o.traceSha256 } : {}),
        offeredRate: rate,
        seed: o.seed,
        options: { ...(p.options ?? {}), rate, arrivals: DEFAULT_ARRIVALS, durationS: o.durationS, compat: o.compat ?? null, deployment: p.deploymentLabel },
        tags: { ...p.tags },
      },
      { bulk: true },
    ); // a sim can be rerun: bulk writes (store api WriterOptions.bulk)
    let inFlight = 0;
    const bound = Math.max(500, rate * (o.overloadBacklogS ?? 60));
    let overloaded: string | undefined;
    const res = await simulate({
      deployment: p.deployment,
      data: o.data,
      requests: rateRequests(o.sampler, { rate, arrivals: DEFAULT_ARRIVALS, durationS: o.durationS, seed: o.seed, draw: 'joint' }),
      ...(o.compat ? { compat: o.compat } : {}),
      seed: o.seed,
      sink: writer,
      chunks: o.chunks ?? true,
      sampleIntervalS: o.sampleIntervalS ?? 1,
      lookahead: 512,
      onProgress: (pr) => {
        inFlight = pr.inFlight;
      },
      shouldStop: () => {
        if (inFlight > bound && !overloaded)
          overloaded = `overloaded: ${inFlight} requests in flight (more than ${o.overloadBacklogS ?? 60} s of arrivals); stopped feeding arrivals`;
        return overloaded !== undefined;
      },
    });
    writer.finish(res.stopped ? 'interrupted' : 'completed', {
      notes: { wallS: res.wallS, virtualEndS: res.endTime, neverCompleted: res.neverCompleted, ...(overloaded ? { overloaded } : {}) },
    });
    return { runId: writer.runId, ...(overloaded ? { overloaded } : {}) };
  },
});

export interface SweepPoint {
  readonly rate: number;
  readonly runId: number;
  readonly passed: boolean;
  readonly reason?: string;
  readonly failed: readonly string[];
  readonly throughput?: number;
  /** Why the run did not sustain the rate (the summary's saturation check), if it did not. */
  readonly saturated?: string;
  readonly ttftP99?: number;
  readonly e2eP99?: number;
}

export interface SweepResult {
  readonly sweep: string;
  readonly slo: string;
  readonly maxRate: number | undefined;
  readonly firstFail: number | undefined;
  readonly points: readonly SweepPoint[];
  readonly exitCode: number;
}

export function pointOf(rate: number, runId: number, j: Judgement, overloaded?: string): SweepPoint {
  const s = j.summary;
  return {
    rate,
    runId,
    passed: j.passed && !overloaded,
    ...(overloaded ? { reason: overloaded } : j.reason ? { reason: j.reason } : {}),
    failed: j.failed,
    ...(s ? { throughput: s.throughput.requestsPerS } : {}),
    ...(s?.saturated ? { saturated: s.saturated } : {}),
    ...(s?.latencyS.ttft ? { ttftP99: s.latencyS.ttft.p99 } : {}),
    ...(s?.latencyS.e2e ? { e2eP99: s.latencyS.e2e.p99 } : {}),
  };
}

export interface SweepIo {
  readonly log?: (line: string) => void;
}

/** The runner maker a sweep's options ask for: the simulator, or (`--live`) replays against the reference backend. */
export async function sweepRateRunner(o: SweepOptions): Promise<RateRunnerFactory> {
  return o.live ? (await import('./live.js')).liveRateRunner(o) : simRateRunner;
}

/**
 * A sweep: the search over `o.rates` on `loaded`'s deployment (loaded at the edge: src/config `loadSimInput`),
 * each rate run by the runner `makeRunner` makes (simulated or live).
 */
export async function runSweep(o: SweepOptions, makeRunner: RateRunnerFactory, loaded: SimInput, io: SweepIo = {}): Promise<SweepResult> {
  const log = io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const slo: SloSpec = loadSlo(o.slo);
  const input = { trace: o.trace, format: o.traceFormat, lenient: o.lenient, transforms: o.transforms };
  const { sampler, source } = await traceSampler(input, o.seed, bundledTraceSizes);
  const traceSha = await sha256File(source.path);
  const sweep = crypto.randomBytes(4).toString('hex');
  const store = openStore(o.db);
  try {
    const runner = makeRunner({
      store,
      data: loaded.data,
      sampler,
      durationS: o.durationS,
      seed: o.seed,
      compat: o.compat,
      tracePath: source.path,
      traceSha256: traceSha,
    });
    const options = { trace: o.trace, transforms: o.transforms, slo: o.slo, sweep, host: os.hostname() };
    const points: SweepPoint[] = [];
    const { result } = await drive(sweepSearch(o.rates, { tolerance: o.tolerance }), async (rate) => {
      const { runId, overloaded } = await runner.run({
        rate,
        deployment: loaded.deployment,
        deploymentLabel: o.deployment,
        name: `sweep-${sweep}-r${rate}`,
        tags: { ...o.tags, sweep },
        options,
      });
      const j = await judgeRun(store, runId, slo);
      const pt = pointOf(rate, runId, j, overloaded);
      points.push(pt);
      log(
        `sweep ${sweep}: ${rate} req/s → run ${runId}: ${pt.passed ? 'meets' : 'misses'} the SLO${pt.reason ? ` (${pt.reason})` : pt.failed.length ? ` (${pt.failed.join(', ')})` : ''}`,
      );
      if (pt.saturated) log(`sweep ${sweep}: ${rate} req/s is SATURATED: ${pt.saturated}`);
      return { passed: pt.passed };
    });
    return finishSweep(sweep, slo.file, result, points);
  } finally {
    store.close();
  }
}

function finishSweep(sweep: string, slo: string, result: SearchResult, points: SweepPoint[]): SweepResult {
  return {
    sweep,
    slo,
    maxRate: result.maxRate,
    firstFail: result.firstFail,
    points: [...points].sort((a, b) => a.rate - b.rate),
    exitCode: result.maxRate === undefined ? ExitCode.sloFailed : ExitCode.ok,
  };
}

export function formatSweep(r: SweepResult): string {
  const rows: (string | number)[][] = [['rate req/s', 'run', 'throughput', 'saturated', 'TTFT p99', 'E2E p99', 'SLO']];
  for (const p of r.points) {
    rows.push([
      p.rate,
      p.runId,
      p.throughput === undefined ? '-' : p.throughput.toFixed(2),
      p.saturated ? 'YES' : '-',
      p.ttftP99 === undefined ? '-' : `${p.ttftP99.toFixed(3)} s`,
      p.e2eP99 === undefined ? '-' : `${p.e2eP99.toFixed(3)} s`,
      p.passed ? 'pass' : `FAIL${p.reason ? ` (${p.reason.slice(0, 60)})` : p.failed.length ? ` (${p.failed.length} rules)` : ''}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  const lines = rows.map((row) => row.map((c, i) => (i === row.length - 1 ? String(c) : String(c).padStart(widths[i]!))).join('  '));
  lines.push(
    r.maxRate === undefined
      ? `no rate met ${r.slo} (lowest tried: ${r.points[0]?.rate ?? '-'} req/s)`
      : `max throughput under SLO: ${r.maxRate} req/s${r.firstFail !== undefined ? ` (fails at ${r.firstFail} req/s)` : ' (every rate tried passed; raise the top rate)'}; sweep tag ${r.sweep}`,
  );
  return lines.join('\n');
}
