/**
 * The results store: one SQLite file (better-sqlite3, WAL) holding many runs. `openStore` checks that the
 * file is a splitbench store (PRAGMA application_id), applies pending migrations (PRAGMA user_version, one
 * IMMEDIATE transaction each) and returns a `Store`. Writers buffer rows and commit them in one
 * transaction per flush, at least every second, so a crash loses at most the last second of rows.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { SqliteDb } from './sqlite.js';
import { ConfigError, StoreError } from '../errors.js';
import { VERSION } from '../version.js';
import { decodeChunks, encodeChunks } from './codec.js';
import { deriveRequest } from './derive.js';
import {
  APPLICATION_ID,
  MIGRATIONS,
  REQUEST_STATUSES,
  RUN_KINDS,
  RUN_STATUSES,
  SCHEMA_VERSION,
  type RequestStatus,
  type RunStatus,
} from './schema.js';
import type {
  MachineRecord,
  MachineRow,
  NewRun,
  PowerSampleRecord,
  PowerSampleRow,
  RequestCounts,
  RequestQuery,
  RequestRecord,
  RequestRow,
  RunRecord,
  RunWriter,
  SloResultRecord,
  SloResultRow,
  Store,
  TimelineSampleRecord,
  TimelineSampleRow,
  WriterOptions,
} from './api.js';

type DB = Database.Database;
type SqlRow = Record<string, unknown>;

export interface OpenOptions {
  /** Open read-only (default false). Pending migrations are still applied, through a short write. */
  readonly readonly?: boolean;
  /** Create the file (and its folder) when missing; default: true for writers, false for readers. */
  readonly create?: boolean;
}

/** How long a bulk writer waits for its writer thread to start before writing in its own thread (ms). */
const WORKER_START_MS = 10_000;

/** Page size of new store files (bytes). */
const PAGE_SIZE = 16384;

/** SQLite's busy timeout: how long a writer waits for another process's transaction (ms). */
const BUSY_TIMEOUT_MS = 10_000;

function sqliteCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'string' ? c : undefined;
}

function notAStore(file: string, why: string): StoreError {
  return new StoreError(`${file} is not a splitbench results store (${why})`, {
    hint: 'pass --db with a store written by splitbench, or a new file name to create one',
  });
}

/** Read the header pragmas; throws StoreError when the file is not a (splitbench) SQLite database. */
function inspect(db: DB, file: string): { fresh: boolean; version: number } {
  let appId: number;
  let version: number;
  let objects: number;
  try {
    appId = db.pragma('application_id', { simple: true }) as number;
    version = db.pragma('user_version', { simple: true }) as number;
    objects = (db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n;
  } catch (e) {
    const code = sqliteCode(e);
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') throw notAStore(file, 'not an SQLite database');
    throw new StoreError(`cannot read results store ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (appId !== APPLICATION_ID) {
    if (appId === 0 && objects === 0 && version === 0) return { fresh: true, version: 0 };
    throw notAStore(file, appId === 0 ? 'an SQLite database of something else' : `application_id ${appId}`);
  }
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `${file} has store schema version ${version}, newer than this splitbench ${VERSION} knows (${SCHEMA_VERSION})`,
      { hint: 'upgrade splitbench to read this store' },
    );
  }
  return { fresh: false, version };
}

/** Apply pending migrations, each in one IMMEDIATE transaction (safe against concurrent openers). */
function migrate(db: DB, file: string): void {
  for (;;) {
    const v = db.pragma('user_version', { simple: true }) as number;
    if (v >= SCHEMA_VERSION) return;
    try {
      db.transaction(() => {
        const now = db.pragma('user_version', { simple: true }) as number;
        if (now !== v) return; // another process migrated meanwhile; loop re-reads
        if (v === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
        db.exec(MIGRATIONS[v]!);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    } catch (e) {
      throw new StoreError(`cannot migrate results store ${file} to schema version ${v + 1}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

/** SQLite error codes of a read-only connection that could not set up the WAL's shared memory (-shm). */
const NO_SHM = new Set(['SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY_CANTINIT', 'SQLITE_READONLY_CANTLOCK', 'SQLITE_READONLY', 'SQLITE_CANTOPEN']);

/** A URI that opens `file` immutable (no locks, no -shm, the WAL ignored): for folders this user cannot write. */
function immutableUri(file: string): string {
  const abs = path.resolve(file);
  return `file:${abs.split(path.sep).map(encodeURIComponent).join('/')}?immutable=1`;
}

/**
 * A read-only connection. A WAL store needs its -shm file; when it is missing and the folder is not writable
 * (a store owned by another user), SQLite cannot set it up, so the file is opened immutable instead: every
 * committed row a writer checkpointed (all of them once it closed) is read; nothing is written or locked.
 */
function openReader(file: string): { db: DB; fresh: boolean; version: number; immutable: boolean } {
  let first: unknown;
  try {
    const db = openDb(file, true, true);
    try {
      return { db, ...inspect(db, file), immutable: false };
    } catch (e) {
      db.close();
      throw e;
    }
  } catch (e) {
    const code = sqliteCode((e as { cause?: unknown }).cause ?? e);
    if (!code || !NO_SHM.has(code)) throw e;
    first = e;
  }
  let db: DB;
  try {
    db = new SqliteDb(immutableUri(file), { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  } catch {
    throw first; // URI names are off (better-sqlite3 was loaded before src/store/sqlite.ts): the first error
  }
  try {
    return { db, ...inspect(db, file), immutable: true };
  } catch (e) {
    db.close();
    throw e;
  }
}

function openDb(file: string, readonly: boolean, mustExist: boolean): DB {
  try {
    return new SqliteDb(file, { readonly, fileMustExist: mustExist, timeout: BUSY_TIMEOUT_MS });
  } catch (e) {
    throw new StoreError(`cannot open results store ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Open (and by default create) a results store. */
export function openStore(file: string, opts: OpenOptions = {}): Store {
  const readonly = opts.readonly ?? false;
  const create = opts.create ?? !readonly;
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new StoreError(`${file} is a folder, not a results store file`);
  } else {
    if (!create) {
      throw new StoreError(`no results store at ${file}`, {
        hint: 'run `splitbench replay` or `splitbench sim` first, or pass --db FILE',
      });
    }
    try {
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    } catch (e) {
      throw new StoreError(`cannot create the folder for results store ${file}: ${(e as Error).message}`, { cause: e });
    }
  }

  if (readonly) {
    let { db, fresh, version, immutable } = openReader(file);
    if (fresh || version < SCHEMA_VERSION) {
      if (immutable) {
        db.close();
        throw new StoreError(
          `${file} has store schema version ${version} and must be upgraded to ${SCHEMA_VERSION}, which this user cannot do: its folder is not writable`,
          { hint: 'run any splitbench command on it once as a user who can write there' },
        );
      }
      // Bring the file to this build's schema with a short-lived writable connection, then reopen.
      db.close();
      const w = openDb(file, false, true);
      try {
        inspect(w, file);
        w.pragma('journal_mode = WAL');
        migrate(w, file);
      } finally {
        w.close();
      }
      db = openDb(file, true, true);
    }
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return new SqliteStore(file, db, true);
  }

  const db = openDb(file, false, false);
  try {
    const { fresh } = inspect(db, file);
    // A new file gets 16 KiB pages (must precede its first write): a request row carries its token_times
    // blob in the WITHOUT ROWID table, whose rows spill to overflow pages past about a quarter page, i.e.
    // ~1 KB at SQLite's default 4 KiB, which a few hundred output tokens exceed; at 16 KiB most rows stay
    // in their page (bulk sim writes several times faster, a smaller file). Existing files keep theirs.
    if (fresh) db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a committed transaction survives a process crash (SIGKILL); only an OS crash or power
    // loss can drop the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    migrate(db, file);
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError(`cannot open results store ${file}: ${(e as Error).message}`, { cause: e });
  }
  return new SqliteStore(file, db, false);
}

// ---------------------------------------------------------------------------------------------------------
// Row mapping

const nn = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
const numOrNull = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);

function parseJson<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string' || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function toRunRecord(r: SqlRow): RunRecord {
  return {
    id: r.id as number,
    uuid: r.uuid as string,
    name: r.name as string,
    kind: r.kind as RunRecord['kind'],
    status: r.status as RunStatus,
    startedAt: r.started_at as string,
    endedAt: (r.ended_at as string | null) ?? null,
    startWallMs: r.start_wall_ms as number,
    target: (r.target as string | null) ?? null,
    deployment: (r.deployment as string | null) ?? null,
    model: (r.model as string | null) ?? null,
    tracePath: (r.trace_path as string | null) ?? null,
    traceSha256: (r.trace_sha256 as string | null) ?? null,
    timeScale: r.time_scale as number,
    offeredRate: (r.offered_rate as number | null) ?? null,
    warmupS: r.warmup_s as number,
    lagFlagged: r.lag_flagged === 1,
    lagP99S: (r.lag_p99_s as number | null) ?? null,
    distorted: r.distorted === 1,
    distortedReason: (r.distorted_reason as string | null) ?? null,
    twinRunId: (r.twin_run_id as number | null) ?? null,
    options: parseJson(r.options_json, {}),
    tags: parseJson(r.tags_json, {}),
    env: parseJson(r.env_json, {}),
    splitbenchVersion: r.splitbench_version as string,
    seed: (r.seed as number | null) ?? null,
    notes: parseJson(r.notes_json, {}),
  };
}

function toRequestRecord(r: SqlRow, withChunks: boolean): RequestRecord {
  return {
    runId: r.run_id as number,
    shard: r.shard as number,
    seq: r.seq as number,
    traceId: r.trace_id as string,
    sessionId: r.session_id as string | null,
    arrival: r.arrival as number,
    promptTokens: r.prompt_tokens as number,
    outputTokens: r.output_tokens as number,
    warmup: r.warmup === 1,
    scheduled: r.scheduled as number,
    send: r.send as number | null,
    firstToken: r.first_token as number | null,
    end: r.end as number | null,
    lag: r.lag as number | null,
    status: r.status as RequestStatus,
    errorCode: r.error_code as string | null,
    error: r.error as string | null,
    httpStatus: r.http_status as number | null,
    timeoutPhase: r.timeout_phase as string | null,
    tokensReceived: r.tokens_received as number,
    usagePrompt: r.usage_prompt as number | null,
    usageCompletion: r.usage_completion as number | null,
    countMethod: r.count_method as string | null,
    ttft: r.ttft as number | null,
    tpot: r.tpot as number | null,
    e2e: r.e2e as number | null,
    ttftSched: r.ttft_sched as number | null,
    e2eSched: r.e2e_sched as number | null,
    maxStall: r.max_stall as number | null,
    queueS: r.queue_s as number | null,
    prefillS: r.prefill_s as number | null,
    kvTransferS: r.kv_transfer_s as number | null,
    decodeWaitS: r.decode_wait_s as number | null,
    decodeS: r.decode_s as number | null,
    promptMachine: r.prompt_machine as string | null,
    tokenMachine: r.token_machine as string | null,
    pool: r.pool as string | null,
    coalesced: (r.coalesced as number | null) ?? null,
    cachedPromptTokens: (r.cached_prompt_tokens ?? null) as number | null,
    chunks: withChunks ? decodeChunks(r.token_times as Uint8Array | null) : [],
  };
}

/** The `requests` columns in table order (what the writer binds and `runs export` prints). */
export const REQUEST_COLUMNS = [
  'run_id', 'shard', 'seq', 'trace_id', 'session_id', 'arrival', 'prompt_tokens', 'output_tokens', 'warmup',
  'scheduled', 'send', 'first_token', 'end', 'lag', 'status', 'error_code', 'error', 'http_status',
  'timeout_phase', 'tokens_received', 'usage_prompt', 'usage_completion', 'count_method', 'ttft', 'tpot',
  'e2e', 'ttft_sched', 'e2e_sched', 'max_stall', 'queue_s', 'prefill_s', 'kv_transfer_s', 'decode_wait_s',
  'decode_s', 'prompt_machine', 'token_machine', 'pool', 'token_times', 'coalesced', 'cached_prompt_tokens',
] as const;

const STATUS_SET: ReadonlySet<string> = new Set(REQUEST_STATUSES);

function checkRequest(row: RequestRow): void {
  const bad = (field: string, why: string): never => {
    throw new TypeError(`store: request seq ${String(row.seq)}: ${field} ${why}`);
  };
  if (!Number.isInteger(row.seq) || row.seq < 0) bad('seq', 'must be a non-negative integer');
  if (row.shard !== undefined && !Number.isInteger(row.shard)) bad('shard', 'must be an integer');
  if (!STATUS_SET.has(row.status)) bad('status', `must be one of ${REQUEST_STATUSES.join(', ')}`);
  if (!Number.isFinite(row.scheduled)) bad('scheduled', 'must be a finite number');
  if (!Number.isFinite(row.arrival)) bad('arrival', 'must be a finite number');
  if (!Number.isInteger(row.tokensReceived) || row.tokensReceived < 0) bad('tokensReceived', 'must be an integer ≥ 0');
}

/** The bound parameters of one `requests` row, derived columns included (REQUEST_COLUMNS order). */
export function requestParams(runId: number, row: RequestRow): unknown[] {
  // A pre-encoded blob (bulk producers) stands for the chunks: nothing is derived from them here.
  const blob = row.tokenTimesBlob;
  const d = blob === undefined ? deriveRequest(row) : deriveRequest({
          scheduled: row.scheduled,
          send: row.send,
          firstToken: row.firstToken,
          end: row.end,
          status: row.status,
          tokensReceived: row.tokensReceived,
        });
  const b = row.breakdown;
  return [
    runId,
    row.shard ?? 0,
    row.seq,
    row.traceId,
    nn(row.sessionId),
    row.arrival,
    row.promptTokens,
    row.outputTokens,
    row.warmup ? 1 : 0,
    row.scheduled,
    numOrNull(row.send),
    numOrNull(d.firstToken),
    numOrNull(d.end),
    numOrNull(d.lag),
    row.status,
    nn(row.errorCode),
    nn(row.error),
    nn(row.httpStatus),
    nn(row.timeoutPhase),
    row.tokensReceived,
    nn(row.usagePrompt),
    nn(row.usageCompletion),
    nn(row.countMethod),
    numOrNull(d.ttft),
    numOrNull(d.tpot),
    numOrNull(d.e2e),
    numOrNull(d.ttftSched),
    numOrNull(d.e2eSched),
    numOrNull(blob === undefined ? d.maxStall : row.maxStall),
    numOrNull(b?.queue),
    numOrNull(b?.prefill),
    numOrNull(b?.kvTransfer),
    numOrNull(b?.decodeWait),
    numOrNull(b?.decode),
    nn(row.promptMachine),
    nn(row.tokenMachine),
    nn(row.pool),
    blob !== undefined ? (blob.length > 0 ? blob : null) : row.chunks && row.chunks.length > 0 ? encodeChunks(row.chunks) : null,
    nn(row.coalesced),
    nn(b?.cachedPromptTokens),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Flush on exit: a caller that exits (process.exit, an uncaught error) without finish() keeps its rows.

const openStores = new Set<SqliteStore>();
let exitHookInstalled = false;
function onExit(): void {
  for (const s of openStores) s.flushAll();
}
function track(s: SqliteStore): void {
  openStores.add(s);
  if (!exitHookInstalled) {
    process.on('exit', onExit);
    exitHookInstalled = true;
  }
}
function untrack(s: SqliteStore): void {
  openStores.delete(s);
  if (openStores.size === 0 && exitHookInstalled) {
    process.off('exit', onExit);
    exitHookInstalled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------

/** The writer's prepared INSERT statements. */
export interface Inserts {
  readonly req: Database.Statement;
  readonly machine: Database.Statement;
  readonly power: Database.Statement;
  readonly timeline: Database.Statement;
}

export function prepareInserts(db: DB): Inserts {
  return {
    req: db.prepare(
      `INSERT INTO requests (${REQUEST_COLUMNS.map((c) => `"${c}"`).join(', ')}) VALUES (${REQUEST_COLUMNS.map(() => '?').join(', ')})`,
    ),
    machine: db.prepare(
      `INSERT OR REPLACE INTO machines (run_id, machine_id, machine_type, pool, gpus, price_per_hour, tdp_w, idle_w)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    power: db.prepare('INSERT INTO power_samples (run_id, t, machine_id, role, source, watts, energy_j) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    timeline: db.prepare(
      'INSERT INTO timeline_samples (run_id, t, source, role, name, labels_json, value) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
  };
}

/** One flush's rows (requests already as bound parameters). */
export interface WriteBatch {
  readonly reqs: unknown[][];
  readonly machines: readonly MachineRow[];
  readonly power: readonly PowerSampleRow[];
  readonly timeline: readonly TimelineSampleRow[];
}

/** Insert one batch in one IMMEDIATE transaction; `cur.current` names the row being written (errors). */
export function writeBatch(db: DB, ins: Inserts, id: number, b: WriteBatch, cur: { current: string }): void {
  db.transaction(() => {
    for (const m of b.machines) {
      cur.current = `machine ${m.machineId}`;
      ins.machine.run(id, m.machineId, m.machineType, m.pool, nn(m.gpus), nn(m.pricePerHour), nn(m.tdpW), nn(m.idleW));
    }
    for (const p of b.reqs) {
      cur.current = `request shard ${String(p[1])} seq ${String(p[2])}`;
      ins.req.run(p);
    }
    cur.current = 'power sample';
    for (const p of b.power) ins.power.run(id, p.t, p.machineId, p.role, p.source, p.watts, nn(p.energyJ ?? undefined));
    cur.current = 'timeline sample';
    for (const s of b.timeline) {
      ins.timeline.run(id, s.t, s.source, s.role ?? '', s.name, JSON.stringify(s.labels ?? {}), s.value);
    }
  }).immediate();
}

/**
 * The main-thread end of a bulk writer's worker (bulk-worker.ts): batches are posted (structured clone)
 * and written there in order, each in its own transaction, on the worker's own connection; `wait()` blocks
 * (Atomics.wait) until every posted batch is committed, so `flush()`/`finish()` keep their meaning.
 */
/** A batch the writer thread could not commit: which row, and SQLite's message. */
class WorkerWriteError extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(message);
  }
}

class BulkWorker {
  private posted = 0;
  private constructor(
    private readonly worker: Worker,
    private readonly done: Int32Array,
    private readonly port: MessagePort,
  ) {}

  /** A worker for a file store; null when the store has no file (in memory) or no worker can start. */
  static start(file: string, durable = false): BulkWorker | null {
    if (file === '' || file === ':memory:' || file.startsWith('file:')) return null;
    // Run from the TypeScript sources (a loader such as tsx, which a worker would not inherit): this thread.
    if (!import.meta.url.endsWith('.js')) return null;
    try {
      // [0]: messages handled; [1]: 1 once the worker has its connection open, -1 if it cannot.
      const shared = new Int32Array(new SharedArrayBuffer(8));
      const done = shared.subarray(0, 1);
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL('./bulk-worker.js', import.meta.url), {
        workerData: { file: path.resolve(file), shared, port: port2, durable },
        transferList: [port2],
      });
      worker.on('error', () => {}); // a worker that cannot start: the writer writes in its own thread
      worker.unref();
      port1.unref();
      // Wait for it to start (it loads SQLite and opens the file: tens of ms); else write in this thread.
      const t0 = performance.now();
      while (Atomics.load(shared, 1) === 0 && performance.now() - t0 < WORKER_START_MS) Atomics.wait(shared, 1, 0, 100);
      if (Atomics.load(shared, 1) !== 1) {
        void worker.terminate();
        port1.close();
        return null;
      }
      return new BulkWorker(worker, done, port1);
    } catch {
      return null;
    }
  }

  post(id: number, batch: WriteBatch): void {
    this.posted++;
    this.worker.postMessage({ id, batch });
  }

  /** Throw the worker's first failure, if it reported one. */
  check(): void {
    const m = receiveMessageOnPort(this.port);
    if (m) {
      const f = m.message as { error: string; where: string };
      throw new WorkerWriteError(f.where, String(f.error));
    }
  }

  wait(): void {
    for (;;) {
      const d = Atomics.load(this.done, 0);
      if (d >= this.posted) break;
      Atomics.wait(this.done, 0, d, 1000);
    }
    this.check();
  }

  /** Wait for the posted batches, then let the worker close its connection and end. */
  close(): void {
    try {
      this.wait();
    } finally {
      this.posted++;
      this.worker.postMessage('close');
      const d = Atomics.load(this.done, 0);
      if (d < this.posted) Atomics.wait(this.done, 0, d, 10_000);
      void this.worker.terminate();
      this.port.close();
    }
  }

  abandon(): void {
    void this.worker.terminate();
    this.port.close();
  }
}

class SqliteRunWriter implements RunWriter {
  readonly runId: number;
  private readonly store: SqliteStore;
  private readonly batchRows: number;
  /** Bulk writer: the connection runs with synchronous = OFF while it is open (see WriterOptions.bulk). */
  readonly bulk: boolean;
  private requests: unknown[][] = [];
  private machineRows: MachineRow[] = [];
  private power: PowerSampleRow[] = [];
  private timeline: TimelineSampleRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private failure: StoreError | undefined;
  private readonly stmts: Inserts;
  /** Live writers that commit from a worker thread (WriterOptions.thread). */
  readonly threaded: boolean;
  /** Bulk and threaded writers on a file store write from a worker thread (bulk-worker.ts); undefined: not started, null: in this thread. */
  private bulkWorker: BulkWorker | null | undefined;

  constructor(store: SqliteStore, runId: number, opts: WriterOptions) {
    this.store = store;
    this.runId = runId;
    this.bulk = opts.bulk === true;
    this.threaded = opts.thread === true && !this.bulk;
    // A live writer's thread starts now, before the run's clock does (starting it blocks for tens of ms).
    if (this.threaded) this.bulkWorker = BulkWorker.start(store.path, true);
    this.batchRows = Math.max(1, opts.batchRows ?? (this.bulk ? 5000 : 1000));
    this.stmts = prepareInserts(store.db);
    const interval = Math.max(10, opts.flushIntervalMs ?? 1000);
    this.timer = setInterval(() => {
      try {
        this.flush(true);
      } catch {
        // kept in this.failure and thrown to the next caller
      }
    }, interval);
    this.timer.unref();
  }

  private pending(): number {
    return this.requests.length + this.machineRows.length + this.power.length + this.timeline.length;
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.finished) throw new Error(`store: run ${this.runId}: writer used after finish()`);
  }

  private maybeFlush(): void {
    if (this.pending() >= this.batchRows) this.flush(true);
  }

  addRequest(row: RequestRow): void {
    this.check();
    checkRequest(row);
    this.requests.push(requestParams(this.runId, row));
    this.maybeFlush();
  }

  addMachines(rows: readonly MachineRow[]): void {
    this.check();
    this.machineRows.push(...rows);
    this.maybeFlush();
  }

  addPowerSample(row: PowerSampleRow): void {
    this.check();
    this.power.push(row);
    this.maybeFlush();
  }

  addTimelineSample(row: TimelineSampleRow): void {
    this.check();
    this.timeline.push(row);
    this.maybeFlush();
  }

  /**
   * Commit the buffered rows in one transaction. When this store's connection is busy with an open read
   * (a `requests()` iterator in progress), the rows stay buffered: a background flush (`retryLater`) just
   * tries again later, an explicit one throws a StoreError that does not break the writer.
   */
  flush(retryLater = false): void {
    if (this.failure) throw this.failure;
    if (this.pending() === 0) {
      if (!retryLater && this.bulkWorker) this.onWorker((w) => w.wait());
      return;
    }
    const reqs = this.requests;
    const machines = this.machineRows;
    const power = this.power;
    const timeline = this.timeline;
    this.requests = [];
    this.machineRows = [];
    this.power = [];
    this.timeline = [];
    const id = this.runId;
    const batch: WriteBatch = { reqs, machines, power, timeline };
    // The thread starts with the first full batch: a short run (tests, sweep points) is not worth its ~80 ms.
    if (this.bulkWorker === undefined && this.bulk && reqs.length + machines.length + power.length + timeline.length >= this.batchRows) this.bulkWorker = BulkWorker.start(this.store.path);
    if (this.bulkWorker) {
      // A writer with its own thread: the inserts run there while the caller goes on (simulating, dispatching).
      this.onWorker((w) => {
        w.post(id, batch);
        w.check();
        if (!retryLater) w.wait();
      });
      return;
    }
    const cur = { current: '' };
    try {
      writeBatch(this.store.db, this.stmts, id, batch, cur);
    } catch (e) {
      if (e instanceof TypeError && /busy executing a query/.test(e.message)) {
        this.requests = reqs.concat(this.requests);
        this.machineRows = machines.concat(this.machineRows);
        this.power = power.concat(this.power);
        this.timeline = timeline.concat(this.timeline);
        if (retryLater) return;
        throw new StoreError(
          `cannot write run ${id} to results store ${this.store.path} now: its connection is reading (an open requests() iteration); the rows stay buffered`,
        );
      }
      this.failure = new StoreError(
        `cannot write run ${id} to results store ${this.store.path} (${cur.current}): ${(e as Error).message}`,
        { cause: e },
      );
      this.stopTimer();
      throw this.failure;
    }
  }

  /** Run `f` on the bulk worker; a failure there breaks this writer (like a failed transaction). */
  private onWorker(f: (w: BulkWorker) => void): void {
    try {
      f(this.bulkWorker!);
    } catch (e) {
      // Worded as a failed commit in this thread is (the row it failed on, then SQLite's message).
      const msg = e instanceof WorkerWriteError ? `(${e.where}): ${e.message}` : `(${(e as Error).message})`;
      this.failure = new StoreError(`cannot write run ${this.runId} to results store ${this.store.path} ${msg}`, { cause: e });
      this.stopTimer();
      this.bulkWorker!.abandon();
      this.bulkWorker = null;
      throw this.failure;
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  finish(status: RunStatus, extra: { lagFlagged?: boolean; lagP99S?: number; notes?: Record<string, unknown> } = {}): void {
    if (this.finished) return;
    if (!RUN_STATUSES.includes(status)) throw new TypeError(`store: unknown run status ${String(status)}`);
    try {
      this.flush();
    } catch (e) {
      if (!this.failure) throw e; // e.g. the connection is busy reading: nothing changed, finish() can be retried
    }
    if (this.bulkWorker) {
      try {
        this.onWorker((w) => w.close());
      } catch {
        // recorded in this.failure, thrown below once the run is marked
      }
      this.bulkWorker = null;
    }
    this.finished = true;
    this.stopTimer();
    this.store.writerDone(this);
    this.store.finishRun(this.runId, status, extra);
    if (this.failure) throw this.failure;
  }

  /** Flush without throwing (exit hook / store close). */
  flushQuietly(): void {
    try {
      this.flush();
    } catch {
      // already recorded in this.failure
    }
  }

  abandon(): void {
    this.stopTimer();
    this.bulkWorker?.abandon();
    this.bulkWorker = null;
  }
}

class SqliteStore implements Store {
  readonly path: string;
  readonly db: DB;
  readonly readonly: boolean;
  private closed = false;
  private readonly writers = new Set<SqliteRunWriter>();

  constructor(file: string, db: DB, readonly: boolean) {
    this.path = file;
    this.db = db;
    this.readonly = readonly;
    track(this);
  }

  private writable(what: string): void {
    if (this.closed) throw new Error(`store: ${what} on a closed store`);
    if (this.readonly) throw new StoreError(`cannot ${what}: results store ${this.path} was opened read-only`);
  }

  private write<T>(what: string, f: () => T): T {
    this.writable(what);
    try {
      return f();
    } catch (e) {
      if (e instanceof StoreError || e instanceof ConfigError || e instanceof TypeError) throw e;
      throw new StoreError(`cannot ${what} in results store ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Open bulk writers: while there is one, the connection runs with synchronous = OFF. */
  private bulkWriters = 0;

  createRun(run: NewRun, opts: WriterOptions = {}): RunWriter {
    if (!RUN_KINDS.includes(run.kind)) throw new TypeError(`store: unknown run kind ${String(run.kind)}`);
    const startWallMs = run.startWallMs ?? Date.now();
    const cpus = os.cpus();
    const env = {
      node: process.version,
      host: os.hostname(),
      cpu: cpus[0]?.model ?? 'unknown',
      cpus: cpus.length,
      platform: `${process.platform}-${process.arch}`,
      pid: process.pid,
    };
    const runId = this.write('create a run', () =>
      this.db
        .transaction(() => {
          const info = this.db
            .prepare(
              `INSERT INTO runs (uuid, name, kind, status, started_at, start_wall_ms, target, deployment, model,
                 trace_path, trace_sha256, time_scale, offered_rate, warmup_s, options_json, tags_json, env_json,
                 splitbench_version, seed)
               VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              randomUUID(),
              run.name ?? '',
              run.kind,
              new Date(startWallMs).toISOString(),
              startWallMs,
              nn(run.target),
              nn(run.deployment),
              nn(run.model),
              nn(run.tracePath),
              nn(run.traceSha256),
              run.timeScale ?? 1,
              nn(run.offeredRate),
              run.warmupS ?? 0,
              JSON.stringify(run.options ?? {}),
              JSON.stringify(run.tags ?? {}),
              JSON.stringify(env),
              VERSION,
              nn(run.seed),
            );
          const id = Number(info.lastInsertRowid);
          if (!run.name) this.db.prepare('UPDATE runs SET name = ? WHERE id = ?').run(`${run.kind}-${id}`, id);
          return id;
        })
        .immediate(),
    );
    const w = new SqliteRunWriter(this, runId, opts);
    this.writers.add(w);
    if (w.bulk && this.bulkWriters++ === 0) this.db.pragma('synchronous = OFF');
    return w;
  }

  /** @internal */
  writerDone(w: SqliteRunWriter): void {
    if (!this.writers.delete(w)) return;
    // Back to the store's durable setting once the last bulk writer is done (openStore sets NORMAL).
    if (w.bulk && --this.bulkWriters === 0 && !this.closed) this.db.pragma('synchronous = NORMAL');
  }

  /** @internal */
  finishRun(
    runId: number,
    status: RunStatus,
    extra: { lagFlagged?: boolean; lagP99S?: number; notes?: Record<string, unknown> },
  ): void {
    this.write('finish a run', () => {
      this.db.transaction(() => {
        this.db
          .prepare(
            `UPDATE runs SET status = ?, ended_at = ?, lag_flagged = coalesce(?, lag_flagged),
               lag_p99_s = coalesce(?, lag_p99_s) WHERE id = ?`,
          )
          .run(
            status,
            new Date().toISOString(),
            extra.lagFlagged === undefined ? null : extra.lagFlagged ? 1 : 0,
            numOrNull(extra.lagP99S),
            runId,
          );
        if (extra.notes) this.mergeNotes(runId, extra.notes);
      }).immediate();
    });
  }

  private mergeNotes(runId: number, notes: Record<string, unknown>): Record<string, unknown> {
    const row = this.db.prepare('SELECT notes_json FROM runs WHERE id = ?').get(runId) as SqlRow | undefined;
    if (!row) throw new ConfigError(`no run with id ${runId} in ${this.path}`);
    const merged: Record<string, unknown> = parseJson(row.notes_json, {});
    for (const [k, v] of Object.entries(notes)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    this.db.prepare('UPDATE runs SET notes_json = ? WHERE id = ?').run(JSON.stringify(merged), runId);
    return merged;
  }

  setRunNotes(runId: number, notes: Record<string, unknown>): Record<string, unknown> {
    return this.write('set run notes', () => this.db.transaction(() => this.mergeNotes(runId, notes)).immediate());
  }

  setRunStatus(runId: number, status: RunStatus): void {
    if (!RUN_STATUSES.includes(status)) throw new TypeError(`store: unknown run status ${String(status)}`);
    this.write('set a run status', () => {
      this.db
        .prepare('UPDATE runs SET status = ?, ended_at = CASE WHEN ? THEN NULL ELSE coalesce(ended_at, ?) END WHERE id = ?')
        .run(status, status === 'running' ? 1 : 0, new Date().toISOString(), runId);
    });
  }

  setRunCheck(runId: number, check: { distorted: boolean; reason?: string; twinRunId?: number }): void {
    this.write('record a run check', () => {
      this.db
        .prepare('UPDATE runs SET distorted = ?, distorted_reason = ?, twin_run_id = coalesce(?, twin_run_id) WHERE id = ?')
        .run(check.distorted ? 1 : 0, check.reason ?? null, check.twinRunId ?? null, runId);
    });
  }

  getRun(id: number): RunRecord | undefined {
    const r = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as SqlRow | undefined;
    return r ? toRunRecord(r) : undefined;
  }

  findRun(idOrName: string | number): RunRecord {
    const key = String(idOrName).trim();
    const id = lookupRunId(this.db, key);
    const found = id === undefined ? undefined : this.getRun(id);
    if (found) return found;
    const recent = this.db.prepare('SELECT id, name FROM runs ORDER BY id DESC LIMIT 5').all() as {
      id: number;
      name: string;
    }[];
    const total = (this.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
    throw new ConfigError(`no run "${key}" in ${this.path}`, {
      hint:
        recent.length === 0
          ? 'the store has no runs yet'
          : `${total > recent.length ? 'latest runs' : 'runs'}: ${recent.map((r) => `${r.id} (${r.name})`).join(', ')}` +
            ' — see `splitbench runs list`',
    });
  }

  listRuns(): RunRecord[] {
    return (this.db.prepare('SELECT * FROM runs ORDER BY id').all() as SqlRow[]).map(toRunRecord);
  }

  deleteRun(id: number): boolean {
    return this.write('delete a run', () => {
      for (const w of this.writers) if (w.runId === id) w.abandon();
      return this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
    });
  }

  requestCounts(runId: number): RequestCounts {
    const counts: Record<string, number> = { total: 0 };
    for (const s of REQUEST_STATUSES) counts[s] = 0;
    const rows = this.db
      .prepare('SELECT status, count(*) AS n FROM requests WHERE run_id = ? GROUP BY status')
      .all(runId) as { status: string; n: number }[];
    for (const r of rows) {
      counts[r.status] = r.n;
      counts.total += r.n;
    }
    return counts as RequestCounts;
  }

  *requests(runId: number, opts: RequestQuery = {}): IterableIterator<RequestRecord> {
    const where = ['run_id = ?'];
    const params: unknown[] = [runId];
    if (opts.status !== undefined) {
      const list = (Array.isArray(opts.status) ? opts.status : [opts.status]) as RequestStatus[];
      where.push(`status IN (${list.map(() => '?').join(', ')})`);
      params.push(...list);
    }
    if (opts.includeWarmup === false) where.push('warmup = 0');
    const order = opts.orderBy === 'scheduled' ? 'scheduled, shard, seq' : 'shard, seq';
    const withChunks = opts.chunks ?? true;
    const stmt = this.db.prepare(`SELECT * FROM requests WHERE ${where.join(' AND ')} ORDER BY ${order}`);
    for (const r of stmt.iterate(...params)) yield toRequestRecord(r as SqlRow, withChunks);
  }

  machines(runId: number): MachineRecord[] {
    return (this.db.prepare('SELECT * FROM machines WHERE run_id = ? ORDER BY pool, machine_id').all(runId) as SqlRow[]).map(
      (r) => ({
        machineId: r.machine_id as string,
        machineType: r.machine_type as string,
        pool: r.pool as string,
        gpus: r.gpus as number | null,
        pricePerHour: r.price_per_hour as number | null,
        tdpW: r.tdp_w as number | null,
        idleW: r.idle_w as number | null,
      }),
    );
  }

  powerSamples(runId: number): PowerSampleRecord[] {
    return (this.db.prepare('SELECT * FROM power_samples WHERE run_id = ? ORDER BY t, machine_id').all(runId) as SqlRow[]).map(
      (r) => ({
        t: r.t as number,
        machineId: r.machine_id as string,
        role: r.role as string,
        source: r.source as string,
        watts: r.watts as number | null,
        energyJ: r.energy_j as number | null,
      }),
    );
  }

  timelineSamples(runId: number, name?: string): TimelineSampleRecord[] {
    const rows = (
      name === undefined
        ? this.db.prepare('SELECT * FROM timeline_samples WHERE run_id = ? ORDER BY t').all(runId)
        : this.db.prepare('SELECT * FROM timeline_samples WHERE run_id = ? AND name = ? ORDER BY t').all(runId, name)
    ) as SqlRow[];
    return rows.map((r) => ({
      t: r.t as number,
      source: r.source as string,
      role: r.role as string,
      name: r.name as string,
      labels: parseJson(r.labels_json, {}),
      value: r.value as number,
    }));
  }

  addSloResults(runId: number, rows: readonly SloResultRow[]): void {
    this.write('record SLO results', () => {
      const ins = this.db.prepare(
        `INSERT INTO slo_results (run_id, evaluated_at, slo_file, rule, metric, value, limit_value, op, passed,
           baseline_run_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const now = new Date().toISOString();
      this.db.transaction(() => {
        for (const r of rows) {
          ins.run(
            runId,
            r.evaluatedAt ?? now,
            r.sloFile,
            r.rule,
            r.metric,
            numOrNull(r.value ?? undefined),
            numOrNull(r.limitValue ?? undefined),
            r.op,
            r.passed ? 1 : 0,
            r.baselineRunId ?? null,
            r.detail ?? null,
          );
        }
      }).immediate();
    });
  }

  sloResults(runId: number): SloResultRecord[] {
    return (this.db.prepare('SELECT rowid, * FROM slo_results WHERE run_id = ? ORDER BY rowid').all(runId) as SqlRow[]).map(
      (r) => ({
        evaluatedAt: r.evaluated_at as string,
        sloFile: r.slo_file as string,
        rule: r.rule as string,
        metric: r.metric as string,
        value: r.value as number | null,
        limitValue: r.limit_value as number | null,
        op: r.op as string,
        passed: r.passed === 1,
        baselineRunId: r.baseline_run_id as number | null,
        detail: r.detail as string | null,
      }),
    );
  }

  /** @internal Flush every open writer, ignoring failures (exit hook). */
  flushAll(): void {
    if (this.closed) return;
    for (const w of this.writers) w.flushQuietly();
  }

  close(): void {
    if (this.closed) return;
    this.flushAll();
    for (const w of this.writers) w.abandon();
    this.writers.clear();
    this.bulkWriters = 0;
    this.closed = true;
    untrack(this);
    this.db.close();
  }
}

/**
 * For a run still marked `running`: true when its writer process is gone (same host, pid not alive — it
 * was killed or crashed, so the run will never finish), false when that process is alive, undefined when
 * it cannot be told (not running, another host, no pid recorded).
 */
/**
 * The one run-lookup rule every command uses: a numeric id; else the latest run with that name; else the run
 * with that uuid; an empty key or `latest` is the latest run. `undefined` when nothing matches.
 */
export function lookupRunId(db: DB, key: string): number | undefined {
  const k = key.trim();
  const pick = (sql: string, ...args: unknown[]): number | undefined =>
    (db.prepare(sql).get(...args) as { id: number } | undefined)?.id;
  if (k === '' || k === 'latest') return pick('SELECT id FROM runs ORDER BY id DESC LIMIT 1');
  if (/^\d+$/.test(k)) {
    const byId = pick('SELECT id FROM runs WHERE id = ?', Number(k));
    if (byId !== undefined) return byId;
  }
  return (
    pick('SELECT id FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1', k) ??
    pick('SELECT id FROM runs WHERE uuid = ? ORDER BY id DESC LIMIT 1', k)
  );
}

export function isStale(run: RunRecord): boolean | undefined {
  if (run.status !== 'running') return undefined;
  const pid = run.env.pid;
  if (run.env.host !== os.hostname() || typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
