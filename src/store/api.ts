/**
 * The results store's programming interface (implemented in store.ts). Writers: replay (live) and sim.
 * Readers: runs, summary, gate, report, merge. Schema: schema.ts.
 */
import type { RequestStatus, RunKind, RunStatus } from './schema.js';
import type { Chunk } from './codec.js';
import type { MergedRun, ShardImport } from './shards.js';
import type { FieldOf, MACHINE_TABLE, POWER_TABLE, RecordOf, REQUEST_TABLE, RUN_TABLE, SHARD_TABLE, SLO_RESULT_TABLE, TIMELINE_TABLE } from './columns.js';

export interface NewRun {
  readonly name?: string; // default: '<kind>-<n>'
  readonly kind: RunKind;
  readonly target?: string;
  readonly deployment?: string;
  readonly model?: string;
  readonly tracePath?: string;
  readonly traceSha256?: string;
  readonly timeScale?: number;
  readonly offeredRate?: number;
  readonly warmupS?: number;
  readonly seed?: number;
  readonly options: Record<string, unknown>;
  readonly tags?: Record<string, string>;
  /** Epoch ms of t0; default Date.now() at creation. */
  readonly startWallMs?: number;
}

/** One request's row; derived columns are computed by the writer from the raw times and chunks. */
export interface RequestRow {
  readonly shard?: number;
  readonly seq: number;
  readonly traceId: string;
  readonly sessionId?: string;
  /** A session turn's 0-based index within its session (`requests.session_turn`). */
  readonly sessionTurn?: number;
  readonly arrival: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly warmup?: boolean;
  readonly scheduled: number;
  readonly send?: number;
  readonly firstToken?: number;
  readonly end?: number;
  readonly status: RequestStatus;
  readonly errorCode?: string;
  readonly error?: string;
  readonly httpStatus?: number;
  readonly timeoutPhase?: string;
  readonly tokensReceived: number;
  readonly usagePrompt?: number;
  readonly usageCompletion?: number;
  readonly countMethod?: string;
  /** Chunks, times in seconds from `send`. */
  readonly chunks?: readonly Chunk[];
  /**
   * Addition for bulk producers (the simulator): `token_times` already encoded (codec.ts format), stored
   * as is instead of encoding `chunks` (which are then ignored). The writer derives nothing from chunks
   * for such a row: `firstToken` and `end` are taken as given, and `maxStall` must carry what derive.ts's
   * `maxStallOf` gives over the unrounded chunk times (absent: no stall, fewer than two chunks).
   */
  readonly tokenTimesBlob?: Uint8Array;
  /** With `tokenTimesBlob` only: the row's max stall (seconds), see above. */
  readonly maxStall?: number;
  readonly breakdown?: {
    readonly queue?: number;
    readonly prefill?: number;
    readonly kvTransfer?: number;
    readonly decodeWait?: number;
    readonly decode?: number;
    /** Prompt tokens the prefix cache supplied (not prefilled). */
    readonly cachedPromptTokens?: number;
  };
  readonly promptMachine?: string;
  readonly tokenMachine?: string;
  readonly pool?: string;
  /** Live runs: token-carrying chunks that arrived in the same read as the previous one (`requests.coalesced`). */
  readonly coalesced?: number;
}

export interface MachineRow {
  readonly machineId: string;
  readonly machineType: string;
  readonly pool: string;
  readonly gpus?: number;
  readonly pricePerHour?: number;
  readonly tdpW?: number;
  readonly idleW?: number;
}

export interface PowerSampleRow {
  readonly t: number;
  readonly machineId: string;
  readonly role: string;
  readonly source: string;
  readonly watts: number | null;
  readonly energyJ?: number | null;
}

export interface TimelineSampleRow {
  readonly t: number;
  readonly source: string;
  readonly role?: string;
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly value: number;
}

/** Batched writer for one run: rows are buffered and committed at least every `flushIntervalMs` (1000). */
export interface RunWriter {
  readonly runId: number;
  addRequest(row: RequestRow): void;
  addMachines(rows: readonly MachineRow[]): void;
  addPowerSample(row: PowerSampleRow): void;
  addTimelineSample(row: TimelineSampleRow): void;
  /** Commit buffered rows now. */
  flush(): void;
  /** Flush, set status/ended_at (and extra run columns), stop the timer. Idempotent. */
  finish(status: RunStatus, extra?: { lagFlagged?: boolean; lagP99S?: number; notes?: Record<string, unknown> }): void;
  /**
   * After `finish`: the result of the request tap that ran on the writer's thread (RequestTap.thread), or
   * undefined when the rows went to the tap's `add` (or the writer has no tap).
   */
  tapResult?(): { readonly value: unknown } | undefined;
  /**
   * The caller expects about `rows` request rows (a simulator's rate × duration). A bulk writer that would
   * start its thread for them starts it now, so that the thread's start (it loads SQLite and its tap: a
   * couple of hundred ms of CPU) overlaps the caller's work instead of holding the first full batch. Call it
   * once the run has started (a thread tap's data is asked as the thread starts).
   */
  expectRows?(rows: number): void;
}

// ---- Additions (store implementation): the Store handle and the records readers get back. ----

/** One row of `runs`, camelCase (fields and types from the column table, columns.ts); JSON columns parsed. SQL NULL is `null`. */
export type RunRecord = RecordOf<typeof RUN_TABLE>;

/** One row of `requests`, camelCase, with `token_times` decoded into `chunks` (seconds from send). */
export type RequestRecord = Omit<RecordOf<typeof REQUEST_TABLE>, 'tokenTimes'> & {
  /** Decoded `token_times` ([] when the row has none, or when `chunks: false` was asked). */
  readonly chunks: Chunk[];
};

/** One row of `requests` as stored (`token_times` still encoded): what the raw row reader returns fields of. */
export type RequestRowRecord = RecordOf<typeof REQUEST_TABLE>;

/** One row of `shards` (a sharded run's bookkeeping, src/scale). */
export type ShardRecord = RecordOf<typeof SHARD_TABLE>;

/** A shard's row as its replay writes it at the start (the rest is set at the end, `updateShardEnd`). */
export interface NewShard {
  readonly runUuid: string;
  readonly shardIndex: number;
  readonly shardCount: number;
  readonly host: string;
  readonly startAtMs: number;
  readonly t0LocalMs: number;
  readonly timeRef: string | null;
  readonly offsetStartMs: number | null;
  readonly rttStartMs: number | null;
}

/** A shard's end-of-run bookkeeping. */
export interface ShardEnd {
  readonly t0LocalMs: number;
  readonly offsetEndMs: number | null;
  readonly rttEndMs: number | null;
  readonly lateMs: number | null;
}

export interface RequestQuery {
  /** Only these statuses. */
  readonly status?: RequestStatus | readonly RequestStatus[];
  /** Include warm-up requests (default true). */
  readonly includeWarmup?: boolean;
  /** Decode `token_times` (default true; false skips the decoding cost). */
  readonly chunks?: boolean;
  /** Row order: 'seq' (shard, seq; the default) or 'scheduled'. */
  readonly orderBy?: 'seq' | 'scheduled';
}

export type MachineRecord = Omit<RecordOf<typeof MACHINE_TABLE>, 'runId'>;

export type PowerSampleRecord = Omit<RecordOf<typeof POWER_TABLE>, 'runId'>;

export type TimelineSampleRecord = Omit<RecordOf<typeof TIMELINE_TABLE>, 'runId'>;

/** One row of `slo_results` (as written by `gate`). */
export interface SloResultRow {
  /** ISO-8601; default: now. */
  readonly evaluatedAt?: string;
  readonly sloFile: string;
  readonly rule: string;
  readonly metric: string;
  readonly value: number | null;
  readonly limitValue: number | null;
  readonly op: string;
  readonly passed: boolean;
  readonly baselineRunId?: number | null;
  readonly detail?: string | null;
}

export type SloResultRecord = Omit<RecordOf<typeof SLO_RESULT_TABLE>, 'runId'>;

/** Request counts of one run by status, plus the total. */
export type RequestCounts = Record<RequestStatus, number> & { readonly total: number };

export interface WriterOptions {
  /** Commit at least this often (ms; default 1000). */
  readonly flushIntervalMs?: number;
  /** Commit when this many rows are buffered (default 1000; 5000 with `bulk`). */
  readonly batchRows?: number;
  /**
   * Addition: bulk writes (the simulator, whose runs can be rerun). On a store file, batches are written
   * by a worker thread on its own connection while the caller goes on (`flush()` and `finish()` still
   * return only once everything is committed); its connection, and this one while the writer is open
   * (restored at finish/close), run with `PRAGMA synchronous = OFF`, so commits skip the WAL checkpoint's
   * fsync: a process crash keeps committed rows, an OS crash or power loss may lose or corrupt the rows of
   * the last checkpoints. Default false.
   */
  readonly bulk?: boolean;
  /**
   * Addition: write from a worker thread (a live replay, whose dispatch loop must not stall on commits).
   * On a store file, the rows buffered since the last commit are handed at each flush to a worker thread
   * that commits them on its own connection with the store's durable setting (`synchronous = NORMAL`), so
   * the caller's thread never waits on SQLite; a timer-driven flush hands them over without waiting, an
   * explicit `flush()` and `finish()` return once everything is committed. The thread starts with the
   * writer (tens of ms, before the run's clock starts); without one (an in-memory store, no worker) the
   * writer commits in the caller's thread as before. Default false.
   */
  readonly thread?: boolean;
  /**
   * Addition: sees every request row as it is added, as the store will hold it: its `fields`, decoded as
   * the raw row reader (`requestRows`) returns them from the file. A summary kept as a run goes (the
   * simulator's) so reads the values a later read of the store gives without reading the rows back.
   */
  readonly requestTap?: RequestTap;
}

/** A `WriterOptions.requestTap`: the fields it reads, and what it does with each row. */
export interface RequestTap<F extends keyof RequestRowRecord = keyof RequestRowRecord> {
  readonly fields: readonly F[];
  add(row: Pick<RequestRowRecord, F>): void;
  /**
   * The same tap, built on the writer's thread when the writer has one (a bulk writer on a file): `module`
   * (a URL) exports `createRequestTap(data)`, which gives (or resolves to) a ThreadRequestTap; `data()` is
   * asked once, as the thread starts (undefined: no tap there). A run's rows then all go to one of the two:
   * to the thread's when the first request rows the writer commits are committed there, else to `add`; the
   * thread's result is `RunWriter.tapResult()`.
   */
  readonly thread?: { readonly module: string; data(): unknown };
}

/** A request tap on a writer's thread (RequestTap.thread): the rows, then once the run is finished its result. */
export interface ThreadRequestTap {
  /**
   * A committed row; its `tokenTimes` is a view of the batch's bytes (`buffer`), valid until `release` is
   * called for that buffer (the batch's buffers then go back to the writer for reuse).
   */
  add(row: Pick<RequestRowRecord, keyof RequestRowRecord>): void;
  /** The rows given so far are done with `buffer`: a tap that keeps any of them copies their token times now. */
  release(buffer: ArrayBufferLike): void;
  /** What the writer's `tapResult()` returns (structured-cloned back): the run's row is final by then. */
  result(run: { readonly file: string; readonly runId: number }): unknown;
}

/** An open results store (one SQLite file). Writers: one RunWriter per run; readers: the query methods. */
export interface Store {
  /** The file path as given. */
  readonly path: string;
  readonly readonly: boolean;
  /** Insert a `runs` row (status 'running') and return its writer. */
  createRun(run: NewRun, opts?: WriterOptions): RunWriter;
  /**
   * The one run lookup every command uses: a numeric id; else the latest run with that name; else the run with
   * that uuid; an empty key or `latest` is the latest run. `undefined` when nothing matches.
   */
  lookupRun(key: string | number): number | undefined;
  /** `lookupRun`, then the run; unknown: ConfigError listing the latest runs. */
  findRun(idOrName: string | number): RunRecord;
  getRun(id: number): RunRecord | undefined;
  /** All runs, oldest first. */
  listRuns(): RunRecord[];
  /** Delete a run and all its rows. Returns false when no such run. */
  deleteRun(id: number): boolean;
  requestCounts(runId: number): RequestCounts;
  /** Stream a run's requests (rows are read lazily; do not write to this store while iterating). */
  requests(runId: number, opts?: RequestQuery): IterableIterator<RequestRecord>;
  /**
   * The raw row reader (summaries, the slowdown reference): a run's requests with just `fields`, `token_times`
   * kept encoded (`tokenTimes`), in (shard, seq) order, read as arrays and decoded by a compiled decoder.
   */
  requestRows<F extends FieldOf<typeof REQUEST_TABLE>>(runId: number, fields: readonly F[]): IterableIterator<Pick<RequestRowRecord, F>>;
  /** A run's requests as stored: every column's SQL value, in column-table order, in (shard, seq) order (the export). */
  requestValues(runId: number): IterableIterator<unknown[]>;
  /** Machines ordered by pool then id (`by: 'id'`: by id). */
  machines(runId: number, opts?: { readonly by?: 'pool' | 'id' }): MachineRecord[];
  /** Power samples ordered by time, then machine (`by: 'machine'`: by machine, then time). */
  powerSamples(runId: number, opts?: { readonly by?: 'time' | 'machine' }): PowerSampleRecord[];
  /** Timeline samples (optionally one metric `name`), ordered by time. */
  timelineSamples(runId: number, name?: string): TimelineSampleRecord[];
  addSloResults(runId: number, rows: readonly SloResultRow[]): void;
  sloResults(runId: number): SloResultRecord[];
  /** Merge keys into the run's notes_json (a key set to undefined is removed); returns the result. */
  setRunNotes(runId: number, notes: Record<string, unknown>): Record<string, unknown>;
  /** Set a run's status (and ended_at when it is not 'running'). */
  setRunStatus(runId: number, status: RunStatus): void;
  /** Record a live run's self-check: distorted (with the reason) or not, and its simulated twin. */
  setRunCheck(runId: number, check: { distorted: boolean; reason?: string; twinRunId?: number }): void;
  /** Set a run's t0 (epoch ms; `started_at` follows): a shard corrects it to the reference clock at its end. */
  setRunStart(runId: number, startWallMs: number): void;
  /** Record a shard of a sharded run (its replay, when the shared start is known). */
  addShard(runId: number, shard: NewShard): void;
  /** A shard's end-of-run bookkeeping (`late` is set from `lateMs` > 0). */
  updateShardEnd(runId: number, shardIndex: number, end: ShardEnd): void;
  /** A run's shard rows, by index. */
  shards(runId: number): ShardRecord[];
  /**
   * Merge: the shards of one run (each in its own store file) as one new run of this store (shards.ts); every
   * row in one transaction. Returns the new run's id and the request rows copied per shard index.
   */
  importShards(
    shards: readonly ShardImport[],
    run: MergedRun,
    lag: { readonly lagFlagS: number; readonly anyLagFlagged: boolean },
  ): { runId: number; copied: Map<number, number> };
  /** Flush open writers (their runs keep their status), then close the file. Idempotent. */
  close(): void;
}
