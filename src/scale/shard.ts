/**
 * Shards: which part of a trace one load-generator process replays, and when every shard starts.
 *
 * - `--shard i/N`: shard i (0-based) of N. `--shard auto`: i and N from the launcher's environment —
 *   Slurm's `SLURM_PROCID`/`SLURM_NTASKS` (an `srun` step), or Kubernetes' `JOB_COMPLETION_INDEX` with
 *   the job's completions count (`--shard-count` or `SPLITBENCH_SHARDS`).
 * - Partitioning: a request with a session id goes to `fnv1a(sessionId) mod N` (a conversation and its
 *   prefix reuse stay on one client); without one, request index mod N. Every shard reads the whole trace
 *   and keeps its part, so no coordinator sends work.
 * - `--start-at`: the shared start instant (epoch ms, or ISO-8601), in the reference clock's time; each
 *   shard waits for it on its monotonic clock after correcting its wall clock by the measured offset.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { RequestSpec } from '../trace/index.js';

export interface ShardSpec {
  /** 0-based. */
  readonly index: number;
  readonly count: number;
}

/** Environment variables `--shard auto` reads, in order of preference. */
export const SHARD_ENV = {
  slurmIndex: 'SLURM_PROCID',
  slurmCount: 'SLURM_NTASKS',
  k8sIndex: 'JOB_COMPLETION_INDEX',
  /** The Indexed Job's completions, set by `splitbench launch kubernetes` in the pod spec. */
  count: 'SPLITBENCH_SHARDS',
} as const;

function intOf(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s.trim())) return undefined;
  return Number(s.trim());
}

/** Parse `i/N` or `auto` (with the environment and an optional count for Kubernetes). */
export function parseShard(value: string, opts: { env?: NodeJS.ProcessEnv; count?: number; flag?: string } = {}): ShardSpec {
  const flag = opts.flag ?? '--shard';
  const env = opts.env ?? process.env;
  const v = value.trim();
  if (v === 'auto') {
    const si = intOf(env[SHARD_ENV.slurmIndex]);
    const sn = intOf(env[SHARD_ENV.slurmCount]);
    if (si !== undefined && sn !== undefined) return check({ index: si, count: sn }, flag, `${SHARD_ENV.slurmIndex}/${SHARD_ENV.slurmCount}`);
    const ki = intOf(env[SHARD_ENV.k8sIndex]);
    if (ki !== undefined) {
      const kn = opts.count ?? intOf(env[SHARD_ENV.count]);
      if (kn === undefined) {
        throw new ConfigError(`auto: ${SHARD_ENV.k8sIndex}=${ki} is set but the shard count is not`, {
          path: flag,
          hint: `pass --shard-count N or set ${SHARD_ENV.count} (the Indexed Job's completions)`,
        });
      }
      return check({ index: ki, count: kn }, flag, `${SHARD_ENV.k8sIndex}/${SHARD_ENV.count}`);
    }
    throw new ConfigError('auto: no launcher environment found', {
      path: flag,
      hint: `set ${SHARD_ENV.slurmIndex}+${SHARD_ENV.slurmCount} (srun) or ${SHARD_ENV.k8sIndex}+${SHARD_ENV.count} (Kubernetes Indexed Job), or give i/N`,
    });
  }
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(v);
  if (!m) throw new ConfigError(`expected i/N (e.g. 0/3) or auto, got '${value}'`, { path: flag });
  return check({ index: Number(m[1]), count: Number(m[2]) }, flag, value);
}

function check(s: ShardSpec, flag: string, from: string): ShardSpec {
  if (s.count < 1) throw new ConfigError(`shard count must be >= 1 (from ${from})`, { path: flag });
  if (s.index >= s.count) throw new ConfigError(`shard index ${s.index} is not below the count ${s.count} (from ${from}; indexes are 0-based)`, { path: flag });
  return Object.freeze({ index: s.index, count: s.count });
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units: stable across hosts and versions. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The shard (0..count-1) that owns the request at `index` of the trace. */
export function shardOf(spec: Pick<RequestSpec, 'sessionId'>, index: number, count: number): number {
  if (count === 1) return 0;
  if (spec.sessionId !== undefined && spec.sessionId !== '') return fnv1a(spec.sessionId) % count;
  return index % count;
}

/**
 * Keep shard `spec`'s part of a schedule, after applying a global request limit (the first `maxRequests`
 * of the whole trace, not of each shard), so N shards together send exactly what one process would.
 */
export async function* shardFilter<T extends { spec: Pick<RequestSpec, 'sessionId'> }>(
  items: AsyncIterable<T> | AsyncIterator<T>,
  spec: ShardSpec,
  maxRequests?: number,
): AsyncGenerator<T> {
  const it = Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as AsyncIterator<T>);
  let index = 0;
  try {
    for (;;) {
      if (maxRequests !== undefined && index >= maxRequests) return;
      const r = await it.next();
      if (r.done) return;
      if (shardOf(r.value.spec, index, spec.count) === spec.index) yield r.value;
      index++;
    }
  } finally {
    await it.return?.();
  }
}

/** Default lead time before a shared start instant when `--start-at` is not given (ms). */
export const DEFAULT_LEAD_MS = 2000;

/** Parse `--start-at`: epoch milliseconds, or an ISO-8601 instant (with a zone). */
export function parseStartAt(value: string | number, flag = '--start-at'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`expected epoch milliseconds > 0, got ${value}`, { path: flag });
    return value;
  }
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) {
    const n = Number(v);
    if (n < 1e11) throw new ConfigError(`'${v}' looks like epoch seconds; give epoch milliseconds (×1000) or an ISO-8601 time`, { path: flag });
    return n;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(v)) {
    throw new ConfigError(`expected epoch milliseconds or an ISO-8601 time with a zone (e.g. 2025-01-31T12:00:00Z), got '${value}'`, { path: flag });
  }
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new ConfigError(`not a valid time: '${value}'`, { path: flag });
  return ms;
}

/** A fresh shared run identity for the shards of one run. */
export function newRunUuid(): string {
  return randomUUID();
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function parseRunUuid(v: string, flag = '--run-uuid'): string {
  const s = v.trim();
  if (!UUID_RE.test(s) && !/^[A-Za-z0-9._-]{1,128}$/.test(s)) {
    throw new ConfigError(`expected a UUID or a plain id (letters, digits, . _ -), got '${v}'`, { path: flag });
  }
  return s;
}
