/**
 * Derived per-request columns, as pure functions of a request's raw times (seconds on the run's clock,
 * relative to t0) and its chunks (seconds from `send`). The writer stores their results in `requests`, so
 * SQL users need not re-derive them; `src/metrics` reuses the same functions. Each returns `undefined`
 * when the metric does not exist for that request (no first token, one output token, a failed request).
 *
 *   lag        = send − scheduled
 *   ttft       = firstToken − send
 *   e2e        = end − send                        (status 'ok' only)
 *   ttftSched  = firstToken − scheduled
 *   e2eSched   = end − scheduled                   (status 'ok' only)
 *   tpot       = (e2e − ttft) / (tokensReceived − 1) when tokensReceived > 1
 *   maxStall   = max over consecutive token-carrying chunks after the first of (t[i] − t[i−1])
 *
 * Effective times: when a row has chunks but no `firstToken`, the first token is `send + chunks[0].t`;
 * when an ok row has chunks but no `end`, the end is `send + chunks[last].t`.
 */
import type { Chunk } from './codec.js';
import type { RequestStatus } from './schema.js';

const diff = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? undefined : a - b;

/** send − scheduled: how late the client sent the request relative to the schedule. */
export function lagOf(send: number | undefined, scheduled: number | undefined): number | undefined {
  return diff(send, scheduled);
}

/** firstToken − send. */
export function ttftOf(firstToken: number | undefined, send: number | undefined): number | undefined {
  return diff(firstToken, send);
}

/** end − send, for completed (status 'ok') requests only. */
export function e2eOf(end: number | undefined, send: number | undefined, status: RequestStatus): number | undefined {
  return status === 'ok' ? diff(end, send) : undefined;
}

/** (e2e − ttft) / (tokensReceived − 1); undefined with fewer than two tokens or without e2e/ttft. */
export function tpotOf(e2e: number | undefined, ttft: number | undefined, tokensReceived: number): number | undefined {
  if (e2e === undefined || ttft === undefined || !(tokensReceived > 1)) return undefined;
  return (e2e - ttft) / (tokensReceived - 1);
}

/** The longest gap between consecutive token-carrying chunks after the first; undefined with < 2 such chunks. */
export function maxStallOf(chunks: readonly Chunk[] | undefined): number | undefined {
  if (!chunks) return undefined;
  let prev: number | undefined;
  let best: number | undefined;
  for (const c of chunks) {
    if (!(c.tokens > 0)) continue;
    if (prev !== undefined) {
      const gap = c.t - prev;
      if (best === undefined || gap > best) best = gap;
    }
    prev = c.t;
  }
  return best;
}

/** The raw fields `deriveRequest` reads. */
export interface RawTimes {
  readonly scheduled: number;
  readonly send?: number | undefined;
  readonly firstToken?: number | undefined;
  readonly end?: number | undefined;
  readonly status: RequestStatus;
  readonly tokensReceived: number;
  readonly chunks?: readonly Chunk[] | undefined;
}

export interface Derived {
  /** Effective first-token and end times (see the module comment). */
  readonly firstToken: number | undefined;
  readonly end: number | undefined;
  readonly lag: number | undefined;
  readonly ttft: number | undefined;
  readonly e2e: number | undefined;
  readonly ttftSched: number | undefined;
  readonly e2eSched: number | undefined;
  readonly tpot: number | undefined;
  readonly maxStall: number | undefined;
}

function firstTokenChunk(chunks: readonly Chunk[] | undefined): Chunk | undefined {
  return chunks?.find((c) => c.tokens > 0);
}

/** All derived columns of one request. */
export function deriveRequest(r: RawTimes): Derived {
  let firstToken = r.firstToken;
  let end = r.end;
  if (r.send !== undefined && r.chunks && r.chunks.length > 0) {
    if (firstToken === undefined) {
      const c = firstTokenChunk(r.chunks);
      if (c) firstToken = r.send + c.t;
    }
    if (end === undefined && r.status === 'ok') end = r.send + r.chunks[r.chunks.length - 1]!.t;
  }
  const ttft = ttftOf(firstToken, r.send);
  const e2e = e2eOf(end, r.send, r.status);
  return {
    firstToken,
    end,
    lag: lagOf(r.send, r.scheduled),
    ttft,
    e2e,
    ttftSched: diff(firstToken, r.scheduled),
    e2eSched: r.status === 'ok' ? diff(end, r.scheduled) : undefined,
    tpot: tpotOf(e2e, ttft, r.tokensReceived),
    maxStall: maxStallOf(r.chunks),
  };
}
