/**
 * The scale-out flags of `replay` (declared here, resolved here): `--shard`, `--shard-count`, `--start-at`,
 * `--run-uuid`, `--time-url`, `--procs`, `--metrics-port`, and the test-only `--clock-offset-ms` (hidden);
 * and the flags of `launch` (resolved in launch.ts). Kept light (no heavy imports) because the CLI builder loads it for `--help`.
 */
import type { Argv } from 'yargs';
import { httpUrl } from '../flags.js';
import { addFlags, type FlagValues, flagGroup, Problems } from '../flagspec.js';
import { parseRunUuid, parseShard, parseStartAt, type ShardSpec } from './shard.js';

/** A number flag that must be an integer in [lo, hi] (`why` otherwise). */
const intIn =
  (lo: number, hi: number, why: string) =>
  (n: number): number => {
    if (!(Number.isInteger(n) && n >= lo && n <= hi)) throw new Error(why);
    return n;
  };

/** `--start-at`: epoch ms or ISO-8601, or the words 'stdin' (a --procs child) and 'barrier'. */
function startAtOf(v: string): number | 'stdin' | 'barrier' {
  const w = v.trim();
  return w === 'stdin' || w === 'barrier' ? w : parseStartAt(w);
}

/** The scale-out flags of `replay`. */
export const SHARD_FLAGS = flagGroup('Scale-out:', {
  shard: {
    type: 'string',
    describe:
      "replay shard i of N (i/N, 0-based) of the trace, split by session (else request index); 'auto': from SLURM_PROCID/SLURM_NTASKS or JOB_COMPLETION_INDEX",
  },
  'shard-count': {
    type: 'number',
    parse: intIn(1, Infinity, 'expected an integer >= 1'),
    defaultText: '$SPLITBENCH_SHARDS',
    describe: "with --shard auto on Kubernetes: the Indexed Job's completions",
  },
  'start-at': {
    type: 'string',
    parse: startAtOf,
    defaultText: 'now + 2 s',
    describe:
      "shared start instant of all shards: epoch ms or ISO-8601; 'barrier': the instant the --time-url server's start barrier (`time-server --barrier N`) gives once every shard is ready",
  },
  'run-uuid': {
    type: 'string',
    parse: (v: string) => parseRunUuid(v),
    defaultText: 'a fresh one, fine for one shard',
    describe: 'identity shared by every shard of one run; merge checks it',
  },
  'time-url': {
    type: 'string',
    parse: httpUrl,
    defaultText: "the target's /time when it has one; vLLM and SGLang have none",
    describe: 'clock reference for the offset check (GET /time: run `splitbench time-server` on one host; `splitbench serve` answers it too)',
  },
  procs: {
    type: 'number',
    parse: intIn(1, 256, 'expected an integer from 1 to 256'),
    describe: 'run P shard processes on this machine (one shared backend and clock), then merge them into --db',
  },
  'metrics-port': {
    type: 'number',
    parse: intIn(0, 65535, 'expected a port number (0: any free port)'),
    describe:
      'serve live Prometheus metrics (in flight, sent, completed, errors, tokens, dispatch lag) on this port while running; with --procs shard i uses PORT+i',
  },
  'clock-offset-ms': { type: 'number', hidden: true, describe: "test only: pretend this process's wall clock is off by this many ms" },
});

export function addShardOptions<T>(y: Argv<T>): Argv<T> {
  return addFlags(y, SHARD_FLAGS)
    .example('$0 replay --trace coding --window 0:300 --procs 3', 'three load-generator processes on this machine, merged into one run')
    .example(
      '$0 replay --trace coding --url http://gpu0:8000 --shard auto --start-at 1767225600000 --run-uuid $RUN --db /tmp/shard.db',
      'one shard of an srun / Indexed Job launch (see `splitbench launch`)',
    );
}

export interface ScaleOptions {
  readonly shard?: ShardSpec;
  /**
   * Epoch ms (reference clock), 'stdin' (a --procs child reads it after saying it is ready), 'barrier' (from
   * the --time-url server's start barrier once every shard is ready), or undefined (now + lead).
   */
  readonly startAt?: number | 'stdin' | 'barrier';
  readonly runUuid?: string;
  readonly timeUrl?: string;
  readonly procs?: number;
  readonly metricsPort?: number;
  readonly skewMs: number;
}

export type ShardFlags = FlagValues<typeof SHARD_FLAGS>;

/**
 * The checked scale-out flags (SHARD_FLAGS; their problems in `p`) and the rules between them, every
 * problem at once; undefined when none is given (a plain replay). `closedLoop`: the replay was given
 * `--concurrency`, which cannot be split.
 */
export function resolveScaleOptions(f: ShardFlags, p = new Problems(), closedLoop = false, env: NodeJS.ProcessEnv = process.env): ScaleOptions | undefined {
  // Given on the command line: a value, or a bad one (its problem is in `p`).
  const has = (k: keyof ShardFlags): boolean => f[k] !== undefined || p.flagged(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  const keys = ['shard', 'shardCount', 'startAt', 'runUuid', 'timeUrl', 'procs', 'metricsPort', 'clockOffsetMs'] as const;
  if (!keys.some(has)) return undefined;
  const shard = f.shard === undefined ? undefined : p.try(() => parseShard(f.shard!, { env, ...(f.shardCount !== undefined ? { count: f.shardCount } : {}) }));
  const sharded = has('shard') || has('procs');
  if (has('procs') && has('shard')) p.push('--procs and --shard: give one (--procs starts its own shard processes)');
  if (!sharded) {
    for (const k of ['startAt', 'runUuid', 'timeUrl', 'clockOffsetMs', 'shardCount'] as const) {
      if (has(k)) p.add(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, 'only applies with --shard or --procs');
    }
  }
  if (f.startAt === 'barrier' && !has('timeUrl'))
    p.push('--start-at barrier: needs --time-url of a `splitbench time-server --barrier N` (its /barrier gives the start instant)');
  if (has('procs')) {
    if (has('startAt')) p.add('--start-at', '--procs picks the start itself once every shard is ready');
    if (has('clockOffsetMs')) p.add('--clock-offset-ms', 'applies to one --shard');
  }
  if (sharded && closedLoop) p.add('--concurrency', 'a closed loop cannot be split into shards of one schedule; use --rate or the trace (open loop)');
  p.throwIfAny('replay');
  return Object.freeze({
    ...(shard ? { shard } : {}),
    ...(f.startAt !== undefined ? { startAt: f.startAt } : {}),
    ...(f.runUuid !== undefined ? { runUuid: f.runUuid } : {}),
    ...(f.timeUrl !== undefined ? { timeUrl: f.timeUrl } : {}),
    ...(f.procs !== undefined ? { procs: f.procs } : {}),
    ...(f.metricsPort !== undefined ? { metricsPort: f.metricsPort } : {}),
    skewMs: f.clockOffsetMs ?? 0,
  });
}

/** The flags of `launch slurm|kubernetes` (checked by src/scale/launch.ts resolveLaunchOptions). */
export const LAUNCH_FLAGS = {
  shards: { type: 'number', describe: 'run `-- replay ...` as N shards (one per task / pod), then `splitbench merge`' },
  chunks: {
    type: 'number',
    describe: 'run `-- sweep ...` or `-- provision ...` as K chunks of one plan (job array / Indexed Job), then its `--collect`',
  },
  parallel: { type: 'number', describe: 'with --chunks: at most P chunks at once (Slurm %P, Job parallelism)' },
  image: {
    type: 'string',
    describe: 'Kubernetes: container image with splitbench on its PATH (default splitbench:VERSION, as built from src/scale/Containerfile)',
  },
  cpus: { type: 'number', defaultText: '2', describe: 'CPUs per shard or chunk' },
  mem: { type: 'string', defaultText: '4G on Slurm, 4Gi on Kubernetes', describe: 'memory per shard or chunk' },
  'node-selector': { type: 'string', array: true, describe: 'Kubernetes: key=value a load-generator node must have (repeatable)' },
  'avoid-gpu-nodes': {
    type: 'boolean',
    describe: 'Kubernetes: keep every pod off nodes labelled nvidia.com/gpu.present (required node anti-affinity; default off)',
  },
  'merge-deadline-s': {
    type: 'number',
    describe:
      'Kubernetes: the merge Job fails after this many seconds without every shard or chunk (naming the missing indexes), as the start barrier does; it fails at once when one fails (default 86400)',
  },
  'per-node': { type: 'number', defaultText: '1: one shard per node, --nodes = shards', describe: 'Slurm --shards: shards per node' },
  'max-offset-ms': {
    type: 'number',
    describe: '--shards: passed to `splitbench merge --max-offset-ms` (largest accepted clock offset, ms; default 1)',
  },
  exclude: { type: 'string', describe: 'Slurm: nodes to keep load generators off (sbatch --exclude, e.g. the GPU nodes)' },
  constraint: { type: 'string', describe: 'Slurm: node feature for load generators (sbatch --constraint)' },
  'shared-dir': {
    type: 'string',
    describe: 'folder all nodes see, for shard stores, plans and results (default splitbench-shared on Slurm, /results on Kubernetes)',
  },
  pvc: { type: 'string', defaultText: 'splitbench-results', describe: 'Kubernetes: ReadWriteMany PersistentVolumeClaim mounted at --shared-dir' },
  namespace: { type: 'string', describe: 'Kubernetes namespace of the Jobs' },
  'lead-s': {
    type: 'number',
    describe:
      "seconds to the shards' shared start: Slurm from the batch script's start (default 30), Kubernetes from the moment every shard is at the start barrier (default 10)",
  },
  out: {
    type: 'string',
    describe:
      "--shards: merged results store (default run.db in the run's folder of --shared-dir, one per run; Kubernetes: a file name there); written on local disk, then moved into place",
  },
  name: { type: 'string', describe: 'job name (default splitbench-replay / splitbench-sweep / splitbench-provision)' },
  splitbench: { type: 'string', defaultText: 'splitbench', describe: 'the splitbench command on the nodes or in the image' },
  file: { type: 'string', defaultText: 'print it', describe: 'write the launch file here' },
} as const;

/** The checked flags of `launch`; `runUuid`: a fixed run uuid (a test's; the command makes a fresh one). */
export type LaunchFlags = Partial<FlagValues<typeof LAUNCH_FLAGS>> & { readonly runUuid?: string | undefined };
