/**
 * A binary heap that pushes and pops exactly like CPython's `heapq` (heappush = _siftdown; heappop =
 * move the last leaf to the root, _siftup to a leaf, then _siftdown) with entries compared by time
 * only and no tie-break — so events of equal time come out in the order SplitwiseSim's loop sees them.
 * Cancelled entries stay in the heap (as in SplitwiseSim, whose cancellations are lazy) and are
 * skipped when popped.
 */

export interface HeapEvent {
  readonly time: number;
  readonly action: () => void;
  cancelled: boolean;
}

export class PyHeap {
  private readonly h: HeapEvent[] = [];

  get length(): number {
    return this.h.length;
  }

  peek(): HeapEvent | undefined {
    return this.h[0];
  }

  push(e: HeapEvent): void {
    this.h.push(e);
    this.siftdown(0, this.h.length - 1);
  }

  pop(): HeapEvent | undefined {
    const h = this.h;
    const last = h.pop();
    if (last === undefined || h.length === 0) return last;
    const top = h[0]!;
    h[0] = last;
    this.siftup(0);
    return top;
  }

  private siftdown(startpos: number, pos: number): void {
    const h = this.h;
    const item = h[pos]!;
    while (pos > startpos) {
      const parentpos = (pos - 1) >> 1;
      const parent = h[parentpos]!;
      if (item.time < parent.time) {
        h[pos] = parent;
        pos = parentpos;
        continue;
      }
      break;
    }
    h[pos] = item;
  }

  private siftup(pos: number): void {
    const h = this.h;
    const endpos = h.length;
    const startpos = pos;
    const item = h[pos]!;
    let childpos = 2 * pos + 1;
    while (childpos < endpos) {
      const rightpos = childpos + 1;
      if (rightpos < endpos && !(h[childpos]!.time < h[rightpos]!.time)) childpos = rightpos;
      h[pos] = h[childpos]!;
      pos = childpos;
      childpos = 2 * pos + 1;
    }
    h[pos] = item;
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
