/**
 * Options of `sim`, `sweep` and `provision`: one flag spec per command (src/flagspec.ts: help and checks),
 * validated once at the edge, every problem reported at once with its flag, resolved into frozen,
 * fully-defaulted values. The defaults are src/flags.ts's.
 */
import {
  CLUSTER_FLAGS,
  DISTRIBUTED_FLAGS,
  LOAD_FLAGS,
  type LoadBounds,
  MAX_SEARCH_MACHINES,
  PERF_MODEL_FLAG,
  RUN_FLAGS,
  type RunLabels,
  SEEDS_FLAG,
  SIM_DEFAULTS,
} from '../flags.js';
import { type FlagValues, flagGroup, keyValues, pickFlags, Problems, withFlags } from '../flagspec.js';
import { ConfigError } from '../errors.js';
import { storeTargetProblem } from '../store/target.js';
import { TRACE_FLAGS, TRACE_INPUT_FLAGS, type TraceSelection, traceOptions } from '../trace/options.js';
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

/** `--compat` as the engine's mode; an unknown one is a problem. */
export function compatMode(c: string | undefined, p: Problems): CompatMode {
  if (c === undefined || c === 'none') return undefined;
  if (c !== 'splitwise') p.add('--compat', `unknown mode '${c}'; known: splitwise (SplitwiseSim-compatible), none`);
  return c === 'splitwise' ? 'splitwise' : undefined;
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

/**
 * The checked flags of `sim` into frozen SimOptions: the rules between the flags are added to `p` (the CLI
 * passes the ones its flag check found) and thrown as one ConfigError.
 */
export function resolveSimOptions(f: SimFlags, p = new Problems()): SimOptions {
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
  if (compat && (f.perfModel !== undefined || p.flagged('--perf-model')))
    p.add('--perf-model', "not with --compat splitwise, which uses SplitwiseSim's own predictors");
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

/** `--db`: the store this command writes, checked once here (src/store/target.ts). */
export function checkStore(db: string, p: Problems): string {
  const why = storeTargetProblem(db);
  if (why) p.add('--db', why);
  return db;
}

/** The trace whose request sizes `sweep` and `provision` sample. */
export const SAMPLED_TRACE_FLAGS = withFlags(TRACE_INPUT_FLAGS, {
  trace: { describe: 'trace whose request sizes are sampled (file, or coding, conversation)' },
});

/** `--slo` and `--tolerance` of the max-throughput searches. */
export const SEARCH_FLAGS = {
  slo: { type: 'string', default: SIM_DEFAULTS.slo, defaultText: "splitwise: the paper's nine slowdown limits", describe: 'SLO file, path or bundled name' },
  tolerance: {
    type: 'number',
    positive: true,
    default: SIM_DEFAULTS.searchTolerance,
    describe: 'stop bisecting when the bracket is narrower than this fraction of the passing rate',
  },
} as const;

/** The flags of `sweep`. */
export const SWEEP_FLAGS = {
  ...SAMPLED_TRACE_FLAGS,
  ...withFlags(CLUSTER_FLAGS, {
    deployment: { default: SIM_DEFAULTS.deployment },
    compat: { describe: "'splitwise': SplitwiseSim-compatible semantics (simulated sweeps)" },
  }),
  ...flagGroup('Sweep:', {
    rates: { type: 'string', required: true, describe: 'offered rates, LO:HI:STEP or a comma list (req/s, Poisson arrivals)' },
    duration: { type: 'number', positive: true, default: SIM_DEFAULTS.sweepDurationS, describe: 'seconds of arrivals per rate' },
    ...SEARCH_FLAGS,
    live: { type: 'boolean', describe: 'run each rate as a replay against the reference backend instead of simulating it' },
    'time-scale': { type: 'number', positive: true, describe: 'with --live: the backend runs K times faster than real GPUs' },
  }),
  ...withFlags(pickFlags(RUN_FLAGS, 'db', 'tag'), { tag: { describe: 'KEY=VALUE label stored with every run (repeatable)' } }),
  ...withFlags(SEEDS_FLAG, { seeds: { describe: 'repeat the whole sweep once per seed: a count N (seeds --seed … --seed+N−1) or a comma list' } }),
  ...withFlags(pickFlags(RUN_FLAGS, 'json'), { json: { describe: 'print the result as JSON' } }),
  ...withFlags(DISTRIBUTED_FLAGS, {
    plan: {
      describe:
        'distributed sweep: the work as a manifest FILE (one configuration per --deployment, comma list allowed); results in FILE.results/, done ones skipped',
    },
  }),
  ...TRACE_FLAGS,
} as const;

export type SweepFlags = FlagValues<typeof SWEEP_FLAGS>;

/** The flags of `provision`. */
export const PROVISION_FLAGS = {
  ...SAMPLED_TRACE_FLAGS,
  ...flagGroup('Search:', {
    design: {
      type: 'string',
      required: true,
      describe: 'splitwise-hh, splitwise-ha, splitwise-aa, splitwise-hhcap, baseline-a100, baseline-h100',
    },
    objective: {
      type: 'string',
      required: true,
      describe: 'iso-power | iso-cost: most throughput for the budget; cost-opt | power-opt: least cost/power meeting the SLOs at --rate',
    },
    'budget-like': {
      type: 'string',
      default: SIM_DEFAULTS.budgetLike,
      describe: 'reference cluster that sets the budget and the ratios, DESIGN:COUNT or DESIGN:PROMPT,TOKEN',
    },
    rate: {
      type: 'number',
      positive: true,
      required: true,
      describe: 'req/s to meet (cost-opt, power-opt), or where the throughput search starts (iso-*)',
    },
    duration: { type: 'number', positive: true, default: SIM_DEFAULTS.provisionDurationS, describe: 'seconds of Poisson arrivals per simulation' },
    // The split grid has ~M²/2 candidates: 1000 keeps it under half a million.
    'max-machines': {
      type: 'number',
      integer: true,
      positive: true,
      max: MAX_SEARCH_MACHINES,
      default: SIM_DEFAULTS.maxMachines,
      describe: 'cost-opt/power-opt: at most this many machines in all',
    },
    ...withFlags(SEARCH_FLAGS, { tolerance: { describe: 'relative precision of each max-throughput bisection' } }),
  }),
  ...withFlags(pickFlags(CLUSTER_FLAGS, 'model', 'compat'), { model: { describe: 'model', defaultText: 'bloom-176b' } }),
  ...withFlags(pickFlags(RUN_FLAGS, 'db', 'json'), {
    db: { describe: 'results store for the simulated runs' },
    json: { describe: 'print the result as JSON' },
  }),
  ...withFlags(DISTRIBUTED_FLAGS, {
    plan: {
      describe:
        'distributed provisioning: every candidate (iso: the budget line; cost/power-opt: the grid within --max-machines) as units of a manifest FILE; results in FILE.results/, done ones skipped',
    },
    collect: { describe: "with --plan: merge the finished chunks' results into the answer, run nothing" },
  }),
  ...TRACE_FLAGS,
} as const;

export type ProvisionFlags = FlagValues<typeof PROVISION_FLAGS>;

/** `--trace`/`--mode` of `experiment`: one of the words, said as the experiment says it. */
const oneOf =
  <const W extends string>(words: readonly W[], what: string) =>
  (v: string): W => {
    if (!(words as readonly string[]).includes(v)) throw new Error(`expected ${what}, got '${v}'`);
    return v as W;
  };

/** The flags of `experiment`. */
export const EXPERIMENT_FLAGS = {
  trace: {
    type: 'string',
    default: 'conversation',
    describe: 'coding or conversation',
    parse: oneOf(['coding', 'conversation'], "coding or conversation (the paper's traces)"),
  },
  out: { type: 'string', defaultText: 'results/splitwise-<trace>', describe: 'output folder: table (Markdown, CSV, JSON), charts, the runs store' },
  mode: {
    type: 'string',
    default: 'both',
    describe: 'compat (SplitwiseSim semantics), realistic, or both',
    parse: oneOf(['compat', 'realistic', 'both'], 'compat, realistic or both'),
  },
  quick: { type: 'boolean', describe: 'clusters scaled down 5x, 30 s traces, coarse bisection (smoke runs and tests)' },
  duration: { type: 'number', positive: true, defaultText: "120, --quick 30; the paper's traces: 600", describe: 'seconds of Poisson arrivals per rate' },
  seed: { type: 'number', integer: true, min: 0, default: SIM_DEFAULTS.seed, describe: 'seed for the Poisson traces' },
  seeds: {
    type: 'string',
    describe: 'repeat every search once per seed: a count N (seeds --seed … --seed+N−1) or a comma list; the table and figures show the mean and min–max',
  },
  json: { type: 'boolean', describe: 'print the result as JSON' },
} as const;

export type ExperimentFlags = FlagValues<typeof EXPERIMENT_FLAGS>;

/**
 * `--seeds N` (N runs: seeds base, base+1, …, base+N−1, base = --seed or 0) or `--seeds 3,7,11` (those
 * seeds): the same configuration repeated, one run per seed, so reports can draw error bars. Undefined
 * when not given.
 */
export function parseSeeds(text: string | undefined, base: number): number[] | undefined {
  if (text === undefined) return undefined;
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
