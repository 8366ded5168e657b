/**
 * A streaming GGUF v3 writer (the llama.cpp model file format) and a reader of its header.
 *
 * Layout written: magic `GGUF`, version 3, tensor count (u64), metadata KV count (u64), the metadata
 * (key: u64-length string, value type: u32, value), the tensor infos (name, dimension count, dimensions
 * innermost first as u64, ggml type, data offset relative to the data section), padding to the alignment
 * (32 bytes), then each tensor's data, each starting on an aligned offset. Tensor data is produced by a
 * callback in chunks and written as it comes, so a multi-gigabyte file never sits in memory.
 */
import fs from 'node:fs';

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** GGUF metadata value types. */
export const GgufType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

/** ggml tensor types this writer emits. */
export const GgmlType = { f32: 0, f16: 1 } as const;
export type TensorType = keyof typeof GgmlType;
const ELEMENT_BYTES: Record<TensorType, number> = { f32: 4, f16: 2 };

export type MetaValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'uint32' | 'int32' | 'float32' | 'uint64' | 'bool'; readonly value: number | boolean }
  | { readonly type: 'string[]'; readonly value: readonly string[] }
  | { readonly type: 'float32[]'; readonly value: Float32Array }
  | { readonly type: 'int32[]'; readonly value: Int32Array };

export interface TensorSpec {
  readonly name: string;
  /** Dimensions, innermost (contiguous) first, as ggml's `ne`. */
  readonly dims: readonly number[];
  readonly type: TensorType;
}

export const tensorElements = (t: TensorSpec): number => t.dims.reduce((a, b) => a * b, 1);
export const tensorBytes = (t: TensorSpec): number => tensorElements(t) * ELEMENT_BYTES[t.type];
const align = (n: number): number => Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;

/** Growable little-endian byte buffer for the header. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  /** Write `n` bytes at the end. */
  private put(n: number, write: (buf: Buffer, at: number) => void): void {
    this.room(n);
    write(this.buf, this.length);
    this.length += n;
  }
  u32(v: number): void {
    this.put(4, (buf, at) => buf.writeUInt32LE(v >>> 0, at));
  }
  i32(v: number): void {
    this.put(4, (buf, at) => buf.writeInt32LE(v | 0, at));
  }
  u64(v: number): void {
    this.put(8, (buf, at) => buf.writeBigUInt64LE(BigInt(v), at));
  }
  f32(v: number): void {
    this.put(4, (buf, at) => buf.writeFloatLE(v, at));
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v & 0xff;
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  pad(to: number): void {
    const n = align(to) - to;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** How a number of each numeric metadata type is written. */
const NUMBER_WRITERS: Readonly<Record<'uint32' | 'int32' | 'float32' | 'uint64', (b: Bytes, x: number) => void>> = {
  uint32: (b, x) => b.u32(x),
  int32: (b, x) => b.i32(x),
  float32: (b, x) => b.f32(x),
  uint64: (b, x) => b.u64(x),
};

/** A metadata value: its type code, then the value (an array: the element type, the length, the elements). */
function writeValue(b: Bytes, v: MetaValue): void {
  switch (v.type) {
    case 'string':
      b.u32(GgufType.string);
      b.str(v.value);
      return;
    case 'bool':
      b.u32(GgufType.bool);
      b.u8(v.value ? 1 : 0);
      return;
    case 'string[]':
      writeArray(b, GgufType.string, v.value, (s) => b.str(s));
      return;
    case 'float32[]':
      writeArray(b, GgufType.float32, v.value, (x) => b.f32(x));
      return;
    case 'int32[]':
      writeArray(b, GgufType.int32, v.value, (x) => b.i32(x));
      return;
    default:
      b.u32(GgufType[v.type]);
      NUMBER_WRITERS[v.type](b, Number(v.value));
  }
}

function writeArray<T>(b: Bytes, type: number, values: ArrayLike<T> & Iterable<T>, write: (v: T) => void): void {
  b.u32(GgufType.array);
  b.u32(type);
  b.u64(values.length);
  for (const v of values) write(v);
}

/** Serialise the header (everything before the data section, padding included). */
export function ggufHeader(meta: ReadonlyMap<string, MetaValue>, tensors: readonly TensorSpec[]): Buffer {
  const b = new Bytes();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(meta.size);
  for (const [k, v] of meta) {
    b.str(k);
    writeValue(b, v);
  }
  let offset = 0;
  for (const t of tensors) {
    b.str(t.name);
    b.u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(GgmlType[t.type]);
    b.u64(offset);
    offset = align(offset + tensorBytes(t));
  }
  b.pad(b.length);
  return b.bytes();
}

/**
 * Fills `out` (a view of the tensor's bytes, `elementOffset` elements into the tensor) with the tensor's
 * data. Called once per chunk, in order.
 */
export type TensorFiller = (t: TensorSpec, out: Buffer, elementOffset: number) => void;

/** Largest chunk handed to a filler, in bytes. */
const CHUNK_BYTES = 4 << 20;

/** Write a GGUF file: header, then every tensor's data chunk by chunk. Returns the file size in bytes. */
export function writeGguf(file: string, meta: ReadonlyMap<string, MetaValue>, tensors: readonly TensorSpec[], fill: TensorFiller): number {
  const header = ggufHeader(meta, tensors);
  const fd = fs.openSync(file, 'w');
  try {
    let pos = 0;
    const put = (b: Buffer): void => {
      let done = 0;
      while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done, pos + done);
      pos += b.length;
    };
    put(header);
    const chunk = Buffer.alloc(CHUNK_BYTES);
    const zeros = Buffer.alloc(GGUF_ALIGNMENT);
    for (const t of tensors) {
      const el = ELEMENT_BYTES[t.type];
      const total = tensorElements(t);
      const perChunk = Math.floor(CHUNK_BYTES / el);
      for (let start = 0; start < total; start += perChunk) {
        const n = Math.min(perChunk, total - start);
        const view = chunk.subarray(0, n * el);
        fill(t, view, start);
        put(view);
      }
      const bytes = total * el;
      const padding = align(bytes) - bytes;
      if (padding > 0) put(zeros.subarray(0, padding));
    }
    return pos;
  } finally {
    fs.closeSync(fd);
  }
}

/** Metadata scalars and string values of a GGUF file's header (arrays are reported by length only). */
export interface GgufInfo {
  readonly version: number;
  readonly tensorCount: number;
  readonly metadata: ReadonlyMap<string, string | number | boolean | { readonly arrayLength: number }>;
}

/** Read a GGUF header's metadata (for checks and `model make` output); throws on a file that is not GGUF v2/v3. */
export function readGgufInfo(file: string): GgufInfo {
  const fd = fs.openSync(file, 'r');
  try {
    // Metadata of the models written here fits well within the first megabytes; read more as needed.
    let buf = Buffer.alloc(0);
    let fileOffset = 0;
    const need = (pos: number, n: number): void => {
      while (pos + n > buf.length) {
        const more = Buffer.alloc(Math.max(1 << 20, n));
        const got = fs.readSync(fd, more, 0, more.length, fileOffset);
        if (got === 0) throw new Error(`${file}: truncated GGUF header at byte ${pos}`);
        fileOffset += got;
        buf = Buffer.concat([buf, more.subarray(0, got)]);
      }
    };
    let p = 0;
    const u32 = (): number => (need(p, 4), (p += 4), buf.readUInt32LE(p - 4));
    const u64 = (): number => (need(p, 8), (p += 8), Number(buf.readBigUInt64LE(p - 8)));
    const str = (): string => {
      const n = u64();
      need(p, n);
      p += n;
      return buf.toString('utf8', p - n, p);
    };
    const scalar = (type: number): string | number | boolean => {
      switch (type) {
        case GgufType.uint8:
          return (need(p, 1), (p += 1), buf.readUInt8(p - 1));
        case GgufType.int8:
          return (need(p, 1), (p += 1), buf.readInt8(p - 1));
        case GgufType.uint16:
          return (need(p, 2), (p += 2), buf.readUInt16LE(p - 2));
        case GgufType.int16:
          return (need(p, 2), (p += 2), buf.readInt16LE(p - 2));
        case GgufType.uint32:
          return u32();
        case GgufType.int32:
          return (need(p, 4), (p += 4), buf.readInt32LE(p - 4));
        case GgufType.float32:
          return (need(p, 4), (p += 4), buf.readFloatLE(p - 4));
        case GgufType.bool:
          return (need(p, 1), (p += 1), buf.readUInt8(p - 1) !== 0);
        case GgufType.string:
          return str();
        case GgufType.uint64:
          return u64();
        case GgufType.int64:
          return (need(p, 8), (p += 8), Number(buf.readBigInt64LE(p - 8)));
        case GgufType.float64:
          return (need(p, 8), (p += 8), buf.readDoubleLE(p - 8));
        default:
          throw new Error(`${file}: unknown GGUF value type ${type} at byte ${p}`);
      }
    };
    if (u32() !== GGUF_MAGIC) throw new Error(`${file}: not a GGUF file (bad magic)`);
    const version = u32();
    if (version !== 2 && version !== 3) throw new Error(`${file}: GGUF version ${version} is not supported (2 or 3)`);
    const tensorCount = u64();
    const kvCount = u64();
    const metadata = new Map<string, string | number | boolean | { arrayLength: number }>();
    for (let i = 0; i < kvCount; i++) {
      const key = str();
      const type = u32();
      if (type === GgufType.array) {
        const et = u32();
        const n = u64();
        for (let j = 0; j < n; j++) scalar(et);
        metadata.set(key, { arrayLength: n });
      } else metadata.set(key, scalar(type));
    }
    return { version, tensorCount, metadata };
  } finally {
    fs.closeSync(fd);
  }
}
