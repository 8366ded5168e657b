/**
 * `splitbench replay` end to end: open the trace and the store, start the reference backend when no
 * `--url` is given, preflight, create the run, drive it (Runner), finish the run row, stop the backend,
 * and return the summary and the exit code. Signals: the first SIGINT/SIGTERM interrupts (grace), the
 * second aborts.
 */
import os from 'node:os';
import { ExitCode, SplitbenchError } from '../errors.js';
import { openStore, type RunWriter, type Store } from '../store/index.js';
import { applyTransforms, openTrace, sha256File } from '../trace/index.js';
import { startRunTelemetry, type RunTelemetry } from '../telemetry/run.js';
import { targetPreset } from '../telemetry/targets.js';
import { startBackend, type Backend } from './backend.js';
import { LoadClient } from './client.js';
import { optionsForStore, type ReplayOptions } from './options.js';
import { preflight } from './preflight.js';
import { Progress, scanPlan } from './progress.js';
import { wallNowMs } from '../wallclock.js';
import { rateSchedule, Runner, traceSchedule, warmConnections, type ReplayRunResult, type Scheduled } from './replay.js';
import { buildSummary, type ReplaySummary } from './summary.js';
import { summarizeRun, type RunSummary } from '../metrics/index.js';
import { selfCheck, type SelfCheck } from './twin.js';

/**
 * How often a replay commits its buffered rows (ms). The promise is that a SIGKILL loses no request that
 * finished more than 1.0 s earlier; committing twice a second keeps it with room for a busy machine's late
 * timers (at 1000 ms the worst of 20 random kills was 995 ms, no margin at all).
 */
export const LIVE_FLUSH_MS = 500;

export interface ReplayIo {
  /** Install SIGINT/SIGTERM handlers (the CLI does; library callers may drive `interrupt` themselves). */
  readonly handleSignals?: boolean;
  /** Show the live progress line (default: stderr is a TTY and not --json). */
  readonly progress?: boolean;
  /** Where notes go (default stderr). */
  readonly log?: (line: string) => void;
  /** Hook points for sharded runs (src/scale); all optional. */
  readonly hooks?: ReplayHooks;
}

/** Hook points of a replay, for sharded runs (src/scale wires them; the replay works without). */
export interface ReplayHooks {
  /** Reshape the schedule before it is primed (e.g. keep one shard's part of the trace). */
  readonly schedule?: (s: AsyncIterable<Scheduled>) => AsyncIterable<Scheduled>;
  /** Epoch ms stored as the run's t0 (default: the local wall clock when the run row is created). */
  readonly startWallMs?: () => number;
  /** Wrap the run's writer (the wrapper must keep `runId`). */
  readonly wrapWriter?: (w: RunWriter) => RunWriter;
  /**
   * After the run row exists, right before the run's clock starts (e.g. wait for a shared start instant).
   * May return the monotonic ms (performance.now() scale) to use as t0: the schedule stays anchored to that
   * instant even when the wait woke a little late.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook returns a start time (epoch ms) or nothing at all
  readonly beforeStart?: (store: Store, runId: number, runner: Runner) => Promise<number | void>;
  /** After the run row is finished. */
  readonly afterRun?: (store: Store, runId: number) => Promise<void>;
  /** True: skip the closing summary from the stored rows (a shard whose coordinator died exits at once). */
  readonly skipSummary?: () => boolean;
}

export interface ReplayResult {
  readonly exitCode: number;
  readonly summary: ReplaySummary;
}

/** Run a replay with resolved options. Throws SplitbenchError for run-level failures before the run exists. */
export async function runReplay(opts: ReplayOptions, io: ReplayIo = {}): Promise<ReplayResult> {
  const log = io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let signalled = 0;
  let runner: Runner | undefined;
  let backend: Backend | undefined;
  let preRunAbort: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    signalled++;
    if (runner) {
      if (signalled === 1) {
        log(`splitbench replay: ${sig}: stopping; in-flight requests get ${opts.graceS} s to finish (again to cancel them now)`);
        runner.interrupt(`${sig}`);
      } else {
        log(`splitbench replay: ${sig} again: cancelling in-flight requests`);
        runner.abort();
      }
    } else {
      preRunAbort?.();
    }
  };
  if (io.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let store: Store | undefined;
  let client: LoadClient | undefined;
  let telemetry: RunTelemetry | undefined;
  try {
    // 1. Inputs that can be checked without the target: trace, store.
    const source = openTrace(opts.trace, { ...(opts.traceFormat ? { format: opts.traceFormat } : {}), lenient: opts.lenient });
    const specs = applyTransforms(source, opts.transforms);
    const traceSha = await sha256File(source.path);
    store = openStore(opts.db);

    // 2. The target.
    let url = opts.url;
    if (url === undefined) {
      const started = startBackend({ deployment: opts.deployment!, model: opts.model, timeScale: opts.timeScale });
      preRunAbort = () => void started.then((b) => b.stop(1000)).catch(() => undefined);
      backend = await started;
      url = backend.url;
    }
    throwIfSignalled(signalled);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
      ...opts.headers,
    };
    client = new LoadClient({ url, headers, timeouts: opts.timeouts });
    const pre = await preflight(client, {
      model: opts.model,
      endpoint: opts.endpoint,
      prompt: opts.prompt,
      extraBody: opts.extraBody as Record<string, unknown> | undefined,
      ...(opts.target ? { fields: targetPreset(opts.target).fields } : {}),
    });
    throwIfSignalled(signalled);

    // 3. The schedule.
    let schedule: AsyncIterable<Scheduled>;
    if (opts.shape.kind === 'rate') schedule = rateSchedule(specs, opts.shape.rate, opts.shape.arrivals, opts.seed);
    else schedule = traceSchedule(specs);
    if (io.hooks?.schedule) schedule = io.hooks.schedule(schedule);
    const it = schedule[Symbol.asyncIterator]();
    // Prime the source (a rate schedule reads the whole trace for its size sampler) before t0.
    const first = await it.next();
    throwIfSignalled(signalled);
    const primed: AsyncIterator<Scheduled> = {
      next: (() => {
        let f: IteratorResult<Scheduled> | undefined = first;
        return () => {
          if (f) {
            const r = f;
            f = undefined;
            return Promise.resolve(r);
          }
          return it.next();
        };
      })(),
      return: () => it.return?.() ?? Promise.resolve({ done: true, value: undefined }),
    };

    // The progress line's plan: a trace replay counts its requests first (a bad row fails here, before the run row).
    const showProgress = io.progress ?? (process.stderr.isTTY === true && !opts.json);
    const plan = showProgress && opts.shape.kind === 'trace' ? await scanPlan(opts) : undefined;

    // 4. The run.
    const t0Wall = wallNowMs();
    const created: RunWriter = store.createRun(
      {
        kind: 'live',
        ...(opts.name ? { name: opts.name } : {}),
        target: opts.url ?? `reference:${opts.deployment}`,
        ...(opts.deployment ? { deployment: opts.deployment } : {}),
        model: pre.model,
        tracePath: source.path,
        traceSha256: traceSha,
        timeScale: opts.timeScale,
        ...(opts.shape.kind === 'rate' ? { offeredRate: opts.shape.rate } : {}),
        warmupS: opts.warmupS,
        seed: opts.seed,
        options: { ...optionsForStore(opts), resolvedUrl: url, continuousUsage: pre.continuousUsage, host: os.hostname() },
        tags: { ...opts.tags },
        startWallMs: io.hooks?.startWallMs?.() ?? t0Wall,
      },
      { flushIntervalMs: LIVE_FLUSH_MS, thread: true },
    ); // commits run on the writer's thread, off the dispatch loop
    const writer: RunWriter = io.hooks?.wrapWriter ? io.hooks.wrapWriter(created) : created;
    const progress = showProgress ? new Progress(opts) : undefined;
    if (progress && plan) progress.setPlan(plan);
    runner = new Runner(opts, {
      client,
      writer,
      model: pre.model,
      log,
      ...(pre.vocabSize === undefined ? {} : { vocabSize: pre.vocabSize }),
      ...(progress ? { onTick: (r: Runner) => progress.update(r) } : {}),
    });
    // Power and server metrics sampled next to the load (src/telemetry); a failing source is a gap, not an error.
    const r0 = runner;
    let t0Ms: number | undefined;
    try {
      telemetry = await startRunTelemetry(opts.telemetry, { targetUrl: url, timeScale: opts.timeScale, t0Ms: () => r0.startMs, sink: writer, log });
      // Connections opened and the stream code compiled before the clock starts (no inference asked for).
      await client.warm(warmConnections(opts));
      const hookT0 = await io.hooks?.beforeStart?.(store, writer.runId, runner);
      if (typeof hookT0 === 'number') t0Ms = hookT0;
    } catch (e) {
      // The run row exists: never leave it 'running' when the run cannot start.
      created.finish('failed', { notes: { reason: `could not start: ${(e as Error).message}` } });
      throw e;
    }
    // The bundled backend dying mid-run ends the run (exit 5), instead of sending the rest to a dead port.
    let runEnded = false;
    void backend?.exited.then((x) => {
      if (runEnded || x.stopped) return;
      const how = x.signal ? `killed by ${x.signal}` : `exit code ${x.code}${x.code !== 0 && x.stderrTail ? `: ${x.stderrTail}` : ''}`;
      r0.targetLost(`the reference backend exited mid-run (${how})`);
    });
    progress?.start();
    let result: ReplayRunResult;
    try {
      result = await runner.run(primed, t0Ms);
    } finally {
      runEnded = true;
      progress?.stop();
    }
    const telemetryNotes = await telemetry?.stop();
    const notes: Record<string, unknown> = {
      outputMismatch: { fewer: result.stats.fewerTokens, more: result.stats.moreTokens },
      errorCodes: Object.fromEntries(result.stats.errorCodes),
      ...(result.reason ? { reason: result.reason } : {}),
      ...(source.skipped() > 0 ? { skippedTraceRows: source.skipped() } : {}),
      ...(runner.sessions ? { sessions: runner.sessions.counts() } : {}),
      ...(telemetryNotes ?? {}),
    };
    try {
      writer.finish(result.status, { lagFlagged: result.lagFlagged, ...(result.lagP99S === undefined ? {} : { lagP99S: result.lagP99S }), notes });
    } catch (e) {
      if (!result.error) throw e;
    }
    await io.hooks?.afterRun?.(store, writer.runId);
    if (result.error && result.error.exitCode === ExitCode.store) throw result.error;
    // The figures `splitbench summary` prints, from the stored rows (one definition for both).
    let metrics: RunSummary | undefined;
    let check: SelfCheck | undefined;
    // A shard whose coordinator died skips this: nobody reads it, and it must exit at once.
    if (!io.hooks?.skipSummary?.())
      try {
        metrics = summarizeRun(store, writer.runId);
        // Against the bundled backend: the twin check (src/load/twin.ts), recorded on the run, then the summary again.
        if (opts.twin && backend && !io.hooks && opts.deployment && result.status === 'completed' && metrics.counts.ok > 0) {
          check = await selfCheck({
            store,
            runId: writer.runId,
            runName: store.getRun(writer.runId)?.name ?? String(writer.runId),
            deployment: opts.deployment,
            model: opts.model,
            warmupS: opts.warmupS,
            bound: opts.distortionBound,
            check: runner.check,
            hashIds: runner.hashIdsBySeq,
            lagFlagged: result.lagFlagged,
            lagP99S: result.lagP99S,
            lagLimitS: opts.lagFlagS,
            live: metrics,
          });
          metrics = summarizeRun(store, writer.runId);
        }
      } catch (e) {
        log(`splitbench replay: the summary from the stored rows is unavailable (${(e as Error).message}); try \`splitbench summary --run ${writer.runId}\``);
      }
    const summary = buildSummary({
      ...(metrics ? { metrics } : {}),
      ...(check ? { selfCheck: check } : {}),
      runId: writer.runId,
      name: store.getRun(writer.runId)?.name ?? String(writer.runId),
      target: url,
      model: pre.model,
      opts,
      result,
    });
    return { exitCode: result.exitCode, summary };
  } catch (e) {
    // A signal before the run started (e.g. while the backend was starting) is an interrupt, whatever
    // error the aborted step then raised.
    if (signalled > 0 && runner === undefined) throw new InterruptedBeforeRun();
    throw e;
  } finally {
    if (io.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await telemetry?.stop().catch(() => undefined);
    await client?.destroy().catch(() => undefined);
    await backend?.stop(5000);
    store?.close();
  }
}

class InterruptedBeforeRun extends SplitbenchError {
  constructor() {
    super('SB_INTERRUPTED', 'interrupted before the run started; nothing was recorded', { exitCode: ExitCode.interrupted });
  }
}

function throwIfSignalled(n: number): void {
  if (n > 0) throw new InterruptedBeforeRun();
}
