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

/** Epoch milliseconds now (sub-ms resolution, monotonic between anchor and now). */
export function wallNowMs(): number {
  if (anchorMs === undefined) anchorMs = measureAnchor();
  return anchorMs + performance.now();
}

/** Epoch milliseconds of a `performance.now()` reading. */
export function wallMsOf(monotonicMs: number): number {
  if (anchorMs === undefined) anchorMs = measureAnchor();
  return anchorMs + monotonicMs;
}
