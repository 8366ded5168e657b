/**
 * The one module that owns wall time and timers: this process's wall clock, and `RealClock`, the engine's
 * `Clock` on real timers. Nothing under src/engine reads `Date` or sets a timer; the engine gets a `Clock`.
 *
 * The wall clock in epoch milliseconds, with sub-millisecond resolution: the monotonic
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

import { EventRank, type Clock, type EventRankValue, type TimerHandle, VirtualClock } from './engine/clock.js';

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

/**
 * Real-time clock on the monotonic `performance.now()`, in engine seconds since construction, scaled by
 * `timeScale` (engine time runs K times faster than wall time). The wall-clock anchor of this module
 * gives `startWallMs` once, at construction, for the `runs` table only. Same-instant events keep (rank, seq) order: callbacks due at the
 * same engine time are run from one timer in that order.
 *
 * Precision: `setTimeout` has millisecond granularity and usually fires up to ~1 ms late, so the clock
 * sleeps with `setTimeout` until SPIN_WINDOW_MS before the next event is due, then polls with
 * `setImmediate` (which still lets I/O run every turn) until it is due. This keeps callback lateness well
 * under a millisecond on an idle event loop, at the cost of at most SPIN_WINDOW_MS of polling per wake-up.
 *
 * Logical time inside callbacks: while a scheduled callback runs, `now()` returns the time it was
 * scheduled for (as on the VirtualClock), not the slightly later moment it actually runs, so event-loop
 * lateness never accumulates into engine time (an iteration chain `at(now() + d)` stays exactly on the
 * performance model's schedule). `now()` never goes backwards: a callback that runs after a later time
 * was already read (e.g. by an arrival) sees that later time. `realNow()` always reads the monotonic clock
 * (for measuring how late a callback ran).
 */
export class RealClock implements Clock {
  /** Wall milliseconds before a due event at which the clock stops sleeping and starts polling. */
  static readonly SPIN_WINDOW_MS = 2;
  readonly timeScale: number;
  readonly startWallMs: number;
  private readonly t0: number;
  private readonly virtual = new VirtualClock(0);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private timerDue = Infinity;
  private closed = false;
  /** Time of the callback being run (undefined outside callbacks). */
  private cbTime: number | undefined;
  /** Largest time `now()` returned so far. */
  private last = 0;

  constructor(timeScale = 1) {
    if (!(timeScale > 0)) throw new RangeError('timeScale must be > 0');
    this.timeScale = timeScale;
    this.t0 = performance.now();
    this.startWallMs = wallMsOf(this.t0);
  }

  now(): number {
    if (this.cbTime !== undefined) return this.cbTime;
    const t = this.realNow();
    if (t > this.last) this.last = t;
    return this.last;
  }

  /** Engine seconds from the monotonic clock, also inside callbacks (see the class comment). */
  realNow(): number {
    return ((performance.now() - this.t0) / 1000) * this.timeScale;
  }

  at(time: number, fn: () => void, rank: EventRankValue = EventRank.internal): TimerHandle {
    const h = this.virtual.at(time, fn, rank);
    this.arm();
    return h;
  }

  /** Number of scheduled, not cancelled, not yet run callbacks. */
  pending(): number {
    return this.virtual.pending();
  }

  /** Stop all pending callbacks (shutdown); later `at` calls are ignored. */
  close(): void {
    this.closed = true;
    this.disarm();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.timerDue = Infinity;
  }

  private arm(): void {
    if (this.closed) return;
    const next = this.nextDue();
    if (next === undefined) return;
    if ((this.timer || this.immediate) && next >= this.timerDue) return;
    this.disarm();
    this.timerDue = next;
    const delayMs = ((next - this.realNow()) / this.timeScale) * 1000;
    if (delayMs > RealClock.SPIN_WINDOW_MS) {
      this.timer = setTimeout(() => this.fire(), Math.floor(delayMs - RealClock.SPIN_WINDOW_MS));
    } else {
      this.immediate = setImmediate(() => this.fire());
    }
  }

  private nextDue(): number | undefined {
    return this.virtual.nextTime();
  }

  private fire(): void {
    this.timer = undefined;
    this.immediate = undefined;
    this.timerDue = Infinity;
    const now = this.realNow();
    // Run everything due by now, in (time, rank, seq) order, each with `now()` reading its own time
    // (never earlier than a time already read).
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next > now) break;
      this.cbTime = next > this.last ? next : this.last;
      this.last = this.cbTime;
      try {
        this.virtual.step();
      } finally {
        this.cbTime = undefined;
      }
    }
    this.arm();
  }
}
