/** Opening a trace: name resolution (`coding`, `conversation`), format detection, and the re-iterable TraceSource. */
import { closeSync, existsSync, openSync, readSync, type Stats, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, TraceFormatError } from '../errors.js';
import { WORKLOADS_DIR } from '../paths.js';
import { detectTraceReader, getTraceReader, readTraceBatches, TRACE_FORMATS, type TraceReader } from './readers/index.js';
import type { RequestSpec } from './types.js';

/** Traces bundled under workloads/, usable by bare name wherever a trace path is accepted. */
export const BUNDLED_TRACES: Readonly<Record<string, string>> = Object.freeze({
  coding: 'coding.csv',
  conversation: 'conversation.csv',
});

/**
 * `coding` / `conversation` (or `coding.csv`, `conversation.csv`) → the bundled file, unless a file of that
 * name exists in the working directory; anything else is returned unchanged.
 */
export function resolveTracePath(nameOrPath: string): string {
  const base = nameOrPath.replace(/\.csv$/, '');
  const bundled = BUNDLED_TRACES[base];
  if (bundled && !nameOrPath.includes('/') && !nameOrPath.includes(path.sep) && !existsSync(nameOrPath)) return path.join(WORKLOADS_DIR, bundled);
  return nameOrPath;
}

export interface SkippedRow {
  readonly line: number;
  readonly field: string | undefined;
  readonly message: string;
}

/** A trace file as a stream of RequestSpec. Re-iterable: each iteration re-reads the file. */
export interface TraceSource extends AsyncIterable<RequestSpec> {
  /** The resolved file path. */
  readonly path: string;
  /** The format name (a key of traceReaders). */
  readonly format: string;
  [Symbol.asyncIterator](): AsyncIterator<RequestSpec>;
  /** The same stream in batches (one per read chunk): cheaper for consumers that touch every row. */
  batches(): AsyncIterable<readonly RequestSpec[]>;
  /** Rows skipped under `lenient` by the latest (or current) iteration. */
  skipped(): number;
  /** The first few skipped rows of the latest iteration (line, field, why). */
  skippedExamples(): readonly SkippedRow[];
  /** File size, and bytes read so far by the latest iteration (for progress displays). */
  readonly sizeBytes: number;
  bytesRead(): number;
}

export interface OpenTraceOptions {
  /** A traceReaders name; default: detected from the first line. */
  readonly format?: string | undefined;
  /** Skip (and count) bad rows instead of failing on the first. */
  readonly lenient?: boolean | undefined;
}

/** The first non-empty line of a file (reads at most 64 KiB), or undefined for an empty/blank file. */
function firstLine(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    let text = buf.subarray(0, n).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    for (const l of text.split('\n')) if (l.trim() !== '') return l.trim();
    return undefined;
  } finally {
    closeSync(fd);
  }
}

class FlatIterator implements AsyncIterator<RequestSpec> {
  private batch: readonly RequestSpec[] = [];
  private i = 0;
  constructor(private readonly gen: AsyncGenerator<readonly RequestSpec[], void, undefined>) {}
  next(): Promise<IteratorResult<RequestSpec>> {
    if (this.i < this.batch.length) return Promise.resolve({ value: this.batch[this.i++]!, done: false });
    return this.fill();
  }
  private async fill(): Promise<IteratorResult<RequestSpec>> {
    for (;;) {
      const r = await this.gen.next();
      if (r.done) return { value: undefined, done: true };
      this.batch = r.value;
      this.i = 0;
      if (this.batch.length) return { value: this.batch[this.i++]!, done: false };
    }
  }
  async return(): Promise<IteratorResult<RequestSpec>> {
    this.batch = [];
    await this.gen.return();
    return { value: undefined, done: true };
  }
}

/**
 * Opens a trace file (or a bundled trace by name). Checks that the file exists and picks the reader now
 * (throwing ConfigError / TraceFormatError); rows are read, and checked, as the stream is iterated.
 */
export function openTrace(nameOrPath: string, opts: OpenTraceOptions = {}): TraceSource {
  const file = resolveTracePath(nameOrPath);
  let st: Stats;
  try {
    st = statSync(file);
  } catch {
    throw new ConfigError(`trace file not found: ${file}`, { hint: `bundled traces: ${Object.keys(BUNDLED_TRACES).join(', ')}` });
  }
  if (!st.isFile()) throw new ConfigError(`not a file: ${file}`);
  let reader: TraceReader;
  if (opts.format !== undefined && opts.format !== '') {
    reader = getTraceReader(opts.format);
  } else {
    const line = firstLine(file);
    if (line === undefined) throw new TraceFormatError(file, 1, undefined, 'empty file: no header and no requests');
    const r = detectTraceReader(line);
    if (!r) {
      throw new TraceFormatError(
        file,
        1,
        undefined,
        `unrecognised trace format (first line: '${line.length > 60 ? `${line.slice(0, 60)}…` : line}')`,
        `name it with --format ${TRACE_FORMATS.join('|')}`,
      );
    }
    reader = r;
  }
  const lenient = opts.lenient ?? false;
  let skipped = 0;
  let bytes = 0;
  let examples: SkippedRow[] = [];
  const run = (): AsyncGenerator<readonly RequestSpec[], void, undefined> => {
    skipped = 0;
    bytes = 0;
    examples = [];
    return readTraceBatches(file, file, reader, {
      lenient,
      onSkip(line, field, message) {
        skipped++;
        if (examples.length < 5) examples.push({ line, field, message });
      },
      onBytes(n) {
        bytes += n;
      },
    });
  };
  return {
    path: file,
    format: reader.name,
    [Symbol.asyncIterator]: () => new FlatIterator(run()),
    batches: () => ({ [Symbol.asyncIterator]: () => run() }),
    skipped: () => skipped,
    skippedExamples: () => examples,
    sizeBytes: st.size,
    bytesRead: () => bytes,
  };
}
