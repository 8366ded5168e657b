/**
 * `splitbench merge`: the shards of one run (one SQLite file each) into one run of a results store.
 *
 * Raw rows are the truth (percentiles cannot be merged from per-shard summaries): every request row,
 * machine, power and timeline sample is copied, and every percentile, throughput, goodput and gate verdict
 * is then computed from the union by the ordinary summary and gate.
 *
 * Checks, each a one-line error naming the file: a splitbench store at this build's schema version; a
 * sharded run in it; one run identity across files (the shared `--run-uuid`, trace sha256, time scale, start
 * instant, clock reference, target, deployment, model and every stored replay option but the per-shard ones
 * — shard, db, host, json — each refusal naming the field);
 * shard indexes covering 0..N−1 exactly once (missing and duplicate shards rejected); every shard finished
 * (not `running`) and ready for the shared start (not late); its clock offset to the reference within
 * `maxOffsetMs` at start and end (unmeasured offsets are accepted only when every shard ran on one host).
 *
 * Timestamps: a shard's times are seconds from its own t0 on its own monotonic clock. Its t0 in reference
 * time is its local wall t0 + measured offset; the merged run's t0 is the earliest of those, and each
 * shard's `scheduled`, `send`, `first_token`, `end` (and sample times) move by the difference — a shift
 * of whole timelines that leaves every per-request latency (a difference on one clock) unchanged.
 *
 * Mechanics: each shard is ATTACHed one at a time (SQLite allows 10) and staged into TEMP tables; the
 * output file then gets everything in one transaction. Each merged file's sha256 is recorded, so merging
 * the same files again changes nothing.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { checkpointStore, openStore, readShardStore, type RunRecord, type ShardImport, type ShardRecord } from '../store/index.js';
import { VERSION } from '../version.js';

export const DEFAULT_MAX_OFFSET_MS = 1;

export interface MergeOptions {
  /** The output store (created when missing). */
  readonly out: string;
  /** Largest accepted |clock offset| of a shard to the reference, at start or end (ms; default 1). */
  readonly maxOffsetMs?: number;
  /** Merge this run's shards when the files hold shards of several runs. */
  readonly runUuid?: string;
  /** Name of the merged run (default: the shards' run name). */
  readonly name?: string;
  /**
   * The shards reached one target and one clock reference under different host names or addresses (one per
   * network): compare those URLs by scheme, port and path only.
   */
  readonly anyHost?: boolean;
}

export interface MergedShard {
  readonly index: number;
  readonly file: string;
  readonly sha256: string;
  readonly host: string | null;
  readonly requests: number;
  readonly offsetStartMs: number | null;
  readonly rttStartMs: number | null;
  /** How far this shard's timeline moved (ms, reference clock). */
  readonly shiftMs: number;
  /** Already in the output from an earlier merge of the same file. */
  readonly alreadyMerged: boolean;
}

export interface MergeResult {
  readonly out: string;
  readonly runId: number;
  readonly runUuid: string;
  readonly shardCount: number;
  /** False when every shard was already merged (a no-op). */
  readonly changed: boolean;
  readonly requests: number;
  readonly shards: readonly MergedShard[];
}

/**
 * sha256 of a store file. Its write-ahead log is checkpointed into the file first (content unchanged), so
 * the hash of a finished shard is stable however often it is opened; a file that cannot be checkpointed
 * (read-only) is hashed with its -wal.
 */
export async function sha256Store(file: string): Promise<string> {
  checkpointStore(file); // false: a read-only file or folder: hash what is there
  const h = createHash('sha256');
  for (const f of [file, `${file}-wal`]) {
    if (!existsSync(f) || statSync(f).size === 0) continue;
    await new Promise<void>((resolve, reject) => {
      createReadStream(f)
        .on('data', (b) => h.update(b))
        .on('end', resolve)
        .on('error', reject);
    });
  }
  return h.digest('hex');
}

interface ShardInput {
  readonly file: string;
  readonly sha256: string;
  readonly shard: ShardRecord;
  readonly run: RunRecord;
  readonly requests: number;
}

const rel = (f: string): string => path.relative(process.cwd(), f) || f;

/** Read and check one shard file (read-only; the file is not modified). */
async function readShard(file: string, runUuid: string | undefined): Promise<ShardInput> {
  const name = rel(file);
  if (!existsSync(file)) throw new ConfigError('no such file', { path: name });
  if (statSync(file).isDirectory()) throw new ConfigError('is a folder, not a shard store', { path: name });
  const sha256 = await sha256Store(file);
  const rows = readShardStore(file, name);
  const cand = runUuid === undefined ? rows : rows.filter((r) => r.shard.runUuid === runUuid);
  if (cand.length === 0) {
    throw new ConfigError(
      rows.length === 0
        ? 'holds no shard of a sharded run (written by `replay --shard` or `--procs`)'
        : `holds no shard of run ${runUuid} (it has: ${[...new Set(rows.map((r) => r.shard.runUuid))].join(', ')})`,
      { path: name },
    );
  }
  if (cand.length > 1) {
    throw new ConfigError(
      `holds ${cand.length} shards (${cand.map((r) => `${r.shard.shardIndex}/${r.shard.shardCount} of ${r.shard.runUuid}`).join(', ')}); pass --run-uuid to pick one run`,
      { path: name },
    );
  }
  const { shard, run, requests } = cand[0]!;
  return { file: path.resolve(file), sha256, shard, run, requests };
}

/** Stored options that legitimately differ between the shards of one run. */
const PER_SHARD_OPTIONS = new Set(['shard', 'db', 'host', 'json']);

/** A run's stored options without the per-shard ones (and, with `anyHost`, its target URLs without their host). */
function runOptions(run: RunRecord, anyHost = false): Record<string, unknown> {
  const o = { ...run.options };
  for (const k of PER_SHARD_OPTIONS) delete o[k];
  if (anyHost) for (const k of ['url', 'resolvedUrl']) if (k in o) o[k] = withoutHost(o[k]);
  return o;
}

/** An http(s) URL as scheme, port and path (for shards that reached one server under different addresses). */
function withoutHost(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return v;
    return `${u.protocol}//*:${u.port || (u.protocol === 'https:' ? '443' : '80')}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return v;
  }
}

const show = (v: unknown): string => (v === undefined ? 'unset' : JSON.stringify(v));

/** The first field (dotted path) where two JSON values differ. */
export function firstDifference(a: unknown, b: unknown, at: string): { field: string; here: string; there: string } | undefined {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()) {
      const d = firstDifference(ao[k], bo[k], Array.isArray(a) ? `${at}[${k}]` : `${at}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  // Stored JSON: undefined and null are both "unset".
  const na = a === null ? undefined : a;
  const nb = b === null ? undefined : b;
  return na === nb ? undefined : { field: at, here: show(na), there: show(nb) };
}

function instant(v: unknown): string {
  const ms = num(v);
  return ms === null ? 'no start instant' : `${new Date(ms).toISOString()} (epoch ms ${ms})`;
}

function fmtDelta(a: number | null, b: number | null): string {
  if (a === null || b === null) return 'one has none';
  const d = (a - b) / 1000;
  return `${Math.abs(d).toFixed(3)} s ${d > 0 ? 'later' : 'earlier'}`;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Merge shard stores into `opts.out`. Throws ConfigError/StoreError (one line, naming the file) on any check. */
export async function mergeShards(files: readonly string[], opts: MergeOptions): Promise<MergeResult> {
  if (files.length === 0) throw new ConfigError('name the shard stores to merge', { path: 'SHARD.db' });
  const maxOffsetMs = opts.maxOffsetMs ?? DEFAULT_MAX_OFFSET_MS;
  if (!(maxOffsetMs >= 0)) throw new ConfigError(`must be >= 0, got ${maxOffsetMs}`, { path: '--max-offset-ms' });
  const outAbs = path.resolve(opts.out);
  for (const f of files) {
    if (path.resolve(f) === outAbs) throw new ConfigError('is also the --out store; write the merged run to another file', { path: rel(f) });
  }
  const inputs: ShardInput[] = [];
  for (const f of files) inputs.push(await readShard(f, opts.runUuid));

  // One run identity.
  const first = inputs[0]!;
  const uuid = String(first.shard.runUuid);
  const count = Number(first.shard.shardCount);
  for (const s of inputs) {
    const n = rel(s.file);
    if (s.shard.runUuid !== uuid)
      throw new ConfigError(`is a shard of run ${String(s.shard.runUuid)}, but ${rel(first.file)} is of run ${uuid}; merge one run's shards at a time`, {
        path: n,
      });
    if (Number(s.shard.shardCount) !== count)
      throw new ConfigError(`says the run has ${String(s.shard.shardCount)} shards, ${rel(first.file)} says ${count}`, { path: n });
    if (s.run.traceSha256 !== first.run.traceSha256)
      throw new ConfigError(
        `replayed a different trace (sha256 ${String(s.run.traceSha256).slice(0, 12)}…) than ${rel(first.file)} (${String(first.run.traceSha256).slice(0, 12)}…)`,
        { path: n },
      );
    if (s.run.timeScale !== first.run.timeScale)
      throw new ConfigError(`ran at time scale ${String(s.run.timeScale)}, ${rel(first.file)} at ${String(first.run.timeScale)}`, { path: n });
    // The same run: one shared start instant, one clock reference, one target, the same options (a shard
    // re-run by hand with the same --run-uuid later, over another window or against another backend, is not).
    if (s.shard.startAtMs !== first.shard.startAtMs) {
      throw new ConfigError(
        `start instant differs: this shard was started for ${instant(s.shard.startAtMs)}, ${rel(first.file)} for ${instant(first.shard.startAtMs)} (${fmtDelta(num(s.shard.startAtMs), num(first.shard.startAtMs))}); a shard re-run on its own is not part of the run`,
        { path: n, hint: 'rerun every shard of the run together (one --start-at), or merge only the shards that started together' },
      );
    }
    const u = (v: unknown): unknown => (opts.anyHost ? withoutHost(v) : v);
    if ((u(s.shard.timeRef) ?? null) !== (u(first.shard.timeRef) ?? null)) {
      throw new ConfigError(
        `clock reference differs: ${String(s.shard.timeRef ?? 'none (not measured)')} here, ${String(first.shard.timeRef ?? 'none (not measured)')} in ${rel(first.file)}; offsets to different references do not compare`,
        {
          path: n,
          hint: 'shards that reached one reference under different addresses: merge with --any-host',
        },
      );
    }
    for (const col of ['target', 'deployment', 'model', 'kind'] as const) {
      if ((u(s.run[col]) ?? null) !== (u(first.run[col]) ?? null)) {
        throw new ConfigError(`${col} differs: '${String(s.run[col] ?? '')}' here, '${String(first.run[col] ?? '')}' in ${rel(first.file)}`, {
          path: n,
          ...(col === 'target' ? { hint: 'shards that reached one server under different addresses: merge with --any-host' } : {}),
        });
      }
    }
    const d = firstDifference(runOptions(s.run, opts.anyHost), runOptions(first.run, opts.anyHost), 'options');
    if (d)
      throw new ConfigError(`${d.field} differs: ${d.here} here, ${d.there} in ${rel(first.file)}; every shard must run the same replay options`, {
        path: n,
        ...(/url/i.test(d.field) ? { hint: 'shards that reached one server under different addresses: merge with --any-host' } : {}),
      });
  }

  // Coverage: 0..N-1 exactly once.
  const byIndex = new Map<number, ShardInput>();
  for (const s of inputs) {
    const i = Number(s.shard.shardIndex);
    const prev = byIndex.get(i);
    if (prev) throw new ConfigError(`duplicate shard ${i}/${count} of run ${uuid}: given as ${rel(prev.file)} and ${rel(s.file)}`, { path: rel(s.file) });
    byIndex.set(i, s);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new ConfigError(
      `missing shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} (run ${uuid}); every shard 0..${count - 1} must be given once`,
      {
        hint: 'a shard that failed to start has no store; rerun the whole run',
      },
    );
  }

  // Per-shard checks: finished, on time, clocks.
  const hosts = new Set(inputs.map((s) => String(s.shard.host ?? '')));
  for (const i of [...byIndex.keys()].sort((a, b) => a - b)) {
    const s = byIndex.get(i)!;
    const n = rel(s.file);
    if (s.run.status === 'running')
      throw new ConfigError(`shard ${i}/${count} is still 'running' (its process has not finished, or died); merge finished shards only`, { path: n });
    if ((s.run.notes as { coordinatorLost?: unknown }).coordinatorLost === true) {
      throw new ConfigError(
        `shard ${i}/${count} stopped because its --procs coordinator died mid-run; its part of the trace was cut short and is not a complete shard`,
        {
          path: n,
          hint: 'run the replay again',
        },
      );
    }
    if (s.shard.late) {
      throw new ConfigError(
        `shard ${i}/${count} was late: ready ${(num(s.shard.lateMs) ?? 0).toFixed(1)} ms after the shared start; the run's arrival process is broken`,
        {
          path: n,
          hint: 'rerun with a later --start-at (more lead time)',
        },
      );
    }
    if (s.shard.timeRef === null || s.shard.timeRef === undefined) {
      if (hosts.size > 1) {
        throw new ConfigError(`shard ${i}/${count} (host ${String(s.shard.host)}) has no clock measurement, and the shards ran on ${hosts.size} hosts`, {
          path: n,
          hint: 'give every shard --time-url of one reference (`splitbench time-server` on one host; `splitbench launch` starts one)',
        });
      }
      continue;
    }
    for (const [when, off] of [
      ['start', num(s.shard.offsetStartMs)],
      ['end', num(s.shard.offsetEndMs)],
    ] as const) {
      if (off === null) throw new ConfigError(`shard ${i}/${count} has no clock offset at ${when} (interrupted before measuring it?)`, { path: n });
      // Over the limit beyond the measurement's own uncertainty (±RTT/2 of the min-RTT sample).
      const halfRtt = (num(when === 'start' ? s.shard.rttStartMs : s.shard.rttEndMs) ?? 0) / 2;
      if (Math.abs(off) - halfRtt > maxOffsetMs) {
        throw new ConfigError(
          `shard ${i}/${count}: clock offset ${off.toFixed(3)} ms (±${halfRtt.toFixed(3)}) to the reference at ${when} exceeds --max-offset-ms ${maxOffsetMs}`,
          {
            path: n,
            hint: 'synchronise the hosts (chrony/NTP/PTP), or raise --max-offset-ms to accept the corrected timeline',
          },
        );
      }
    }
  }

  // Timeline shift per shard: t0 in reference time.
  const t0Ref = new Map<number, number>();
  for (const [i, s] of byIndex) t0Ref.set(i, Number(s.shard.t0LocalMs) + (num(s.shard.offsetStartMs) ?? 0));
  const T0 = Math.min(...t0Ref.values());
  const timeScale = Number(first.run.timeScale) || 1;

  const store = openStore(opts.out);
  try {
    const existingId = store.lookupRun(uuid);
    const existing = existingId === undefined ? undefined : store.getRun(existingId);
    if (existing && existing.uuid === uuid) {
      // Idempotent re-merge: every file must be the one merged before.
      const prior = new Map(store.shards(existing.id).map((r) => [r.shardIndex, String(r.fileSha256)]));
      for (const [i, s] of byIndex) {
        if (prior.get(i) !== s.sha256) {
          throw new ConfigError(
            `duplicate shard ${i}/${count}: run ${uuid} in ${rel(opts.out)} already has shard ${i} from another file (sha256 ${String(prior.get(i) ?? '?').slice(0, 12)}…, this one ${s.sha256.slice(0, 12)}…)`,
            {
              path: rel(s.file),
              hint: 'merge into a new --out file, or delete the merged run first (`splitbench runs delete`)',
            },
          );
        }
      }
      const shards = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([i, s]) => shardInfo(i, s, t0Ref.get(i)! - T0, true));
      const requests = store.requestCounts(existing.id).total;
      return { out: opts.out, runId: existing.id, runUuid: uuid, shardCount: count, changed: false, requests, shards };
    }

    const ordered = [...byIndex.entries()].sort((a, b) => a[0] - b[0]);
    const imports: ShardImport[] = ordered.map(([i, s]) => ({
      index: i,
      file: s.file,
      label: rel(s.file),
      sourceRunId: s.shard.runId,
      shiftS: ((t0Ref.get(i)! - T0) / 1000) * timeScale,
      requests: s.requests,
      shard: s.shard,
      sha256: s.sha256,
      sourceRunUuid: s.run.uuid,
    }));
    const runs = ordered.map(([, s]) => s.run);
    const r0 = runs[0]!;
    const statuses = runs.map((r) => String(r.status));
    const status = statuses.includes('failed') ? 'failed' : statuses.includes('interrupted') ? 'interrupted' : 'completed';
    const endedAt =
      runs
        .map((r) => (typeof r.endedAt === 'string' ? r.endedAt : ''))
        .sort()
        .at(-1) || null;
    const options = runOptions(r0);
    const notes = mergeNotes(runs.map((r) => r.notes));
    notes.merge = {
      shards: count,
      mergedAt: new Date().toISOString(),
      mergedBy: os.hostname(),
      maxOffsetMs,
      files: ordered.map(([i, s]) => ({ shard: i, file: path.basename(s.file), sha256: s.sha256 })),
    };
    const lagFlagS = typeof options.lagFlagS === 'number' ? options.lagFlagS : 0.01;
    const { runId, copied } = store.importShards(
      imports,
      {
        uuid,
        name: opts.name ?? r0.name,
        kind: r0.kind,
        status,
        startedAt: new Date(T0).toISOString(),
        endedAt,
        startWallMs: T0,
        target: r0.target,
        deployment: r0.deployment,
        model: r0.model,
        tracePath: r0.tracePath,
        traceSha256: r0.traceSha256,
        timeScale: r0.timeScale,
        offeredRate: r0.offeredRate,
        warmupS: r0.warmupS,
        options: { ...options, shards: count, runUuid: uuid },
        tags: r0.tags,
        env: { merged: true, hosts: [...hosts].sort(), node: process.version, splitbenchMerge: VERSION },
        splitbenchVersion: r0.splitbenchVersion,
        seed: r0.seed,
        notes,
      },
      { lagFlagS, anyLagFlagged: runs.some((r) => r.lagFlagged) },
    );
    const shards = ordered.map(([i, s]) => shardInfo(i, s, t0Ref.get(i)! - T0, false));
    return { out: opts.out, runId, runUuid: uuid, shardCount: count, changed: true, requests: [...copied.values()].reduce((a, b) => a + b, 0), shards };
  } finally {
    store.close();
  }
}

function shardInfo(i: number, s: ShardInput, shiftMs: number, alreadyMerged: boolean): MergedShard {
  return {
    index: i,
    file: s.file,
    sha256: s.sha256,
    host: (s.shard.host as string | null) ?? null,
    requests: s.requests,
    offsetStartMs: num(s.shard.offsetStartMs),
    rttStartMs: num(s.shard.rttStartMs),
    shiftMs,
    alreadyMerged,
  };
}

/** Shards' run notes combined: counters summed, the rest kept per shard. */
function mergeNotes(all: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const sum = (key: string): void => {
    const acc: Record<string, number> = {};
    let any = false;
    for (const n of all) {
      const v = n[key];
      if (v && typeof v === 'object') {
        any = true;
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') acc[k] = (acc[k] ?? 0) + x;
      }
    }
    if (any) out[key] = acc;
  };
  sum('outputMismatch');
  sum('errorCodes');
  const reasons = all.map((n, i) => (typeof n.reason === 'string' ? `shard ${i}: ${n.reason}` : undefined)).filter((x): x is string => x !== undefined);
  if (reasons.length > 0) out.reason = reasons.join('; ');
  const skipped = all.map((n) => (typeof n.skippedTraceRows === 'number' ? n.skippedTraceRows : 0));
  if (skipped.some((x) => x > 0)) out.skippedTraceRows = Math.max(...skipped);
  return out;
}
