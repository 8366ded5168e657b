/**
 * The flag groups several commands share (cluster, load shape, run/store, distributed plans, stored-run
 * readers), in the one spec format of src/flagspec.ts, and the defaults of every run option: they live here
 * and nowhere else (the help texts show them from here). The trace flags are src/trace/options.ts's.
 * Kept light (no heavy imports): the CLI loads it to build `--help`.
 */
import { flagGroup } from './flagspec.js';
import { DEFAULT_DB } from './paths.js';
import { storeTargetProblem } from './store/target.js';
import { parseArrivalKind } from './trace/random.js';

/** The seed of every random choice when `--seed` is not given. */
export const SEED_DEFAULT = 0;

/** The defaults of `replay` (src/load/options.ts). */
export const REPLAY_DEFAULTS = Object.freeze({
  deployment: 'splitwise-hh',
  timeScale: 1,
  arrivals: 'poisson',
  seed: SEED_DEFAULT,
  warmupS: 0,
  endpoint: 'completions' as 'completions' | 'chat',
  timeoutConnectS: 10,
  timeoutFirstTokenS: 600,
  timeoutBetweenTokensS: 120,
  timeoutTotalS: 0,
  graceS: 10,
  /** `--max-error-rate` is only judged once this many requests have finished. */
  minErrorSample: 20,
  /** A run whose schedule-lag p99 exceeds this (trace seconds) is flagged. */
  lagFlagS: 0.01,
  /** The twin check's bound: relative deviation from the simulated twin (and coalescing / emission delay vs TBT). */
  distortionBound: 0.05,
});

/** The defaults of `sim`, `sweep` and `provision` (src/sim). */
export const SIM_DEFAULTS = Object.freeze({
  deployment: REPLAY_DEFAULTS.deployment,
  arrivals: REPLAY_DEFAULTS.arrivals,
  seed: SEED_DEFAULT,
  sampleIntervalS: 1,
  sweepDurationS: 600,
  provisionDurationS: 120,
  /** `provision --max-machines`: the cost-opt/power-opt grid's bound. */
  maxMachines: 80,
  searchTolerance: 0.05,
  budgetLike: 'baseline-h100:40',
  slo: 'splitwise',
});

/** Most machines `--max-machines` may let a cost-opt/power-opt search consider. */
export const MAX_SEARCH_MACHINES = 1000;

/** How much of the load a run sends and measures (LOAD_FLAGS), the same for replay and sim. */
export interface LoadBounds {
  readonly durationS?: number | undefined;
  readonly maxRequests?: number | undefined;
  /** `--sessions`: the trace's rows are turns of multi-turn sessions, closed loop within each (docs/traces.md "Sessions"). */
  readonly sessions?: boolean | undefined;
  readonly warmupS: number;
}

/** Where a run is stored and how it is labelled (RUN_FLAGS). */
export interface RunLabels {
  readonly db: string;
  readonly name?: string | undefined;
  readonly tags: Readonly<Record<string, string>>;
  readonly seed: number;
  readonly json: boolean;
}

/** The deployment a simulation runs on. */
export const CLUSTER_FLAGS = flagGroup('Cluster:', {
  deployment: { type: 'string', defaultText: SIM_DEFAULTS.deployment, describe: 'deployment, by bundled name or YAML file' },
  model: { type: 'string', describe: "override the deployment's model" },
  compat: { type: 'string', defaultText: 'the realistic engine', describe: "'splitwise': SplitwiseSim-compatible semantics" },
});

/** `--perf-model` (sim and serve). */
export const PERF_MODEL_FLAG = flagGroup(undefined, {
  'perf-model': {
    type: 'string',
    choices: ['auto', 'profile', 'roofline'],
    requiresArg: true,
    describe:
      "performance model instead of the deployment's perfModel: profile (measured), roofline (hardware specs), auto (the profile where one exists, else the roofline)",
  },
});

const SESSIONS_WORDS =
  "multi-turn sessions: a session's next turn is sent its think time (the trace's gap between the turns) after the previous answer ends, its prompt the previous prompt + answer + new tokens; turns by session id, else by hash-prefix chain";

/** A flag naming an http(s) URL: its normalised form. */
export function httpUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`scheme ${u.protocol}`);
  } catch (e) {
    throw new Error(`not an http(s) URL: '${v}' (${(e as Error).message})`);
  }
  return u.href;
}

/** A flag naming a results store this command writes: checked before anything runs (src/store/target.ts). */
export function storeFile(file: string): string {
  const why = storeTargetProblem(file);
  if (why) throw new Error(why);
  return file;
}

/** `--arrivals`: an arrival-process name (src/trace/random.ts), kept as given. */
export function checkArrivals(s: string): string {
  parseArrivalKind(s, '--arrivals');
  return s;
}

/** The load shape of a run (replay and sim): the trace's own schedule, or a rate. */
export const LOAD_FLAGS = flagGroup('Load:', {
  rate: { type: 'number', positive: true, describe: 'open loop at R req/s (arrivals from --arrivals), sizes sampled from the trace' },
  arrivals: {
    type: 'string',
    defaultText: REPLAY_DEFAULTS.arrivals,
    describe: 'arrival process for --rate: poisson, gamma:CV, constant, uniform',
    parse: checkArrivals,
  },
  duration: { type: 'number', positive: true, describe: 'only requests arriving in the first S trace seconds' },
  'max-requests': { type: 'number', integer: true, min: 1, describe: 'at most N requests' },
  sessions: { type: 'boolean', describe: SESSIONS_WORDS },
  warmup: {
    type: 'number',
    min: 0,
    default: REPLAY_DEFAULTS.warmupS,
    describe: 'requests arriving in the first S trace seconds are recorded as warm-up (excluded from summaries)',
  },
});

/** Where a run is stored and how it is labelled. */
export const RUN_FLAGS = flagGroup('Run:', {
  db: { type: 'string', default: DEFAULT_DB, describe: 'results store' },
  name: { type: 'string', describe: 'run name' },
  tag: { type: 'string', array: true, describe: 'KEY=VALUE label stored with the run (repeatable)' },
  json: { type: 'boolean', describe: 'print the summary as JSON' },
});

/** `--seeds`: the same configuration once per seed (src/sim/options.ts parseSeeds). */
export const SEEDS_FLAG = flagGroup('Run:', {
  seeds: { type: 'string', describe: 'repeat the run once per seed: a count N (seeds --seed … --seed+N−1) or a comma list' },
});

/** A sweep or provisioning search as a manifest of units run in chunks (src/scale). */
export const DISTRIBUTED_FLAGS = flagGroup('Distributed:', {
  plan: { type: 'string', describe: 'distributed search: the work as a manifest FILE; results in FILE.results/, done ones skipped' },
  chunk: { type: 'string', describe: "with --plan: run slice k/K only; 'auto': SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX" },
  'chunk-count': { type: 'number', defaultText: '$SPLITBENCH_CHUNKS', describe: 'with --chunk auto on Kubernetes: the number of chunks' },
  collect: { type: 'boolean', describe: "with --plan: merge the finished chunks' results, run nothing" },
  'copy-db-to': {
    type: 'string',
    describe:
      'with --chunk: once the chunk is done, copy its --db store (on local disk) to FILE (e.g. on the shared folder; one consistent file, renamed into place); results name FILE',
  },
});

/** The flags of the commands that read stored runs (`summary`, `gate`). */
export const RESULTS_FLAGS = flagGroup(undefined, {
  db: { type: 'string', default: DEFAULT_DB, requiresArg: true, describe: 'results store (SQLite file)' },
  json: { type: 'boolean', default: false, describe: 'print JSON' },
  'reference-run': { type: 'string', requiresArg: true, describe: 'unloaded run to compute slowdowns against' },
  'reference-machine': {
    type: 'string',
    requiresArg: true,
    defaultText: 'dgx-a100',
    describe: 'machine type of the performance-model slowdown reference',
  },
  percentiles: {
    type: 'string',
    choices: ['linear', 'nearest-rank'],
    default: 'linear',
    requiresArg: true,
    describe: 'how percentiles are read off the stored values (both exact): linear interpolation (numpy default) or nearest rank',
  },
});
