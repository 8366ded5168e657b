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

export function decodeChunks(buf: Uint8Array | null | undefined): Chunk[] {
  const chunks: Chunk[] = [];
  if (!buf) return chunks;
  let i = 0;
  let us = 0;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new RangeError('token_times blob is truncated');
      const b = buf[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
  };
  while (i < buf.length) {
    us += read();
    const tokens = read();
    chunks.push({ t: us / 1e6, tokens });
  }
  return chunks;
}
