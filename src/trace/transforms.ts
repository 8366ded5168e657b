/**
 * Trace transforms, applied in this order: window → sample → sizes → speedup → limit.
 * - window [start, end): keep requests with start ≤ arrival < end, arrivals re-based to the window start;
 *   the source stops being read once an arrival reaches `end`;
 * - sample FRACTION: keep each request with that probability, decided by a PRNG seeded with `seed` (default 0),
 *   so the same trace, fraction and seed always keep the same requests;
 * - sizes: prompt and output tokens multiplied by `scaleSizes` (rounded, at least 1), then capped at
 *   `maxPrompt` / `maxOutput` (to fit a trace to a small model's context, e.g. the real-inference mode);
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
  /** Multiply prompt and output sizes by this factor (> 0). Added; optional. */
  readonly scaleSizes?: number;
  /** Cap prompt / output sizes (after scaling). Added; optional. */
  readonly maxPrompt?: number;
  readonly maxOutput?: number;
}

function resizes(t: TraceTransforms): boolean {
  return (t.scaleSizes !== undefined && t.scaleSizes !== 1) || t.maxPrompt !== undefined || t.maxOutput !== undefined;
}

export function hasTransforms(t: TraceTransforms): boolean {
  return (
    t.window !== undefined || (t.speedup !== undefined && t.speedup !== 1) || t.limit !== undefined || (t.sample !== undefined && t.sample < 1) || resizes(t)
  );
}

/** The transformed stream (lazy; re-iterable when `src` is). Returns `src` itself when there is nothing to do. */
export function applyTransforms(src: AsyncIterable<RequestSpec>, t: TraceTransforms): AsyncIterable<RequestSpec> {
  if (!hasTransforms(t)) return src;
  const [start, end] = t.window ?? [0, Infinity];
  const speedup = t.speedup ?? 1;
  const limit = t.limit ?? Infinity;
  const fraction = t.sample ?? 1;
  const resize = resizes(t);
  const scale = t.scaleSizes ?? 1;
  const maxPrompt = t.maxPrompt ?? Infinity;
  const maxOutput = t.maxOutput ?? Infinity;
  const size = (n: number, max: number): number => Math.min(max, Math.max(1, Math.round(n * scale)));
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
        if (resize) {
          yield { ...r, arrival, promptTokens: size(r.promptTokens, maxPrompt), outputTokens: size(r.outputTokens, maxOutput) };
        } else yield arrival === r.arrival ? r : { ...r, arrival };
        if (++n >= limit) break;
      }
    },
  };
}
