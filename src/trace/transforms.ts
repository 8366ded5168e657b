/**
 * Trace transforms, applied in this order: window → sample → speedup → limit.
 * - window [start, end): keep requests with start ≤ arrival < end, arrivals re-based to the window start;
 *   the source stops being read once an arrival reaches `end`;
 * - sample FRACTION: keep each request with that probability, decided by a PRNG seeded with `seed` (default 0),
 *   so the same trace, fraction and seed always keep the same requests;
 * - speedup K: arrivals divided by K (K > 1 compresses the trace into less time);
 * - limit N: stop after N requests.
 */
import { createRng } from './random.js';
import type { RequestSpec } from './types.js';

export interface TraceTransforms {
  readonly window?: readonly [startS: number, endS: number];
  readonly speedup?: number;
  readonly limit?: number;
  readonly sample?: number;
  readonly seed?: number;
}

export function hasTransforms(t: TraceTransforms): boolean {
  return t.window !== undefined || (t.speedup !== undefined && t.speedup !== 1) || t.limit !== undefined || (t.sample !== undefined && t.sample < 1);
}

/** The transformed stream (lazy; re-iterable when `src` is). Returns `src` itself when there is nothing to do. */
export function applyTransforms(src: AsyncIterable<RequestSpec>, t: TraceTransforms): AsyncIterable<RequestSpec> {
  if (!hasTransforms(t)) return src;
  const [start, end] = t.window ?? [0, Infinity];
  const speedup = t.speedup ?? 1;
  const limit = t.limit ?? Infinity;
  const fraction = t.sample ?? 1;
  return {
    async *[Symbol.asyncIterator]() {
      const rng = fraction < 1 ? createRng(t.seed ?? 0) : undefined;
      let n = 0;
      if (limit <= 0) return;
      for await (const r of src) {
        if (r.arrival < start) continue;
        if (r.arrival >= end) break;
        if (rng && !(rng.next() < fraction)) continue;
        const arrival = (r.arrival - start) / speedup;
        yield arrival === r.arrival ? r : { ...r, arrival };
        if (++n >= limit) break;
      }
    },
  };
}
