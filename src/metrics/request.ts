/**
 * Per-request metrics: each a formula over the stored raw columns (README "Metric glossary"), returning
 * `undefined` when the metric does not exist for that request (no first token, one output token, ...).
 * Raw timestamps win over the stored derived columns; the derived column is the fallback when a raw
 * timestamp is missing (e.g. a store written by another tool).
 */
import { decodeChunks } from '../store/codec.js';
import type { RequestRecord } from './rows.js';

const def = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v);

/** ttft = first_token − send. */
export function ttftOf(r: RequestRecord): number | undefined {
  if (def(r.firstToken) && def(r.send)) return r.firstToken - r.send;
  return def(r.ttft) ? r.ttft : undefined;
}

/** e2e = end − send (ok requests only). */
export function e2eOf(r: RequestRecord): number | undefined {
  if (r.status !== 'ok') return undefined;
  if (def(r.end) && def(r.send)) return r.end - r.send;
  return def(r.e2e) ? r.e2e : undefined;
}

/** tpot = (e2e − ttft) / (tokens_received − 1); undefined for fewer than two tokens. */
export function tpotOf(r: RequestRecord): number | undefined {
  const e2e = e2eOf(r);
  const ttft = ttftOf(r);
  if (e2e === undefined || ttft === undefined || r.tokensReceived < 2) return r.status === 'ok' && def(r.tpot) ? r.tpot : undefined;
  return (e2e - ttft) / (r.tokensReceived - 1);
}

/**
 * SplitwiseSim's per-request TBT (compat mode): (e2e − ttft) / tokens (divides by the token count, not
 * tokens − 1, as SplitwiseSim does).
 */
export function splitwiseTbtOf(r: RequestRecord): number | undefined {
  const e2e = e2eOf(r);
  const ttft = ttftOf(r);
  if (e2e === undefined || ttft === undefined || r.tokensReceived < 1) return undefined;
  return (e2e - ttft) / r.tokensReceived;
}

/** Per-request TBT (the mean time between tokens): tpot, or SplitwiseSim's definition in compat mode. */
export function requestTbtOf(r: RequestRecord, compat: boolean): number | undefined {
  return compat ? splitwiseTbtOf(r) : tpotOf(r);
}

/** lag = send − scheduled (every sent request, any status). */
export function lagOf(r: RequestRecord): number | undefined {
  if (def(r.send)) return r.send - r.scheduled;
  return def(r.lag) ? r.lag : undefined;
}

/** One token-weighted TBT sample: `count` tokens that each waited `gap` seconds. */
export interface TbtSample {
  readonly gap: number;
  readonly count: number;
}

/**
 * Per-token gaps of an ok request. For each chunk after the first, its gap from the previous chunk is
 * spread over its tokens: a chunk of k tokens that came g seconds after the previous one gives k samples
 * of g/k. Tokens that arrive with the first token produce no sample. Without chunk timings (a store with
 * no `token_times`), the request contributes its tpot, (tokens_received − 1) times.
 */
export function tbtSamplesOf(r: RequestRecord): TbtSample[] {
  if (r.status !== 'ok') return [];
  const chunks = decodeChunks(r.tokenTimes);
  if (chunks.length === 0) {
    const tpot = tpotOf(r);
    return tpot === undefined ? [] : [{ gap: tpot, count: r.tokensReceived - 1 }];
  }
  const out: TbtSample[] = [];
  for (let i = 1; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (c.tokens <= 0) continue;
    out.push({ gap: (c.t - chunks[i - 1]!.t) / c.tokens, count: c.tokens });
  }
  return out;
}

/** Longest gap between consecutive chunks after the first token (the stored column when no chunks). */
export function maxStallOf(r: RequestRecord): number | undefined {
  if (r.status !== 'ok') return undefined;
  const chunks = decodeChunks(r.tokenTimes);
  if (chunks.length === 0) return def(r.maxStall) ? r.maxStall : undefined;
  let m = 0;
  for (let i = 1; i < chunks.length; i++) m = Math.max(m, chunks[i]!.t - chunks[i - 1]!.t);
  return m;
}
