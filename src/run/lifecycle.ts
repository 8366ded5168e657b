/**
 * One run lifecycle, two drivers (live: HTTP to a target, src/load; sim: the engine on a virtual clock,
 * src/sim). The lifecycle owns what every run does the same way:
 *
 *   signal handlers on → open the inputs (driver) → hash the trace → open the store → prepare (driver) →
 *   create the run row → start (driver; a failure marks the run failed) → progress on → drive (driver) →
 *   progress off → finish the run row (status, notes) → the end event → exit code → report (driver) →
 *   signal handlers off, driver closed, store closed.
 *
 * Signals: every SIGINT/SIGTERM goes to the driver with its count (the live driver interrupts, then aborts;
 * the sim stops pulling arrivals). A signal before the run row exists ends the run as interrupted, whatever
 * error the step it cut short then raised: nothing was recorded.
 *
 * Exit codes (src/errors.ts ExitCode): interrupted 130; failed: the run error's own code (target 5, store 6);
 * completed with requests that did not end ok 4; else 0.
 */
import { ExitCode, InterruptedError, type SplitbenchError } from '../errors.js';
import { openStore, type NewRun, type RunWriter, type Store, type WriterOptions } from '../store/index.js';
import { sha256File } from '../trace/index.js';
import { RunEvents, type RunListener } from './events.js';

/** How a driven run ended. */
export type RunOutcome = 'completed' | 'interrupted' | 'failed';

export interface DriveResult {
  readonly status: RunOutcome;
  /** Requests that did not end ok (errors, timeouts, cancelled, never completed): exit 4 when any. */
  readonly unsuccessful: number;
  /** The run-level error that ended a failed run (its exit code is the run's); a store error is rethrown. */
  readonly error?: SplitbenchError;
  /** What the run row is finished with. */
  readonly finish: { readonly lagFlagged?: boolean; readonly lagP99S?: number; readonly notes: Record<string, unknown> };
}

/** A progress display: a run-events subscriber that is started before the drive and stopped after it. */
export interface RunProgress<Tick> extends RunListener<Tick> {
  start?(): void;
  stop(): void;
}

/** What the lifecycle hands a driver's steps. */
export interface LifecycleContext {
  readonly log: (line: string) => void;
  /** Show the progress display (default: stderr is a TTY and not --json). */
  readonly showProgress: boolean;
  /** Throws (interrupted before the run) once a signal came; for the steps before the run row. */
  readonly checkSignal: () => void;
}

export interface RunDriver<Tick, Report> {
  /** The results store file. */
  readonly db: string;
  /** Open the request source (and whatever else is checked before the store); returns the trace file to hash. */
  open(ctx: LifecycleContext): Promise<string>;
  /** After the store is open, before the run row (live: the target, preflight, the primed schedule). */
  prepare?(store: Store, ctx: LifecycleContext): Promise<void>;
  /** The options every run row takes the same fields from (name, shape, warm-up, seed, tags). */
  readonly common: CommonRunOptions;
  /** The driver's own fields of the run row (the lifecycle adds the common ones and the trace's), and how its writer writes. */
  runRow(): { readonly run: Omit<NewRun, CommonField>; readonly writer: WriterOptions };
  /** Wrap the run's writer (it must keep `runId`). */
  wrapWriter?(w: RunWriter): RunWriter;
  /** The progress display, when it is shown. */
  progress?(ctx: LifecycleContext): RunProgress<Tick> | undefined;
  /** After the run row exists, before the drive (e.g. telemetry, warm connections, a shared start instant). */
  start?(store: Store, writer: RunWriter, events: RunEvents<Tick>, ctx: LifecycleContext): Promise<void>;
  /** Send (or simulate) every request; resolves once each has its outcome recorded. */
  drive(writer: RunWriter, events: RunEvents<Tick>, ctx: LifecycleContext): Promise<DriveResult>;
  /** A SIGINT/SIGTERM (`n`: how many so far). */
  signal(sig: NodeJS.Signals, n: number, ctx: LifecycleContext): void;
  /** The run row is finished: build what the command returns. */
  report(store: Store, runId: number, result: DriveResult, exitCode: number): Promise<Report>;
  /** Release what the driver holds (always called, after the run or its failure). */
  close?(): Promise<void>;
}

export interface LifecycleIo<Tick> {
  /** Install SIGINT/SIGTERM handlers (the CLI does; library callers may drive the run themselves). */
  readonly handleSignals?: boolean;
  /** Show the progress display (default: stderr is a TTY and not --json). */
  readonly progress?: boolean;
  /** --json was asked for (no progress display by default). */
  readonly json?: boolean;
  /** Where notes go (default stderr). */
  readonly log?: (line: string) => void;
  /** Subscribers to the run's events (live metrics, scale-out hooks). */
  readonly listeners?: readonly RunListener<Tick>[];
}

export interface CommonRunOptions {
  readonly name?: string | undefined;
  readonly shape: { readonly kind: string; readonly rate?: number };
  readonly warmupS: number;
  readonly seed: number;
  readonly tags: Readonly<Record<string, string>>;
}
type CommonField = 'name' | 'tracePath' | 'traceSha256' | 'offeredRate' | 'warmupS' | 'seed' | 'tags';

/** The run-row fields every driver fills the same way, from its options and the trace. */
function commonRunFields(o: CommonRunOptions, tracePath: string, traceSha256: string): Pick<NewRun, CommonField> {
  return {
    ...(o.name ? { name: o.name } : {}),
    tracePath,
    traceSha256,
    ...(o.shape.kind === 'rate' && o.shape.rate !== undefined ? { offeredRate: o.shape.rate } : {}),
    warmupS: o.warmupS,
    seed: o.seed,
    tags: { ...o.tags },
  };
}

/** A run's exit code from how it ended (the table is ExitCode in src/errors.ts). */
export function runExitCode(r: Pick<DriveResult, 'status' | 'unsuccessful' | 'error'>): number {
  if (r.status === 'interrupted') return ExitCode.interrupted;
  if (r.status === 'failed') return r.error?.exitCode ?? ExitCode.target;
  return r.unsuccessful > 0 ? ExitCode.requestErrors : ExitCode.ok;
}

/** Run one driver through the lifecycle; returns its report and the exit code. */
export async function runLifecycle<Tick, Report>(
  driver: RunDriver<Tick, Report>,
  io: LifecycleIo<Tick> = {},
): Promise<{ readonly exitCode: number; readonly report: Report }> {
  const log = io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let signalled = 0;
  let runCreated = false;
  const ctx: LifecycleContext = {
    log,
    showProgress: io.progress ?? (process.stderr.isTTY === true && io.json !== true),
    checkSignal: () => {
      if (signalled > 0) throw new InterruptedError('interrupted before the run started; nothing was recorded');
    },
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled++;
    driver.signal(sig, signalled, ctx);
  };
  if (io.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let store: Store | undefined;
  try {
    const tracePath = await driver.open(ctx);
    const traceSha = await sha256File(tracePath);
    store = openStore(driver.db);
    await driver.prepare?.(store, ctx);
    const row = driver.runRow();
    const created = store.createRun({ ...row.run, ...commonRunFields(driver.common, tracePath, traceSha) }, row.writer);
    runCreated = true;
    const writer = driver.wrapWriter?.(created) ?? created;
    const events = new RunEvents<Tick>();
    for (const l of io.listeners ?? []) events.on(l);
    const progress = ctx.showProgress ? driver.progress?.(ctx) : undefined;
    if (progress) events.on(progress);
    try {
      await driver.start?.(store, writer, events, ctx);
    } catch (e) {
      // The run row exists: never leave it 'running' when the run cannot start.
      created.finish('failed', { notes: { reason: `could not start: ${(e as Error).message}` } });
      throw e;
    }
    progress?.start?.();
    let result: DriveResult;
    try {
      result = await driver.drive(writer, events, ctx);
    } finally {
      progress?.stop();
    }
    try {
      writer.finish(result.status, result.finish);
    } catch (e) {
      // A failed run whose writer already failed keeps its own error (rethrown below when it is the store's).
      if (!result.error) throw e;
    }
    await events.end({ store, runId: writer.runId });
    if (result.error && result.error.exitCode === ExitCode.store) throw result.error;
    const exitCode = runExitCode(result);
    return { exitCode, report: await driver.report(store, writer.runId, result, exitCode) };
  } catch (e) {
    if (signalled > 0 && !runCreated) throw new InterruptedError('interrupted before the run started; nothing was recorded');
    throw e;
  } finally {
    if (io.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await driver.close?.();
    store?.close();
  }
}
