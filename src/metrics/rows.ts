/**
 * Reading runs and request rows for metrics, through the store's methods (only src/store knows SQL), so
 * summaries work on any splitbench store file, live or simulated, merged or not.
 */
import { SplitbenchError, ExitCode } from '../errors.js';
import type { RequestRowRecord, RunRecord, Store } from '../store/api.js';

/** What metrics read a store through: its run lookup and row readers. */
export type StoreLike = Pick<Store, 'lookupRun' | 'getRun' | 'requestRows' | 'machines' | 'powerSamples'>;

/** A `runs` row, decoded (the store's record). */
export type RunInfo = RunRecord;

/** The `requests` fields metrics read (seconds on the run's clock), with `token_times` kept encoded (decoded lazily, per metric). */
export const METRIC_FIELDS = [
  'shard',
  'seq',
  'traceId',
  'promptTokens',
  'outputTokens',
  'warmup',
  'scheduled',
  'send',
  'firstToken',
  'end',
  'lag',
  'status',
  'tokensReceived',
  'ttft',
  'tpot',
  'e2e',
  'maxStall',
  'queueS',
  'prefillS',
  'kvTransferS',
  'decodeWaitS',
  'decodeS',
  'pool',
  'tokenTimes',
  'cachedPromptTokens',
  'promptMachine',
  'sessionId',
  'sessionTurn',
] as const satisfies readonly (keyof RequestRowRecord)[];

/** The columns of a `requests` row that metrics use. */
export type RequestRecord = Pick<
  RequestRowRecord,
  Exclude<(typeof METRIC_FIELDS)[number], 'cachedPromptTokens' | 'promptMachine' | 'sessionId' | 'sessionTurn'>
> & {
  readonly cachedPromptTokens?: number | null;
  readonly promptMachine?: string | null;
  /** Session workloads: the turn's session and its 0-based index there (null: not a session turn). */
  readonly sessionId?: string | null;
  readonly sessionTurn?: number | null;
};

/**
 * Find a run by the store's one lookup rule (id, name, uuid; `undefined` or `latest` → the latest run).
 * Throws a usage error naming what was asked for when there is no such run.
 */
export function findRun(store: StoreLike, idOrName?: string | number): RunInfo {
  const key = idOrName === undefined ? '' : String(idOrName);
  const id = store.lookupRun(key);
  const run = id === undefined ? undefined : store.getRun(id);
  if (run) return run;
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

/** Iterate a run's request rows in (shard, seq) order without holding them all in memory (the store's raw row reader). */
export function requestRecords(store: StoreLike, runId: number): IterableIterator<RequestRecord> {
  return store.requestRows(runId, METRIC_FIELDS);
}

export interface MachineRecord {
  readonly machineId: string;
  readonly machineType: string;
  readonly pool: string;
  readonly pricePerHour: number | null;
}

/** A run's machines, by id. */
export function machineRecords(store: StoreLike, runId: number): MachineRecord[] {
  return store.machines(runId, { by: 'id' });
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

/** A run's power samples, by machine, then time. */
export function* powerRecords(store: StoreLike, runId: number): Generator<PowerRecord> {
  yield* store.powerSamples(runId, { by: 'machine' });
}

/** Is this run in SplitwiseSim-compatible mode (its options carry a truthy `compat`)? */
export function isCompatRun(run: { readonly options: Record<string, unknown> }): boolean {
  const c = run.options['compat'];
  if (c === undefined || c === null || c === false) return false;
  if (typeof c === 'string') return !['', 'none', 'off', 'false', 'default'].includes(c.toLowerCase());
  return Boolean(c);
}
