/**
 * Options of `sim`, `sweep` and `provision`: validated once at the edge (flags), every problem reported at
 * once with its flag, resolved into frozen, fully-defaulted values. Defaults live here and nowhere else.
 */
import { ConfigError } from '../errors.js';
import { DEFAULT_DB } from '../paths.js';
import { storeTargetProblem } from '../store/target.js';
import { parseArrivalKind, parseTraceOpenOptions, parseTraceTransforms, type TraceTransforms } from '../trace/index.js';
import type { CompatMode } from './cluster.js';

export const SIM_DEFAULTS = Object.freeze({
  deployment: 'splitwise-hh',
  arrivals: 'poisson',
  seed: 0,
  sampleIntervalS: 1,
  sweepDurationS: 600,
  provisionDurationS: 120,
});

export type SimShape = { readonly kind: 'trace' } | { readonly kind: 'rate'; readonly rate: number; readonly arrivals: string };

export interface SimOptions {
  readonly trace: string;
  readonly traceFormat?: string | undefined;
  readonly lenient: boolean;
  readonly transforms: TraceTransforms;
  readonly shape: SimShape;
  readonly durationS?: number | undefined;
  readonly maxRequests?: number | undefined;
  /** `--sessions`: the trace's rows are turns of multi-turn sessions, closed loop within each (docs/traces.md "Sessions"). */
  readonly sessions?: boolean | undefined;
  readonly deployment: string;
  readonly model?: string | undefined;
  /** auto | profile | roofline (`--perf-model`); undefined: the deployment's perfModel. */
  readonly perfModel?: string | undefined;
  readonly compat: CompatMode;
  readonly seed: number;
  readonly db: string;
  readonly name?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly traceEvents?: string | undefined;
  readonly sampleIntervalS: number;
  readonly warmupS: number;
  readonly json: boolean;
}

type Argv = Record<string, unknown>;

/** Collects problems; each reader returns a typed value or undefined. */
export class Problems {
  readonly list: string[] = [];
  add(flag: string, msg: string): void {
    this.list.push(`${flag}: ${msg}`);
  }
  push(msg: string): void {
    this.list.push(msg);
  }
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
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
    const out: Record<string, string> = {};
    for (const t of list) {
      const i = t.indexOf('=');
      if (i <= 0) this.add('--tag', `expected KEY=VALUE, got '${t}'`);
      else out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
    }
    return out;
  }
  compat(argv: Argv): CompatMode {
    const c = this.str(argv, 'compat', '--compat');
    if (c === undefined || c === 'none') return undefined;
    if (c !== 'splitwise') this.add('--compat', `unknown mode '${c}'; known: splitwise (SplitwiseSim-compatible), none`);
    return c === 'splitwise' ? 'splitwise' : undefined;
  }
  throwIfAny(command: string): void {
    if (this.list.length === 0) return;
    throw new ConfigError(this.list.length === 1 ? this.list[0]! : `${this.list.length} problems: ${this.list.join('; ')}`, {
      hint: `run \`splitbench ${command} --help\` for the flags`,
    });
  }
}

/** Trace flags shared by every command here (transforms, --format, --lenient). */
export function traceFlags(argv: Argv, p: Problems): { transforms: TraceTransforms; format?: string | undefined; lenient: boolean } {
  let transforms: TraceTransforms = {};
  let open: { format?: string; lenient: boolean } = { lenient: false };
  try {
    transforms = parseTraceTransforms(argv);
  } catch (e) {
    p.push((e as Error).message);
  }
  try {
    open = parseTraceOpenOptions(argv);
  } catch (e) {
    p.push((e as Error).message);
  }
  return { transforms, format: open.format, lenient: open.lenient };
}

export function resolveSimOptions(argv: Argv): SimOptions {
  const p = new Problems();
  const trace = p.str(argv, 'trace', '--trace');
  if (trace === undefined && argv['trace'] === undefined) p.add('--trace', 'required: the trace file (or a bundled name: coding, conversation)');
  const t = traceFlags(argv, p);
  const rate = p.num(argv, 'rate', '--rate', { gt: 0 });
  const arrivals = p.str(argv, 'arrivals', '--arrivals');
  const durationS = p.num(argv, 'duration', '--duration', { gt: 0 });
  const maxRequests = p.num(argv, 'maxRequests', '--max-requests', { int: true, min: 1 });
  const warmupS = p.num(argv, 'warmup', '--warmup', { min: 0 }) ?? 0;
  const interval = p.num(argv, 'sampleInterval', '--sample-interval', { min: 0 });
  let shape: SimShape = { kind: 'trace' };
  if (rate !== undefined) {
    const a = arrivals ?? SIM_DEFAULTS.arrivals;
    try {
      parseArrivalKind(a, '--arrivals');
    } catch (e) {
      p.push((e as Error).message);
    }
    shape = { kind: 'rate', rate, arrivals: a };
    if (durationS === undefined && maxRequests === undefined) p.add('--rate', 'needs --duration S or --max-requests N (a rate run has no natural end)');
  } else if (arrivals !== undefined) p.add('--arrivals', 'only applies with --rate');
  if (durationS !== undefined && warmupS >= durationS) p.add('--warmup', `${warmupS} s leaves nothing of --duration ${durationS} s to measure`);
  const compat = p.compat(argv);
  const sessions = p.bool(argv, 'sessions');
  if (sessions && rate !== undefined)
    p.add('--sessions', "not with --rate: sessions start on the trace's schedule (make a session trace with `trace synth --sessions`)");
  if (sessions && compat) p.add('--sessions', 'not with --compat splitwise (SplitwiseSim has no closed-loop arrivals)');
  if (compat && argv['perfModel'] !== undefined) p.add('--perf-model', "not with --compat splitwise, which uses SplitwiseSim's own predictors");
  const tags = p.tags(argv);
  const traceEvents = p.str(argv, 'traceEvents', '--trace-events');
  const opts: SimOptions = Object.freeze({
    trace: trace ?? '',
    traceFormat: t.format,
    lenient: t.lenient,
    transforms: t.transforms,
    shape,
    durationS,
    maxRequests,
    ...(sessions ? { sessions } : {}),
    deployment: p.str(argv, 'deployment', '--deployment') ?? SIM_DEFAULTS.deployment,
    model: p.str(argv, 'model', '--model'),
    perfModel: p.str(argv, 'perfModel', '--perf-model'),
    compat,
    seed: t.transforms.seed ?? SIM_DEFAULTS.seed,
    db: p.db(argv),
    name: p.str(argv, 'name', '--name'),
    tags: Object.freeze(tags),
    traceEvents,
    sampleIntervalS: interval ?? SIM_DEFAULTS.sampleIntervalS,
    warmupS,
    json: p.bool(argv, 'json'),
  });
  p.throwIfAny('sim');
  return opts;
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
