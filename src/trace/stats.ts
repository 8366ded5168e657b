/**
 * Streaming trace statistics: exact counts, sums, maxima and percentiles. Percentiles are nearest-rank values
 * of the trace (a token count or gap that occurs in it), kept exactly by the metrics' one distribution class
 * up to its exact limit; past it they come from its hdr histogram and `approximate` says so.
 */
import { Distribution } from '../metrics/histogram.js';
import type { RequestSpec } from './types.js';
import { PrefixReuseCounter, type PrefixReuse } from './reuse.js';

export interface TokenStats {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly total: number;
}

export interface QuantisationInfo {
  /** Share of requests that arrive at exactly the same time as the previous one. */
  readonly zeroGapShare: number;
  /** Mean requests per distinct arrival time. */
  readonly requestsPerTimestamp: number;
  /** The grid every nonzero gap is a multiple of (seconds; the gcd at µs resolution), if one of at least 1 ms. */
  readonly tickS: number | undefined;
}

export interface TraceStats {
  readonly requests: number;
  /** Rows skipped under --lenient (0 otherwise; filled in by callers that know it). */
  skipped: number;
  readonly firstArrivalS: number;
  readonly lastArrivalS: number;
  /** last − first arrival. */
  readonly spanS: number;
  /** requests / span (requests − 1 gaps over the span would differ by one request). */
  readonly meanRatePerS: number;
  readonly interArrival: { readonly meanS: number; readonly medianS: number; readonly cv: number };
  /** Most requests in one aligned 1-s / 60-s bucket counted from the first arrival. */
  readonly peakPerSecond: number;
  readonly peakPerMinute: number;
  readonly promptTokens: TokenStats;
  readonly outputTokens: TokenStats;
  readonly quantisation: QuantisationInfo;
  /** Human-readable warnings (e.g. quantised arrivals). */
  readonly warnings: string[];
  /** The prefix reuse the trace offers (reuse.ts), when its requests carry prefix block hashes. */
  readonly prefixReuse?: PrefixReuse;
  /** Set when a percentile came from a histogram (more values than the exact limit): metrics' APPROXIMATION. */
  readonly approximate: boolean;
}

export interface TraceStatsOptions {
  /** Size of the LRU prefix cache for `prefixReuse.lru`, in 512-token blocks. */
  readonly cacheBlocks?: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Nearest-rank percentile of a distribution (0 when empty). */
const rank = (d: Distribution, q: number): number => d.percentile(q, 'nearest-rank') ?? 0;

class TokenAcc {
  readonly d = new Distribution();
  sum = 0;
  max = 0;
  add(v: number): void {
    this.d.record(v);
    this.sum += v;
    if (v > this.max) this.max = v;
  }
  result(n: number): TokenStats {
    if (n === 0) return { mean: 0, p50: 0, p90: 0, p99: 0, max: 0, total: 0 };
    return { mean: this.sum / n, p50: rank(this.d, 50), p90: rank(this.d, 90), p99: rank(this.d, 99), max: this.max, total: this.sum };
  }
}

/** One pass over the stream (uses `batches()` when the source offers it). */
export async function computeTraceStats(
  src: AsyncIterable<RequestSpec> | { batches(): AsyncIterable<readonly RequestSpec[]> },
  opts: TraceStatsOptions = {},
): Promise<TraceStats> {
  const reuse = new PrefixReuseCounter(opts.cacheBlocks);
  const prompt = new TokenAcc();
  const output = new TokenAcc();
  const gaps = new Distribution();
  let n = 0;
  let first = 0;
  let prev = 0;
  let gapSum = 0;
  let gapSq = 0;
  let zeroGaps = 0;
  let tickUs = 0;
  let secBucket = 0,
    secCount = 0,
    peakSec = 0;
  let minBucket = 0,
    minCount = 0,
    peakMin = 0;
  const visit = (r: RequestSpec): void => {
    const a = r.arrival;
    if (n === 0) {
      first = a;
    } else {
      const g = a - prev;
      gapSum += g;
      gapSq += g * g;
      const gUs = Math.round(g * 1e6);
      gaps.record(g);
      if (gUs === 0) zeroGaps++;
      else tickUs = tickUs === 1 ? 1 : gcd(tickUs, gUs);
    }
    const rel = a - first;
    const sb = Math.floor(rel);
    if (sb !== secBucket) {
      secBucket = sb;
      secCount = 0;
    }
    if (++secCount > peakSec) peakSec = secCount;
    const mb = Math.floor(rel / 60);
    if (mb !== minBucket) {
      minBucket = mb;
      minCount = 0;
    }
    if (++minCount > peakMin) peakMin = minCount;
    prompt.add(r.promptTokens);
    output.add(r.outputTokens);
    if (r.hashIds) reuse.add(r);
    prev = a;
    n++;
  };
  if ('batches' in src && typeof src.batches === 'function') {
    for await (const b of src.batches()) for (let i = 0; i < b.length; i++) visit(b[i]!);
  } else {
    for await (const r of src as AsyncIterable<RequestSpec>) visit(r);
  }
  const span = n ? prev - first : 0;
  const nGaps = Math.max(0, n - 1);
  const gapMean = nGaps ? gapSum / nGaps : 0;
  const gapVar = nGaps ? Math.max(0, gapSq / nGaps - gapMean * gapMean) : 0;
  const zeroShare = nGaps ? zeroGaps / nGaps : 0;
  const distinct = n - zeroGaps;
  const tickS = tickUs >= 1000 ? tickUs / 1e6 : undefined;
  const warnings: string[] = [];
  if (nGaps >= 20 && zeroShare >= 0.25) {
    const per = n / Math.max(1, distinct);
    warnings.push(
      `arrivals are quantised: ${(zeroShare * 100).toFixed(0)}% of requests share the previous request's timestamp ` +
        `(${per.toFixed(1)} requests per distinct timestamp)` +
        (tickS !== undefined ? `, on a ${fmtTick(tickS)} tick` : '') +
        '; a replay sends each tick as a burst',
    );
  }
  const reuseResult = reuse.result();
  return {
    requests: n,
    skipped: 0,
    firstArrivalS: n ? first : 0,
    lastArrivalS: n ? prev : 0,
    spanS: span,
    meanRatePerS: span > 0 ? n / span : 0,
    interArrival: { meanS: gapMean, medianS: rank(gaps, 50), cv: gapMean > 0 ? Math.sqrt(gapVar) / gapMean : 0 },
    peakPerSecond: peakSec,
    peakPerMinute: peakMin,
    promptTokens: prompt.result(n),
    outputTokens: output.result(n),
    quantisation: { zeroGapShare: zeroShare, requestsPerTimestamp: distinct > 0 ? n / distinct : 0, tickS },
    warnings,
    ...(reuseResult === undefined ? {} : { prefixReuse: reuseResult }),
    approximate: gaps.approximate || prompt.d.approximate || output.d.approximate,
  };
}

function fmtTick(s: number): string {
  return s >= 1 ? `${+s.toFixed(3)} s` : `${+(s * 1000).toFixed(3)} ms`;
}
