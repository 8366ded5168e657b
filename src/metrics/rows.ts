/**
 * Reading runs and request rows for metrics: plain SQL over the store's schema (src/store/schema.ts), so
 * summaries work on any splitbench store file, live or simulated, merged or not.
 */
import type Database from 'better-sqlite3';
import { SplitbenchError, ExitCode } from '../errors.js';
import type { RequestStatus, RunKind, RunStatus } from '../store/schema.js';
import type { RequestRecord as StoreRequestRecord } from '../store/api.js';
import { lookupRunId } from '../store/index.js';

/** Anything that exposes the store's SQLite handle (the store object has `db`), or the handle itself. */
export type StoreLike = { readonly db: Database.Database } | Database.Database;

export function dbOf(store: StoreLike): Database.Database {
  return 'prepare' in store ? store : store.db;
}

/** A `runs` row, decoded. */
export interface RunInfo {
  readonly id: number;
  readonly name: string;
  readonly kind: RunKind;
  readonly status: RunStatus;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly target: string | null;
  readonly deployment: string | null;
  readonly model: string | null;
  readonly tracePath: string | null;
  readonly timeScale: number;
  readonly offeredRate: number | null;
  readonly warmupS: number;
  readonly lagFlagged: boolean;
  readonly lagP99S: number | null;
  /** The run's self-check found it distorted (live runs against the bundled backend; see the twin check). */
  readonly distorted: boolean;
  readonly distortedReason: string | null;
  readonly twinRunId: number | null;
  readonly options: Record<string, unknown>;
  readonly notes: Record<string, unknown>;
}

/**
 * The columns of a `requests` row that metrics use (seconds on the run's clock): the store's record, less the
 * fields metrics never read, with `token_times` kept encoded (decoded lazily, per metric).
 */
export type RequestRecord = Pick<
  StoreRequestRecord,
  | 'shard' | 'seq' | 'traceId' | 'promptTokens' | 'outputTokens' | 'warmup' | 'scheduled' | 'send' | 'firstToken'
  | 'end' | 'lag' | 'status' | 'tokensReceived' | 'ttft' | 'tpot' | 'e2e' | 'maxStall' | 'queueS' | 'prefillS'
  | 'kvTransferS' | 'decodeWaitS' | 'decodeS' | 'pool'
> & {
  readonly tokenTimes: Uint8Array | null;
  readonly cachedPromptTokens?: number | null;
  readonly promptMachine?: string | null;
  /** Session workloads: the turn's session and its 0-based index there (null: not a session turn). */
  readonly sessionId?: string | null;
  readonly sessionTurn?: number | null;
};

function parseJson(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string') return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

interface RunSqlRow {
  id: number;
  name: string;
  kind: RunKind;
  status: RunStatus;
  started_at: string;
  ended_at: string | null;
  target: string | null;
  deployment: string | null;
  model: string | null;
  trace_path: string | null;
  time_scale: number;
  offered_rate: number | null;
  warmup_s: number;
  lag_flagged: number;
  lag_p99_s: number | null;
  distorted?: number;
  distorted_reason?: string | null;
  twin_run_id?: number | null;
  options_json: string;
  notes_json: string;
}

function toRunInfo(r: RunSqlRow): RunInfo {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    status: r.status,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    target: r.target,
    deployment: r.deployment,
    model: r.model,
    tracePath: r.trace_path,
    timeScale: r.time_scale,
    offeredRate: r.offered_rate,
    warmupS: r.warmup_s,
    lagFlagged: r.lag_flagged !== 0,
    lagP99S: r.lag_p99_s,
    distorted: r.distorted === 1,
    distortedReason: r.distorted_reason ?? null,
    twinRunId: r.twin_run_id ?? null,
    options: parseJson(r.options_json),
    notes: parseJson(r.notes_json),
  };
}

const RUN_COLUMNS = `id, name, kind, status, started_at, ended_at, target, deployment, model, trace_path, time_scale,
  offered_rate, warmup_s, lag_flagged, lag_p99_s, distorted, distorted_reason, twin_run_id, options_json, notes_json`;

/**
 * Find a run by the store's one lookup rule (id, name, uuid; `undefined` or `latest` → the latest run).
 * Throws a usage error naming what was asked for when there is no such run.
 */
export function findRun(store: StoreLike, idOrName?: string | number): RunInfo {
  const db = dbOf(store);
  const key = idOrName === undefined ? '' : String(idOrName);
  const id = lookupRunId(db, key);
  const row =
    id === undefined ? undefined : (db.prepare(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).get(id) as RunSqlRow | undefined);
  if (row) return toRunInfo(row);
  if (key.trim() === '' || key.trim() === 'latest') {
    throw new SplitbenchError('SB_NO_RUN', 'the store holds no runs', {
      hint: 'record one with `splitbench replay` or `splitbench sim`, or point --db at another store',
      exitCode: ExitCode.usage,
    });
  }
  throw new SplitbenchError('SB_NO_RUN', `no run with id, name or uuid '${key}' in the store`, {
    hint: 'list runs with `splitbench runs list`',
    exitCode: ExitCode.usage,
  });
}

/** Iterate a run's request rows in (shard, seq) order without holding them all in memory. */
export function* requestRecords(store: StoreLike, runId: number): Generator<RequestRecord> {
  // Raw (array) rows: about twice as fast as better-sqlite3's named-column objects on wide rows.
  const stmt = dbOf(store)
    .prepare(
      `SELECT shard, seq, trace_id, prompt_tokens, output_tokens, warmup, scheduled, send, first_token, end, lag, status,
       tokens_received, ttft, tpot, e2e, max_stall, queue_s, prefill_s, kv_transfer_s, decode_wait_s, decode_s, pool,
       token_times, cached_prompt_tokens, prompt_machine, session_id, session_turn
     FROM requests WHERE run_id = ? ORDER BY shard, seq`,
    )
    .raw(true);
  for (const r of stmt.iterate(runId) as IterableIterator<unknown[]>) {
    yield {
      shard: r[0] as number,
      seq: r[1] as number,
      traceId: r[2] as string,
      promptTokens: r[3] as number,
      outputTokens: r[4] as number,
      warmup: r[5] !== 0,
      scheduled: r[6] as number,
      send: r[7] as number | null,
      firstToken: r[8] as number | null,
      end: r[9] as number | null,
      lag: r[10] as number | null,
      status: r[11] as RequestStatus,
      tokensReceived: r[12] as number,
      ttft: r[13] as number | null,
      tpot: r[14] as number | null,
      e2e: r[15] as number | null,
      maxStall: r[16] as number | null,
      queueS: r[17] as number | null,
      prefillS: r[18] as number | null,
      kvTransferS: r[19] as number | null,
      decodeWaitS: r[20] as number | null,
      decodeS: r[21] as number | null,
      pool: r[22] as string | null,
      tokenTimes: r[23] as Uint8Array | null,
      cachedPromptTokens: r[24] as number | null,
      promptMachine: r[25] as string | null,
      sessionId: r[26] as string | null,
      sessionTurn: r[27] as number | null,
    };
  }
}

export interface MachineRecord {
  readonly machineId: string;
  readonly machineType: string;
  readonly pool: string;
  readonly pricePerHour: number | null;
}

export function machineRecords(store: StoreLike, runId: number): MachineRecord[] {
  return (
    dbOf(store)
      .prepare(`SELECT machine_id, machine_type, pool, price_per_hour FROM machines WHERE run_id = ? ORDER BY machine_id`)
      .all(runId) as { machine_id: string; machine_type: string; pool: string; price_per_hour: number | null }[]
  ).map((m) => ({ machineId: m.machine_id, machineType: m.machine_type, pool: m.pool, pricePerHour: m.price_per_hour }));
}

export interface PowerRecord {
  readonly t: number;
  readonly machineId: string;
  readonly role: string;
  readonly watts: number | null;
  readonly source: string;
  /** Cumulative energy at t (J), where the source has one. */
  readonly energyJ: number | null;
}

export function* powerRecords(store: StoreLike, runId: number): Generator<PowerRecord> {
  const stmt = dbOf(store).prepare(
    `SELECT t, machine_id, role, watts, source, energy_j FROM power_samples WHERE run_id = ? ORDER BY machine_id, t`,
  );
  for (const r of stmt.iterate(runId) as IterableIterator<{ t: number; machine_id: string; role: string; watts: number | null; source: string; energy_j: number | null }>) {
    yield { t: r.t, machineId: r.machine_id, role: r.role, watts: r.watts, source: r.source, energyJ: r.energy_j };
  }
}

/** Is this run in SplitwiseSim-compatible mode (its options carry a truthy `compat`)? */
export function isCompatRun(run: { readonly options: Record<string, unknown> }): boolean {
  const c = run.options['compat'];
  if (c === undefined || c === null || c === false) return false;
  if (typeof c === 'string') return !['', 'none', 'off', 'false', 'default'].includes(c.toLowerCase());
  return Boolean(c);
}
