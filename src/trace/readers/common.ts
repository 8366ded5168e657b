/**
 * The machinery every trace reader shares: a streaming line splitter, a CSV field splitter (csv-parse
 * for lines that use quoting), number checks, and the driver that turns a format's row parser into a
 * stream of RequestSpec batches with time-order checks, line numbers and `--lenient` skipping.
 */
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import type { Options as CsvOptions, parse as csvParse } from 'csv-parse/sync';
import { TraceFormatError } from '../../errors.js';
import type { RequestSpec } from '../types.js';

/** Thrown by row parsers (cheap: no stack); the driver turns it into a TraceFormatError or a skip. */
export class RowError {
  constructor(
    readonly field: string | undefined,
    readonly message: string,
  ) {}
}

/** What a format's row parser fills in for one row. */
export interface RawRow {
  /** Arrival in the format's own unit (see FormatParser.secondsPerUnit); absolute or relative. */
  time: number;
  prompt: number;
  output: number;
  id: string | undefined;
  sessionId: string | undefined;
  hashIds: number[] | undefined;
}

export interface FormatParser {
  /** Units of RawRow.time per second (1e6 for epoch µs, 1e3 for ms, 1 for s). */
  readonly unitsPerSecond: number;
  /** Name of the time field, for out-of-order errors. */
  readonly timeField: string;
  /** Whether the format starts with a header line. */
  readonly hasHeader: boolean;
  /** Reads the header (first non-empty line); throws RowError for a missing column. */
  header(line: string): void;
  /** Parses one data row into `out`; throws RowError naming the field. */
  row(line: string, out: RawRow): void;
  /**
   * Optional fast path over the raw bytes of a line ([start, end), no newline): returns false to have the
   * line decoded and passed to `row` instead (e.g. when it uses quoting).
   */
  rowBytes?(buf: Uint8Array, start: number, end: number, out: RawRow): boolean;
}

/** A trace format: detection, parsing, and (in writers.ts) writing. */
export interface TraceReader {
  readonly name: string;
  readonly description: string;
  /** Does this first non-empty line look like this format? */
  sniff(firstLine: string): boolean;
  createParser(): FormatParser;
}

export interface ReadOptions {
  readonly lenient: boolean;
  /** Called for each row skipped under --lenient. */
  onSkip(line: number, field: string | undefined, message: string): void;
  /** Called with the size of each chunk read (for progress displays). */
  onBytes?(n: number): void;
}

const MAX_LINE = 16 * 1024 * 1024;

let csv: typeof csvParse | undefined;

/** csv-parse, loaded at the first line that needs it (plain traces never do: start-up does not pay for it). */
function parseCsvSync(text: string, options: CsvOptions): unknown {
  csv ??= (createRequire(import.meta.url)('csv-parse/sync') as { parse: typeof csvParse }).parse;
  return csv(text, options);
}

/** Splits one CSV line; lines with quotes go through csv-parse so quoted fields are handled by the book. */
export function splitCsv(line: string): string[] {
  if (line.indexOf('"') < 0) return line.split(',');
  try {
    const recs = parseCsvSync(line, { relax_column_count: true }) as string[][];
    return recs[0] ?? [];
  } catch (e) {
    throw new RowError(undefined, `malformed CSV: ${(e as Error).message}`);
  }
}

/** Header names → column index (trimmed, case-insensitive). */
export function headerIndex(line: string): Map<string, number> {
  const m = new Map<string, number>();
  splitCsv(line).forEach((f, i) => {
    m.set(f.trim().toLowerCase(), i);
  });
  return m;
}

/** Column index of `name`, or a RowError naming it. */
export function requireColumn(cols: Map<string, number>, name: string, expected: string): number {
  const i = cols.get(name.toLowerCase());
  if (i === undefined) throw new RowError(name, `missing column '${name}' in the header (expected ${expected})`);
  return i;
}

/** Column indexes of `names`, in their order, or a RowError naming the first one missing. */
export function requireColumns<const N extends readonly string[]>(cols: Map<string, number>, names: N, expected: string): { -readonly [K in keyof N]: number } {
  return names.map((name) => requireColumn(cols, name, expected)) as { -readonly [K in keyof N]: number };
}

/** A field's text, or a RowError when the row is too short. */
export function field(fields: string[], i: number, name: string): string {
  const v = fields[i];
  if (v === undefined) throw new RowError(name, `missing value (the row has ${fields.length} field${fields.length === 1 ? '' : 's'})`);
  return v;
}

/** parseCount over bytes [s, e): plain digits fast, anything else through the string version (for its errors). */
export function parseCountBytes(buf: Uint8Array, s: number, e: number, name: string): number {
  if (e > s && e - s < 16) {
    let v = 0;
    let i = s;
    for (; i < e; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === e) return v;
  }
  return parseCount(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8', s, e), name);
}

/** A non-negative integer count (`12`, `12.0` accepted); RowError otherwise. */
export function parseCount(s: string, name: string): number {
  // Fast path: plain digits.
  const n = s.length;
  if (n > 0 && n < 16) {
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === n) return v;
  }
  const t = s.trim();
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) throw new RowError(name, t === '' ? 'empty value' : `not a number: '${clip(t)}'`);
  if (v < 0) throw new RowError(name, `negative value: ${t}`);
  if (!Number.isInteger(v)) throw new RowError(name, `not a whole number of tokens: ${t}`);
  return v;
}

/** A non-negative finite number; RowError otherwise. */
export function parseNonNegative(s: string, name: string): number {
  const t = s.trim();
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) throw new RowError(name, t === '' ? 'empty value' : `not a number: '${clip(t)}'`);
  if (v < 0) throw new RowError(name, `negative value: ${t}`);
  return v;
}

function fmtGap(s: number): string {
  return s >= 1 ? `${+s.toFixed(3)} s` : `${+(s * 1000).toPrecision(4)} ms`;
}

export function clip(s: string, n = 40): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/**
 * Streams a trace file through a format parser. Arrivals are seconds since the first kept row; rows must
 * be in non-decreasing time order. Batches follow the file's read chunks. Errors name `display:line:field`.
 * Lines are found in the raw bytes; a parser with `rowBytes` reads plain rows without making strings
 * (the 20M-row traces spend most of their time in allocation otherwise).
 */
export async function* readTraceBatches(file: string, display: string, reader: TraceReader, opts: ReadOptions): AsyncGenerator<RequestSpec[], void, undefined> {
  const parser = reader.createParser();
  const unit = parser.unitsPerSecond;
  const rowBytes = parser.rowBytes?.bind(parser);
  let lineNo = 0;
  let sawHeader = !parser.hasHeader;
  let sawAnyLine = false;
  let dataIndex = 0;
  let kept = 0;
  let t0 = NaN;
  let prev = -Infinity;
  const raw: RawRow = { time: 0, prompt: 0, output: 0, id: undefined, sessionId: undefined, hashIds: undefined };
  let out: RequestSpec[] = [];

  const handle = (buf: Buffer, s: number, e: number): void => {
    lineNo++;
    if (lineNo === 1 && e - s >= 3 && buf[s] === 0xef && buf[s + 1] === 0xbb && buf[s + 2] === 0xbf) s += 3;
    if (e > s && buf[e - 1] === 13) e--;
    let blank = true;
    for (let i = s; i < e; i++) {
      if (buf[i]! > 32) {
        blank = false;
        break;
      }
    }
    if (blank) return;
    sawAnyLine = true;
    if (!sawHeader) {
      sawHeader = true;
      try {
        parser.header(buf.toString('utf8', s, e));
      } catch (err) {
        if (err instanceof RowError)
          throw new TraceFormatError(
            display,
            lineNo,
            err.field,
            err.message,
            `the ${reader.name} format needs it; if this is another format, name it with --format`,
          );
        throw err;
      }
      return;
    }
    const index = dataIndex++;
    raw.id = raw.sessionId = raw.hashIds = undefined;
    try {
      if (!rowBytes?.(buf, s, e, raw)) parser.row(buf.toString('utf8', s, e), raw);
      if (raw.time < prev) throw new RowError(parser.timeField, `out of time order: ${fmtGap((prev - raw.time) / unit)} before the previous row`);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      if (opts.lenient) {
        opts.onSkip(lineNo, err.field, err.message);
        return;
      }
      throw new TraceFormatError(display, lineNo, err.field, err.message, 'fix the row, or pass --lenient to skip bad rows (they are counted)');
    }
    prev = raw.time;
    if (kept++ === 0) t0 = raw.time;
    const spec: { -readonly [K in keyof RequestSpec]: RequestSpec[K] } = {
      id: raw.id ?? String(index),
      arrival: (raw.time - t0) / unit,
      promptTokens: raw.prompt,
      outputTokens: raw.output,
    };
    if (raw.sessionId !== undefined) spec.sessionId = raw.sessionId;
    if (raw.hashIds !== undefined) spec.hashIds = raw.hashIds;
    out.push(spec);
  };

  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  let rest: Buffer | undefined;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      opts.onBytes?.(chunk.length);
      let buf = chunk;
      let pos = 0;
      if (rest) {
        // Only the line that straddles the chunk boundary is copied.
        const nl = chunk.indexOf(10);
        if (nl < 0) {
          buf = Buffer.concat([rest, chunk]);
          rest = undefined;
        } else {
          const joined = Buffer.concat([rest, chunk.subarray(0, nl)]);
          rest = undefined;
          handle(joined, 0, joined.length);
          pos = nl + 1;
        }
      }
      for (;;) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0) break;
        handle(buf, pos, nl);
        pos = nl + 1;
      }
      rest = pos < buf.length ? buf.subarray(pos) : undefined;
      if (rest && rest.length > MAX_LINE) throw new TraceFormatError(display, lineNo + 1, undefined, `line longer than ${MAX_LINE} bytes`);
      if (out.length) {
        const b = out;
        out = [];
        yield b;
      }
    }
    if (rest) handle(rest, 0, rest.length);
    if (out.length) yield out;
  } finally {
    stream.destroy();
  }
  if (!sawAnyLine) throw new TraceFormatError(display, 1, undefined, 'empty file: no header and no requests');
  if (dataIndex === 0) throw new TraceFormatError(display, lineNo + 1, undefined, 'no requests (the file has a header but no rows)');
  if (kept === 0) throw new TraceFormatError(display, lineNo, undefined, `no usable requests: all ${dataIndex} rows were skipped`);
}
