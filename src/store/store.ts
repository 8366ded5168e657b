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
import { BatchBuilder, batchBuffers } from './batch.js';
import { compileBatchRows, prepareInserts, transferOf, writeBatches, type Inserts, type Params, type WriteBatch } from './writer.js';
import { deriveRequest } from './derive.js';
import { importShards, type MergedRun, type ShardImport } from './shards.js';
import { APPLICATION_ID, MIGRATIONS, REQUEST_STATUSES, RUN_KINDS, RUN_STATUSES, SCHEMA_VERSION, type RequestStatus, type RunStatus } from './schema.js';
import {
  columnList,
  compileDecoder,
  compileEncoder,
  insertSql,
  pick,
  POWER_TABLE,
  REQUEST_TABLE,
  RUN_TABLE,
  SHARD_TABLE,
  SLO_RESULT_TABLE,
  TABLES,
  TIMELINE_TABLE,
  type Column,
  type TableName,
  type FieldOf,
} from './columns.js';
import type {
  MachineRecord,
  NewShard,
  RequestRowRecord,
  ShardEnd,
  ShardRecord,
  MachineRow,
  NewRun,
  PowerSampleRecord,
  PowerSampleRow,
  RequestCounts,
  RequestQuery,
  RequestRecord,
  RequestRow,
  RequestTap,
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
    throw new StoreError(`${file} has store schema version ${version}, newer than this splitbench ${VERSION} knows (${SCHEMA_VERSION})`, {
      hint: 'upgrade splitbench to read this store',
    });
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

// Readers: raw (array) rows decoded by decoders compiled from the column table (columns.ts).
const RUN_COLS = columnList(RUN_TABLE);
const toRunRecord = compileDecoder<RunRecord>(RUN_TABLE);

const REQUEST_NO_BLOB = REQUEST_TABLE.filter((c) => c.name !== 'token_times');
const REQUEST_READ_COLS = `${columnList(REQUEST_NO_BLOB)}, "token_times"`;
const BLOB_AT = REQUEST_NO_BLOB.length;
const toRequestRecord = compileDecoder<RequestRecord>(REQUEST_NO_BLOB, { chunks: (r) => decodeChunks(r[BLOB_AT] as Uint8Array | null) });
const toRequestRecordNoChunks = compileDecoder<RequestRecord>(REQUEST_NO_BLOB, { chunks: () => [] });

/** A per-run table read without its run_id column: the SQL column list and the decoder of its rows. */
interface PerRunReader<R> {
  readonly table: TableName;
  readonly cols: string;
  readonly decode: (row: unknown[]) => R;
}
function perRunReader<R>(table: TableName): PerRunReader<R> {
  const cols = (TABLES[table] as readonly Column[]).filter((c) => c.name !== 'run_id');
  return { table, cols: columnList(cols), decode: compileDecoder<R>(cols) };
}
const MACHINES = perRunReader<MachineRecord>('machines');
const POWER_SAMPLES = perRunReader<PowerSampleRecord>('power_samples');
const TIMELINE_SAMPLES = perRunReader<TimelineSampleRecord>('timeline_samples');
const SLO_RESULTS = perRunReader<SloResultRecord>('slo_results');
const toShardRecord = compileDecoder<ShardRecord>(SHARD_TABLE);

/** The `requests` columns in table order (what the writer binds and `runs export` prints). */
export const REQUEST_COLUMNS: readonly string[] = REQUEST_TABLE.map((c) => c.name);

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
  return encodeRequest(requestRecord({} as Writable<RequestParams>, runId, row));
}

/**
 * One `requests` row's bound values by field (bool fields as booleans), derived columns included, written
 * into `o` (a writer reuses one record for all its rows: no allocation per row) and returned.
 */
function requestRecord(o: Writable<RequestParams>, runId: number, row: RequestRow): RequestParams {
  // A pre-encoded blob (bulk producers) stands for the chunks: nothing is derived from them here.
  const blob = row.tokenTimesBlob;
  const d =
    blob === undefined
      ? deriveRequest(row)
      : deriveRequest({
          scheduled: row.scheduled,
          send: row.send,
          firstToken: row.firstToken,
          end: row.end,
          status: row.status,
          tokensReceived: row.tokensReceived,
        });
  const b = row.breakdown;
  o.runId = runId;
  o.shard = row.shard ?? 0;
  o.seq = row.seq;
  o.traceId = row.traceId;
  o.sessionId = nn(row.sessionId);
  o.arrival = row.arrival;
  o.promptTokens = row.promptTokens;
  o.outputTokens = row.outputTokens;
  o.warmup = row.warmup === true;
  o.scheduled = row.scheduled;
  o.send = numOrNull(row.send);
  o.firstToken = numOrNull(d.firstToken);
  o.end = numOrNull(d.end);
  o.lag = numOrNull(d.lag);
  o.status = row.status;
  o.errorCode = nn(row.errorCode);
  o.error = nn(row.error);
  o.httpStatus = nn(row.httpStatus);
  o.timeoutPhase = nn(row.timeoutPhase);
  o.tokensReceived = row.tokensReceived;
  o.usagePrompt = nn(row.usagePrompt);
  o.usageCompletion = nn(row.usageCompletion);
  o.countMethod = nn(row.countMethod);
  o.ttft = numOrNull(d.ttft);
  o.tpot = numOrNull(d.tpot);
  o.e2e = numOrNull(d.e2e);
  o.ttftSched = numOrNull(d.ttftSched);
  o.e2eSched = numOrNull(d.e2eSched);
  o.maxStall = numOrNull(blob === undefined ? d.maxStall : row.maxStall);
  o.queueS = numOrNull(b?.queue);
  o.prefillS = numOrNull(b?.prefill);
  o.kvTransferS = numOrNull(b?.kvTransfer);
  o.decodeWaitS = numOrNull(b?.decodeWait);
  o.decodeS = numOrNull(b?.decode);
  o.promptMachine = nn(row.promptMachine);
  o.tokenMachine = nn(row.tokenMachine);
  o.pool = nn(row.pool);
  o.tokenTimes = blob !== undefined ? (blob.length > 0 ? blob : null) : row.chunks && row.chunks.length > 0 ? encodeChunks(row.chunks) : null;
  o.coalesced = nn(row.coalesced);
  o.cachedPromptTokens = nn(b?.cachedPromptTokens);
  o.sessionTurn = nn(row.sessionTurn);
  return o;
}

/** A `requests` row as bound parameters: every field, SQL NULL as null. */
type RequestParams = { readonly [K in keyof RequestRowRecord]: RequestRowRecord[K] | null };
type Writable<T> = { -readonly [K in keyof T]: T[K] };
const encodeRequest = compileEncoder<RequestParams>(REQUEST_TABLE);

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

/** Bound parameters of a row of `t`: every field, SQL NULL as null, JSON columns as their text. */
const encodeSlo = compileEncoder<Params<typeof SLO_RESULT_TABLE>>(SLO_RESULT_TABLE);

/**
 * The main-thread end of a bulk writer's worker (bulk-worker.ts): batches are posted (their buffers transferred)
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

/** A request tap the writer thread builds (RequestTap.thread) and the fields it reads. */
interface WorkerTap {
  readonly module: string;
  readonly data: unknown;
  readonly fields: readonly string[];
}

/** A bulk worker starting (BulkWorker.spawn). */
interface StartingWorker {
  ready(): BulkWorker | null;
  /** True once `ready()` would not wait: the worker started (or cannot), or has been starting for HOLD_WHILE_STARTING_MS. */
  settled(): boolean;
  cancel(): void;
}

/**
 * Batches a bulk writer lets wait for its thread before it waits itself: a sim produces rows faster than
 * the thread commits and summarises them, and a 17 M-request run queued ~700 MB of batches without a bound.
 */
const BULK_BEHIND = 2;

/** How long a bulk writer keeps full batches, not waiting, while its writer thread starts (ms; then it waits, as before). */
const HOLD_WHILE_STARTING_MS = 250;

class BulkWorker {
  private posted = 0;
  private constructor(
    private readonly worker: Worker,
    private readonly done: Int32Array,
    private readonly port: MessagePort,
  ) {}

  /** A worker for a file store; null when the store has no file (in memory) or no worker can start. */
  static start(file: string, durable = false, tap?: WorkerTap): BulkWorker | null {
    return BulkWorker.spawn(file, durable, tap)?.ready() ?? null;
  }

  /**
   * Start a worker without waiting for it: `ready()` waits (what is left of its start) and gives the worker,
   * or null when it cannot run; `cancel()` ends one never used. Null when the store has no file (in memory).
   */
  static spawn(file: string, durable = false, tap?: WorkerTap): StartingWorker | null {
    if (file === '' || file === ':memory:' || file.startsWith('file:')) return null;
    // Run from the TypeScript sources (a loader such as tsx, which a worker would not inherit): this thread.
    if (!import.meta.url.endsWith('.js')) return null;
    try {
      // [0]: messages handled; [1]: 1 once the worker has its connection open (and its tap, when given), -1 if it cannot.
      const shared = new Int32Array(new SharedArrayBuffer(8));
      const done = shared.subarray(0, 1);
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL('./bulk-worker.js', import.meta.url), {
        workerData: { file: path.resolve(file), shared, port: port2, durable, ...(tap ? { tap } : {}) },
        transferList: [port2],
        // A request tap's garbage is short-lived: a small young generation (V8's default grows to ~48 MB in
        // a busy thread) kept the headline sim's peak RSS ~30 MB lower, at the same speed.
        resourceLimits: { maxYoungGenerationSizeMb: 8 },
      });
      worker.on('error', () => {}); // a worker that cannot start: the writer writes in its own thread
      worker.unref();
      port1.unref();
      const t0 = performance.now();
      const cancel = (): void => {
        void worker.terminate();
        port1.close();
      };
      return {
        ready: () => {
          // Wait for it to start (it loads SQLite and opens the file: tens of ms); else write in this thread.
          while (Atomics.load(shared, 1) === 0 && performance.now() - t0 < WORKER_START_MS) Atomics.wait(shared, 1, 0, 100);
          if (Atomics.load(shared, 1) === 1) return new BulkWorker(worker, done, port1);
          cancel();
          return null;
        },
        settled: () => Atomics.load(shared, 1) !== 0 || performance.now() - t0 >= HOLD_WHILE_STARTING_MS,
        cancel,
      };
    } catch {
      return null;
    }
  }

  /**
   * Send a batch to be written (and its request rows to the thread's tap, with `tap`). `behind`: first wait
   * until at most that many messages are still queued for the thread (a bulk writer: a producer faster than
   * the thread would otherwise queue its batches without bound).
   */
  post(id: number, batch: WriteBatch, tap = false, behind = Infinity): void {
    if (Number.isFinite(behind)) this.handled(this.posted - behind + 1);
    this.posted++;
    // The batch's buffers move to the worker (transfer, not copy); its few plain arrays are cloned.
    this.worker.postMessage({ id, batch, tap }, transferOf(batch));
  }

  /** After `close`: the thread tap's result for run `runId` (waits for it). */
  tapResult(runId: number): unknown {
    this.posted++;
    this.worker.postMessage({ result: runId });
    this.handled(this.posted);
    const m = this.receive() as { result?: unknown; resultError?: string; error?: string } | undefined;
    if (m === undefined || m.error !== undefined || m.resultError !== undefined) {
      throw new StoreError(`the writer thread's request tap failed: ${m?.resultError ?? m?.error ?? 'no result came back'}`);
    }
    return m.result;
  }

  /** Throw the worker's first failure, if it reported one. */
  check(): void {
    const f = this.receive() as { error: string; where: string } | undefined;
    if (f) throw new WorkerWriteError(f.where, String(f.error));
  }

  /** The thread's next message other than buffers it gives back (those go to this thread's batchBuffers). */
  private receive(): unknown {
    for (;;) {
      const m = receiveMessageOnPort(this.port)?.message as { recycle?: ArrayBuffer[] } | undefined;
      if (m?.recycle === undefined) return m;
      for (const b of m.recycle) batchBuffers.give(b);
    }
  }

  /** Block until the thread has handled at least `n` messages. */
  private handled(n: number): void {
    for (;;) {
      const d = Atomics.load(this.done, 0);
      if (d >= n) break;
      Atomics.wait(this.done, 0, d, 1000);
    }
  }

  wait(): void {
    this.handled(this.posted);
    this.check();
  }

  /**
   * Wait for the posted batches, then let the worker checkpoint the WAL and close its connection, without
   * waiting for that (`ended()` does): the caller goes on (a sim prints its report) while the worker copies
   * the run's pages into the file, which the store's own close would otherwise do on the caller's thread.
   */
  close(): void {
    try {
      this.wait();
    } finally {
      this.posted++;
      this.worker.postMessage('close');
    }
  }

  /** Wait (at most 10 s) for a closed worker to end, then end its thread. */
  ended(): void {
    const d = Atomics.load(this.done, 0);
    if (d < this.posted) Atomics.wait(this.done, 0, d, 10_000);
    void this.worker.terminate();
    this.port.close();
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
  private readonly requests: BatchBuilder<RequestParams>;
  private machineRows: MachineRow[] = [];
  private readonly power: BatchBuilder<Params<typeof POWER_TABLE>>;
  private readonly timeline: BatchBuilder<Params<typeof TIMELINE_TABLE>>;
  /** The record each request row is written into before it is appended. */
  private readonly rec = {} as Writable<RequestParams>;
  /** Batches a flush could not commit (the connection was busy reading): committed with the next. */
  private held: WriteBatch[] = [];
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private failure: StoreError | undefined;
  private readonly stmts: Inserts;
  /** Live writers that commit from a worker thread (WriterOptions.thread). */
  readonly threaded: boolean;
  /** Bulk and threaded writers on a file store write from a worker thread (bulk-worker.ts); undefined: not started, null: in this thread. */
  private bulkWorker: BulkWorker | null | undefined;
  /** A bulk writer's thread, spawned ahead of its first full batch (so its start overlaps the caller's work). */
  private starting: StartingWorker | null | undefined;
  /** WriterOptions.requestTap and its reader of a batch's rows. */
  private readonly tap: RequestTap | undefined;
  private readonly tapRows: ReturnType<typeof compileBatchRows> | undefined;
  /** Where the run's rows go to the tap (decided by the first committed request rows): its `add`, or the writer thread's tap. */
  private tapWhere: 'undecided' | 'here' | 'thread' = 'undecided';
  /** The started writer thread has the tap (RequestTap.thread). */
  private workerHasTap = false;
  /** After finish: the writer thread that holds the tap's rows (its result: tapResult). */
  private tapWorker: BulkWorker | undefined;

  constructor(store: SqliteStore, runId: number, opts: WriterOptions) {
    this.store = store;
    this.runId = runId;
    this.tap = opts.requestTap;
    this.tapRows = this.tap ? compileBatchRows(this.tap.fields) : undefined;
    this.bulk = opts.bulk === true;
    this.threaded = opts.thread === true && !this.bulk;
    // A live writer's thread starts now, before the run's clock does (starting it blocks for tens of ms).
    if (this.threaded) this.bulkWorker = BulkWorker.start(store.path, true, this.workerTap());
    this.batchRows = Math.max(1, opts.batchRows ?? (this.bulk ? 5000 : 1000));
    const cap = Math.min(this.batchRows, 8192);
    this.requests = new BatchBuilder(REQUEST_TABLE, cap);
    this.power = new BatchBuilder(POWER_TABLE, cap);
    this.timeline = new BatchBuilder(TIMELINE_TABLE, cap);
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

  /** The tap the writer thread is to build (RequestTap.thread, its data asked now), or undefined. */
  private workerTap(): WorkerTap | undefined {
    const t = this.tap?.thread;
    const data = t !== undefined && this.tapWhere !== 'here' ? t.data() : undefined;
    this.workerHasTap = data !== undefined;
    return data === undefined ? undefined : { module: t!.module, data, fields: this.tap!.fields };
  }

  /**
   * Hand the request rows of `batches` (committed here, or about to be sent to the writer thread: `onThread`)
   * to the tap's `add`, unless the run's rows go to the thread's tap (decided by the first batches that hold
   * request rows). Rows sent on are copied out of the batch (its buffers move to the thread).
   */
  private tapBatches(batches: readonly WriteBatch[], onThread: boolean): void {
    if (this.tap === undefined) return;
    if (this.tapWhere === 'undecided' && batches.some((b) => b.reqs.n > 0)) this.tapWhere = onThread && this.workerHasTap ? 'thread' : 'here';
    if (this.tapWhere !== 'here') return;
    const add = (r: Pick<RequestRowRecord, keyof RequestRowRecord>): void => this.tap!.add(r);
    for (const b of batches) this.tapRows!(b.reqs, add, onThread);
  }

  private pending(): number {
    return this.requests.n + this.machineRows.length + this.power.n + this.timeline.n + this.held.length;
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.finished) throw new Error(`store: run ${this.runId}: writer used after finish()`);
  }

  private maybeFlush(): void {
    const n = this.pending();
    this.spawnFor(n);
    if (n >= this.batchRows) this.flush(true);
  }

  /** A bulk writer's thread starts once a fifth of the first full batch is there or expected (a run that short does not pay for one). */
  private spawnFor(rows: number): void {
    if (this.bulk && this.bulkWorker === undefined && this.starting === undefined && rows >= this.batchRows / 5) {
      this.starting = BulkWorker.spawn(this.store.path, false, this.workerTap());
    }
  }

  expectRows(rows: number): void {
    this.check();
    this.spawnFor(rows);
  }

  addRequest(row: RequestRow): void {
    this.check();
    checkRequest(row);
    this.requests.add(requestRecord(this.rec, this.runId, row));
    this.maybeFlush();
  }

  addMachines(rows: readonly MachineRow[]): void {
    this.check();
    this.machineRows.push(...rows);
    this.maybeFlush();
  }

  addPowerSample(row: PowerSampleRow): void {
    this.check();
    this.power.add({
      runId: this.runId,
      t: row.t,
      machineId: row.machineId,
      role: row.role,
      source: row.source,
      watts: row.watts,
      energyJ: nn(row.energyJ ?? undefined),
    });
    this.maybeFlush();
  }

  addTimelineSample(row: TimelineSampleRow): void {
    this.check();
    this.timeline.add({
      runId: this.runId,
      t: row.t,
      source: row.source,
      role: row.role ?? '',
      name: row.name,
      labels: row.labels === undefined || row.labels === null ? '{}' : JSON.stringify(row.labels),
      value: row.value,
    });
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
    const rows = this.requests.n + this.machineRows.length + this.power.n + this.timeline.n;
    const batch: WriteBatch = { reqs: this.requests.take(), machines: this.machineRows, power: this.power.take(), timeline: this.timeline.take() };
    this.machineRows = [];
    const batches = this.held.length === 0 ? [batch] : [...this.held, batch];
    this.held = [];
    const id = this.runId;
    // The thread serves from the first full batch (spawned a fifth of the way there): a short run (tests, sweep points) is not worth its ~80 ms.
    if (this.bulkWorker === undefined && this.bulk && (rows >= this.batchRows || (this.starting && batches.length > 1))) {
      const s = this.starting;
      // Its thread still starting (it loads SQLite: tens of ms), a background flush keeps the batches for
      // the thread rather than waiting for it; an explicit one (finish) waits.
      if (retryLater && s && !s.settled()) {
        this.held = batches;
        return;
      }
      this.starting = undefined;
      this.bulkWorker = s === undefined ? BulkWorker.start(this.store.path, false, this.workerTap()) : s === null ? null : s.ready();
    }
    if (this.bulkWorker) {
      // A writer with its own thread: the inserts run there while the caller goes on (simulating, dispatching).
      this.tapBatches(batches, true);
      const tap = this.tapWhere === 'thread';
      this.onWorker((w) => {
        for (const b of batches) w.post(id, b, tap, this.bulk ? BULK_BEHIND : Infinity);
        w.check();
        if (!retryLater) w.wait();
      });
      return;
    }
    const cur = { current: '' };
    try {
      writeBatches(this.store.db, this.stmts, id, batches, cur);
    } catch (e) {
      if (e instanceof TypeError && /busy executing a query/.test(e.message)) {
        this.held = batches;
        if (retryLater) return;
        throw new StoreError(
          `cannot write run ${id} to results store ${this.store.path} now: its connection is reading (an open requests() iteration); the rows stay buffered`,
        );
      }
      this.failure = new StoreError(`cannot write run ${id} to results store ${this.store.path} (${cur.current}): ${(e as Error).message}`, { cause: e });
      this.stopTimer();
      throw this.failure;
    }
    // Committed: the rows to the tap (after the catch: a failing tap is not a failed write).
    this.tapBatches(batches, false);
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
      const w = this.bulkWorker;
      try {
        this.onWorker((x) => x.close());
        this.store.ending.add(w);
        if (this.tapWhere === 'thread') this.tapWorker = w;
      } catch {
        // recorded in this.failure, thrown below once the run is marked
      }
      this.bulkWorker = null;
    }
    this.starting?.cancel();
    this.starting = undefined;
    this.finished = true;
    this.stopTimer();
    this.store.writerDone(this);
    this.store.finishRun(this.runId, status, extra);
    if (this.failure) throw this.failure;
  }

  tapResult(): { readonly value: unknown } | undefined {
    if (!this.finished) throw new Error(`store: run ${this.runId}: tapResult() before finish()`);
    if (this.tapWhere !== 'thread' || this.failure) return undefined;
    const w = this.tapWorker;
    if (w === undefined) throw new StoreError(`store: run ${this.runId}: the writer thread's request tap result was taken already`);
    this.tapWorker = undefined;
    return { value: w.tapResult(this.runId) };
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
    this.starting?.cancel();
    this.starting = undefined;
  }
}

class SqliteStore implements Store {
  readonly path: string;
  readonly db: DB;
  readonly readonly: boolean;
  private closed = false;
  private readonly writers = new Set<SqliteRunWriter>();
  /** @internal Writer threads of finished runs still checkpointing (BulkWorker.close): waited for at close. */
  readonly ending = new Set<BulkWorker>();

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
          const id = this.insertRun({
            uuid: randomUUID(),
            name: run.name ?? '',
            kind: run.kind,
            status: 'running',
            startedAt: new Date(startWallMs).toISOString(),
            startWallMs,
            target: nn(run.target),
            deployment: nn(run.deployment),
            model: nn(run.model),
            tracePath: nn(run.tracePath),
            traceSha256: nn(run.traceSha256),
            timeScale: run.timeScale ?? 1,
            offeredRate: nn(run.offeredRate),
            warmupS: run.warmupS ?? 0,
            options: JSON.stringify(run.options ?? {}),
            tags: JSON.stringify(run.tags ?? {}),
            env: JSON.stringify(env),
            splitbenchVersion: VERSION,
            seed: nn(run.seed),
          });
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

  /** @internal Insert a `runs` row from the given fields (JSON columns as text); returns its id. */
  insertRun(fields: Partial<Params<typeof RUN_TABLE>>): number {
    const cols = RUN_TABLE.filter((c) => c.field in fields);
    const values = cols.map((c) => (c.kind === 'bool' ? (fields[c.field as keyof typeof fields] ? 1 : 0) : fields[c.field as keyof typeof fields]));
    return Number(this.db.prepare(insertSql('runs', cols)).run(values).lastInsertRowid);
  }

  /** @internal */
  writerDone(w: SqliteRunWriter): void {
    if (!this.writers.delete(w)) return;
    // Back to the store's durable setting once the last bulk writer is done (openStore sets NORMAL).
    if (w.bulk && --this.bulkWriters === 0 && !this.closed) this.db.pragma('synchronous = NORMAL');
  }

  /** @internal */
  finishRun(runId: number, status: RunStatus, extra: { lagFlagged?: boolean; lagP99S?: number; notes?: Record<string, unknown> }): void {
    this.write('finish a run', () => {
      this.db
        .transaction(() => {
          this.db
            .prepare(
              `UPDATE runs SET status = ?, ended_at = ?, lag_flagged = coalesce(?, lag_flagged),
               lag_p99_s = coalesce(?, lag_p99_s) WHERE id = ?`,
            )
            .run(status, new Date().toISOString(), extra.lagFlagged === undefined ? null : extra.lagFlagged ? 1 : 0, numOrNull(extra.lagP99S), runId);
          if (extra.notes) this.mergeNotes(runId, extra.notes);
        })
        .immediate();
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
    const r = this.db.prepare(`SELECT ${RUN_COLS} FROM runs WHERE id = ?`).raw(true).get(id) as unknown[] | undefined;
    return r ? toRunRecord(r) : undefined;
  }

  lookupRun(key: string | number): number | undefined {
    return lookupRunId(this.db, String(key));
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
          : `${total > recent.length ? 'latest runs' : 'runs'}: ${recent.map((r) => `${r.id} (${r.name})`).join(', ')} — see \`splitbench runs list\``,
    });
  }

  listRuns(): RunRecord[] {
    return (this.db.prepare(`SELECT ${RUN_COLS} FROM runs ORDER BY id`).raw(true).all() as unknown[][]).map(toRunRecord);
  }

  deleteRun(id: number): boolean {
    return this.write('delete a run', () => {
      for (const w of this.writers) if (w.runId === id) w.abandon();
      return this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
    });
  }

  requestCounts(runId: number): RequestCounts {
    let total = 0;
    const counts: Record<string, number> = {};
    for (const s of REQUEST_STATUSES) counts[s] = 0;
    const rows = this.db.prepare('SELECT status, count(*) AS n FROM requests WHERE run_id = ? GROUP BY status').all(runId) as { status: string; n: number }[];
    for (const r of rows) {
      counts[r.status] = r.n;
      total += r.n;
    }
    counts.total = total;
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
    const decode = (opts.chunks ?? true) ? toRequestRecord : toRequestRecordNoChunks;
    const stmt = this.db.prepare(`SELECT ${REQUEST_READ_COLS} FROM requests WHERE ${where.join(' AND ')} ORDER BY ${order}`).raw(true);
    for (const r of stmt.iterate(...params)) yield decode(r as unknown[]);
  }

  private readonly rowReaders = new Map<string, { stmt: Database.Statement; decode: (r: unknown[]) => unknown }>();

  *requestRows<F extends FieldOf<typeof REQUEST_TABLE>>(runId: number, fields: readonly F[]): IterableIterator<Pick<RequestRowRecord, F>> {
    const key = fields.join(',');
    let reader = this.rowReaders.get(key);
    if (!reader) {
      const cols = pick(REQUEST_TABLE, fields);
      reader = {
        stmt: this.db.prepare(`SELECT ${columnList(cols)} FROM requests WHERE run_id = ? ORDER BY shard, seq`).raw(true),
        decode: compileDecoder(cols),
      };
      this.rowReaders.set(key, reader);
    }
    const { stmt, decode } = reader;
    for (const r of stmt.iterate(runId) as IterableIterator<unknown[]>) yield decode(r) as Pick<RequestRowRecord, F>;
  }

  *requestValues(runId: number): IterableIterator<unknown[]> {
    const stmt = this.db.prepare(`SELECT ${columnList(REQUEST_TABLE)} FROM requests WHERE run_id = ? ORDER BY shard, seq`).raw(true);
    yield* stmt.iterate(runId) as IterableIterator<unknown[]>;
  }

  /** A run's rows of a per-run table in `order`; `and` adds a condition on its `args`. */
  private perRun<R>(reader: PerRunReader<R>, runId: number, order: string, and = '', ...args: unknown[]): R[] {
    const sql = `SELECT ${reader.cols} FROM ${reader.table} WHERE run_id = ?${and} ORDER BY ${order}`;
    return (
      this.db
        .prepare(sql)
        .raw(true)
        .all(runId, ...args) as unknown[][]
    ).map(reader.decode);
  }

  machines(runId: number, opts: { readonly by?: 'pool' | 'id' } = {}): MachineRecord[] {
    return this.perRun(MACHINES, runId, opts.by === 'id' ? 'machine_id' : 'pool, machine_id');
  }

  powerSamples(runId: number, opts: { readonly by?: 'time' | 'machine' } = {}): PowerSampleRecord[] {
    return this.perRun(POWER_SAMPLES, runId, opts.by === 'machine' ? 'machine_id, t' : 't, machine_id');
  }

  timelineSamples(runId: number, name?: string): TimelineSampleRecord[] {
    return name === undefined ? this.perRun(TIMELINE_SAMPLES, runId, 't') : this.perRun(TIMELINE_SAMPLES, runId, 't', ' AND name = ?', name);
  }

  addSloResults(runId: number, rows: readonly SloResultRow[]): void {
    this.write('record SLO results', () => {
      const ins = this.db.prepare(insertSql('slo_results', SLO_RESULT_TABLE));
      const now = new Date().toISOString();
      this.db
        .transaction(() => {
          for (const r of rows) {
            ins.run(
              encodeSlo({
                runId,
                evaluatedAt: r.evaluatedAt ?? now,
                sloFile: r.sloFile,
                rule: r.rule,
                metric: r.metric,
                value: numOrNull(r.value ?? undefined),
                limitValue: numOrNull(r.limitValue ?? undefined),
                op: r.op,
                passed: r.passed,
                baselineRunId: r.baselineRunId ?? null,
                detail: r.detail ?? null,
              }),
            );
          }
        })
        .immediate();
    });
  }

  sloResults(runId: number): SloResultRecord[] {
    return this.perRun(SLO_RESULTS, runId, 'rowid');
  }

  setRunStart(runId: number, startWallMs: number): void {
    this.write('set a run start', () => {
      this.db.prepare('UPDATE runs SET start_wall_ms = ?, started_at = ? WHERE id = ?').run(startWallMs, new Date(startWallMs).toISOString(), runId);
    });
  }

  addShard(runId: number, x: NewShard): void {
    this.write('record a shard', () => {
      const cols = pick(SHARD_TABLE, [
        'runId',
        'runUuid',
        'shardIndex',
        'shardCount',
        'host',
        'startAtMs',
        't0LocalMs',
        'timeRef',
        'offsetStartMs',
        'rttStartMs',
      ]);
      this.db
        .prepare(insertSql('shards', cols))
        .run(runId, x.runUuid, x.shardIndex, x.shardCount, x.host, x.startAtMs, x.t0LocalMs, x.timeRef, x.offsetStartMs, x.rttStartMs);
    });
  }

  updateShardEnd(runId: number, shardIndex: number, e: ShardEnd): void {
    this.write('record a shard end', () => {
      this.db
        .prepare('UPDATE shards SET t0_local_ms = ?, offset_end_ms = ?, rtt_end_ms = ?, late_ms = ?, late = ? WHERE run_id = ? AND shard_index = ?')
        .run(e.t0LocalMs, e.offsetEndMs, e.rttEndMs, e.lateMs, e.lateMs !== null && e.lateMs > 0 ? 1 : 0, runId, shardIndex);
    });
  }

  importShards(
    shards: readonly ShardImport[],
    run: MergedRun,
    lag: { readonly lagFlagS: number; readonly anyLagFlagged: boolean },
  ): { runId: number; copied: Map<number, number> } {
    this.writable('merge shards');
    return importShards(this.db, shards, run, lag, new Date().toISOString());
  }

  shards(runId: number): ShardRecord[] {
    return (
      this.db
        .prepare(`SELECT ${columnList(SHARD_TABLE)} FROM shards WHERE run_id = ? ORDER BY shard_index`)
        .raw(true)
        .all(runId) as unknown[][]
    ).map(toShardRecord);
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
    for (const w of this.ending) w.ended();
    this.ending.clear();
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
  const pick = (sql: string, ...args: unknown[]): number | undefined => (db.prepare(sql).get(...args) as { id: number } | undefined)?.id;
  if (k === '' || k === 'latest') return pick('SELECT id FROM runs ORDER BY id DESC LIMIT 1');
  if (/^\d+$/.test(k)) {
    const byId = pick('SELECT id FROM runs WHERE id = ?', Number(k));
    if (byId !== undefined) return byId;
  }
  return pick('SELECT id FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1', k) ?? pick('SELECT id FROM runs WHERE uuid = ? ORDER BY id DESC LIMIT 1', k);
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

/**
 * @internal The store's own SQLite connection, for the store's tests that check per-connection settings
 * (PRAGMA synchronous, foreign_keys) or read rows as SQL sees them. Not exported by index.ts: outside
 * src/store, nothing but tests may know SQL.
 */
export function connectionOf(store: Store): DB {
  if (!(store instanceof SqliteStore)) throw new TypeError('store: not a SQLite store');
  return store.db;
}
