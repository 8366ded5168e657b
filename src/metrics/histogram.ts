/**
 * Exact, mergeable distributions of stored values.
 *
 * Summaries are computed from a run's rows, so there is no reason to approximate: a `Distribution` keeps every
 * recorded value (a sample recorded with a count is that value repeated: token-weighted TBT samples) in a
 * growable Float64Array, at full double precision. Percentiles are order statistics of the sorted values:
 *
 * - `linear` (the default; numpy's default `method='linear'` and what SplitwiseSim's notebooks use): for n
 *   sorted values x₀…xₙ₋₁ and percentile p, h = (n − 1)·p/100 and the value is x⌊h⌋ + (h − ⌊h⌋)·(x⌊h⌋₊₁ − x⌊h⌋);
 * - `nearest-rank`: x⌈n·p/100⌉₋₁ (x₀ for p = 0), a value that was actually observed.
 *
 * `mean` is the compensated (Neumaier) sum of the sorted values over n, `max` the largest value, `count` n. Memory: 8 bytes
 * per value (a 42,218-request simulation of the conversation trace holds ~10 M token gaps: ~80 MB while it is
 * summarised). Past `EXACT_LIMIT` values (a week-long stream's token gaps would need tens of GB) a distribution
 * moves its values into an hdr histogram (3 significant digits, constant memory) and says so: its `Stats` carry
 * `approximate`, and every summary names it.
 *
 * This is the project's one histogram type. Its live mode (`Distribution.live()`) is the hdr histogram from the
 * first value: constant memory for figures where no rows exist yet (the load generator's live stats behind the
 * progress line, the lag flag and `--metrics-port`); exact mean, max and count, hdr percentiles clamped to the max.
 */
import { createRequire } from 'node:module';
import type * as hdr from 'hdr-histogram-js';

/**
 * hdr-histogram-js, loaded on first use: only distributions past EXACT_LIMIT and live ones need it, and
 * loading it (its WebAssembly build and inflater) costs every command's start-up ~40 ms of CPU and ~15 MB.
 */
let hdrModule: typeof hdr | undefined;
const hdrLib = (): typeof hdr => (hdrModule ??= createRequire(import.meta.url)('hdr-histogram-js') as typeof hdr);

/** Values a distribution keeps exactly (2^24: 128 MiB of doubles); past it, an hdr histogram. */
export const EXACT_LIMIT = 2 ** 24;
/**
 * How an over-limit distribution is approximated (named in summaries). The limit is written as
 * `toLocaleString('en-US')` would (16,777,216), without its ICU set-up at every start-up.
 */
export const APPROXIMATION = `hdr histogram, 3 significant digits (population above ${String(EXACT_LIMIT).replace(/\B(?=(\d{3})+(?!\d))/g, ',')} values)`;

/** How a percentile is read off the sorted values; see the module comment. */
export type PercentileMethod = 'linear' | 'nearest-rank';
export const PERCENTILE_METHODS: readonly PercentileMethod[] = ['linear', 'nearest-rank'];
export const DEFAULT_PERCENTILE_METHOD: PercentileMethod = 'linear';

/** What `summary` and `gate` print about the rule. */
export function describePercentileMethod(m: PercentileMethod): string {
  return m === 'linear' ? 'exact, linear interpolation between order statistics (numpy default)' : 'exact, nearest rank (an observed value)';
}

/** Summary of one distribution, in the unit named by the field that holds it (seconds for `…S`). */
export interface Stats {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** Present when the population exceeded `EXACT_LIMIT`: percentiles are hdr values (mean, max, count stay exact). */
  readonly approximate?: typeof APPROXIMATION;
}

/** The numeric fields of `Stats`. */
export type StatField = Exclude<keyof Stats, 'approximate'>;

/** The statistic names an SLO rule may use, mapped to `Stats` fields. */
export const STAT_NAMES = {
  p50: 'p50',
  p90: 'p90',
  p95: 'p95',
  p99: 'p99',
  'p99.9': 'p999',
  p999: 'p999',
  max: 'max',
  mean: 'mean',
  count: 'count',
} as const satisfies Record<string, StatField>;
export type StatName = keyof typeof STAT_NAMES;

/** Percentile `p` (0..100) of `sorted` (ascending, non-empty) by `method`. */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number, method: PercentileMethod): number {
  const n = sorted.length;
  if (method === 'nearest-rank') {
    const rank = Math.ceil((n * p) / 100);
    return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
  }
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = sorted[lo]!;
  if (lo + 1 >= n) return a;
  const b = sorted[lo + 1]!;
  return a + (h - lo) * (b - a);
}

export class Distribution {
  private values = new Float64Array(64);
  private n = 0;
  private sorted = true;
  /** Set once the population passed EXACT_LIMIT: values live here in integer nanoseconds (or nano-units). */
  private hist: hdr.Histogram | undefined;
  private histSum = 0;
  private histMax = 0;

  /** `limit`: values kept exactly before moving to a histogram (tests lower it; 0: live mode). */
  constructor(private readonly limit = EXACT_LIMIT) {}

  /** Live mode: an hdr histogram from the first value (constant memory; for figures where no rows exist). */
  static live(): Distribution {
    const d = new Distribution(0);
    // Built now, not at the first value: loading hdr-histogram-js takes tens of ms of CPU, and a live run
    // makes its distributions before its clock starts, so the load never lands on a request's send.
    d.toHistogram();
    return d;
  }

  /** Record `value` (negative values are clamped to 0; non-finite ones are ignored) `count` times. */
  record(value: number, count = 1): void {
    if (!Number.isFinite(value) || !(count > 0)) return;
    const v = value > 0 ? value : 0;
    const k = Math.round(count);
    if (this.hist || this.n + k > this.limit) {
      this.toHistogram().recordValueWithCount(Math.round(v * HIST_UNIT), k);
      this.histSum += v * k;
      this.histMax = Math.max(this.histMax, v);
      this.n += k;
      return;
    }
    this.reserve(k);
    if (this.n > 0 && v < this.values[this.n - 1]!) this.sorted = false;
    this.values.fill(v, this.n, this.n + k);
    this.n += k;
  }

  get count(): number {
    return this.n;
  }

  /** Add every value of `other` into this distribution. */
  merge(other: Distribution): this {
    if (other.n === 0) return this;
    if (this.hist || other.hist || this.n + other.n > this.limit) {
      const h = this.toHistogram();
      if (other.hist) h.add(other.hist);
      for (let i = 0; i < (other.hist ? 0 : other.n); i++) h.recordValue(Math.round(other.values[i]! * HIST_UNIT));
      this.histSum += other.hist ? other.histSum : compensatedSum(other.values.subarray(0, other.n));
      this.histMax = Math.max(this.histMax, other.hist ? other.histMax : maxOf(other.values.subarray(0, other.n)));
      this.n += other.n;
      return this;
    }
    this.reserve(other.n);
    if (!other.sorted || (this.n > 0 && other.values[0]! < this.values[this.n - 1]!)) this.sorted = false;
    this.values.set(other.values.subarray(0, other.n), this.n);
    this.n += other.n;
    return this;
  }

  /** Value at percentile `p` (0..100), in the metric's unit; undefined when empty. */
  percentile(p: number, method: PercentileMethod = DEFAULT_PERCENTILE_METHOD): number | undefined {
    if (this.n === 0) return undefined;
    if (this.hist) return Math.min(this.hist.getValueAtPercentile(p) / HIST_UNIT, this.histMax);
    return percentileOfSorted(this.sortedValues(), p, method);
  }

  /** Mean of the values; undefined when empty. */
  mean(): number | undefined {
    if (this.n === 0) return undefined;
    return this.hist ? this.histSum / this.n : compensatedSum(this.sortedValues()) / this.n;
  }

  /** Largest value; undefined when empty. */
  max(): number | undefined {
    if (this.n === 0) return undefined;
    return this.hist ? this.histMax : this.sortedValues()[this.n - 1];
  }

  /**
   * The empirical CDF as points (value, fraction ≤ it), at most about `maxPoints` (see `cdfOfSorted`), values
   * times `scale`; an approximate distribution gives its percentiles at evenly spaced fractions.
   */
  cdfPoints(maxPoints = 600, scale = 1): { x: number; y: number }[] {
    if (this.n === 0) return [];
    if (!this.hist) return cdfOfSorted(this.sortedValues(), maxPoints, scale);
    const out: { x: number; y: number }[] = [];
    for (let k = 1; k < maxPoints; k++) {
      const y = k / (maxPoints - 1);
      out.push({ x: this.percentile(100 * y)! * scale, y });
    }
    return out;
  }

  /** True once the population passed EXACT_LIMIT (percentiles then come from an hdr histogram). */
  get approximate(): boolean {
    return this.hist !== undefined;
  }

  stats(method: PercentileMethod = DEFAULT_PERCENTILE_METHOD): Stats | undefined {
    if (this.n === 0) return undefined;
    if (this.hist) {
      const at = (p: number): number => this.percentile(p)!;
      return {
        count: this.n,
        mean: this.histSum / this.n,
        p50: at(50),
        p90: at(90),
        p95: at(95),
        p99: at(99),
        p999: at(99.9),
        max: this.histMax,
        approximate: APPROXIMATION,
      };
    }
    const x = this.sortedValues();
    const at = (p: number): number => percentileOfSorted(x, p, method);
    return {
      count: this.n,
      mean: compensatedSum(x) / this.n,
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      max: x[this.n - 1]!,
    };
  }

  private sortedValues(): Float64Array {
    const x = this.values.subarray(0, this.n);
    if (!this.sorted) {
      x.sort();
      this.sorted = true;
    }
    return x;
  }

  /** Move the exact values into an hdr histogram (once; the values array is released). */
  private toHistogram(): hdr.Histogram {
    if (this.hist) return this.hist;
    const h = hdrLib().build({ bitBucketSize: 64, autoResize: true, numberOfSignificantValueDigits: 3 });
    const x = this.values.subarray(0, this.n);
    for (let i = 0; i < x.length; i++) h.recordValue(Math.round(x[i]! * HIST_UNIT));
    this.histSum = compensatedSum(x);
    this.histMax = maxOf(x);
    this.values = new Float64Array(0);
    this.hist = h;
    return h;
  }

  private reserve(extra: number): void {
    const need = this.n + extra;
    if (need <= this.values.length) return;
    let cap = this.values.length;
    while (cap < need) cap *= 2;
    const next = new Float64Array(cap);
    next.set(this.values.subarray(0, this.n));
    this.values = next;
  }
}

/** Values enter an over-limit histogram as integer nano-units (1 ns for times). */
const HIST_UNIT = 1e9;

function maxOf(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  return m;
}

/**
 * Neumaier's compensated sum, taken over the sorted values: the mean of millions of values keeps full precision
 * and does not depend on the order rows were read or shards merged.
 */
function compensatedSum(x: Float64Array): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const t = sum + v;
    comp += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  return sum + comp;
}

/**
 * Empirical CDF of ascending values: points (v[i], (i+1)/n). Above `maxPoints` it keeps evenly spaced
 * ranks plus every rank of the top 1% up to a budget (the tail is what latency CDFs are read for), always
 * the first and last.
 */
export function cdfOfSorted(sorted: ArrayLike<number>, maxPoints = 600, scale = 1): { x: number; y: number }[] {
  const n = sorted.length;
  if (n === 0) return [];
  const idx = new Set<number>();
  if (n <= maxPoints) for (let i = 0; i < n; i++) idx.add(i);
  else {
    const body = Math.floor(maxPoints * 0.7);
    for (let k = 0; k <= body; k++) idx.add(Math.round((k / body) * (n - 1)));
    const tailStart = Math.floor(n * 0.99);
    const tailBudget = maxPoints - body;
    const tailN = n - tailStart;
    for (let k = 0; k <= tailBudget; k++) idx.add(tailStart + Math.round((k / tailBudget) * (tailN - 1)));
  }
  return [...idx].sort((a, b) => a - b).map((i) => ({ x: sorted[i]! * scale, y: (i + 1) / n }));
}
