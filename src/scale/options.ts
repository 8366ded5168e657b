/**
 * The scale-out flags of `replay` (declared here, resolved here): `--shard`, `--shard-count`, `--start-at`,
 * `--run-uuid`, `--time-url`, `--procs`, `--metrics-port`, and the test-only `--clock-offset-ms` (hidden).
 * Kept light (no heavy imports) because the CLI builder loads it for `--help`.
 */
import type { Argv } from 'yargs';
import { ConfigError } from '../errors.js';
import { addFlags, flagGroup } from '../flagspec.js';
import { parseRunUuid, parseShard, parseStartAt, type ShardSpec } from './shard.js';

/** The scale-out flags of `replay`. */
export const SHARD_FLAGS = flagGroup('Scale-out:', {
  shard: {
    type: 'string',
    describe:
      "replay shard i of N (i/N, 0-based) of the trace, split by session (else request index); 'auto': from SLURM_PROCID/SLURM_NTASKS or JOB_COMPLETION_INDEX",
  },
  'shard-count': {
    type: 'number',
    defaultText: '$SPLITBENCH_SHARDS',
    describe: "with --shard auto on Kubernetes: the Indexed Job's completions",
  },
  'start-at': {
    type: 'string',
    defaultText: 'now + 2 s',
    describe:
      "shared start instant of all shards: epoch ms or ISO-8601; 'barrier': the instant the --time-url server's start barrier (`time-server --barrier N`) gives once every shard is ready",
  },
  'run-uuid': {
    type: 'string',
    defaultText: 'a fresh one, fine for one shard',
    describe: 'identity shared by every shard of one run; merge checks it',
  },
  'time-url': {
    type: 'string',
    defaultText: "the target's /time when it has one; vLLM and SGLang have none",
    describe: 'clock reference for the offset check (GET /time: run `splitbench time-server` on one host; `splitbench serve` answers it too)',
  },
  procs: {
    type: 'number',
    describe: 'run P shard processes on this machine (one shared backend and clock), then merge them into --db',
  },
  'metrics-port': {
    type: 'number',
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

const has = (argv: Record<string, unknown>, k: string): boolean => argv[k] !== undefined && argv[k] !== null;

/** The scale-out flags, validated; undefined when none is given (a plain replay). */
export function resolveScaleOptions(argv: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ScaleOptions | undefined {
  const keys = ['shard', 'shardCount', 'startAt', 'runUuid', 'timeUrl', 'procs', 'metricsPort', 'clockOffsetMs'];
  if (!keys.some((k) => has(argv, k))) return undefined;
  const problems: string[] = [];
  const one = (k: string, flag: string): unknown => {
    const v = argv[k];
    if (Array.isArray(v)) {
      problems.push(`${flag}: given ${v.length} times; give it once`);
      return v[v.length - 1];
    }
    return v;
  };
  const tryDo = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const numFlag = (k: string, flag: string, check: (n: number) => string | undefined): number | undefined => {
    const v = one(k, flag);
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : Number(v);
    const why = Number.isFinite(n) ? check(n) : 'expected a number';
    if (why) {
      problems.push(`${flag}: ${why}`);
      return undefined;
    }
    return n;
  };
  const procs = numFlag('procs', '--procs', (n) => (Number.isInteger(n) && n >= 1 && n <= 256 ? undefined : 'expected an integer from 1 to 256'));
  const shardCount = numFlag('shardCount', '--shard-count', (n) => (Number.isInteger(n) && n >= 1 ? undefined : 'expected an integer >= 1'));
  const metricsPort = numFlag('metricsPort', '--metrics-port', (n) =>
    Number.isInteger(n) && n >= 0 && n <= 65535 ? undefined : 'expected a port number (0: any free port)',
  );
  const skewMs = numFlag('clockOffsetMs', '--clock-offset-ms', () => undefined) ?? 0;
  const shardRaw = one('shard', '--shard');
  const shard =
    shardRaw === undefined ? undefined : tryDo(() => parseShard(String(shardRaw), { env, ...(shardCount !== undefined ? { count: shardCount } : {}) }));
  const startRaw = one('startAt', '--start-at');
  const startWord = startRaw === undefined ? undefined : String(startRaw).trim();
  const startAt = startWord === undefined ? undefined : startWord === 'stdin' || startWord === 'barrier' ? startWord : tryDo(() => parseStartAt(startWord));
  const uuidRaw = one('runUuid', '--run-uuid');
  const runUuid = uuidRaw === undefined ? undefined : tryDo(() => parseRunUuid(String(uuidRaw)));
  const timeRaw = one('timeUrl', '--time-url');
  let timeUrl: string | undefined;
  if (timeRaw !== undefined) {
    try {
      const u = new URL(String(timeRaw));
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`scheme ${u.protocol}`);
      timeUrl = u.href;
    } catch (e) {
      problems.push(`--time-url: not an http(s) URL: '${String(timeRaw)}' (${(e as Error).message})`);
    }
  }
  const sharded = shardRaw !== undefined || procs !== undefined;
  if (procs !== undefined && shardRaw !== undefined) problems.push('--procs and --shard: give one (--procs starts its own shard processes)');
  if (!sharded) {
    for (const [k, flag] of [
      ['startAt', '--start-at'],
      ['runUuid', '--run-uuid'],
      ['timeUrl', '--time-url'],
      ['clockOffsetMs', '--clock-offset-ms'],
      ['shardCount', '--shard-count'],
    ] as const) {
      if (has(argv, k)) problems.push(`${flag}: only applies with --shard or --procs`);
    }
  }
  if (startAt === 'barrier' && timeRaw === undefined)
    problems.push('--start-at barrier: needs --time-url of a `splitbench time-server --barrier N` (its /barrier gives the start instant)');
  if (procs !== undefined) {
    if (has(argv, 'startAt')) problems.push('--start-at: --procs picks the start itself once every shard is ready');
    if (has(argv, 'clockOffsetMs')) problems.push('--clock-offset-ms: applies to one --shard');
  }
  if (sharded && has(argv, 'concurrency'))
    problems.push('--concurrency: a closed loop cannot be split into shards of one schedule; use --rate or the trace (open loop)');
  if (problems.length > 0) {
    throw new ConfigError(problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join('; ')}`, {
      hint: 'run `splitbench replay --help` for the flags',
    });
  }
  return Object.freeze({
    ...(shard ? { shard } : {}),
    ...(startAt !== undefined ? { startAt } : {}),
    ...(runUuid !== undefined ? { runUuid } : {}),
    ...(timeUrl !== undefined ? { timeUrl } : {}),
    ...(procs !== undefined ? { procs } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    skewMs,
  });
}
