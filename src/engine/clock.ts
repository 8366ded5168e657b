/**
 * The one clock the engine sees. The engine never reads the wall clock and never sleeps: it asks its
 * Clock for the time and to call it back later.
 *
 * - `RealClock` drives the live reference backend: monotonic `performance.now()`, times in engine
 *   seconds (real seconds × timeScale, so a K-times faster emulation reports real-GPU seconds).
 * - `VirtualClock` drives the simulator: an event heap, time jumps from event to event.
 *
 * Same-time ordering (VirtualClock): events are ordered by (time, rank, sequence number). `rank` comes
 * from `EventRank` below (lower runs first); events of equal time and rank run in the order they were
 * scheduled. `at(now, f)` never runs `f` inline: it goes through the queue like any other event.
 */

export interface TimerHandle {
  cancel(): void;
}

/** Rank table for events at the same instant: lower runs first. */
export const EventRank = {
  /** An iteration (batch) ends, a KV transfer ends: frees resources before new work is placed. */
  completion: 0,
  /** Internal follow-ups scheduled by the engine (retries, wake-ups). */
  internal: 1,
  /** A request arrives from the trace / a client. */
  arrival: 2,
  /** Samplers (power, queue depth) observe the state after everything else at that instant. */
  sample: 3,
} as const;
export type EventRankValue = (typeof EventRank)[keyof typeof EventRank];

export interface Clock {
  /** Current engine time in seconds. */
  now(): number;
  /** Call `fn` at engine time `time` (or as soon as possible if `time` is in the past). */
  at(time: number, fn: () => void, rank?: EventRankValue): TimerHandle;
}

/** A scheduled callback; it is its own cancel handle (one allocation per event). */
class HeapEntry implements TimerHandle {
  cancelled = false;
  constructor(
    readonly time: number,
    readonly rank: number,
    readonly seq: number,
    readonly fn: () => void,
    private readonly owner: VirtualClock,
  ) {}
  cancel(): void {
    if (!this.cancelled) {
      this.cancelled = true;
      this.owner.onCancel();
    }
  }
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  if (a.time !== b.time) return a.time < b.time;
  if (a.rank !== b.rank) return a.rank < b.rank;
  return a.seq < b.seq;
}

/** Discrete-event clock: `run()` pops events in (time, rank, seq) order and advances `now()` to each. */
export class VirtualClock implements Clock {
  private readonly heap: HeapEntry[] = [];
  private seq = 0;
  private current: number;
  private live = 0;

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  at(time: number, fn: () => void, rank: EventRankValue = EventRank.internal): TimerHandle {
    const entry = new HeapEntry(time > this.current ? time : this.current, rank, this.seq++, fn, this);
    this.push(entry);
    this.live++;
    return entry;
  }

  /** @internal */
  onCancel(): void {
    this.live--;
  }

  /** Time of the next live event, if any. */
  nextTime(): number | undefined {
    return this.peekLive()?.time;
  }

  /** Number of scheduled, not cancelled, not yet run events. */
  pending(): number {
    return this.live;
  }

  /** Run one event; false when none is left. */
  step(): boolean {
    for (;;) {
      const e = this.pop();
      if (!e) return false;
      if (e.cancelled) continue;
      e.cancelled = true;
      this.live--;
      this.current = e.time;
      e.fn();
      return true;
    }
  }

  /** Run events until none is left, or until the next one is later than `until`. */
  run(until = Infinity): void {
    for (;;) {
      const top = this.peekLive();
      if (!top || top.time > until) break;
      this.step();
    }
    if (until !== Infinity && until > this.current) this.current = until;
  }

  private peekLive(): HeapEntry | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private push(e: HeapEntry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!before(e, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  private pop(): HeapEntry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && before(h[r]!, h[l]!) ? r : l;
        if (!before(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

/**
 * Real-time clock on the monotonic `performance.now()`, in engine seconds since construction, scaled by
 * `timeScale` (engine time runs K times faster than wall time). The wall-clock anchor (`startWallMs`) is
 * read once, for the `runs` table only. Same-instant events keep (rank, seq) order: callbacks due at the
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
    this.startWallMs = Date.now();
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
