/** The trace flags every trace-consuming command shares: one spec (help and checks), and the readers of it. */
import type { Argv } from 'yargs';
import { ConfigError } from '../errors.js';
import { SEED_DEFAULT } from '../flags.js';
import { addFlags, type FlagValues, flagGroup } from '../flagspec.js';
import { getTraceReader, TRACE_FORMATS } from './readers/index.js';
import type { TraceTransforms } from './transforms.js';

/** A trace format name (any reader's name or alias), as the reader's own name. */
export const TRACE_FORMAT_FLAG = {
  type: 'string',
  describe: `trace format: ${TRACE_FORMATS.join(', ')}`,
  parse: (name: string): string => getTraceReader(name).name,
} as const;

/** The trace file every trace-consuming command reads. */
export const TRACE_INPUT_FLAGS = flagGroup('Trace:', {
  trace: {
    type: 'string',
    describe: 'trace file, or a bundled trace name (coding, conversation)',
    required: 'required: the trace file (or a bundled name: coding, conversation)',
  },
});

/** --window, --speedup, --limit, --sample, --seed, --scale-sizes, --max-prompt, --max-output, --format and --lenient. */
export const TRACE_FLAGS = flagGroup('Trace:', {
  window: {
    type: 'string',
    describe: 'keep requests with START <= arrival < END seconds (END may be empty: to the end), re-based to START',
    parse: (s: string): readonly [number, number] => parseWindow(s),
  },
  speedup: { type: 'number', positive: true, describe: 'divide arrival times by K (K > 1 replays the trace faster)' },
  limit: { type: 'number', integer: true, min: 1, describe: 'keep only the first N requests (after window and sample)' },
  sample: {
    type: 'number',
    describe: 'keep each request with probability FRACTION (0 < FRACTION <= 1), seeded by --seed',
    parse: (v: number): number => {
      if (!(v > 0 && v <= 1)) throw new Error(`must be a fraction in (0, 1], got ${v}`);
      return v;
    },
  },
  seed: { type: 'number', integer: true, min: 0, defaultText: String(SEED_DEFAULT), describe: 'seed for --sample and other random choices' },
  'scale-sizes': {
    type: 'number',
    positive: true,
    describe: 'multiply prompt and output token counts by F (rounded, at least 1), e.g. to fit a small model',
  },
  'max-prompt': { type: 'number', integer: true, min: 1, describe: 'cap prompt token counts at N (after --scale-sizes)' },
  'max-output': { type: 'number', integer: true, min: 1, describe: 'cap output token counts at N (after --scale-sizes)' },
  format: { ...TRACE_FORMAT_FLAG, defaultText: 'detected from the first line' },
  lenient: { type: 'boolean', describe: 'skip bad trace rows (counted and reported) instead of failing on the first' },
});

export type TraceFlagValues = FlagValues<typeof TRACE_FLAGS>;

/** Adds the TRACE_FLAGS to a yargs builder. */
export function addTraceTransformOptions<T>(y: Argv<T>): Argv<T> {
  return addFlags(y, TRACE_FLAGS);
}

/** The trace a run reads and how: what every trace-consuming command's options hold. */
export interface TraceSelection {
  readonly trace: string;
  readonly traceFormat?: string | undefined;
  readonly lenient: boolean;
  readonly transforms: TraceTransforms;
}

/** The trace's open options and transforms, from the checked trace flags. */
export interface TraceFlagOptions {
  readonly transforms: TraceTransforms;
  readonly format?: string | undefined;
  readonly lenient: boolean;
}

/** The checked trace flags as the reader's open options and the transforms. */
export function traceOptions(v: TraceFlagValues): TraceFlagOptions {
  const out: { -readonly [K in keyof TraceTransforms]: TraceTransforms[K] } = {};
  if (v.window !== undefined) out.window = [v.window[0], v.window[1]];
  if (v.speedup !== undefined) out.speedup = v.speedup;
  if (v.limit !== undefined) out.limit = v.limit;
  if (v.sample !== undefined) out.sample = v.sample;
  if (v.seed !== undefined) out.seed = v.seed;
  if (v.scaleSizes !== undefined) out.scaleSizes = v.scaleSizes;
  if (v.maxPrompt !== undefined) out.maxPrompt = v.maxPrompt;
  if (v.maxOutput !== undefined) out.maxOutput = v.maxOutput;
  return { transforms: out, format: v.format, lenient: v.lenient === true };
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
