/**
 * This process's wall clock in epoch milliseconds, with sub-millisecond resolution: the monotonic
 * `performance.now()` plus an anchor measured once, on first use.
 *
 * Why not `performance.timeOrigin + performance.now()`: Node fixes `timeOrigin` at process start from two
 * separate clock reads, and a process descheduled between them (a loaded machine) is off by whole
 * milliseconds — tens of them seen on a busy 2-core host — so two processes of one host disagreed by 15 ms.
 * Here the anchor is taken at a tick of `Date.now()`: spin until the millisecond changes, bracket the change
 * between two monotonic reads, and keep the narrowest of a few brackets (retrying if a bracket is wide,
 * i.e. the spin was preempted). Error: the bracket's half-width, typically well under 10 µs. Cost: a few
 * milliseconds of spinning, once.
 */

let anchorMs: number | undefined;
/** `performance.now()` when the anchor was measured. */
let anchoredAt = -Infinity;

/**
 * The anchor drifts: CLOCK_REALTIME (Date.now) may be slewed by NTP against CLOCK_MONOTONIC
 * (performance.now) by up to 0.5 ms per second, so two processes anchored seconds apart disagree by that
 * much. Readers that need wall time to well under a millisecond (a clock check, the /time reference) pass a
 * `maxAgeMs` and get a fresh anchor when the current one is older (a re-anchor spins for up to ~1 ms).
 */
function anchor(maxAgeMs: number): number {
  const now = performance.now();
  if (anchorMs === undefined || now - anchoredAt > maxAgeMs) {
    anchorMs = measureAnchor();
    anchoredAt = performance.now();
  }
  return anchorMs;
}

function measureAnchor(): number {
  let bestWidth = Infinity;
  let best = performance.timeOrigin;
  for (let attempt = 0; attempt < 8 && (attempt < 3 || bestWidth > 0.05); attempt++) {
    const d0 = Date.now();
    const start = performance.now();
    let before = start;
    for (;;) {
      const d = Date.now();
      const after = performance.now();
      if (d !== d0) {
        // The millisecond `d` began between the previous read (which still saw d0, right before `before`)
        // and this one (right before `after`).
        const width = after - before;
        if (width < bestWidth) {
          bestWidth = width;
          best = d - (before + after) / 2;
        }
        break;
      }
      before = after;
      if (after - start > 50) break; // a wall clock that does not tick: give up on this attempt
    }
  }
  return best;
}

/** Epoch milliseconds now (sub-ms resolution), from an anchor at most `maxAgeMs` old (default: anchored once). */
export function wallNowMs(maxAgeMs = Infinity): number {
  const a = anchor(maxAgeMs);
  return a + performance.now();
}

/** Epoch milliseconds of a `performance.now()` reading (same anchor as `wallNowMs`). */
export function wallMsOf(monotonicMs: number, maxAgeMs = Infinity): number {
  return anchor(maxAgeMs) + monotonicMs;
}

/** How old an anchor the clock check and the /time reference accept (ms): drift then stays under ~50 µs. */
export const CLOCK_CHECK_ANCHOR_MAX_AGE_MS = 100;
