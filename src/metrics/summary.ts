/**
 * Run summaries: counts, latency distributions, throughput, goodput, per-pool breakdown, power and cost.
 *
 * Units: every `Stats` under `latencyS` and `phasesS` is in seconds; `slowdown` is unitless; rates are per
 * second of the run's steady span; energy in joules; money in dollars. Distributions are exact: mergeable
 * `Distribution`s of the stored values, built by `RunAccumulator` from request rows, so summaries of several
 * shards or runs are recomputed from the union of their rows (`accumulate` then `merge`); percentiles follow
 * `SummaryOptions.percentileMethod` (linear interpolation by default, see histogram.ts).
 *
 * Populations (docs/metrics.md "Metric glossary"):
 * - counted requests: every non-warm-up request (warm-up = `requests.warmup`);
 * - distributions (TTFT, TPOT, TBT, E2E, phases, slowdowns): ok, non-warm-up requests;
 * - lag: every request that was sent (warm-up included: it judges the load generator over the whole run);
 * - steady span (makespan): from the first non-warm-up `scheduled` to the last non-warm-up `end`;
 * - arrival window: from the first to the last non-warm-up `scheduled`; throughput is the ok requests that arrived
 *   in it, over its length (what compares with the offered rate); the drain after it, the rate of completions
 *   within it and the makespan figures (ok requests over the steady span, vLLM's) are reported beside it.
 */
import { afterFirstOverheadOf, ttftOverheadOf } from './formulas.js';
import { DEFAULT_PERCENTILE_METHOD, Distribution, ExactBudget, SUMMARY_EXACT_LIMIT, type PercentileMethod, type Stats } from './histogram.js';
import { forEachTbtSample, measure, type RequestMetrics } from './request.js';
import { findRun, isCompatRun, machineRecords, METRIC_FIELDS, powerRecords, requestRecords, type RequestRecord, type RunInfo, type StoreLike } from './rows.js';
import { compare, type PerRequestRule, type SloSpec } from './slo.js';
import { slowdownOf, type RequestSlowdown, type SlowdownReference } from './slowdown.js';
import type { RequestTap } from '../store/api.js';
import { ChunkScratch } from '../store/codec.js';
import type { RequestStatus } from '../store/schema.js';
import { SloSpecError } from '../errors.js';
import { costFigures, counterEnergy, loadPrices, MEASURED_POWER_SOURCES, type CostFigures, type CounterPoint } from '../cost/index.js';

export const LATENCY_METRICS = ['ttft', 'tpot', 'tbt', 'e2e', 'lag', 'max_stall'] as const;
export const PHASE_METRICS = ['queue', 'prefill', 'kv_transfer', 'decode_wait', 'decode'] as const;
export const SLOWDOWN_METRICS = ['ttft', 'tpot', 'tbt', 'e2e'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];
export type PhaseMetric = (typeof PHASE_METRICS)[number];
export type SlowdownMetric = (typeof SLOWDOWN_METRICS)[number];

export interface SummaryOptions {
  /** SLO file whose `per_request` limits define goodput (omitted without one). */
  readonly slo?: SloSpec;
  /** Reference for slowdowns (omitted without one). */
  readonly reference?: SlowdownReference;
  /** How percentiles are read off the sorted values (default `linear`, numpy's default). */
  readonly percentileMethod?: PercentileMethod;
}

export interface StatusCounts {
  /** Non-warm-up requests. */
  total: number;
  warmup: number;
  ok: number;
  error: number;
  timeout: number;
  cancelled: number;
  neverCompleted: number;
}

export interface PoolSummary {
  readonly requests: number;
  readonly latencyS: Partial<Record<'ttft' | 'tpot' | 'e2e', Stats>>;
}

export interface PowerSummary {
  /**
   * Per pool (the sample's role): time-averaged and peak pool watts; the pool's energy over the span and its share
   * of the energy per output token (pool energy / the run's output tokens; the pools add up to the run's figure).
   */
  readonly pools: Record<string, { meanW: number; peakW: number; machines: number; energyJ?: number; energyPerOutputTokenJ?: number }>;
  readonly meanW: number;
  readonly peakW: number;
  /**
   * Energy over the steady span: for measured sources (nvidia-smi, dcgm, prometheus) the difference of the
   * cumulative `energy_j` (counter deltas, or the trapezoid of sampled watts), interpolated at the span's ends;
   * otherwise sample-and-hold integration of each machine's samples (the model's rows hold interval means).
   */
  readonly energyJ: number;
  readonly energyPerRequestJ?: number;
  readonly energyPerOutputTokenJ?: number;
}

/**
 * The run's cost, as src/cost's `costFigures` computes it (formulas there and in the glossary in docs/metrics.md):
 * Σ machines price_per_hour × span, $ per 1M input/output tokens, per ok and per good request (the latter only
 * with an SLO), energy cost at the run's `--price-kwh` (else workloads/prices.yaml), and per pool its machines' $
 * and share of $ per 1M tokens (absent when no machine has a price).
 */
export type CostSummary = Omit<CostFigures, 'pools'> & { readonly pools?: CostFigures['pools'] };

export interface RunSummary {
  readonly run: {
    readonly id: number;
    readonly name: string;
    readonly kind: string;
    readonly status: string;
    readonly model: string | null;
    readonly deployment: string | null;
    readonly target: string | null;
    readonly startedAt: string;
    readonly warmupS: number;
    readonly lagFlagged: boolean;
    /** A live run's self-check flagged it distorted (the reason beside it); see src/load/twin.ts. */
    readonly distorted: boolean;
    readonly distortedReason: string | null;
    readonly twinRunId: number | null;
    readonly compat: boolean;
  };
  /** The rule every percentile of this summary follows (all of them are exact, over the stored values). */
  readonly percentileMethod: PercentileMethod;
  readonly counts: StatusCounts;
  /** (total − ok) / total over non-warm-up requests; 0 when there are none. */
  readonly errorRate: number;
  /** ok requests whose tokens_received differs from the output_tokens asked. */
  readonly outputMismatches: number;
  /** Seconds. `tbt` is token-weighted per-token gaps (compat runs: per-request (e2e − ttft)/tokens). */
  readonly latencyS: Partial<Record<LatencyMetric, Stats>>;
  /** Seconds; present where the target reported a breakdown. */
  readonly phasesS: Partial<Record<PhaseMetric, Stats>>;
  readonly slowdown?: { readonly reference: string; readonly matched: number } & Partial<Record<SlowdownMetric, Stats>>;
  readonly throughput: {
    /** Steady span (makespan): first non-warm-up `scheduled` → last `end`. */
    readonly spanS: number;
    /** Arrival window: first → last non-warm-up `scheduled`. */
    readonly windowS: number;
    /** Offered: non-warm-up arrivals / window (so achieved / offered is the ok fraction); 0 without a window. */
    readonly offeredRequestsPerS: number;
    /** Achieved: ok requests (all arrived in the window) / window; the makespan figure without a window. */
    readonly requestsPerS: number;
    readonly inputTokensPerS: number;
    readonly outputTokensPerS: number;
    /** Ok requests that also completed within the window / window (≈ capacity when the queue grows). */
    readonly completedInWindowPerS: number;
    /** vLLM's "request throughput": all ok requests / steady span (drain included). */
    readonly makespanRequestsPerS: number;
    readonly makespanInputTokensPerS: number;
    readonly makespanOutputTokensPerS: number;
    /** After the window: seconds until the last request ended, and the ok requests that completed then. */
    readonly drainS: number;
    readonly drainRequests: number;
    /** Requests in the system (arrived, not ended) at the window's end, and on average over the window. */
    readonly inSystemAtEnd: number;
    readonly inSystemMean: number;
  };
  /** Why the run did not sustain its offered load (achieved < 95% of offered, or the queue grew); absent if it did. */
  readonly saturated?: string;
  readonly goodput?: {
    readonly sloFile: string;
    readonly good: number;
    /** Good requests / arrival window (as `throughput.requestsPerS`). */
    readonly requestsPerS: number;
    /** good / all non-warm-up requests (errors count against it). */
    readonly fraction: number;
  };
  readonly pools?: Record<string, PoolSummary>;
  /** Prefix caching, over the ok requests whose target reported cached prompt tokens (absent: none did). */
  readonly prefixCache?: PrefixCacheSummary;
  /** Multi-turn session workloads (`--sessions`), over the non-warm-up session turns (absent: none). */
  readonly sessions?: SessionsSummary;
  readonly power?: PowerSummary;
  readonly cost?: CostSummary;
  /** Means of the breakdown's parts, which add up to the mean TTFT and E2E (see `BreakdownMeans`); absent without a breakdown. */
  readonly breakdown?: BreakdownMeans;
}

/**
 * Prefix-cache figures of a set of requests: token hit rate = Σ cached prompt tokens / Σ prompt tokens (vLLM's
 * hits / queries), request hit rate = requests with ≥ 1 cached token / requests; `savedTokens` = Σ cached prompt
 * tokens (prefill tokens saved).
 */
export interface PrefixCacheFigures {
  readonly requests: number;
  readonly hitRequests: number;
  readonly requestHitRate: number;
  readonly promptTokens: number;
  readonly savedTokens: number;
  readonly tokenHitRate: number;
}

export interface PrefixCacheSummary extends PrefixCacheFigures {
  /** TTFT of the requests that hit (≥ 1 cached token) and of those that missed. */
  readonly ttftHitS?: Stats;
  readonly ttftMissS?: Stats;
  /** By pool of the prompt machine, and by prompt machine. */
  readonly pools: Record<string, PrefixCacheFigures>;
  readonly machines: Record<string, PrefixCacheFigures>;
}

class CacheTally {
  requests = 0;
  hitRequests = 0;
  promptTokens = 0;
  savedTokens = 0;
  add(prompt: number, cached: number): void {
    this.requests++;
    this.promptTokens += prompt;
    this.savedTokens += cached;
    if (cached > 0) this.hitRequests++;
  }
  merge(o: CacheTally): void {
    this.requests += o.requests;
    this.hitRequests += o.hitRequests;
    this.promptTokens += o.promptTokens;
    this.savedTokens += o.savedTokens;
  }
  figures(): PrefixCacheFigures {
    return {
      requests: this.requests,
      hitRequests: this.hitRequests,
      requestHitRate: this.requests > 0 ? this.hitRequests / this.requests : 0,
      promptTokens: this.promptTokens,
      savedTokens: this.savedTokens,
      tokenHitRate: this.promptTokens > 0 ? this.savedTokens / this.promptTokens : 0,
    };
  }
}

class CacheAccumulator {
  readonly all = new CacheTally();
  readonly pools = new Map<string, CacheTally>();
  readonly machines = new Map<string, CacheTally>();
  readonly ttftHit: Distribution;
  readonly ttftMiss: Distribution;
  constructor(budget: ExactBudget) {
    this.ttftHit = new Distribution(budget);
    this.ttftMiss = new Distribution(budget);
  }
  add(r: RequestRecord, ttft: number | undefined): void {
    const cached = r.cachedPromptTokens;
    if (cached === null || cached === undefined) return;
    this.all.add(r.promptTokens, cached);
    const by = (m: Map<string, CacheTally>, k: string | null | undefined): void => {
      if (!k) return;
      let t = m.get(k);
      if (!t) m.set(k, (t = new CacheTally()));
      t.add(r.promptTokens, cached);
    };
    by(this.pools, r.pool);
    by(this.machines, r.promptMachine);
    if (ttft !== undefined) (cached > 0 ? this.ttftHit : this.ttftMiss).record(ttft);
  }
  merge(o: CacheAccumulator): void {
    this.all.merge(o.all);
    for (const [mine, theirs] of [
      [this.pools, o.pools],
      [this.machines, o.machines],
    ] as const) {
      for (const [k, t] of theirs) {
        let m = mine.get(k);
        if (!m) mine.set(k, (m = new CacheTally()));
        m.merge(t);
      }
    }
    this.ttftHit.merge(o.ttftHit);
    this.ttftMiss.merge(o.ttftMiss);
  }
  summary(method: PercentileMethod): PrefixCacheSummary | undefined {
    if (this.all.requests === 0) return undefined;
    const hit = this.ttftHit.stats(method);
    const miss = this.ttftMiss.stats(method);
    const fig = (m: Map<string, CacheTally>): Record<string, PrefixCacheFigures> =>
      Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, t]) => [k, t.figures()]));
    return {
      ...this.all.figures(),
      ...(hit ? { ttftHitS: hit } : {}),
      ...(miss ? { ttftMissS: miss } : {}),
      pools: fig(this.pools),
      machines: fig(this.machines),
    };
  }
}

/**
 * Per-session figures of a session workload: `sessions` with at least one turn recorded, `turns` (turns per
 * session: mean, max), `completed` = sessions whose every recorded turn is ok, and `durationS` = per session,
 * its last turn's end − its first turn's send (think times included), over the completed sessions.
 */
export interface SessionsSummary {
  readonly sessions: number;
  readonly turns: number;
  readonly turnsMean: number;
  readonly turnsMax: number;
  readonly completed: number;
  readonly durationS?: Stats;
}

class SessionAccumulator {
  private readonly by = new Map<string, { turns: number; first: number; last: number; ok: boolean }>();
  private turns = 0;
  add(r: RequestRecord): void {
    if (r.sessionTurn === null || r.sessionTurn === undefined || !r.sessionId) return;
    this.turns++;
    const start = r.send ?? r.scheduled;
    const end = r.end !== null && Number.isFinite(r.end) ? r.end : start;
    const key = `${r.shard}/${r.sessionId}`;
    const s = this.by.get(key);
    if (!s) this.by.set(key, { turns: 1, first: start, last: end, ok: r.status === 'ok' });
    else {
      s.turns++;
      s.first = Math.min(s.first, start);
      s.last = Math.max(s.last, end);
      s.ok &&= r.status === 'ok';
    }
  }
  merge(o: SessionAccumulator): void {
    this.turns += o.turns;
    for (const [k, t] of o.by) {
      const s = this.by.get(k);
      if (!s) this.by.set(k, { ...t });
      else {
        s.turns += t.turns;
        s.first = Math.min(s.first, t.first);
        s.last = Math.max(s.last, t.last);
        s.ok &&= t.ok;
      }
    }
  }
  summary(method: PercentileMethod): SessionsSummary | undefined {
    if (this.by.size === 0) return undefined;
    const d = new Distribution();
    let max = 0;
    let completed = 0;
    for (const s of this.by.values()) {
      max = Math.max(max, s.turns);
      if (!s.ok) continue;
      completed++;
      d.record(s.last - s.first);
    }
    const duration = d.stats(method);
    return {
      sessions: this.by.size,
      turns: this.turns,
      turnsMean: this.turns / this.by.size,
      turnsMax: max,
      completed,
      ...(duration ? { durationS: duration } : {}),
    };
  }
}

/**
 * Means (seconds) of each request's breakdown over the ok, non-warm-up requests that have one (in sims: all of
 * them, so `ttft` and `e2e` equal `latencyS.ttft.mean` and `latencyS.e2e.mean`). Per request TTFT = queue +
 * prefill + ttftOverhead and E2E − TTFT = kvTransfer + decodeWait + decode + afterFirstOverhead, where the
 * overheads are what the client measured beyond the server's own parts (client, network, HTTP handling; 0 in
 * sims within rounding); so the means add up the same way.
 */
export interface BreakdownMeans {
  readonly requests: number;
  readonly ttft: number;
  readonly queue: number;
  readonly prefill: number;
  readonly ttftOverhead: number;
  readonly kvTransfer: number;
  readonly decodeWait: number;
  readonly decode: number;
  readonly afterFirstOverhead: number;
  readonly e2e: number;
}

const BREAKDOWN_KEYS = ['ttft', 'queue', 'prefill', 'ttftOverhead', 'kvTransfer', 'decodeWait', 'decode', 'afterFirstOverhead', 'e2e'] as const;

const newHists = <K extends string>(keys: readonly K[], budget: ExactBudget): Record<K, Distribution> =>
  Object.fromEntries(keys.map((k) => [k, new Distribution(budget)])) as Record<K, Distribution>;

function statsOf<K extends string>(h: Record<K, Distribution>, method: PercentileMethod): Partial<Record<K, Stats>> {
  const out: Partial<Record<K, Stats>> = {};
  for (const k of Object.keys(h) as K[]) {
    const s = h[k].stats(method);
    if (s) out[k] = s;
  }
  return out;
}

/** Per-request metric value by its SLO name (for `per_request` limits; also the report's per-request SLO lines). */
export function requestMetric(
  m: Pick<RequestMetrics, 'ttft' | 'tpot' | 'tbt' | 'e2e' | 'lag' | 'maxStall'>,
  metric: string,
  slow: RequestSlowdown | undefined,
): number | undefined {
  switch (metric) {
    case 'ttft':
      return m.ttft;
    case 'tpot':
      return m.tpot;
    case 'tbt':
      return m.tbt;
    case 'e2e':
      return m.e2e;
    case 'lag':
      return m.lag;
    case 'max_stall':
      return m.maxStall;
    case 'slowdown.ttft':
      return slow?.ttft;
    case 'slowdown.tpot':
      return slow?.tpot;
    case 'slowdown.tbt':
      return slow?.tbt;
    case 'slowdown.e2e':
      return slow?.e2e;
    default:
      return undefined;
  }
}

/**
 * Does an ok request meet every per-request limit? A limit on a metric the request does not have (tpot of
 * a one-token answer) is met. Requests that are not ok never meet them.
 */
export function meetsPerRequest(r: RequestRecord, m: RequestMetrics, rules: readonly PerRequestRule[], slow: RequestSlowdown | undefined): boolean {
  if (r.status !== 'ok') return false;
  for (const rule of rules) {
    const v = requestMetric(m, rule.metric, slow);
    if (v !== undefined && !compare(v, rule.op, rule.limit)) return false;
  }
  return true;
}

const STATUS_KEY: Record<RequestStatus, keyof StatusCounts> = {
  ok: 'ok',
  error: 'error',
  timeout: 'timeout',
  cancelled: 'cancelled',
  'never-completed': 'neverCompleted',
};

/** A request as the arrival window sees it: when it ended (+∞: never) and what it adds once done. */
interface Ending {
  end: number;
  ok: boolean;
}

/** A binary min-heap of `Ending`s by `end`. */
class EndHeap {
  private readonly a: Ending[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Ending | undefined {
    return this.a[0];
  }

  items(): readonly Ending[] {
    return this.a;
  }

  push(e: Ending): void {
    const a = this.a;
    a.push(e);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]!.end <= a[i]!.end) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): Ending | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]!.end < a[m]!.end) m = l;
      if (r < a.length && a[r]!.end < a[m]!.end) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
    return top;
  }
}

/** A stored number that is there (not NULL, finite). */
const fin = (v: number | null): v is number => v !== null && Number.isFinite(v);

/**
 * Accumulates a run's (or several runs'/shards') rows into mergeable exact distributions and sums. Feed rows with
 * `add`, combine with `merge`, read with `histograms` / the fields.
 */
export class RunAccumulator {
  /** One memory budget for the exact values of all the distributions below (see ExactBudget). */
  private readonly budget = new ExactBudget(SUMMARY_EXACT_LIMIT);
  readonly latency = newHists(LATENCY_METRICS, this.budget);
  readonly phases = newHists(PHASE_METRICS, this.budget);
  readonly slowdown = newHists(SLOWDOWN_METRICS, this.budget);
  readonly pools = new Map<string, { requests: number; h: Record<'ttft' | 'tpot' | 'e2e', Distribution> }>();
  readonly prefixCache = new CacheAccumulator(this.budget);
  readonly sessions = new SessionAccumulator();
  readonly counts: StatusCounts = { total: 0, warmup: 0, ok: 0, error: 0, timeout: 0, cancelled: 0, neverCompleted: 0 };
  outputMismatches = 0;
  inputTokens = 0;
  outputTokens = 0;
  good = 0;
  slowdownMatched = 0;
  spanStart = Infinity;
  spanEnd = -Infinity;
  /** Last non-warm-up arrival so far: the arrival window's end. */
  windowEnd = -Infinity;
  /** Non-warm-up requests' arrivals (for the offered rate) and Σ scheduled (for the in-system mean). */
  arrivals = 0;
  sumScheduled = 0;
  /** Requests that end after `windowEnd` (never-ended ones at +∞), earliest end first; the rest are done. */
  private readonly pending = new EndHeap();
  readonly done = { ok: 0, sumEnd: 0 };
  /** Σ of each breakdown part over the requests that have all of them (see `BreakdownMeans`). */
  readonly breakdownSums: Record<(typeof BREAKDOWN_KEYS)[number], number> & { n: number } = {
    n: 0,
    ttft: 0,
    queue: 0,
    prefill: 0,
    ttftOverhead: 0,
    kvTransfer: 0,
    decodeWait: 0,
    decode: 0,
    afterFirstOverhead: 0,
    e2e: 0,
  };

  private readonly recordTbt = (gap: number, count: number): void => this.latency.tbt.record(gap, count);
  /** One request's chunks at a time: decoded into reused objects (no garbage per token). */
  private readonly scratch = new ChunkScratch();

  constructor(
    readonly compat: boolean,
    readonly opts: SummaryOptions = {},
  ) {
    const needsRef = opts.slo?.perRequest.some((r) => r.metric.startsWith('slowdown.')) ?? false;
    if (needsRef && !opts.reference) {
      throw new SloSpecError(`${opts.slo!.file}: per-request slowdown limits need a reference`, 'give --reference-machine or --reference-run');
    }
  }

  add(r: RequestRecord): void {
    const m = measure(r, this.compat, this.scratch);
    if (m.lag !== undefined) this.latency.lag.record(m.lag);
    if (r.warmup) {
      this.counts.warmup++;
      return;
    }
    this.counts.total++;
    this.counts[STATUS_KEY[r.status]]++;
    this.sessions.add(r);
    this.spanStart = Math.min(this.spanStart, r.scheduled);
    if (r.end !== null && Number.isFinite(r.end)) this.spanEnd = Math.max(this.spanEnd, r.end);
    this.arrivals++;
    this.sumScheduled += r.scheduled;
    // A request without an end left the system when it failed, except one that never completed (a sim's KV deadlock).
    const ended = r.end !== null && Number.isFinite(r.end) ? Math.max(r.end, r.scheduled) : r.status === 'never-completed' ? Infinity : r.scheduled;
    this.settle(ended, r.status === 'ok', r.scheduled);
    if (r.status !== 'ok') return;

    this.inputTokens += r.promptTokens;
    this.outputTokens += r.tokensReceived;
    if (r.tokensReceived !== r.outputTokens) this.outputMismatches++;

    const { ttft, tpot, e2e } = m;
    if (ttft !== undefined) this.latency.ttft.record(ttft);
    if (tpot !== undefined) this.latency.tpot.record(tpot);
    if (e2e !== undefined) this.latency.e2e.record(e2e);
    if (m.maxStall !== undefined) this.latency.max_stall.record(m.maxStall);
    forEachTbtSample(m, this.recordTbt);
    const ph = this.phases;
    if (fin(r.queueS)) ph.queue.record(r.queueS);
    if (fin(r.prefillS)) ph.prefill.record(r.prefillS);
    if (fin(r.kvTransferS)) ph.kv_transfer.record(r.kvTransferS);
    if (fin(r.decodeWaitS)) ph.decode_wait.record(r.decodeWaitS);
    if (fin(r.decodeS)) ph.decode.record(r.decodeS);
    this.prefixCache.add(r, ttft);
    if (ttft !== undefined && e2e !== undefined && fin(r.queueS) && fin(r.prefillS) && fin(r.kvTransferS) && fin(r.decodeWaitS) && fin(r.decodeS)) {
      const b = this.breakdownSums;
      b.n++;
      b.ttft += ttft;
      b.e2e += e2e;
      b.queue += r.queueS;
      b.prefill += r.prefillS;
      b.ttftOverhead += ttftOverheadOf(ttft, r.queueS, r.prefillS);
      b.kvTransfer += r.kvTransferS;
      b.decodeWait += r.decodeWaitS;
      b.decode += r.decodeS;
      b.afterFirstOverhead += afterFirstOverheadOf(e2e, ttft, r.kvTransferS, r.decodeWaitS, r.decodeS);
    }

    if (r.pool) {
      let p = this.pools.get(r.pool);
      if (!p) {
        p = { requests: 0, h: newHists(['ttft', 'tpot', 'e2e'] as const, this.budget) };
        this.pools.set(r.pool, p);
      }
      p.requests++;
      if (ttft !== undefined) p.h.ttft.record(ttft);
      if (tpot !== undefined) p.h.tpot.record(tpot);
      if (e2e !== undefined) p.h.e2e.record(e2e);
    }

    let slow: RequestSlowdown | undefined;
    if (this.opts.reference) {
      slow = slowdownOf(r, m, this.opts.reference);
      if (slow) {
        this.slowdownMatched++;
        for (const k of SLOWDOWN_METRICS) if (slow[k] !== undefined) this.slowdown[k].record(slow[k]!);
      }
    }
    if (this.opts.slo && meetsPerRequest(r, m, this.opts.slo.perRequest, slow)) this.good++;
  }

  /** Count a request as done within the window, or keep it pending until the window grows past its end. */
  private settle(end: number, ok: boolean, scheduled: number): void {
    this.growWindow(scheduled);
    if (end <= this.windowEnd) this.finish(end, ok);
    else this.pending.push({ end, ok });
  }

  /** Move the window's end to `t` (if later): requests that ended by then are done. */
  private growWindow(t: number): void {
    if (!(t > this.windowEnd)) return;
    this.windowEnd = t;
    for (let top = this.pending.peek(); top && top.end <= t; top = this.pending.peek()) {
      const e = this.pending.pop()!;
      this.finish(e.end, e.ok);
    }
  }

  private finish(end: number, ok: boolean): void {
    this.done.sumEnd += end;
    if (ok) this.done.ok++;
  }

  /** Ok requests still running at the window's end (they complete in the drain). */
  get drainRequests(): number {
    let n = 0;
    for (const e of this.pending.items()) if (e.ok) n++;
    return n;
  }

  /** Requests still in the system at the window's end (arrived, not ended by then). */
  get inSystemAtEnd(): number {
    return this.pending.size;
  }

  /** Arrival window length (0 with fewer than two distinct arrivals). */
  get windowS(): number {
    return this.windowEnd > this.spanStart ? this.windowEnd - this.spanStart : 0;
  }

  /** Time-averaged number of requests in the system over the window: Σ (min(end, window end) − scheduled) / window. */
  get inSystemMean(): number {
    const w = this.windowS;
    if (w <= 0) return 0;
    return (this.done.sumEnd + this.windowEnd * this.pending.size - this.sumScheduled) / w;
  }

  /** Fold another accumulator (another shard or run) into this one. */
  merge(o: RunAccumulator): this {
    for (const k of LATENCY_METRICS) this.latency[k].merge(o.latency[k]);
    for (const k of PHASE_METRICS) this.phases[k].merge(o.phases[k]);
    this.breakdownSums.n += o.breakdownSums.n;
    for (const k of BREAKDOWN_KEYS) this.breakdownSums[k] += o.breakdownSums[k];
    for (const k of SLOWDOWN_METRICS) this.slowdown[k].merge(o.slowdown[k]);
    for (const [name, p] of o.pools) {
      const mine = this.pools.get(name);
      if (!mine) {
        const copy = { requests: 0, h: newHists(['ttft', 'tpot', 'e2e'] as const, this.budget) };
        this.pools.set(name, copy);
      }
      const t = this.pools.get(name)!;
      t.requests += p.requests;
      t.h.ttft.merge(p.h.ttft);
      t.h.tpot.merge(p.h.tpot);
      t.h.e2e.merge(p.h.e2e);
    }
    this.prefixCache.merge(o.prefixCache);
    this.sessions.merge(o.sessions);
    for (const k of Object.keys(this.counts) as (keyof StatusCounts)[]) this.counts[k] += o.counts[k];
    this.outputMismatches += o.outputMismatches;
    this.inputTokens += o.inputTokens;
    this.outputTokens += o.outputTokens;
    this.good += o.good;
    this.slowdownMatched += o.slowdownMatched;
    this.spanStart = Math.min(this.spanStart, o.spanStart);
    this.spanEnd = Math.max(this.spanEnd, o.spanEnd);
    this.arrivals += o.arrivals;
    this.sumScheduled += o.sumScheduled;
    this.done.ok += o.done.ok;
    this.done.sumEnd += o.done.sumEnd;
    // o's done requests ended by o's window end, so by the merged one too; its pending ones settle again.
    for (const e of o.pending.items()) this.settle(e.end, e.ok, o.windowEnd);
    return this;
  }

  /** Steady span in seconds (0 when no request ended). */
  get spanS(): number {
    return this.spanEnd > this.spanStart ? this.spanEnd - this.spanStart : 0;
  }
}

/** Build the mergeable distributions of a set of rows (a run, a shard, or the union of several). */
export function accumulate(rows: Iterable<RequestRecord>, compat: boolean, opts: SummaryOptions = {}): RunAccumulator {
  const acc = new RunAccumulator(compat, opts);
  for (const r of rows) acc.add(r);
  return acc;
}

function powerAndCost(store: StoreLike, run: RunInfo, acc: RunAccumulator): { power?: PowerSummary; cost?: CostSummary } {
  const out: { power?: PowerSummary; cost?: CostSummary } = {};
  const span = acc.spanS;
  const from = acc.spanStart;
  const to = acc.spanEnd;
  // Power: sample-and-hold per machine, clipped to the steady span; each interval counts for the pool (role) the
  // machine was in at its start, so a machine the mixed pool borrows adds to each pool only while it is there.
  const perMachine = new Map<string, { energyByRole: Map<string, number>; covered: number; measured?: { role: string; joules: number } }>();
  const steps: { t: number; dw: number; role: string }[] = []; // ±watts where an interval starts/ends
  let prev: { machineId: string; t: number; watts: number | null; role: string } | undefined;
  let any = false;
  const close = (p: { machineId: string; t: number; watts: number | null; role: string }, tNext: number): void => {
    if (p.watts === null) return;
    const a = Math.max(p.t, from);
    const b = Math.min(tNext, to);
    if (b <= a) return;
    let m = perMachine.get(p.machineId);
    if (!m) perMachine.set(p.machineId, (m = { energyByRole: new Map(), covered: 0 }));
    m.energyByRole.set(p.role, (m.energyByRole.get(p.role) ?? 0) + p.watts * (b - a));
    m.covered += b - a;
    steps.push({ t: a, dw: p.watts, role: p.role }, { t: b, dw: -p.watts, role: p.role });
  };
  const counters = new Map<string, { role: string; pts: CounterPoint[] }>();
  for (const s of powerRecords(store, run.id)) {
    any = true;
    if (s.energyJ !== null && MEASURED_POWER_SOURCES.includes(s.source)) {
      const c = counters.get(s.machineId) ?? { role: s.role, pts: [] };
      c.pts.push({ t: s.t, energyJ: s.energyJ });
      counters.set(s.machineId, c);
    }
    if (prev && prev.machineId === s.machineId) close(prev, s.t);
    prev = s;
  }
  // Measured cumulative energy replaces the sample-and-hold estimate of those machines (their own role).
  for (const [id, c] of counters) {
    const e = counterEnergy(c.pts, from, to);
    if (e.coveredS <= 0) continue;
    perMachine.set(id, { energyByRole: new Map([[c.role, e.joules]]), covered: e.coveredS });
  }
  const energyByPool: Record<string, number> = {};
  if (any && span > 0) {
    const pools: PowerSummary['pools'] = {};
    let energy = 0;
    let meanW = 0;
    for (const m of perMachine.values()) {
      for (const [role, e] of m.energyByRole) {
        energy += e;
        energyByPool[role] = (energyByPool[role] ?? 0) + e;
        const pool = (pools[role] ??= { meanW: 0, peakW: 0, machines: 0 });
        pool.machines++;
        if (m.covered > 0) {
          pool.meanW += e / m.covered;
          meanW += e / m.covered;
        }
      }
    }
    // Peaks of the piecewise-constant sums of watts (per pool, and of the whole cluster); at one instant an
    // interval's end is taken before the next one's start.
    steps.sort((x, y) => x.t - y.t || x.dw - y.dw);
    const level = new Map<string, number>();
    let total = 0;
    let peak = 0;
    for (const st of steps) {
      const w = (level.get(st.role) ?? 0) + st.dw;
      level.set(st.role, w);
      total += st.dw;
      const pool = (pools[st.role] ??= { meanW: 0, peakW: 0, machines: 0 });
      if (w > pool.peakW) pool.peakW = w;
      if (total > peak) peak = total;
    }
    for (const [role, e] of Object.entries(energyByPool)) {
      const pool = pools[role]!;
      pool.energyJ = e;
      if (acc.outputTokens > 0) pool.energyPerOutputTokenJ = e / acc.outputTokens;
    }
    out.power = {
      pools,
      meanW,
      peakW: peak,
      energyJ: energy,
      ...(acc.counts.ok > 0 ? { energyPerRequestJ: energy / acc.counts.ok } : {}),
      ...(acc.outputTokens > 0 ? { energyPerOutputTokenJ: energy / acc.outputTokens } : {}),
    };
  }
  const machines = machineRecords(store, run.id).filter((m) => m.pricePerHour !== null);
  if (machines.length > 0 && span > 0) {
    const usdPerKwh = usdPerKwhOf(run);
    out.cost = costFigures({
      machines: machines.map((m) => ({ pool: m.pool, pricePerHour: m.pricePerHour! })),
      spanS: span,
      inputTokens: acc.inputTokens,
      outputTokens: acc.outputTokens,
      okRequests: acc.counts.ok,
      ...(acc.opts.slo ? { goodRequests: acc.good } : {}),
      ...(out.power ? { energyJ: out.power.energyJ, energyByPoolJ: energyByPool } : {}),
      ...(out.power && usdPerKwh !== undefined ? { usdPerKwh } : {}),
    });
  }
  return out;
}

/** The run's electricity price: `notes.cost.usdPerKwh` (replay's --price-kwh), else the price table's default. */
function usdPerKwhOf(run: RunInfo): number | undefined {
  const c = run.notes.cost as { usdPerKwh?: unknown } | undefined;
  if (c && typeof c.usdPerKwh === 'number' && Number.isFinite(c.usdPerKwh)) return c.usdPerKwh;
  try {
    return loadPrices().electricity.usdPerKwh;
  } catch {
    return undefined;
  }
}

/** Summary from an accumulator (the run's own rows, or a merge of several). */
export function summaryFromAccumulator(run: RunInfo, acc: RunAccumulator, extra: { power?: PowerSummary; cost?: CostSummary } = {}): RunSummary {
  const span = acc.spanS;
  const per = (n: number): number => (span > 0 ? n / span : 0);
  const win = acc.windowS;
  // Without a window (one arrival instant) the makespan figures stand in.
  const perWindow = (n: number): number => (win > 0 ? n / win : per(n));
  const throughput: RunSummary['throughput'] = {
    spanS: span,
    windowS: win,
    offeredRequestsPerS: win > 0 ? acc.arrivals / win : 0,
    requestsPerS: perWindow(acc.counts.ok),
    inputTokensPerS: perWindow(acc.inputTokens),
    outputTokensPerS: perWindow(acc.outputTokens),
    completedInWindowPerS: win > 0 ? acc.done.ok / win : per(acc.counts.ok),
    makespanRequestsPerS: per(acc.counts.ok),
    makespanInputTokensPerS: per(acc.inputTokens),
    makespanOutputTokensPerS: per(acc.outputTokens),
    drainS: Number.isFinite(acc.spanEnd) && win > 0 ? Math.max(0, acc.spanEnd - acc.windowEnd) : 0,
    drainRequests: acc.drainRequests,
    inSystemAtEnd: acc.inSystemAtEnd,
    inSystemMean: acc.inSystemMean,
  };
  const saturated = saturationReason(throughput);
  const method = acc.opts.percentileMethod ?? DEFAULT_PERCENTILE_METHOD;
  const pools: Record<string, PoolSummary> = {};
  for (const [name, p] of acc.pools) pools[name] = { requests: p.requests, latencyS: statsOf(p.h, method) };
  const prefixCache = acc.prefixCache.summary(method);
  const sessions = acc.sessions.summary(method);
  return {
    run: {
      id: run.id,
      name: run.name,
      kind: run.kind,
      status: run.status,
      model: run.model,
      deployment: run.deployment,
      target: run.target,
      startedAt: run.startedAt,
      warmupS: run.warmupS,
      lagFlagged: run.lagFlagged,
      distorted: run.distorted,
      distortedReason: run.distortedReason,
      twinRunId: run.twinRunId,
      compat: acc.compat,
    },
    percentileMethod: method,
    counts: { ...acc.counts },
    errorRate: acc.counts.total > 0 ? (acc.counts.total - acc.counts.ok) / acc.counts.total : 0,
    outputMismatches: acc.outputMismatches,
    latencyS: statsOf(acc.latency, method),
    phasesS: statsOf(acc.phases, method),
    ...(acc.opts.reference ? { slowdown: { reference: acc.opts.reference.describe, matched: acc.slowdownMatched, ...statsOf(acc.slowdown, method) } } : {}),
    throughput,
    ...(saturated === undefined ? {} : { saturated }),
    ...(acc.opts.slo
      ? {
          goodput: {
            sloFile: acc.opts.slo.file,
            good: acc.good,
            requestsPerS: perWindow(acc.good),
            fraction: acc.counts.total > 0 ? acc.good / acc.counts.total : 0,
          },
        }
      : {}),
    ...(acc.pools.size > 0 ? { pools } : {}),
    ...(prefixCache ? { prefixCache } : {}),
    ...(sessions ? { sessions } : {}),
    ...(acc.breakdownSums.n > 0 ? { breakdown: breakdownMeans(acc.breakdownSums) } : {}),
    ...extra,
  };
}

function breakdownMeans(b: RunAccumulator['breakdownSums']): BreakdownMeans {
  const out: Record<string, number> = { requests: b.n };
  for (const k of BREAKDOWN_KEYS) out[k] = b[k] / b.n;
  return out as unknown as BreakdownMeans;
}

/** Achieved below this fraction of offered flags a run saturated. */
export const SATURATION_ACHIEVED_FRACTION = 0.95;
/** The queue grew when the requests in the system at the window's end exceed this × their mean over the window … */
export const SATURATION_GROWTH_FACTOR = 1.5;
/** … plus this many (so that small, noisy queues do not trip it). */
export const SATURATION_GROWTH_SLACK = 10;

/**
 * Why a run did not sustain its offered load, or undefined: achieved (ok requests over the window) below 95% of
 * offered, or the queue grew through the run (more requests in the system at the last arrival than 1.5× their
 * time-averaged number over the window, plus 10: the last arrivals of a short bursty trace come in bunches). Needs at least two arrivals.
 */
export function saturationReason(t: RunSummary['throughput']): string | undefined {
  if (t.windowS <= 0 || t.offeredRequestsPerS <= 0) return undefined;
  const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(x >= 10 ? 1 : 2));
  const reasons: string[] = [];
  if (t.requestsPerS < SATURATION_ACHIEVED_FRACTION * t.offeredRequestsPerS) {
    reasons.push(
      `achieved ${fmt(t.requestsPerS)} of ${fmt(t.offeredRequestsPerS)} req/s offered (${((100 * t.requestsPerS) / t.offeredRequestsPerS).toFixed(0)}%)`,
    );
  }
  if (t.inSystemAtEnd > SATURATION_GROWTH_FACTOR * t.inSystemMean + SATURATION_GROWTH_SLACK) {
    reasons.push(
      `the queue grew: ${t.inSystemAtEnd} requests in the system at the last arrival vs a mean of ${t.inSystemMean.toFixed(1)}; ` +
        `completions within the window ran at ${fmt(t.completedInWindowPerS)} req/s, the drain took ${fmt(t.drainS)} s`,
    );
  }
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}

/** Summarize one run of the store (by id or name; the latest when omitted). */
export function summarizeRun(store: StoreLike, runIdOrName?: string | number, opts: SummaryOptions = {}): RunSummary {
  const run = findRun(store, runIdOrName);
  return summarizeAccumulated(store, run, accumulate(requestRecords(store, run.id), isCompatRun(run), opts));
}

/** Summarize a run of the store whose request rows are already in `acc` (its power and machines are read from the store). */
export function summarizeAccumulated(store: StoreLike, run: RunInfo, acc: RunAccumulator): RunSummary {
  return summaryFromAccumulator(run, acc, powerAndCost(store, run, acc));
}

/**
 * A run's RunAccumulator fed as the run goes (a run writer's `requestTap`: rows as requests finish, in any
 * order), adding the rows in (shard, seq) order, the order `summarizeRun` reads them back in: the summary's
 * sums and its arrival-window bookkeeping depend on that order, so the summary is the read-back one, to the
 * bit, without the read. A row waits only until the rows before it have come (shard 0; other shards' rows
 * wait for `finish`).
 */
export class OrderedAccumulator implements RequestTap<(typeof METRIC_FIELDS)[number]> {
  readonly fields = METRIC_FIELDS;
  private next = 0;
  private readonly waiting = new Map<number, RequestRecord>();
  private readonly later: RequestRecord[] = [];

  constructor(readonly acc: RunAccumulator) {}

  add(r: RequestRecord): void {
    if (r.shard !== 0) this.later.push(r);
    else if (r.seq !== this.next) this.waiting.set(r.seq, r);
    else {
      this.acc.add(r);
      for (this.next++; this.waiting.size > 0; this.next++) {
        const w = this.waiting.get(this.next);
        if (w === undefined) break;
        this.waiting.delete(this.next);
        this.acc.add(w);
      }
    }
  }

  /**
   * The rows still held whose token times are a view of `buffer` get a copy of their own (a writer thread's
   * batch, about to go back for reuse). The copy is made in place: a copied row object would be of another
   * shape than the rows added at once, and the accumulator's reads of both slower.
   */
  detach(buffer: ArrayBufferLike): void {
    const own = (r: RequestRecord): void => {
      const t = r.tokenTimes;
      if (t instanceof Uint8Array && t.buffer === buffer) (r as { tokenTimes: Uint8Array }).tokenTimes = t.slice();
    };
    for (const r of this.waiting.values()) own(r);
    for (const r of this.later) own(r);
  }

  /** Add what still waits (rows after a gap in seq), in order; the accumulator. */
  finish(): RunAccumulator {
    const rest = [...this.waiting.values(), ...this.later].sort((a, b) => a.shard - b.shard || a.seq - b.seq);
    this.waiting.clear();
    this.later.length = 0;
    for (const r of rest) this.acc.add(r);
    return this.acc;
  }
}
