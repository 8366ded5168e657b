/**
 * Pure helpers that turn per-request values into chart series: empirical CDFs (downsampled
 * deterministically), token-weighted distributions, time-bucketed timelines and histograms. They shape
 * data for drawing; the metrics themselves (TTFT, TPOT, gaps, percentiles of the summary) come from the
 * store's columns and `src/metrics`. Distributions are `src/metrics`'s one histogram type, `Distribution`.
 */
import { cdfOfSorted } from '../metrics/histogram.js';

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Linear-interpolated quantile of ascending values (q in [0,1]); undefined when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number | undefined {
  const n = sorted.length;
  if (n === 0) return undefined;
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function mean(values: ArrayLike<number>): number | undefined {
  if (values.length === 0) return undefined;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

/** Ascending copy of the finite values. */
export function sortedFinite(values: Iterable<number | null | undefined>): Float64Array {
  const out: number[] = [];
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  return Float64Array.from(out).sort();
}

/** Empirical CDF of ascending values (the histogram module's `cdfOfSorted`). */
export const cdfPoints: (sorted: ArrayLike<number>, maxPoints?: number, scale?: number) => Point[] = cdfOfSorted;

/** Bucket edges [t0, t1] into n equal buckets; returns bucket centres. */
function centres(t0: number, t1: number, n: number): number[] {
  const w = (t1 - t0) / n;
  return Array.from({ length: n }, (_, i) => t0 + (i + 0.5) * w);
}

/**
 * Requests in flight over time from [start, end) intervals: the time-weighted mean count in each of
 * `buckets` equal slices of [t0, t1]. Exact (a sweep over the interval edges), deterministic.
 */
export function inFlightSeries(intervals: readonly { start: number; end: number }[], t0: number, t1: number, buckets = 400): Point[] {
  if (!(t1 > t0) || intervals.length === 0) return [];
  const w = (t1 - t0) / buckets;
  const area = new Float64Array(buckets);
  // add the overlap of each interval with each bucket, in O(intervals + buckets) with a difference array
  // of (slope) and partial end contributions
  const full = new Float64Array(buckets + 1);
  for (const { start, end } of intervals) {
    const a = Math.max(t0, start);
    const b = Math.min(t1, end);
    if (!(b > a)) continue;
    const ia = Math.min(buckets - 1, Math.floor((a - t0) / w));
    const ib = Math.min(buckets - 1, Math.floor((b - t0) / w));
    if (ia === ib) {
      area[ia]! += b - a;
      continue;
    }
    area[ia]! += t0 + (ia + 1) * w - a;
    area[ib]! += b - (t0 + ib * w);
    full[ia + 1]! += 1;
    full[ib]! -= 1;
  }
  let run = 0;
  const xs = centres(t0, t1, buckets);
  return xs.map((x, i) => {
    run += full[i]!;
    return { x, y: (area[i]! + run * w) / w };
  });
}

/**
 * A sampled quantity (queue depth, watts) over time, as `buckets` equal slices of [t0, t1]: per series the
 * mean of its samples in the slice (carrying the last value through slices without samples, nothing before
 * its first sample), summed over series. `undefined` value = a gap: the series is absent until its next sample.
 */
export function bucketedSum(series: ReadonlyMap<string, readonly { t: number; value: number | null }[]>, t0: number, t1: number, buckets = 400): Point[] {
  if (!(t1 > t0) || series.size === 0) return [];
  const w = (t1 - t0) / buckets;
  const total = new Float64Array(buckets);
  const any = new Uint8Array(buckets);
  for (const samples of series.values()) {
    const sum = new Float64Array(buckets);
    const cnt = new Uint32Array(buckets);
    const gap = new Uint8Array(buckets);
    for (const s of samples) {
      if (s.t < t0 || s.t > t1) continue;
      const b = Math.min(buckets - 1, Math.floor((s.t - t0) / w));
      if (s.value === null) gap[b] = 1;
      else {
        sum[b]! += s.value;
        cnt[b]! += 1;
      }
    }
    let last: number | undefined;
    for (let b = 0; b < buckets; b++) {
      if (cnt[b]! > 0) last = sum[b]! / cnt[b]!;
      else if (gap[b]) last = undefined;
      if (last !== undefined) {
        total[b]! += last;
        any[b] = 1;
      }
      if (cnt[b]! > 0 && gap[b]) last = undefined;
    }
  }
  const xs = centres(t0, t1, buckets);
  const out: Point[] = [];
  for (let b = 0; b < buckets; b++) if (any[b]) out.push({ x: xs[b]!, y: total[b]! });
  return out;
}

export interface Histogram {
  readonly edges: number[];
  /** Fraction of values per bin; the last bin also holds values above the last edge. */
  readonly fractions: number[];
  readonly overflow: number;
}

/** Equal-width histogram of values over [lo, hi] in `bins` bins (values outside clamp to the ends). */
export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  const n = values.length;
  if (!(hi > lo)) hi = lo + 1;
  const w = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  let overflow = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v > hi) overflow++;
    const b = Math.max(0, Math.min(bins - 1, Math.floor((v - lo) / w)));
    counts[b]! += 1;
  }
  return {
    edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * w),
    fractions: counts.map((c) => (n === 0 ? 0 : c / n)),
    overflow,
  };
}

/** True when [min, max] of positive values spans more than `decades` powers of ten (→ log axis). */
export function spansDecades(min: number, max: number, decades = 2): boolean {
  return min > 0 && max > 0 && Math.log10(max / min) > decades;
}
