/**
 * A table's rows as one columnar batch: what a writer buffers between commits and hands to its writer thread
 * by transfer, not clone (a handful of buffers, not a JS array per row). Every value lands exactly as given:
 * - a number column (`int`, `real`, `bool`) holds numbers in one row-major Float64Array (null as NaN, which
 *   SQLite binds as NULL too); `bool` fields as 0/1;
 * - a text column holds each value's index into the batch's list of values (a value repeated row after row
 *   is listed once);
 * - a blob column copies each Uint8Array into one byte buffer (a length per row; -1 for null);
 * - any other value (a string in a number column, say) is kept as is on the side (`odd`), and wins on read.
 * `compileAppender` and `compileReader`, made once per table from the column table, write a record of bound
 * values (by field) into a batch and read a row back as the bound parameters of an INSERT.
 */
import type { Column } from './columns.js';

/** A batch as it crosses threads (plain data and transferable buffers). */
export interface TableBatch {
  readonly n: number;
  readonly num: Float64Array;
  readonly text: Int32Array;
  readonly dict: readonly unknown[];
  readonly bytes: Uint8Array;
  readonly lens: Int32Array;
  /** Values the columns cannot hold, as (row, column, value) triples in row order. */
  readonly odd: readonly unknown[];
}

/** Where each column of a table travels in a batch. */
interface Layout {
  readonly cols: readonly Column[];
  /** Per column: its index among the number, text or blob columns. */
  readonly at: readonly number[];
  readonly nums: number;
  readonly texts: number;
  readonly blob: boolean;
}

function layout(cols: readonly Column[]): Layout {
  let nums = 0;
  let texts = 0;
  let blobs = 0;
  const at = cols.map((c) => {
    if (c.kind === 'int' || c.kind === 'real' || c.kind === 'bool') return nums++;
    if (c.kind === 'blob') return blobs++;
    return texts++;
  });
  if (blobs > 1) throw new TypeError('store: a batch holds at most one blob column');
  return { cols, at, nums, texts, blob: blobs === 1 };
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** No text value yet (a text column's last value at the start of a batch). */
const NO_TEXT = Symbol('no text');

/** Buffers smaller than this are not pooled (a copy that small is cheap, and glibc keeps such sizes well). */
const POOL_MIN_BYTES = 64 * 1024;
/** New pooled buffers are rounded up to a multiple of this, so a batch a little larger than the last still fits one. */
const POOL_ROUND_BYTES = 64 * 1024;

/**
 * Buffers of batches the writer thread has finished with, given back to the thread that builds batches
 * (`BatchBuilder.take` copies into them). A sim hands its writer thread ~3 MB of buffers per 5,000-row batch;
 * allocated anew each time (and freed on the other thread), glibc's allocator held ~250 MB more than the
 * live data over a 17 M-request run (its mmap threshold rises to the sizes freed, and the freed batches
 * fragment its arenas). Reused, the same few buffers carry every batch. Bounded by count and bytes.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private held = 0;

  constructor(
    private readonly maxBuffers = 32,
    private readonly maxBytes = 64 * 2 ** 20,
  ) {}

  /** A buffer of at least `n` bytes: the smallest pooled one that fits, else a new one. */
  get(n: number): ArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.byteLength;
      if (len >= n && (best < 0 || len < this.free[best]!.byteLength)) best = i;
    }
    if (best < 0) return new ArrayBuffer(Math.ceil(n / POOL_ROUND_BYTES) * POOL_ROUND_BYTES);
    const b = this.free[best]!;
    this.free[best] = this.free[this.free.length - 1]!;
    this.free.pop();
    this.held -= b.byteLength;
    return b;
  }

  /** Take back a buffer nothing uses any more (kept while the pool has room; a detached one is ignored). */
  give(b: ArrayBuffer): void {
    const len = b.byteLength;
    if (len < POOL_MIN_BYTES || this.free.length >= this.maxBuffers || this.held + len > this.maxBytes) return;
    this.free.push(b);
    this.held += len;
  }

  get size(): number {
    return this.free.length;
  }
}

/** This thread's pool of batch buffers (see BufferPool). */
export const batchBuffers = new BufferPool();

type TypedArray = Float64Array | Int32Array | Uint8Array;
interface TypedArrayOf<A extends TypedArray> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): A;
  readonly BYTES_PER_ELEMENT: number;
}

/** The first `len` values of `src` in a buffer of their own (a pooled one when large): free to transfer. */
function copyOut<A extends TypedArray>(C: TypedArrayOf<A>, src: A, len: number): A {
  const bytes = len * C.BYTES_PER_ELEMENT;
  if (bytes < POOL_MIN_BYTES) return src.slice(0, len) as A;
  const a = new C(batchBuffers.get(bytes), 0, len);
  a.set(src.subarray(0, len) as never);
  return a;
}

/** The rows of one table being buffered; `take()` hands them over and starts afresh. */
export class BatchBuilder<R> {
  n = 0;
  private cap: number;
  num: Float64Array;
  text: Int32Array;
  private dict: unknown[] = [];
  bytes: Uint8Array;
  private used = 0;
  lens: Int32Array;
  private odd: unknown[] = [];
  /** Per text column, its last value and that value's index (most columns repeat a value row after row). */
  readonly lastText: unknown[];
  readonly lastCode: Int32Array;
  private readonly lay: Layout;
  /** Append one record of bound values (by field: bool fields as booleans, SQL NULL as null). */
  private readonly append: (b: BatchBuilder<R>, rec: R) => void;

  constructor(cols: readonly Column[], capacity = 1024) {
    this.lay = layout(cols);
    this.cap = Math.max(16, capacity);
    this.num = new Float64Array(this.cap * this.lay.nums);
    this.text = new Int32Array(this.cap * this.lay.texts);
    this.bytes = new Uint8Array(this.lay.blob ? 64 * this.cap : 0);
    this.lens = new Int32Array(this.lay.blob ? this.cap : 0);
    this.lastText = new Array<unknown>(this.lay.texts).fill(NO_TEXT);
    this.lastCode = new Int32Array(this.lay.texts);
    this.append = appenderOf(cols, this.lay) as (b: BatchBuilder<R>, rec: R) => void;
  }

  /** Append one record of bound values (by field: bool fields as booleans, SQL NULL as null). */
  add(rec: R): void {
    this.append(this, rec);
  }

  /** @internal Room for one more row (doubling the buffers). */
  grow(): void {
    const cap = this.cap * 2;
    const num = new Float64Array(cap * this.lay.nums);
    num.set(this.num);
    const text = new Int32Array(cap * this.lay.texts);
    text.set(this.text);
    const lens = new Int32Array(this.lay.blob ? cap : 0);
    lens.set(this.lens);
    this.num = num;
    this.text = text;
    this.lens = lens;
    this.cap = cap;
  }

  /**
   * @internal The index of text value `v` of text column `k` in the batch's values: a new entry unless it is
   * the column's last value (no lookup: a column that repeats a value gets one entry, a changing one an entry
   * per change).
   */
  code(k: number, v: string | null): number {
    const id = this.dict.length;
    this.dict.push(v);
    this.lastText[k] = v;
    this.lastCode[k] = id;
    return id;
  }

  /** @internal A blob value: its bytes copied; its length (-1: null). */
  blob(v: unknown): number {
    if (v === null) return -1;
    const b = v as Uint8Array;
    const end = this.used + b.length;
    if (end > this.bytes.length) {
      const bytes = new Uint8Array(Math.max(end, 2 * this.bytes.length));
      bytes.set(this.bytes.subarray(0, this.used));
      this.bytes = bytes;
    }
    this.bytes.set(b, this.used);
    this.used = end;
    return b.length;
  }

  /** @internal A value its column cannot hold: kept aside (`odd`); the column gets a placeholder. */
  keep(row: number, col: number, v: unknown): number {
    this.odd.push(row, col, v);
    return 0;
  }

  /** The rows added since the last take (in buffers of their own, free to transfer). */
  take(): TableBatch {
    const n = this.n;
    const batch: TableBatch = {
      n,
      num: copyOut(Float64Array, this.num, n * this.lay.nums),
      text: copyOut(Int32Array, this.text, n * this.lay.texts),
      dict: this.dict,
      bytes: copyOut(Uint8Array, this.bytes, this.used),
      lens: copyOut(Int32Array, this.lens, this.lay.blob ? n : 0),
      odd: this.odd,
    };
    this.n = 0;
    this.used = 0;
    this.dict = [];
    this.odd = [];
    this.lastText.fill(NO_TEXT);
    return batch;
  }
}

/** Appenders by column list: compiled once per table (not per writer), so the JIT warms one function. */
const appenders = new WeakMap<readonly Column[], (b: BatchBuilder<unknown>, rec: unknown) => void>();

function appenderOf(cols: readonly Column[], lay: Layout): (b: BatchBuilder<unknown>, rec: unknown) => void {
  let f = appenders.get(cols);
  if (f === undefined) appenders.set(cols, (f = compileAppender(lay)));
  return f;
}

/** The appender of records into a builder: one compiled function, one statement per column. */
function compileAppender(lay: Layout): (b: BatchBuilder<unknown>, rec: unknown) => void {
  const { nums, texts, blob } = lay;
  const lines = lay.cols.map((c, i) => {
    if (!FIELD.test(c.field)) throw new TypeError(`store: bad field name ${c.field}`);
    const k = lay.at[i]!;
    switch (c.kind) {
      case 'bool':
        return `N[x + ${k}] = o.${c.field} ? 1 : 0;`;
      case 'int':
      case 'real':
        return `v = o.${c.field}; N[x + ${k}] = typeof v === 'number' ? v : v === null ? NaN : b.keep(r, ${i}, v);`;
      case 'blob':
        return `v = o.${c.field}; b.lens[r] = v === null || v instanceof Uint8Array ? b.blob(v) : (b.keep(r, ${i}, v), -1);`;
      default:
        return `v = o.${c.field}; T[y + ${k}] = v === LT[${k}] ? LC[${k}] : typeof v === 'string' || v === null ? b.code(${k}, v) : b.keep(r, ${i}, v);`;
    }
  });
  const body = `return (b, o) => {
    const r = b.n;
    b.n = r + 1;
    if ((r + 1) * ${nums} > b.num.length || (r + 1) * ${texts} > b.text.length || (${blob} && r >= b.lens.length)) b.grow();
    const N = b.num, T = b.text, LT = b.lastText, LC = b.lastCode, x = r * ${nums}, y = r * ${texts};
    let v;
    ${lines.join('\n    ')}
  };`;
  return new Function(body)() as (b: BatchBuilder<unknown>, rec: unknown) => void;
}

/**
 * A batch as the writer reads it: its rows in insertion order (`order`: by key when one is given), where each
 * row's blob starts, and the rows that hold values kept aside.
 */
export interface BatchView {
  readonly b: TableBatch;
  readonly order: Int32Array;
  readonly starts: Int32Array;
  readonly odd: ReadonlyMap<number, readonly unknown[]>;
}

/**
 * A view of `b` whose rows go in the order of the number columns `key` (e.g. a primary key: rows inserted in
 * key order fill the B-tree's pages in turn instead of splitting them); in added order when `key` is empty or a
 * key column holds NULL or a value kept aside.
 */
export function viewOf(cols: readonly Column[], b: TableBatch, key: readonly number[] = []): BatchView {
  const lay = layout(cols);
  const order = new Int32Array(b.n);
  for (let r = 0; r < b.n; r++) order[r] = r;
  const starts = new Int32Array(b.lens.length);
  for (let r = 0, at = 0; r < b.lens.length; r++) {
    starts[r] = at;
    if (b.lens[r]! > 0) at += b.lens[r]!;
  }
  const odd = new Map<number, unknown[]>();
  for (let j = 0; j < b.odd.length; j += 3) {
    const r = b.odd[j] as number;
    let l = odd.get(r);
    if (l === undefined) odd.set(r, (l = []));
    l.push(b.odd[j + 1], b.odd[j + 2]);
  }
  const ks = key.map((c) => lay.at[c]!);
  const sortable =
    ks.length > 0 &&
    key.every((c) => lay.cols[c]!.kind !== 'text' && lay.cols[c]!.kind !== 'blob') &&
    [...odd.values()].every((l) => !l.some((x, i) => i % 2 === 0 && key.includes(x as number))) &&
    ks.every((k) => {
      for (let r = 0; r < b.n; r++) if (Number.isNaN(b.num[r * lay.nums + k]!)) return false;
      return true;
    });
  if (sortable) {
    const N = b.num;
    const w = lay.nums;
    order.sort((x, y) => {
      for (const k of ks) {
        const d = N[x * w + k]! - N[y * w + k]!;
        if (d !== 0) return d;
      }
      return x - y;
    });
  }
  return { b, order, starts, odd };
}

/**
 * A reader of a batch's rows as bound parameters, compiled from the same columns: `read(view, from, to, out)`
 * writes the view's rows [from, to) into `out` row after row (its length set to the values written), leaving
 * out the `skip` columns.
 */
export type BatchReader = (view: BatchView, from: number, to: number, out: unknown[]) => void;

/** Readers by column list and skipped columns: compiled once per table and set, like the appenders. */
const readers = new WeakMap<readonly Column[], Map<string, BatchReader>>();

export function compileReader(cols: readonly Column[], skip?: readonly boolean[]): BatchReader {
  const key = (skip ?? []).map((x) => (x ? '1' : '0')).join('');
  let byKey = readers.get(cols);
  if (byKey === undefined) readers.set(cols, (byKey = new Map()));
  let f = byKey.get(key);
  if (f === undefined) byKey.set(key, (f = newReader(cols, skip)));
  return f;
}

function newReader(cols: readonly Column[], skip?: readonly boolean[]): BatchReader {
  const lay = layout(cols);
  // Skipped columns (written into the statement as literals) take no place in a row's parameters.
  const pos: number[] = [];
  let w = 0;
  for (let i = 0; i < cols.length; i++) pos.push(skip?.[i] ? -1 : w++);
  const lines = cols.map((c, i) => {
    const k = lay.at[i]!;
    const p = pos[i]!;
    if (p < 0) return '';
    switch (c.kind) {
      case 'int':
      case 'real':
      case 'bool':
        return `v = N[x + ${k}]; out[o + ${p}] = v === v ? v : null;`;
      case 'blob':
        return `n = L[r]; out[o + ${p}] = n < 0 ? null : B.subarray(S[r], S[r] + n);`;
      default:
        return `out[o + ${p}] = D[T[y + ${k}]];`;
    }
  });
  const body = `return (view, from, to, out) => {
    const b = view.b, O = view.order, S = view.starts, odd = view.odd;
    const N = b.num, T = b.text, D = b.dict, B = b.bytes, L = b.lens;
    let v, n;
    out.length = (to - from) * ${w};
    for (let j = from, o = 0; j < to; j++, o += ${w}) {
      const r = O[j], x = r * ${lay.nums}, y = r * ${lay.texts};
      ${lines.join('\n      ')}
      if (odd.size > 0) {
        const l = odd.get(r);
        if (l !== undefined) for (let i = 0; i < l.length; i += 2) out[o + pos[l[i]]] = l[i + 1];
      }
    }
  };`;
  return new Function('pos', body)(pos) as BatchReader;
}

/** SQL literals that bind exactly what a parameter would: NULL, safe integers, text without NUL or lone surrogates. */
function literal(v: unknown): string | undefined {
  if (v === null) return 'NULL';
  if (typeof v === 'number') return Number.isSafeInteger(v) && !Object.is(v, -0) ? String(v) : undefined;
  if (typeof v === 'string') return /[\0\ud800-\udfff]/.test(v) ? undefined : `'${v.replace(/'/g, "''")}'`;
  return undefined;
}

/**
 * The columns that hold one value in every row of a batch that an SQL literal says exactly (see `literal`):
 * per column, that literal, or undefined (a parameter). A statement with them as literals binds fewer
 * values per row and stores the same row.
 */
export function constantColumns(cols: readonly Column[], b: TableBatch): (string | undefined)[] {
  const lay = layout(cols);
  const { n, num, text, dict, odd } = b;
  const hasOdd = new Set<number>();
  for (let j = 1; j < odd.length; j += 3) hasOdd.add(odd[j] as number);
  return cols.map((c, i) => {
    if (n === 0 || hasOdd.has(i) || c.kind === 'blob') return undefined;
    const k = lay.at[i]!;
    if (c.kind === 'int' || c.kind === 'real' || c.kind === 'bool') {
      const x = num[k]!;
      for (let r = 1; r < n; r++) if (!Object.is(num[r * lay.nums + k], x)) return undefined;
      return literal(x === x ? x : null);
    }
    const x = text[k]!;
    for (let r = 1; r < n; r++) if (text[r * lay.texts + k] !== x) return undefined;
    return literal(dict[x]);
  });
}
