/**
 * A binary heap that pushes and pops exactly like CPython's `heapq` (heappush = _siftdown; heappop =
 * move the last leaf to the root, _siftup to a leaf, then _siftdown) with entries compared by time
 * only and no tie-break — so events of equal time come out in the order SplitwiseSim's loop sees them.
 * Cancelled entries stay in the heap (as in SplitwiseSim, whose cancellations are lazy) and are
 * skipped when popped.
 *
 * Two kinds of entry share the one order: events (objects) and queued arrivals, which are only their
 * time and their number (0, 1, … in push order), so a heap of millions of arrivals (the compatible mode
 * queues a whole trace before its loop) takes 12 bytes per arrival: times in a Float64Array, beside
 * each a reference (Int32Array): an arrival's number, or −1 − the slot of an event in a small table.
 */

import { grownCapacity } from '../../capacity.js';

/** An event entry: the heap reads its time only (what it does is its owner's business). */
export interface HeapEvent {
  readonly time: number;
  cancelled: boolean;
}

export class PyHeap {
  private times = new Float64Array(1024);
  private refs = new Int32Array(1024);
  private n = 0;
  private arrivals = 0;
  /** Events in the heap by slot (ref −1 − slot); free slots are reused. */
  private readonly events: (HeapEvent | undefined)[] = [];
  private readonly free: number[] = [];

  get length(): number {
    return this.n;
  }

  /** Time of the head entry (Infinity when empty). */
  headTime(): number {
    return this.n === 0 ? Infinity : this.times[0]!;
  }

  push(e: HeapEvent): void {
    const slot = this.free.length > 0 ? this.free.pop()! : this.events.length;
    this.events[slot] = e;
    this.pushRef(e.time, -1 - slot);
  }

  /** Queue an arrival at `time`; its number (0-based, in push order) is what `pop` gives for it. */
  pushArrival(time: number): number {
    const i = this.arrivals++;
    if (i > 0x7fffffff - 1) throw new RangeError('more than 2^31 queued arrivals');
    this.pushRef(time, i);
    return i;
  }

  /** The head entry, removed: an event, or a queued arrival's number. */
  pop(): HeapEvent | number | undefined {
    const n = this.n;
    if (n === 0) return undefined;
    const times = this.times;
    const refs = this.refs;
    // heappop: take the last leaf; unless it was the only entry, it replaces the root and sifts.
    const lastT = times[n - 1]!;
    const lastR = refs[n - 1]!;
    this.n = n - 1;
    let r = lastR;
    if (n > 1) {
      r = refs[0]!;
      times[0] = lastT;
      refs[0] = lastR;
      this.siftup(0);
    }
    if (r >= 0) return r;
    const slot = -1 - r;
    const e = this.events[slot]!;
    this.events[slot] = undefined;
    this.free.push(slot);
    return e;
  }

  private pushRef(time: number, ref: number): void {
    if (this.n === this.times.length) {
      // Grow by half (not double): a queued trace of millions of arrivals is most of this heap.
      // By the refs' 4 bytes: both arrays past 1 MiB get mappings of their own (src/capacity.ts).
      const cap = grownCapacity(this.n, this.n + 1, 4, 1.5);
      const t = new Float64Array(cap);
      t.set(this.times);
      this.times = t;
      const r = new Int32Array(cap);
      r.set(this.refs);
      this.refs = r;
    }
    this.times[this.n] = time;
    this.refs[this.n] = ref;
    this.n++;
    this.siftdown(0, this.n - 1);
  }

  private siftdown(startpos: number, pos: number): void {
    const times = this.times;
    const refs = this.refs;
    const itemT = times[pos]!;
    const itemR = refs[pos]!;
    while (pos > startpos) {
      const parentpos = (pos - 1) >> 1;
      const parentT = times[parentpos]!;
      if (itemT < parentT) {
        times[pos] = parentT;
        refs[pos] = refs[parentpos]!;
        pos = parentpos;
        continue;
      }
      break;
    }
    times[pos] = itemT;
    refs[pos] = itemR;
  }

  private siftup(pos: number): void {
    const times = this.times;
    const refs = this.refs;
    const endpos = this.n;
    const startpos = pos;
    const itemT = times[pos]!;
    const itemR = refs[pos]!;
    let childpos = 2 * pos + 1;
    while (childpos < endpos) {
      const rightpos = childpos + 1;
      if (rightpos < endpos && !(times[childpos]! < times[rightpos]!)) childpos = rightpos;
      times[pos] = times[childpos]!;
      refs[pos] = refs[childpos]!;
      pos = childpos;
      childpos = 2 * pos + 1;
    }
    times[pos] = itemT;
    refs[pos] = itemR;
    this.siftdown(startpos, pos);
  }
}

/** Python's float floor division `a // b` (CPython float_floor_div), for the run-cut arithmetic. */
export function pyFloorDiv(a: number, b: number): number {
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0) {
    if (b < 0 !== mod < 0) {
      mod += b;
      div -= 1;
    }
  }
  if (div !== 0) {
    let floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
    return floordiv;
  }
  return Math.sign(a / b) * 0;
}
