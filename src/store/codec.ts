/**
 * Compact per-request token timings (`requests.token_times`): a sequence of chunks, each encoded as two
 * unsigned LEB128 varints: the gap in integer microseconds from the previous chunk (the first chunk's gap
 * is from `send`), then the number of tokens the chunk carried. Typical size: 3-4 bytes per chunk.
 */

export interface Chunk {
  /** Seconds from the request's send. */
  readonly t: number;
  readonly tokens: number;
}

function pushVarint(out: number[], v: number): void {
  let x = Math.max(0, Math.round(v));
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
}

/** Encode chunk times (seconds from send, non-decreasing) and token counts. */
export function encodeChunks(chunks: readonly Chunk[]): Buffer {
  const out: number[] = [];
  let prevUs = 0;
  for (const c of chunks) {
    const us = Math.round(c.t * 1e6);
    pushVarint(out, us - prevUs);
    pushVarint(out, c.tokens);
    prevUs = Math.max(prevUs, us);
  }
  return Buffer.from(out);
}

/**
 * Chunk objects reused by `decodeChunks(buf, scratch)` across the rows of a reader that handles one row at a
 * time (a summary): the array it returns is `scratch.list`, valid until the next decode into this scratch.
 */
export class ChunkScratch {
  readonly list: Chunk[] = [];
  readonly objs: { t: number; tokens: number }[] = [];
}

const truncated = (): RangeError => new RangeError('token_times blob is truncated');

/** The largest stall the last `readChunks` without `out` found (undefined: fewer than two token-carrying chunks). */
let scanStall: number | undefined;

/**
 * The one reader of a `token_times` blob: its chunks into `out` (`scratch`'s reused objects when given, else
 * fresh ones), or with `out` null only the largest gap between consecutive token-carrying chunks (into
 * `scanStall`) and, given `tbt`, each token-carrying chunk's whole-microsecond gap from the previous one
 * (`forEachTbtGap`'s samples: µs / (10⁶·tokens), `tokens` times); returns how many chunks it holds. The
 * varints are read in line with a local read position (summaries scan millions of chunks), one-byte ones
 * (token counts, short gaps) the short way.
 */
function readChunks(buf: Uint8Array, out: Chunk[] | null, scratch: ChunkScratch | undefined, tbt?: (gap: number, count: number) => void): number {
  const len = buf.length;
  let n = 0;
  let i = 0;
  let us = 0;
  let prev = NaN;
  let prevUs = -1;
  let best: number | undefined;
  while (i < len) {
    let b = buf[i++]!;
    if (b < 0x80) us += b;
    else {
      let v = b & 0x7f;
      let mul = 0x80;
      do {
        if (i >= len) throw truncated();
        b = buf[i++]!;
        v += (b & 0x7f) * mul;
        mul *= 0x80;
      } while (b >= 0x80);
      us += v;
    }
    if (i >= len) throw truncated();
    b = buf[i++]!;
    let tokens = b;
    if (b >= 0x80) {
      tokens = b & 0x7f;
      let mul = 0x80;
      do {
        if (i >= len) throw truncated();
        b = buf[i++]!;
        tokens += (b & 0x7f) * mul;
        mul *= 0x80;
      } while (b >= 0x80);
    }
    if (out === null) {
      if (tokens > 0) {
        const t = us / 1e6;
        if (prev === prev) {
          const gap = t - prev;
          if (best === undefined || gap > best) best = gap;
          if (tbt !== undefined) tbt((us - prevUs) / (1e6 * tokens), tokens);
        }
        prev = t;
        prevUs = us;
      }
    } else if (scratch) {
      let o = scratch.objs[n];
      if (o === undefined) scratch.objs.push((o = { t: 0, tokens: 0 }));
      o.t = us / 1e6;
      o.tokens = tokens;
      out[n] = o;
    } else out.push({ t: us / 1e6, tokens });
    n++;
  }
  scanStall = best;
  return n;
}

/** Decode a `token_times` blob (fresh objects, or `scratch`'s reused ones: see ChunkScratch). */
export function decodeChunks(buf: Uint8Array | null | undefined, scratch?: ChunkScratch): Chunk[] {
  const chunks: Chunk[] = scratch ? scratch.list : [];
  const n = buf ? readChunks(buf, chunks, scratch) : 0;
  if (scratch) chunks.length = n;
  return chunks;
}

/**
 * Without building chunks: how many a blob holds, and the largest gap between consecutive token-carrying
 * ones (`maxStallOf` of `decodeChunks(buf)`, the same arithmetic on the same decoded seconds; undefined with
 * fewer than two).
 */
export function chunkStalls(buf: Uint8Array | null | undefined): { readonly chunks: number; readonly maxStall: number | undefined } {
  if (!buf) return { chunks: 0, maxStall: undefined };
  const chunks = readChunks(buf, null, undefined);
  return { chunks, maxStall: scanStall };
}

/** Visit a blob's token-weighted TBT samples (`forEachTbtGap` of `decodeChunks(buf)`, the same values) without building chunks. */
export function forEachBlobTbtGap(buf: Uint8Array, f: (gap: number, count: number) => void): void {
  readChunks(buf, null, undefined, f);
}

// ---- Addition: allocation-free encoding for bulk producers (the simulator). ----

/** Blobs are carved out of shared 1 MiB slabs (one allocation per ~1,000 rows, not one per row). */
const SLAB_BYTES = 1 << 20;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/**
 * What `encodeChunks` gives for the chunks `{ t: times[i] - send, tokens: counts ? counts[i] : 1 }`,
 * i < n, byte for byte, without building chunk objects; also that chunk list's `maxStallOf` (derive.ts:
 * the largest gap between consecutive token-carrying chunks, computed on the same unrounded seconds;
 * undefined with fewer than two). The returned Buffer is the caller's: a slice of a shared slab that no
 * later call writes to.
 */
export function encodeChunkTimes(
  times: Float64Array,
  counts: Uint32Array | undefined,
  n: number,
  send: number,
): { blob: Buffer; maxStall: number | undefined } {
  // At most 2 varints of ≤ 8 bytes each (µs gaps < 2^53) per chunk.
  const room = n * 16;
  if (slab.length - slabUsed < room) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, room));
    slabUsed = 0;
  }
  const buf = slab;
  const start = slabUsed;
  let o = start;
  let prevUs = 0;
  let prevT = NaN;
  let best: number | undefined;
  for (let i = 0; i < n; i++) {
    const t = times[i]! - send;
    const tokens = counts ? counts[i]! : 1;
    if (tokens > 0) {
      if (prevT === prevT) {
        const gap = t - prevT;
        if (best === undefined || gap > best) best = gap;
      }
      prevT = t;
    }
    const us = Math.round(t * 1e6);
    let x = Math.max(0, us - prevUs);
    if (x < 0x80) buf[o++] = x;
    else if (x < 0x4000) {
      buf[o++] = (x & 0x7f) | 0x80;
      buf[o++] = x >>> 7;
    } else if (x < 0x200000) {
      buf[o++] = (x & 0x7f) | 0x80;
      buf[o++] = ((x >>> 7) & 0x7f) | 0x80;
      buf[o++] = x >>> 14;
    } else {
      while (x >= 0x80) {
        buf[o++] = (x % 0x80) | 0x80;
        x = Math.floor(x / 0x80);
      }
      buf[o++] = x;
    }
    if (tokens === 1) buf[o++] = 1;
    else {
      x = Math.max(0, Math.round(tokens));
      while (x >= 0x80) {
        buf[o++] = (x % 0x80) | 0x80;
        x = Math.floor(x / 0x80);
      }
      buf[o++] = x;
    }
    prevUs = Math.max(prevUs, us);
  }
  slabUsed = o;
  return { blob: buf.subarray(start, o), maxStall: best };
}
