/**
 * Options of `sim`, `sweep` and `provision`: one flag spec per command (src/flagspec.ts: help and checks),
 * validated once at the edge, every problem reported at once with its flag, resolved into frozen,
 * fully-defaulted values. The defaults are src/flags.ts's.
 */
import { CLUSTER_FLAGS, LOAD_FLAGS, type LoadBounds, PERF_MODEL_FLAG, RUN_FLAGS, type RunLabels, SEEDS_FLAG, SIM_DEFAULTS } from '../flags.js';
import { type FlagValues, flagGroup, keyValues, parseFlags, Problems as FlagProblems, withFlags } from '../flagspec.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_DB } from '../paths.js';
import { storeTargetProblem } from '../store/target.js';
import { readTraceFlags, TRACE_FLAGS, TRACE_INPUT_FLAGS, type TraceFlagOptions, type TraceSelection, traceOptions } from '../trace/options.js';
import type { CompatMode } from './cluster.js';

export { SIM_DEFAULTS };

export type SimShape = { readonly kind: 'trace' } | { readonly kind: 'rate'; readonly rate: number; readonly arrivals: string };

export interface SimOptions extends TraceSelection, LoadBounds, RunLabels {
  readonly shape: SimShape;
  readonly deployment: string;
  readonly model?: string | undefined;
  /** auto | profile | roofline (`--perf-model`); undefined: the deployment's perfModel. */
  readonly perfModel?: string | undefined;
  readonly compat: CompatMode;
  readonly traceEvents?: string | undefined;
  readonly sampleIntervalS: number;
}

type Argv = Readonly<Record<string, unknown>>;

/**
 * The problems of one command's flags (src/flagspec.ts), with readers of single flags for the option
 * modules that check a flag record flag by flag (sweep, provision, experiment).
 */
export class Problems extends FlagProblems {
  /** One scalar flag (yargs gives a repeated flag as an array). */
  private one(argv: Argv, key: string, flag: string): unknown {
    const v = argv[key];
    if (Array.isArray(v)) {
      this.add(flag, `given ${v.length} times; give it once`);
      return v[v.length - 1];
    }
    return v;
  }
  /** `--db`: the store this command writes (default DEFAULT_DB), checked once here (src/store/target.ts). */
  db(argv: Argv): string {
    const v = this.one(argv, 'db', '--db');
    const file = v === undefined || v === null ? DEFAULT_DB : String(v);
    const why = storeTargetProblem(file);
    if (why) this.add('--db', why);
    return file;
  }
  str(argv: Argv, key: string, flag: string): string | undefined {
    const v = this.one(argv, key, flag);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.trim() === '') {
      this.add(flag, 'expected a non-empty value');
      return undefined;
    }
    return v;
  }
  num(argv: Argv, key: string, flag: string, check: { min?: number; gt?: number; max?: number; int?: boolean } = {}): number | undefined {
    const v = this.one(argv, key, flag);
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n)) {
      this.add(flag, `expected a number, got '${String(v)}'`);
      return undefined;
    }
    if (check.int && !Number.isInteger(n)) return void this.add(flag, `must be an integer, got ${n}`);
    if (check.gt !== undefined && !(n > check.gt)) return void this.add(flag, `must be > ${check.gt}, got ${n}`);
    if (check.min !== undefined && !(n >= check.min)) return void this.add(flag, `must be >= ${check.min}, got ${n}`);
    if (check.max !== undefined && !(n <= check.max)) return void this.add(flag, `must be <= ${check.max}, got ${n}`);
    return n;
  }
  bool(argv: Argv, key: string): boolean {
    return argv[key] === true;
  }
  tags(argv: Argv): Record<string, string> {
    const raw = argv['tag'];
    return { ...keyValues(raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)], '--tag', this) };
  }
  compat(argv: Argv): CompatMode {
    return compatMode(this.str(argv, 'compat', '--compat'), this);
  }
}

/** `--compat` as the engine's mode; an unknown one is a problem. */
function compatMode(c: string | undefined, p: FlagProblems): CompatMode {
  if (c === undefined || c === 'none') return undefined;
  if (c !== 'splitwise') p.add('--compat', `unknown mode '${c}'; known: splitwise (SplitwiseSim-compatible), none`);
  return c === 'splitwise' ? 'splitwise' : undefined;
}

/** Trace flags shared by every command here (transforms, --format, --lenient). */
export function traceFlags(argv: Argv, p: FlagProblems): TraceFlagOptions {
  return readTraceFlags(argv, p);
}

/** The flags of `sim`. */
export const SIM_FLAGS = {
  ...TRACE_INPUT_FLAGS,
  ...CLUSTER_FLAGS,
  ...flagGroup('Cluster:', PERF_MODEL_FLAG),
  ...LOAD_FLAGS,
  ...withFlags(RUN_FLAGS, { name: { defaultText: 'sim-<n>' } }),
  ...flagGroup('Run:', {
    'sample-interval': {
      type: 'number',
      min: 0,
      default: SIM_DEFAULTS.sampleIntervalS,
      describe: 'virtual seconds between power and queue samples (0: none)',
    },
    'trace-events': { type: 'string', describe: 'write the batch/prompt/KV timeline as Chrome trace JSON (Perfetto) to FILE' },
  }),
  ...withFlags(SEEDS_FLAG, {
    seeds: { describe: 'repeat the run once per seed: a count N (seeds --seed … --seed+N−1) or a comma list; runs are named NAME-sSEED' },
  }),
  ...TRACE_FLAGS,
} as const;

export type SimFlags = FlagValues<typeof SIM_FLAGS>;

export function resolveSimOptions(argv: Argv): SimOptions {
  const p = new FlagProblems();
  const f = parseFlags(SIM_FLAGS, argv, p);
  const t = traceOptions(f);
  let shape: SimShape = { kind: 'trace' };
  if (f.rate !== undefined) {
    const a = f.arrivals ?? SIM_DEFAULTS.arrivals;
    shape = { kind: 'rate', rate: f.rate, arrivals: a };
    if (f.duration === undefined && f.maxRequests === undefined) p.add('--rate', 'needs --duration S or --max-requests N (a rate run has no natural end)');
  } else if (f.arrivals !== undefined) p.add('--arrivals', 'only applies with --rate');
  if (f.duration !== undefined && f.warmup >= f.duration) p.add('--warmup', `${f.warmup} s leaves nothing of --duration ${f.duration} s to measure`);
  const compat = compatMode(f.compat, p);
  const sessions = f.sessions === true;
  if (sessions && f.rate !== undefined)
    p.add('--sessions', "not with --rate: sessions start on the trace's schedule (make a session trace with `trace synth --sessions`)");
  if (sessions && compat) p.add('--sessions', 'not with --compat splitwise (SplitwiseSim has no closed-loop arrivals)');
  if (compat && argv['perfModel'] !== undefined) p.add('--perf-model', "not with --compat splitwise, which uses SplitwiseSim's own predictors");
  const tags = keyValues(f.tag, '--tag', p);
  const why = storeTargetProblem(f.db);
  if (why) p.add('--db', why);
  p.throwIfAny('sim');
  return Object.freeze({
    trace: f.trace,
    traceFormat: t.format,
    lenient: t.lenient,
    transforms: t.transforms,
    shape,
    durationS: f.duration,
    maxRequests: f.maxRequests,
    ...(sessions ? { sessions } : {}),
    deployment: f.deployment ?? SIM_DEFAULTS.deployment,
    model: f.model,
    perfModel: f.perfModel,
    compat,
    seed: t.transforms.seed ?? SIM_DEFAULTS.seed,
    db: f.db,
    name: f.name,
    tags,
    traceEvents: f.traceEvents,
    sampleIntervalS: f.sampleInterval,
    warmupS: f.warmup,
    json: f.json === true,
  });
}

/**
 * `--seeds N` (N runs: seeds base, base+1, …, base+N−1, base = --seed or 0) or `--seeds 3,7,11` (those
 * seeds): the same configuration repeated, one run per seed, so reports can draw error bars. Undefined
 * when not given.
 */
export function parseSeeds(argv: Argv, base: number): number[] | undefined {
  const raw = argv['seeds'];
  if (raw === undefined || raw === null) return undefined;
  const text = Array.isArray(raw) ? raw.map(String).join(',') : String(raw);
  const parts = text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  const bad = (msg: string): never => {
    throw new ConfigError(msg, { path: '--seeds', hint: 'e.g. --seeds 3 (seeds 0, 1, 2 or from --seed) or --seeds 1,2,5' });
  };
  if (parts.length === 0) bad('expected a count or a comma list of seeds');
  const nums = parts.map((x) => (/^\d+$/.test(x) ? Number(x) : bad(`'${x}' is not a non-negative integer`)));
  if (nums.some((n) => !Number.isSafeInteger(n))) bad('seeds must be safe integers');
  if (parts.length === 1 && !text.includes(',')) {
    const n = nums[0]!;
    if (n < 1 || n > 1000) bad(`a count of runs between 1 and 1000, got ${n}`);
    return Array.from({ length: n }, (_, i) => base + i);
  }
  if (new Set(nums).size !== nums.length) bad(`seed listed twice in '${text}'`);
  return nums;
}
