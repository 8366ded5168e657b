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
  readonly breakdown?: {
    readonly queue?: number;
    readonly prefill?: number;
    readonly kvTransfer?: number;
    readonly decodeWait?: number;
    readonly decode?: number;
  };
  readonly promptMachine?: string;
  readonly tokenMachine?: string;
  readonly pool?: string;
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
