/**
 * The results store's programming interface (implemented in store.ts). Writers: replay (live) and sim.
 * Readers: runs, summary, gate, report, merge. Schema: schema.ts.
 */
import type { RequestStatus, RunKind, RunStatus } from './schema.js';
import type { Chunk } from './codec.js';

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
}

// ---- Additions (store implementation): the Store handle and the records readers get back. ----

/** One row of `runs`, camelCase; JSON columns parsed. SQL NULL is `null`. */
export interface RunRecord {
  readonly id: number;
  readonly uuid: string;
  readonly name: string;
  readonly kind: RunKind;
  readonly status: RunStatus;
  /** ISO-8601 wall time of t0. */
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly startWallMs: number;
  readonly target: string | null;
  readonly deployment: string | null;
  readonly model: string | null;
  readonly tracePath: string | null;
  readonly traceSha256: string | null;
  readonly timeScale: number;
  readonly offeredRate: number | null;
  readonly warmupS: number;
  readonly lagFlagged: boolean;
  readonly lagP99S: number | null;
  /** The run's own checks found it distorted by the machine (`distortedReason` says why). */
  readonly distorted: boolean;
  readonly distortedReason: string | null;
  /** The simulated twin of a live run (a sim run of the same requests). */
  readonly twinRunId: number | null;
  readonly options: Record<string, unknown>;
  readonly tags: Record<string, string>;
  readonly env: Record<string, unknown>;
  readonly splitbenchVersion: string;
  readonly seed: number | null;
  readonly notes: Record<string, unknown>;
}

/** One row of `requests`, camelCase, with `token_times` decoded into `chunks` (seconds from send). */
export interface RequestRecord {
  readonly runId: number;
  readonly shard: number;
  readonly seq: number;
  readonly traceId: string;
  readonly sessionId: string | null;
  readonly arrival: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly warmup: boolean;
  readonly scheduled: number;
  readonly send: number | null;
  readonly firstToken: number | null;
  readonly end: number | null;
  readonly lag: number | null;
  readonly status: RequestStatus;
  readonly errorCode: string | null;
  readonly error: string | null;
  readonly httpStatus: number | null;
  readonly timeoutPhase: string | null;
  readonly tokensReceived: number;
  readonly usagePrompt: number | null;
  readonly usageCompletion: number | null;
  readonly countMethod: string | null;
  readonly ttft: number | null;
  readonly tpot: number | null;
  readonly e2e: number | null;
  readonly ttftSched: number | null;
  readonly e2eSched: number | null;
  readonly maxStall: number | null;
  readonly queueS: number | null;
  readonly prefillS: number | null;
  readonly kvTransferS: number | null;
  readonly decodeWaitS: number | null;
  readonly decodeS: number | null;
  readonly promptMachine: string | null;
  readonly tokenMachine: string | null;
  readonly pool: string | null;
  readonly coalesced: number | null;
  /** Prompt tokens the target's prefix cache supplied; null where not reported. */
  readonly cachedPromptTokens: number | null;
  /** Decoded `token_times` ([] when the row has none, or when `chunks: false` was asked). */
  readonly chunks: Chunk[];
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

export interface MachineRecord {
  readonly machineId: string;
  readonly machineType: string;
  readonly pool: string;
  readonly gpus: number | null;
  readonly pricePerHour: number | null;
  readonly tdpW: number | null;
  readonly idleW: number | null;
}

export interface PowerSampleRecord {
  readonly t: number;
  readonly machineId: string;
  readonly role: string;
  readonly source: string;
  readonly watts: number | null;
  readonly energyJ: number | null;
}

export interface TimelineSampleRecord {
  readonly t: number;
  readonly source: string;
  readonly role: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

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

export interface SloResultRecord extends SloResultRow {
  readonly evaluatedAt: string;
  readonly baselineRunId: number | null;
  readonly detail: string | null;
}

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
}

/** An open results store (one SQLite file). Writers: one RunWriter per run; readers: the query methods. */
export interface Store {
  /** The file path as given. */
  readonly path: string;
  /** The better-sqlite3 handle, for readers that need their own SQL. */
  readonly db: import('better-sqlite3').Database;
  readonly readonly: boolean;
  /** Insert a `runs` row (status 'running') and return its writer. */
  createRun(run: NewRun, opts?: WriterOptions): RunWriter;
  /** By numeric id, else by name (the latest run with that name). Unknown: ConfigError listing runs. */
  findRun(idOrName: string | number): RunRecord;
  getRun(id: number): RunRecord | undefined;
  /** All runs, oldest first. */
  listRuns(): RunRecord[];
  /** Delete a run and all its rows. Returns false when no such run. */
  deleteRun(id: number): boolean;
  requestCounts(runId: number): RequestCounts;
  /** Stream a run's requests (rows are read lazily; do not write to this store while iterating). */
  requests(runId: number, opts?: RequestQuery): IterableIterator<RequestRecord>;
  machines(runId: number): MachineRecord[];
  /** Power samples ordered by time. */
  powerSamples(runId: number): PowerSampleRecord[];
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
  /** Flush open writers (their runs keep their status), then close the file. Idempotent. */
  close(): void;
}
