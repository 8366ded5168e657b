/**
 * Per-request metrics: each a formula over the stored raw columns (docs/metrics.md "Metric glossary"), `undefined`
 * when the metric does not exist for that request (no first token, one output token, a failed request).
 * The formulas are formulas.ts's (the writer stores the same values in the derived columns); a derived
 * column is only the fallback when its raw timestamps are missing.
 *
 *   ttft      = first_token − send
 *   e2e       = end − send                              (ok only)
 *   tpot      = (e2e − ttft) / (tokens_received − 1)    (ok, ≥ 2 tokens)
 *   lag       = send − scheduled                        (every sent request)
 *   max_stall = longest gap between consecutive token-carrying chunks after the first
 *   tbt       = tpot; SplitwiseSim-compatible runs: (e2e − ttft) / tokens_received
 *   TBT samples (the `tbt` distribution): see `tbtSamples`.
 */
import { chunkStalls, decodeChunks, forEachBlobTbtGap, type Chunk, type ChunkScratch } from '../store/codec.js';
import { compatTbtOf, deriveRequest, forEachTbtGap } from './formulas.js';
import type { RequestRecord } from './rows.js';

const opt = (v: number | null): number | undefined => (v === null || !Number.isFinite(v) ? undefined : v);

/** One token-weighted TBT sample: `count` tokens that each waited `gap` seconds. */
export interface TbtSample {
  readonly gap: number;
  readonly count: number;
}

/** Everything metrics need from one request, computed once. */
export interface RequestMetrics {
  readonly ttft?: number;
  readonly tpot?: number;
  readonly e2e?: number;
  readonly lag?: number;
  readonly maxStall?: number;
  /** Per-request TBT (tpot, or SplitwiseSim's (e2e − ttft)/tokens in compat runs). */
  readonly tbt?: number;
  /**
   * Token-weighted per-token gaps (ok requests): their chunks, or the blob they are in when they were not
   * decoded (`tbtBlob`); call `forEachTbtSample` to visit them.
   */
  readonly tbtChunks: readonly Chunk[];
  readonly tbtBlob?: Uint8Array;
  /** Compat: the one per-request TBT sample; no chunks: tpot for each token after the first. */
  readonly tbtFallback?: TbtSample;
}

/**
 * Per-token gaps from chunk arrivals: for each token-carrying chunk after the first, its gap from the
 * previous token-carrying chunk is spread over its tokens (k tokens g seconds later → k samples of g/k).
 * Tokens that arrive with the first token produce no sample.
 */
export function tbtSamples(chunks: readonly Chunk[]): TbtSample[] {
  const out: TbtSample[] = [];
  forEachTbtGap(chunks, (gap, count) => out.push({ gap, count }));
  return out;
}

/** Visit a measured request's TBT samples (see `tbtSamples`) without building an array. */
export function forEachTbtSample(m: RequestMetrics, f: (gap: number, count: number) => void): void {
  if (m.tbtFallback) f(m.tbtFallback.gap, m.tbtFallback.count);
  if (m.tbtBlob) forEachBlobTbtGap(m.tbtBlob, f);
  else forEachTbtGap(m.tbtChunks, f);
}

/**
 * Measure one request. `compat`: the run is in SplitwiseSim-compatible mode. `scratch`: decode the chunks
 * into reused objects (the result's `tbtChunks` are then valid until the next measure with that scratch).
 */
export function measure(r: RequestRecord, compat = false, scratch?: ChunkScratch): RequestMetrics {
  const firstToken = opt(r.firstToken);
  const end = opt(r.end);
  // With first token and end stored, the chunks only give the max stall and the TBT samples, which scans of
  // the blob give without building them (compat runs use no per-chunk TBT).
  const scan = firstToken !== undefined && end !== undefined ? chunkStalls(r.tokenTimes) : undefined;
  const chunks = scan ? undefined : decodeChunks(r.tokenTimes, scratch);
  const d = deriveRequest({
    scheduled: r.scheduled,
    send: opt(r.send),
    firstToken,
    end,
    status: r.status,
    tokensReceived: r.tokensReceived,
    chunks,
  });
  const nChunks = scan ? scan.chunks : chunks!.length;
  const ok = r.status === 'ok';
  const ttft = d.ttft ?? opt(r.ttft);
  const e2e = ok ? (d.e2e ?? opt(r.e2e)) : undefined;
  const tpot = ok ? (d.tpot ?? opt(r.tpot)) : undefined;
  const lag = d.lag ?? opt(r.lag);
  const maxStall = ok ? (nChunks > 0 ? (scan ? scan.maxStall : d.maxStall) : opt(r.maxStall)) : undefined;
  const swTbt = ok ? compatTbtOf(e2e, ttft, r.tokensReceived) : undefined;
  let fallback: TbtSample | undefined;
  if (ok) {
    if (compat) fallback = swTbt === undefined ? undefined : { gap: swTbt, count: 1 };
    // Without chunk timings the request contributes its tpot, once per token after the first.
    else if (nChunks === 0 && tpot !== undefined) fallback = { gap: tpot, count: r.tokensReceived - 1 };
  }
  // Built by assignment (same keys, same order as the object spreads it replaces: no temporary objects per request).
  const m: { -readonly [K in keyof RequestMetrics]: RequestMetrics[K] } = { tbtChunks: NO_CHUNKS };
  if (ttft !== undefined) m.ttft = ttft;
  if (tpot !== undefined) m.tpot = tpot;
  if (e2e !== undefined) m.e2e = e2e;
  if (lag !== undefined) m.lag = lag;
  if (maxStall !== undefined) m.maxStall = maxStall;
  const tbt = compat ? swTbt : tpot;
  if (tbt !== undefined) m.tbt = tbt;
  if (ok && !compat) {
    if (chunks) m.tbtChunks = chunks;
    else if (r.tokenTimes && r.tokenTimes.length > 0) m.tbtBlob = r.tokenTimes;
  }
  if (fallback !== undefined) m.tbtFallback = fallback;
  return m;
}

const NO_CHUNKS: readonly Chunk[] = Object.freeze([]);
