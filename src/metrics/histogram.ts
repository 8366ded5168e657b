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
import { grownCapacity, MAPPED_BYTES } from '../capacity.js';

/**
 * hdr-histogram-js, loaded on first use: only distributions past EXACT_LIMIT and live ones need it, and
 * loading it (its WebAssembly build and inflater) costs every command's start-up ~40 ms of CPU and ~15 MB.
 */
let hdrModule: typeof hdr | undefined;
const hdrLib = (): typeof hdr => (hdrModule ??= createRequire(import.meta.url)('hdr-histogram-js') as typeof hdr);

/** Values a distribution keeps exactly by default (2^24: 128 MiB of doubles); past it, an hdr histogram. */
export const EXACT_LIMIT = 2 ** 24;
/** Exact values one run summary keeps over all its distributions (2^25: 256 MiB of doubles); see `ExactBudget`. */
export const SUMMARY_EXACT_LIMIT = 2 ** 25;
/** How a distribution past its exact-value budget is approximated (named in summaries). */
export const APPROXIMATION = 'hdr histogram, 3 significant digits (past the exact-value budget)';

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
  return percentileAt(sorted.length, (i) => sorted[i]!, p, method);
}

/** Percentile `p` of n ascending values read by rank (`at(i)`, 0 ≤ i < n). */
function percentileAt(n: number, at: (i: number) => number, p: number, method: PercentileMethod): number {
  if (method === 'nearest-rank') {
    const rank = Math.ceil((n * p) / 100);
    return at(Math.min(n - 1, Math.max(0, rank - 1)));
  }
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = at(lo);
  if (lo + 1 >= n) return a;
  const b = at(lo + 1);
  return a + (h - lo) * (b - a);
}

/**
 * One memory budget for the exact values of several distributions (a run summary's, `SUMMARY_EXACT_LIMIT`):
 * each holds its stored values against it (a value 1 unit, 8 bytes; a run of equal values in the counted form 2
 * units), and when a value would take the total past `limit`, a distribution holding the most moves to its
 * hdr histogram (of those holding at least half the most, the one made last: a summary's per-pool copies,
 * slowdowns and phases go before the run's own latencies), until it fits. A distribution made with a number has a budget of its own.
 */
export class ExactBudget {
  used = 0;
  private readonly members: Distribution[] = [];

  constructor(readonly limit: number) {}

  join(d: Distribution): void {
    this.members.push(d);
  }

  /** Room for `k` more units of `d` (taken when it fits); false when `d` itself moved to its histogram. */
  admit(d: Distribution, k: number): boolean {
    while (this.used + k > this.limit) {
      // Distributions grow in step (one value each per request): "largest" is read as at least half the
      // largest, and of those the one made last goes first, so the order does not hang on which was recorded last.
      let most = 0;
      for (const m of this.members) most = Math.max(most, m.entries);
      let big: Distribution | undefined;
      for (let i = this.members.length - 1; i >= 0 && big === undefined; i--) {
        const m = this.members[i]!;
        if (!m.approximate && m.entries > 0 && 2 * m.entries >= most) big = m;
      }
      if (big === undefined) big = d;
      big.moveToHistogram();
      if (big === d) return false;
    }
    this.used += k;
    return true;
  }
}

/** Values gathered before the counted form is tried. */
const TRY_COUNTED_AT = 2 ** 20;

/** Scratch for a double's bit pattern (hashing). */
const bits64 = new Float64Array(1);
const bits32 = new Uint32Array(bits64.buffer);

export class Distribution {
  /** The values (plain form; ascending when `sorted`), the first `nv` used. */
  private vals = new Float64Array(64);
  private nv = 0;
  private sorted = true;
  /**
   * The counted form, for a population of few distinct values (token gaps repeat to the bit: one iteration's
   * gap is every request's in its batch): an open-addressing table of distinct values and their counts
   * side by side (`table[2h]` the value of slot h, `table[2h + 1]` its count, 0: empty), so a probe reads
   * one cache line (in a table of ~10^6 slots each probe is a cache miss); `distinct` used. Tried once at
   * TRY_COUNTED_AT values and kept while the table is at most half the size of the values written out (else
   * the values are written out again).
   * Exact: it reads as the same sorted sequence (`runs`, built for reads).
   */
  private table: Float64Array | undefined;
  private distinct = 0;
  /** The counted form's distinct values ascending and their counts, built for reads; undefined: stale. */
  private runs: { readonly v: Float64Array; readonly c: Float64Array; readonly cum: Float64Array } | undefined;
  private form: 'undecided' | 'plain' | 'counted' = 'undecided';
  /** Set while `merge` adds values: it tells the budget once, at the end, what the table's growth changed. */
  private merging = false;
  private n = 0;
  /** Set once the distribution left its budget: values live here in integer nanoseconds (or nano-units). */
  private hist: hdr.Histogram | undefined;
  private histSum = 0;
  private histMax = 0;
  private readonly budget: ExactBudget;

  /** `limit`: values kept exactly before moving to a histogram (tests lower it; 0: live mode), or a shared budget. */
  constructor(limit: number | ExactBudget = EXACT_LIMIT) {
    this.budget = typeof limit === 'number' ? new ExactBudget(limit) : limit;
    this.budget.join(this);
  }

  /** Live mode: an hdr histogram from the first value (constant memory; for figures where no rows exist). */
  static live(): Distribution {
    const d = new Distribution(0);
    // Built now, not at the first value: loading hdr-histogram-js takes tens of ms of CPU, and a live run
    // makes its distributions before its clock starts, so the load never lands on a request's send.
    d.moveToHistogram();
    return d;
  }

  /** Record `value` (negative values are clamped to 0; non-finite ones are ignored) `count` times. */
  record(value: number, count = 1): void {
    if (!Number.isFinite(value) || !(count > 0)) return;
    const v = value > 0 ? value : 0;
    const k = Math.round(count);
    if (this.form === 'counted') {
      this.n += k;
      this.insert(v, k);
      return;
    }
    if (this.hist === undefined) {
      const b = this.budget;
      if (b.used + k <= b.limit) b.used += k;
      else b.admit(this, k);
    }
    if (this.hist) {
      this.hist.recordValueWithCount(Math.round(v * HIST_UNIT), k);
      this.histSum += v * k;
      this.histMax = Math.max(this.histMax, v);
      this.n += k;
      return;
    }
    const n = this.nv;
    if (n + k > this.vals.length) this.reserve(k);
    const x = this.vals;
    if (n > 0 && v < x[n - 1]!) this.sorted = false;
    if (k === 1) x[n] = v;
    else x.fill(v, n, n + k);
    this.nv = n + k;
    this.n += k;
    if (this.nv >= TRY_COUNTED_AT && this.form === 'undecided') this.toCounted();
  }

  get count(): number {
    return this.n;
  }

  /** Units of the budget this distribution holds: a value 1 (8 bytes), a counted-form slot 2; 0 once approximate. */
  get entries(): number {
    return this.hist ? 0 : this.form === 'counted' ? this.table!.length : this.nv;
  }

  /** Add every value of `other` into this distribution. */
  merge(other: Distribution): this {
    if (other.n === 0) return this;
    if (this.hist || other.hist) {
      const h = this.moveToHistogram();
      if (other.hist) {
        h.add(other.hist);
        this.histSum += other.histSum;
        this.histMax = Math.max(this.histMax, other.histMax);
      } else {
        other.intoHistogram(h);
        const [sum, max] = other.heldSumMax();
        this.histSum += sum;
        this.histMax = Math.max(this.histMax, max);
      }
      this.n += other.n;
      return this;
    }
    this.n += other.n;
    if (other.form === 'counted' && this.form !== 'plain') this.toCounted();
    const before = this.entries;
    // Each value into whatever form this one has by then (trying the counted form above may have moved it to
    // its histogram; a growing table may give up); the budget is told once, after (`merging`: a table's
    // growth in between is not told on its own as well).
    this.merging = true;
    try {
      other.forEachHeld((v, c) => {
        if (this.hist) {
          this.hist.recordValueWithCount(Math.round(v * HIST_UNIT), c);
          this.histSum += v * c;
          this.histMax = Math.max(this.histMax, v);
        } else if (this.form === 'counted') this.insert(v, c);
        else {
          if (this.nv + c > this.vals.length) this.reserve(c);
          if (this.nv > 0 && v < this.vals[this.nv - 1]!) this.sorted = false;
          this.vals.fill(v, this.nv, this.nv + c);
          this.nv += c;
        }
      });
    } finally {
      this.merging = false;
    }
    if (!this.hist) this.account(before);
    if (this.nv >= TRY_COUNTED_AT && this.form === 'undecided' && !this.hist) this.toCounted();
    return this;
  }

  /** Value at percentile `p` (0..100), in the metric's unit; undefined when empty. */
  percentile(p: number, method: PercentileMethod = DEFAULT_PERCENTILE_METHOD): number | undefined {
    if (this.n === 0) return undefined;
    if (this.hist) return Math.min(this.hist.getValueAtPercentile(p) / HIST_UNIT, this.histMax);
    return percentileAt(this.n, this.ranked(), p, method);
  }

  /** Mean of the values; undefined when empty. */
  mean(): number | undefined {
    if (this.n === 0) return undefined;
    return this.hist ? this.histSum / this.n : this.exactSum() / this.n;
  }

  /** Largest value; undefined when empty. */
  max(): number | undefined {
    if (this.n === 0) return undefined;
    return this.hist ? this.histMax : this.exactMax();
  }

  /**
   * The empirical CDF as points (value, fraction ≤ it), at most about `maxPoints` (see `cdfOfSorted`), values
   * times `scale`; an approximate distribution gives its percentiles at evenly spaced fractions.
   */
  cdfPoints(maxPoints = 600, scale = 1): { x: number; y: number }[] {
    if (this.n === 0) return [];
    if (!this.hist) return cdfAt(this.n, this.ranked(), maxPoints, scale);
    const out: { x: number; y: number }[] = [];
    for (let k = 1; k < maxPoints; k++) {
      const y = k / (maxPoints - 1);
      out.push({ x: this.percentile(100 * y)! * scale, y });
    }
    return out;
  }

  /** True once the population left its exact-value budget (percentiles then come from an hdr histogram). */
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
    const get = this.ranked();
    const at = (p: number): number => percentileAt(this.n, get, p, method);
    return {
      count: this.n,
      mean: this.exactSum() / this.n,
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      max: this.exactMax(),
    };
  }

  /**
   * Move the exact values into an hdr histogram (once; the values are released and the budget gets their
   * room back). The budget's to call; also live mode's.
   */
  moveToHistogram(): hdr.Histogram {
    if (this.hist) return this.hist;
    const h = hdrLib().build({ bitBucketSize: 64, autoResize: true, numberOfSignificantValueDigits: 3 });
    this.intoHistogram(h);
    [this.histSum, this.histMax] = this.heldSumMax();
    this.budget.used -= this.entries;
    this.vals = new Float64Array(0);
    this.nv = 0;
    this.table = this.runs = undefined;
    this.distinct = 0;
    // No exact form any more: a counted one left as 'counted' would send the next value to its (gone) table.
    this.form = 'plain';
    this.hist = h;
    return h;
  }

  /** Visit the exact values as held: (value, count), in no particular order. */
  private forEachHeld(f: (v: number, count: number) => void): void {
    if (this.form === 'counted') {
      const t = this.table!;
      for (let i = 0; i < t.length; i += 2) if (t[i + 1]! > 0) f(t[i]!, t[i + 1]!);
    } else for (let i = 0; i < this.nv; i++) f(this.vals[i]!, 1);
  }

  /** Sum and max of the exact values: an approximate form's exact mean and max (any order will do). */
  private heldSumMax(): [number, number] {
    if (this.nv + this.distinct === 0) return [0, 0];
    return [this.exactSum(), this.exactMax()];
  }

  /** Record the exact values into `h`. */
  private intoHistogram(h: hdr.Histogram): void {
    this.forEachHeld((v, c) => h.recordValueWithCount(Math.round(v * HIST_UNIT), c));
  }

  /** The exact values by rank. */
  private ranked(): (i: number) => number {
    if (this.form !== 'counted') {
      const x = this.sortedValues();
      return (i) => x[i]!;
    }
    const { v, cum } = this.sortedRuns();
    const m = v.length;
    return (i) => v[firstAbove(cum, m, i)]!;
  }

  /** Neumaier sum of the exact values in ascending order (see `compensatedSum`). */
  private exactSum(): number {
    if (this.form !== 'counted') return compensatedSum(this.sortedValues());
    const { v, c } = this.sortedRuns();
    return compensatedRuns(v, c, v.length);
  }

  private exactMax(): number {
    if (this.form !== 'counted') return this.sortedValues()[this.nv - 1]!;
    const { v } = this.sortedRuns();
    return v[v.length - 1]!;
  }

  private sortedValues(): Float64Array {
    const x = this.vals.subarray(0, this.nv);
    if (!this.sorted) {
      sortNonNegative(x);
      this.sorted = true;
    }
    return x;
  }

  /** The counted form's distinct values ascending, their counts and running counts. */
  private sortedRuns(): { readonly v: Float64Array; readonly c: Float64Array; readonly cum: Float64Array } {
    if (this.runs) return this.runs;
    const t = this.table!;
    const v = new Float64Array(this.distinct);
    let m = 0;
    for (let i = 0; i < t.length; i += 2) if (t[i + 1]! > 0) v[m++] = t[i]!;
    sortNonNegative(v);
    const c = new Float64Array(m);
    const cum = new Float64Array(m);
    let total = 0;
    for (let i = 0; i < m; i++) {
      c[i] = t[this.slotOf(v[i]!) + 1]!;
      cum[i] = total += c[i]!;
    }
    this.runs = { v, c, cum };
    return this.runs;
  }

  /**
   * Hash the values into the counted form (tried at TRY_COUNTED_AT values; the table gives up, and the
   * values stay plain, as soon as it would hold more than the values do: see growTable).
   */
  private toCounted(): void {
    if (this.form === 'counted') return;
    const before = this.entries;
    const vals = this.vals.subarray(0, this.nv);
    this.form = 'counted';
    this.table = new Float64Array(128);
    this.distinct = 0;
    for (let i = 0; i < vals.length && this.form === 'counted'; i++) this.insert(vals[i]!, 1);
    if (this.form !== 'counted') {
      // Too many distinct values: the plain form, for good.
      this.table = undefined;
      this.distinct = 0;
      return;
    }
    this.vals = new Float64Array(0);
    this.nv = 0;
    this.sorted = true;
    this.account(before);
  }

  /** Where the slot of `v` (its own, or the empty one where it would go) starts in the table: its value's index. */
  private slotOf(v: number): number {
    const t = this.table!;
    const mask = (t.length >>> 1) - 1;
    bits64[0] = v;
    let h = Math.imul(bits32[0]!, 0x9e3779b1) ^ Math.imul(bits32[1]!, 0x85ebca6b);
    h = (h ^ (h >>> 15)) & mask;
    while (t[2 * h + 1]! > 0 && t[2 * h] !== v) h = (h + 1) & mask;
    return 2 * h;
  }

  /** Count `v` `k` more times in the counted form. */
  private insert(v: number, k: number): void {
    const h = this.slotOf(v);
    const t = this.table!;
    this.runs = undefined;
    if (t[h + 1]! > 0) {
      t[h + 1]! += k;
      return;
    }
    t[h] = v;
    t[h + 1] = k;
    if (++this.distinct > t.length >>> 2) this.growTable();
  }

  /**
   * Double the table; when it would outgrow the values written out (2 units a slot), write them out: the
   * plain form, for good (a table being filled from the values gives up instead; see toCounted).
   */
  private growTable(): void {
    const t = this.table!;
    // A table being filled from the plain values (toCounted: they are still held) is accounted once it is
    // done, against the values it replaces: asking the budget now could move this distribution to its
    // histogram with half its values still outside the table.
    const filling = this.nv > 0;
    if (2 * t.length > this.n && filling) {
      this.form = 'plain';
      return;
    }
    const before = this.entries;
    if (2 * t.length > this.n) {
      this.form = 'plain';
      this.table = this.runs = undefined;
      this.distinct = 0;
      this.vals = new Float64Array(Math.max(64, this.n));
      this.nv = 0;
      for (let i = 0; i < t.length; i += 2) {
        const c = t[i + 1]!;
        if (!(c > 0)) continue;
        this.vals.fill(t[i]!, this.nv, this.nv + c);
        this.nv += c;
      }
      this.sorted = false;
    } else {
      this.table = new Float64Array(2 * t.length);
      this.distinct = 0;
      for (let i = 0; i < t.length; i += 2) if (t[i + 1]! > 0) this.insert(t[i]!, t[i + 1]!);
    }
    // Accounted once filled (above), by the merge adding values, or now: a larger table, or the values written out.
    if (!filling && !this.merging) this.account(before);
  }

  /** Tell the budget how this distribution's holding changed since it held `before`; past the limit, make room. */
  private account(before: number): void {
    const b = this.budget;
    b.used += this.entries - before;
    if (b.used > b.limit) b.admit(this, 0);
  }

  private reserve(extra: number): void {
    const need = this.nv + extra;
    if (need <= this.vals.length) return;
    let cap = grownCapacity(this.vals.length, need, 8);
    // That large, the array is a mapping of its own whose untouched pages take no memory (src/capacity.ts):
    // sized at once for the most the budget lets it hold, it is never copied again (a copy would hold the
    // old values and the new array side by side: 2 x 128 MiB at 2^24 values).
    if (cap * 8 >= MAPPED_BYTES) cap = Math.max(cap, Math.min(this.budget.limit, SUMMARY_EXACT_LIMIT));
    const next = new Float64Array(cap);
    next.set(this.vals.subarray(0, this.nv));
    this.vals = next;
  }
}

/** Values enter an over-limit histogram as integer nano-units (1 ns for times). */
const HIST_UNIT = 1e9;

/** The first index j < n with cum[j] > rank (the run holding the value of that rank). */
function firstAbove(cum: Float64Array, n: number, rank: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! > rank) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Neumaier's compensated sum, taken over the sorted values: the mean of millions of values keeps full precision
 * and does not depend on the order rows were read or shards merged.
 */
function compensatedSum(x: Float64Array): number {
  return compensatedRuns(x, undefined, x.length);
}

/**
 * The same sum over runs: value v[i] `c[i]` times (1 without `c`), i < n, step by step as over the values
 * written out, so the counted form sums to the bit what the plain one does.
 */
function compensatedRuns(v: Float64Array, c: Float64Array | undefined, n: number): number {
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i]!;
    for (let k = c ? c[i]! : 1; k > 0; k--) {
      const t = sum + x;
      comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
      sum = t;
    }
  }
  return sum + comp;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Radix-sort scratch (kept up to TRY_COUNTED_AT values) and digit counts, reused. */
let scratch = new Float64Array(0);
const digitCounts = new Uint32Array(4 * 65536);

/**
 * Sort non-negative doubles (no NaN, no −0) ascending, in place: exactly `Float64Array.prototype.sort`'s order,
 * since such doubles order as their 64-bit patterns. An LSD radix sort on the four 16-bit digits of the
 * pattern (a digit every value shares is skipped); short and very long arrays use the built-in sort (the
 * latter to spare the scratch copy).
 */
function sortNonNegative(x: Float64Array): void {
  const n = x.length;
  if (n < 2048 || n > 2 ** 23 || !LITTLE_ENDIAN) {
    x.sort();
    return;
  }
  const tmp = n <= scratch.length ? scratch.subarray(0, n) : new Float64Array(n);
  if (n <= TRY_COUNTED_AT && tmp.buffer !== scratch.buffer) scratch = tmp;
  const counts = digitCounts;
  counts.fill(0);
  const xu = new Uint32Array(x.buffer, x.byteOffset, 2 * n);
  for (let i = 0; i < n; i++) {
    const lo = xu[2 * i]!;
    const hi = xu[2 * i + 1]!;
    counts[lo & 0xffff]!++;
    counts[65536 + (lo >>> 16)]!++;
    counts[131072 + (hi & 0xffff)]!++;
    counts[196608 + (hi >>> 16)]!++;
  }
  let src: Float64Array<ArrayBufferLike> = x;
  let dst: Float64Array<ArrayBufferLike> = tmp;
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 65536;
    const word = pass >> 1;
    const shift = (pass & 1) * 16;
    const srcU = new Uint32Array(src.buffer, src.byteOffset, 2 * n);
    if (counts[base + ((srcU[word]! >>> shift) & 0xffff)] === n) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[base + d]!;
      counts[base + d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const d = base + ((srcU[2 * i + word]! >>> shift) & 0xffff);
      dst[counts[d]!++] = src[i]!;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src !== x) x.set(src);
}

/**
 * Empirical CDF of ascending values: points (v[i], (i+1)/n). Above `maxPoints` it keeps evenly spaced
 * ranks plus every rank of the top 1% up to a budget (the tail is what latency CDFs are read for), always
 * the first and last.
 */
export function cdfOfSorted(sorted: ArrayLike<number>, maxPoints = 600, scale = 1): { x: number; y: number }[] {
  return cdfAt(sorted.length, (i) => sorted[i]!, maxPoints, scale);
}

/** `cdfOfSorted` of n ascending values read by rank. */
function cdfAt(n: number, at: (i: number) => number, maxPoints: number, scale: number): { x: number; y: number }[] {
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
  return [...idx].sort((a, b) => a - b).map((i) => ({ x: at(i) * scale, y: (i + 1) / n }));
}
