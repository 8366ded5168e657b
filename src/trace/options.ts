/** The trace flags every trace-consuming command shares, and their validation. */
import type { Argv } from 'yargs';
import { ConfigError } from '../errors.js';
import { getTraceReader, TRACE_FORMATS } from './readers/index.js';
import type { TraceTransforms } from './transforms.js';

export interface TraceFlagArgs {
  window?: string;
  speedup?: number;
  limit?: number;
  sample?: number;
  seed?: number;
  format?: string;
  lenient?: boolean;
  'scale-sizes'?: number;
  'max-prompt'?: number;
  'max-output'?: number;
}

/** Adds --window, --speedup, --limit, --sample, --seed, --scale-sizes, --max-prompt, --max-output, --format and --lenient. */
export function addTraceTransformOptions<T>(y: Argv<T>): Argv<T & TraceFlagArgs> {
  return y
    .option('window', {
      type: 'string',
      describe: 'keep requests with START <= arrival < END seconds (END may be empty: to the end), re-based to START',
      group: 'Trace:',
    })
    .option('speedup', { type: 'number', describe: 'divide arrival times by K (K > 1 replays the trace faster)', group: 'Trace:' })
    .option('limit', { type: 'number', describe: 'keep only the first N requests (after window and sample)', group: 'Trace:' })
    .option('sample', { type: 'number', describe: 'keep each request with probability FRACTION (0 < FRACTION <= 1), seeded by --seed', group: 'Trace:' })
    .option('seed', { type: 'number', describe: 'seed for --sample and other random choices (default 0)', group: 'Trace:' })
    .option('scale-sizes', {
      type: 'number',
      describe: 'multiply prompt and output token counts by F (rounded, at least 1), e.g. to fit a small model',
      group: 'Trace:',
    })
    .option('max-prompt', { type: 'number', describe: 'cap prompt token counts at N (after --scale-sizes)', group: 'Trace:' })
    .option('max-output', { type: 'number', describe: 'cap output token counts at N (after --scale-sizes)', group: 'Trace:' })
    .option('format', { type: 'string', describe: `trace format (default: detected from the first line): ${TRACE_FORMATS.join(', ')}`, group: 'Trace:' })
    .option('lenient', {
      type: 'boolean',
      describe: 'skip bad trace rows (counted and reported) instead of failing on the first',
      group: 'Trace:',
    }) as unknown as Argv<T & TraceFlagArgs>;
}

function num(v: unknown, flag: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) throw new ConfigError('given more than once', { path: flag });
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new ConfigError(`expected a number, got '${String(v)}'`, { path: flag });
  return n;
}

/** Parses `START:END` (seconds; END may be empty for "to the end"). */
export function parseWindow(s: string, flag = '--window'): [number, number] {
  const m = /^\s*([^:]*):([^:]*)\s*$/.exec(s);
  if (!m) throw new ConfigError(`expected START:END in seconds (e.g. 0:600), got '${s}'`, { path: flag });
  const a = m[1]!.trim() === '' ? 0 : Number(m[1]);
  const b = m[2]!.trim() === '' ? Infinity : Number(m[2]);
  if (!Number.isFinite(a) || Number.isNaN(b)) throw new ConfigError(`expected START:END in seconds (e.g. 0:600), got '${s}'`, { path: flag });
  if (a < 0) throw new ConfigError(`START must be >= 0 (seconds from the trace's start), got ${a} in '${s}'`, { path: flag });
  if (!(b > a)) throw new ConfigError(`END must be greater than START, got '${s}'`, { path: flag });
  return [a, b];
}

/** Validates the transform flags (a ConfigError naming the flag) into a TraceTransforms value. */
export function parseTraceTransforms(argv: Record<string, unknown>): TraceTransforms {
  const out: { -readonly [K in keyof TraceTransforms]: TraceTransforms[K] } = {};
  if (argv.window !== undefined && argv.window !== null) {
    if (typeof argv.window !== 'string') throw new ConfigError('expected START:END', { path: '--window' });
    out.window = parseWindow(argv.window);
  }
  const speedup = num(argv.speedup, '--speedup');
  if (speedup !== undefined) {
    if (!(speedup > 0)) throw new ConfigError(`must be > 0, got ${speedup}`, { path: '--speedup' });
    out.speedup = speedup;
  }
  const limit = num(argv.limit, '--limit');
  if (limit !== undefined) {
    if (!Number.isInteger(limit) || limit < 1) throw new ConfigError(`must be a positive integer, got ${limit}`, { path: '--limit' });
    out.limit = limit;
  }
  const sample = num(argv.sample, '--sample');
  if (sample !== undefined) {
    if (!(sample > 0 && sample <= 1)) throw new ConfigError(`must be a fraction in (0, 1], got ${sample}`, { path: '--sample' });
    out.sample = sample;
  }
  const seed = num(argv.seed, '--seed');
  if (seed !== undefined) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`must be a non-negative integer, got ${seed}`, { path: '--seed' });
    out.seed = seed;
  }
  const scaleSizes = num(argv['scale-sizes'], '--scale-sizes');
  if (scaleSizes !== undefined) {
    if (!(scaleSizes > 0)) throw new ConfigError(`must be > 0, got ${scaleSizes}`, { path: '--scale-sizes' });
    out.scaleSizes = scaleSizes;
  }
  for (const [flag, key] of [
    ['--max-prompt', 'maxPrompt'],
    ['--max-output', 'maxOutput'],
  ] as const) {
    const v = num(argv[flag.slice(2)], flag);
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`must be a positive integer, got ${v}`, { path: flag });
    out[key] = v;
  }
  return out;
}

/** Validates --format and --lenient into openTrace options. */
export function parseTraceOpenOptions(argv: Record<string, unknown>): { format?: string; lenient: boolean } {
  const lenient = argv.lenient === true;
  if (argv.format === undefined || argv.format === null) return { lenient };
  if (typeof argv.format !== 'string') throw new ConfigError('expected a format name', { path: '--format' });
  return { format: getTraceReader(argv.format).name, lenient };
}
