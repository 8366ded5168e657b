/**
 * Mergeable distributions on hdr-histogram-js.
 *
 * Every metric is recorded as an integer count of micro-units (`Math.round(value × 1e6)`): microseconds for
 * times, millionths for unitless ratios (slowdowns). Percentiles always come from the histogram (3
 * significant digits: a percentile is within 1/1024 relative of the recorded value, reported as the
 * highest value equivalent to it); `mean`, `max` and `count` are kept exactly beside it (sum, max, count)
 * so they do not carry the bucket error. Histograms of several runs or shards merge with `merge`.
 */
import * as hdr from 'hdr-histogram-js';

/** Significant value digits of every histogram; see `PERCENTILE_RELATIVE_ERROR`. */
export const SIGNIFICANT_DIGITS = 3;
/** Worst relative error of a reported percentile against the recorded value (2^-10 at 3 digits). */
export const PERCENTILE_RELATIVE_ERROR = 1 / 1024;
/** Values are stored as integer micro-units. */
export const MICRO = 1e6;

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
}

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
} as const satisfies Record<string, keyof Stats>;
export type StatName = keyof typeof STAT_NAMES;

export class MetricHistogram {
  private readonly h: hdr.Histogram;
  private sumMicro = 0;
  private maxMicro = 0;
  private n = 0;

  constructor() {
    this.h = hdr.build({ bitBucketSize: 64, autoResize: true, numberOfSignificantValueDigits: SIGNIFICANT_DIGITS });
  }

  /** Record `value` (in the metric's unit; negative values are clamped to 0) `count` times. */
  record(value: number, count = 1): void {
    if (!Number.isFinite(value) || count <= 0) return;
    const micro = Math.max(0, Math.round(value * MICRO));
    this.h.recordValueWithCount(micro, count);
    this.sumMicro += micro * count;
    if (micro > this.maxMicro) this.maxMicro = micro;
    this.n += count;
  }

  get count(): number {
    return this.n;
  }

  /** Add every value of `other` into this histogram. */
  merge(other: MetricHistogram): this {
    if (other.n === 0) return this;
    this.h.add(other.h);
    this.sumMicro += other.sumMicro;
    this.maxMicro = Math.max(this.maxMicro, other.maxMicro);
    this.n += other.n;
    return this;
  }

  /** Value at percentile `p` (0..100), in the metric's unit; undefined when empty. */
  percentile(p: number): number | undefined {
    if (this.n === 0) return undefined;
    // hdr reports the highest value equivalent to the bucket; never above the exact max.
    return Math.min(this.h.getValueAtPercentile(p), this.maxMicro) / MICRO;
  }

  stats(): Stats | undefined {
    if (this.n === 0) return undefined;
    return {
      count: this.n,
      mean: this.sumMicro / this.n / MICRO,
      p50: this.percentile(50)!,
      p90: this.percentile(90)!,
      p95: this.percentile(95)!,
      p99: this.percentile(99)!,
      p999: this.percentile(99.9)!,
      max: this.maxMicro / MICRO,
    };
  }

  /** Compact, portable form (hdr compressed base64 plus the exact sum/max/count). */
  encode(): { hdr: string; sumMicro: number; maxMicro: number; count: number } {
    return { hdr: hdr.encodeIntoCompressedBase64(this.h), sumMicro: this.sumMicro, maxMicro: this.maxMicro, count: this.n };
  }

  static decode(e: { hdr: string; sumMicro: number; maxMicro: number; count: number }): MetricHistogram {
    const m = new MetricHistogram();
    if (e.count > 0) m.h.add(hdr.decodeFromCompressedBase64(e.hdr, 64, false));
    m.sumMicro = e.sumMicro;
    m.maxMicro = e.maxMicro;
    m.n = e.count;
    return m;
  }
}
