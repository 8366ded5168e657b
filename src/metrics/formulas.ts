/**
 * The metric formulas, in one place (docs "Metric glossary"): pure functions of a request's raw times (seconds
 * on the run's clock, relative to t0) and its chunks (seconds from `send`). The store's writer stores their
 * results in the derived `requests` columns (src/store/derive.ts), the summaries and reports re-derive from the
 * raw columns with them, and the load generator's live stats use them. Each returns `undefined` when the metric
 * does not exist for that request (no first token, one output token, a failed request).
 *
 *   lag        = send − scheduled
 *   ttft       = firstToken − send
 *   e2e        = end − send                        (status 'ok' only)
 *   ttftSched  = firstToken − scheduled
 *   e2eSched   = end − scheduled                   (status 'ok' only)
 *   tpot       = (e2e − ttft) / (tokensReceived − 1) when tokensReceived > 1
 *   maxStall   = max over consecutive token-carrying chunks after the first of (t[i] − t[i−1])
 *   TBT samples: each token-carrying chunk after the first, its gap from the previous one spread over its
 *                tokens (k tokens g seconds later → k samples of g/k), the gap in whole microseconds (what
 *                `token_times` stores: chunk times round to them) and g/k = µs / (10⁶·k), rounded once
 *   compat TBT = (e2e − ttft) / tokensReceived      (SplitwiseSim's definition)
 *   breakdown  : TTFT = queue + prefill + ttftOverhead; E2E − TTFT = kvTransfer + decodeWait + decode +
 *                afterFirstOverhead; the wait for the second token = kvTransfer + decodeWait + secondOverhead
 *
 * Effective times: when a row has chunks but no `firstToken`, the first token is `send + chunks[0].t`;
 * when an ok row has chunks but no `end`, the end is `send + chunks[last].t`.
 *
 * A leaf: it imports nothing (the chunk type is structural, the same as the store codec's `Chunk`).
 */

/** One SSE chunk: its arrival (seconds from send) and the tokens it carried. */
export interface TokenChunk {
  readonly t: number;
  readonly tokens: number;
}

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
export function e2eOf(end: number | undefined, send: number | undefined, status: string): number | undefined {
  return status === 'ok' ? diff(end, send) : undefined;
}

/** (e2e − ttft) / (tokensReceived − 1); undefined with fewer than two tokens or without e2e/ttft. */
export function tpotOf(e2e: number | undefined, ttft: number | undefined, tokensReceived: number): number | undefined {
  if (e2e === undefined || ttft === undefined || !(tokensReceived > 1)) return undefined;
  return (e2e - ttft) / (tokensReceived - 1);
}

/** SplitwiseSim's per-request TBT: (e2e − ttft) / tokensReceived; undefined without e2e/ttft or tokens. */
export function compatTbtOf(e2e: number | undefined, ttft: number | undefined, tokensReceived: number): number | undefined {
  return e2e !== undefined && ttft !== undefined && tokensReceived > 0 ? (e2e - ttft) / tokensReceived : undefined;
}

/** The longest gap between consecutive token-carrying chunks after the first; undefined with < 2 such chunks. */
export function maxStallOf(chunks: readonly TokenChunk[] | undefined): number | undefined {
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

/**
 * Visit the token-weighted TBT samples of some chunks (see the module comment) without building an array. The
 * gaps are taken between the chunks' whole microseconds: decoded from a blob, `t` is `µs / 10⁶` and rounds back
 * to them exactly; a live run's chunks round to what the store will hold. Subtracting the seconds instead would
 * add an error of a few ulps that differs from gap to gap (a sim's 8.74 M gaps: 303,409 distinct values, not
 * 57,984), which is both less exact and slower to count.
 */
export function forEachTbtGap(chunks: readonly TokenChunk[], f: (gap: number, count: number) => void): void {
  let prev = NaN;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if (!(c.tokens > 0)) continue;
    const us = Math.round(c.t * 1e6);
    if (prev === prev) f((us - prev) / (1e6 * c.tokens), c.tokens);
    prev = us;
  }
}

/** The wait from the first token to the second (chunks' times); undefined with fewer than two tokens. */
export function secondTokenWait(chunks: readonly TokenChunk[]): number | undefined {
  let first: number | undefined;
  let seen = 0;
  for (const c of chunks) {
    if (!(c.tokens > 0)) continue;
    if (first === undefined) first = c.t;
    seen += c.tokens;
    if (seen >= 2) return c.t - first;
  }
  return undefined;
}

/** TTFT not explained by the server's queue and prefill: ttft − queue − prefill. */
export function ttftOverheadOf(ttft: number, queue: number, prefill: number): number {
  return ttft - queue - prefill;
}

/** E2E − TTFT not explained by the KV transfer, the decode wait and the decode: e2e − ttft − kvTransfer − decodeWait − decode. */
export function afterFirstOverheadOf(e2e: number, ttft: number, kvTransfer: number, decodeWait: number, decode: number): number {
  return e2e - ttft - kvTransfer - decodeWait - decode;
}

/** The second token's wait not explained by the KV transfer and the decode wait (none measured: 0). */
export function secondOverheadOf(secondWait: number | undefined, kvTransfer: number, decodeWait: number): number {
  return (secondWait ?? kvTransfer + decodeWait) - kvTransfer - decodeWait;
}

/** The raw fields `deriveRequest` reads. */
export interface RawTimes {
  readonly scheduled: number;
  readonly send?: number | undefined;
  readonly firstToken?: number | undefined;
  readonly end?: number | undefined;
  readonly status: string;
  readonly tokensReceived: number;
  readonly chunks?: readonly TokenChunk[] | undefined;
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

function firstTokenChunk(chunks: readonly TokenChunk[] | undefined): TokenChunk | undefined {
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
