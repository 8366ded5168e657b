/**
 * The one clock the engine sees. The engine never reads the wall clock and never sleeps: it asks its
 * Clock for the time and to call it back later.
 *
 * - `RealClock` (in src/wallclock.ts, the one module that owns wall time and timers) drives the live
 *   reference backend: monotonic `performance.now()`, times in engine seconds (real seconds × timeScale,
 *   so a K-times faster emulation reports real-GPU seconds).
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
  /**
   * Optional (VirtualClock): move `now()` forward to `time` at once, from inside a callback, when nothing
   * is scheduled at or before `time` (and `run`'s limit allows it); false, and nothing changes, otherwise.
   * An engine with its own event queue uses it to run its next event inline instead of scheduling a
   * callback for it: the order of events is the same either way (its callback would have run next).
   */
  advance?(time: number): boolean;
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
  /** `run(until)`'s limit: `advance` never goes past it. */
  private horizon = Infinity;

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

  advance(time: number): boolean {
    if (time > this.horizon || time < this.current) return false;
    const top = this.peekLive();
    if (top !== undefined && top.time <= time) return false;
    this.current = time;
    return true;
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
    const outer = this.horizon;
    this.horizon = Math.min(outer, until);
    try {
      for (;;) {
        const top = this.peekLive();
        if (!top || top.time > until) break;
        this.step();
      }
    } finally {
      this.horizon = outer;
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
