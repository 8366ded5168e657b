/**
 * `splitbench replay`: the live driver of the run lifecycle (src/run/lifecycle.ts). Its steps: open the
 * trace; start the reference backend when no `--url` is given, preflight and prime the schedule; create the
 * run; start telemetry, warm connections, run the scale-out start hook; drive the Runner; then the closing
 * summary from the stored rows. Signals: the first SIGINT/SIGTERM interrupts (grace), the second aborts.
 */
import os from 'node:os';
import type { RunEvents, RunListener } from '../run/events.js';
import { runLifecycle, type CommonRunOptions, type DriveResult, type LifecycleContext, type RunDriver } from '../run/lifecycle.js';
import type { RunWriter, Store } from '../store/index.js';
import { applyTransforms, openTrace, type RequestSpec, type TraceSource } from '../trace/index.js';
import { startRunTelemetry, type RunTelemetry } from '../telemetry/run.js';
import { targetPreset } from '../telemetry/targets.js';
import { startBackend, type Backend } from './backend.js';
import { LoadClient } from './client.js';
import { optionsForStore, type ReplayOptions } from './options.js';
import { preflight } from './preflight.js';
import { Progress, scanPlan, type ReplayPlan } from './progress.js';
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
  /** Subscribers to the run's events (live metrics; `end`: after the run row is finished). */
  readonly listener?: RunListener;
  /** True: skip the closing summary from the stored rows (a shard whose coordinator died exits at once). */
  readonly skipSummary?: () => boolean;
}

export interface ReplayResult {
  readonly exitCode: number;
  readonly summary: ReplaySummary;
}

/** Run a replay with resolved options. Throws SplitbenchError for run-level failures before the run exists. */
export async function runReplay(opts: ReplayOptions, io: ReplayIo = {}): Promise<ReplayResult> {
  const { exitCode, report } = await runLifecycle(new LiveDriver(opts, io), {
    ...(io.handleSignals === undefined ? {} : { handleSignals: io.handleSignals }),
    ...(io.progress === undefined ? {} : { progress: io.progress }),
    ...(io.log === undefined ? {} : { log: io.log }),
    json: opts.json,
    ...(io.hooks?.listener ? { listeners: [io.hooks.listener] } : {}),
  });
  return { exitCode, summary: report };
}

/** The live driver: HTTP/SSE to a target (the bundled reference backend when no --url). */
class LiveDriver implements RunDriver<void, ReplaySummary> {
  readonly db: string;
  readonly common: CommonRunOptions;
  private source: TraceSource | undefined;
  private specs: AsyncIterable<RequestSpec> | undefined;
  private backend: Backend | undefined;
  private preRunAbort: (() => void) | undefined;
  private client: LoadClient | undefined;
  private telemetry: RunTelemetry | undefined;
  private runner: Runner | undefined;
  private url = '';
  private pre: Awaited<ReturnType<typeof preflight>> | undefined;
  private primed: AsyncIterator<Scheduled> | undefined;
  private plan: ReplayPlan | undefined;
  private t0Ms: number | undefined;
  private run: ReplayRunResult | undefined;

  constructor(
    private readonly opts: ReplayOptions,
    private readonly io: ReplayIo,
  ) {
    this.db = opts.db;
    this.common = opts;
  }

  async open(): Promise<string> {
    const opts = this.opts;
    this.source = openTrace(opts.trace, { ...(opts.traceFormat ? { format: opts.traceFormat } : {}), lenient: opts.lenient });
    this.specs = applyTransforms(this.source, opts.transforms);
    return this.source.path;
  }

  async prepare(_store: Store, ctx: LifecycleContext): Promise<void> {
    const opts = this.opts;
    // The target.
    let url = opts.url;
    if (url === undefined) {
      const started = startBackend({ deployment: opts.deployment!, model: opts.model, timeScale: opts.timeScale });
      this.preRunAbort = () => void started.then((b) => b.stop(1000)).catch(() => undefined);
      this.backend = await started;
      url = this.backend.url;
    }
    this.url = url;
    ctx.checkSignal();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
      ...opts.headers,
    };
    this.client = new LoadClient({ url, headers, timeouts: opts.timeouts });
    this.pre = await preflight(this.client, {
      model: opts.model,
      endpoint: opts.endpoint,
      prompt: opts.prompt,
      extraBody: opts.extraBody as Record<string, unknown> | undefined,
      ...(opts.target ? { fields: targetPreset(opts.target).fields } : {}),
    });
    ctx.checkSignal();

    // The schedule.
    let schedule: AsyncIterable<Scheduled>;
    if (opts.shape.kind === 'rate') schedule = rateSchedule(this.specs!, opts.shape.rate, opts.shape.arrivals, opts.seed);
    else schedule = traceSchedule(this.specs!);
    if (this.io.hooks?.schedule) schedule = this.io.hooks.schedule(schedule);
    const it = schedule[Symbol.asyncIterator]();
    // Prime the source (a rate schedule reads the whole trace for its size sampler) before t0.
    let first: IteratorResult<Scheduled> | undefined = await it.next();
    ctx.checkSignal();
    this.primed = {
      next: () => {
        if (first) {
          const r = first;
          first = undefined;
          return Promise.resolve(r);
        }
        return it.next();
      },
      return: () => it.return?.() ?? Promise.resolve({ done: true, value: undefined }),
    };
    // The progress line's plan: a trace replay counts its requests first (a bad row fails here, before the run row).
    if (ctx.showProgress && opts.shape.kind === 'trace') this.plan = await scanPlan(opts);
  }

  runRow(): ReturnType<RunDriver<void, ReplaySummary>['runRow']> {
    const opts = this.opts;
    const pre = this.pre!;
    return {
      run: {
        kind: 'live',
        target: opts.url ?? `reference:${opts.deployment}`,
        ...(opts.deployment ? { deployment: opts.deployment } : {}),
        model: pre.model,
        timeScale: opts.timeScale,
        options: { ...optionsForStore(opts), resolvedUrl: this.url, continuousUsage: pre.continuousUsage, host: os.hostname() },
        startWallMs: this.io.hooks?.startWallMs?.() ?? wallNowMs(),
      },
      // Commits run on the writer's thread, off the dispatch loop.
      writer: { flushIntervalMs: LIVE_FLUSH_MS, thread: true },
    };
  }

  wrapWriter(w: RunWriter): RunWriter {
    return this.io.hooks?.wrapWriter ? this.io.hooks.wrapWriter(w) : w;
  }

  progress(): Progress {
    const progress = new Progress(this.opts, () => this.runner);
    if (this.plan) progress.setPlan(this.plan);
    return progress;
  }

  async start(store: Store, writer: RunWriter, events: RunEvents, ctx: LifecycleContext): Promise<void> {
    const pre = this.pre!;
    const client = this.client!;
    const runner = new Runner(this.opts, {
      client,
      writer,
      model: pre.model,
      log: ctx.log,
      events,
      ...(pre.vocabSize === undefined ? {} : { vocabSize: pre.vocabSize }),
    });
    this.runner = runner;
    // Power and server metrics sampled next to the load (src/telemetry); a failing source is a gap, not an error.
    this.telemetry = await startRunTelemetry(this.opts.telemetry, {
      targetUrl: this.url,
      timeScale: this.opts.timeScale,
      t0Ms: () => runner.startMs,
      sink: writer,
      log: ctx.log,
    });
    // Connections opened and the stream code compiled before the clock starts (no inference asked for).
    await client.warm(warmConnections(this.opts));
    const hookT0 = await this.io.hooks?.beforeStart?.(store, writer.runId, runner);
    if (typeof hookT0 === 'number') this.t0Ms = hookT0;
  }

  async drive(): Promise<DriveResult> {
    const runner = this.runner!;
    // The bundled backend dying mid-run ends the run (exit 5), instead of sending the rest to a dead port.
    let runEnded = false;
    void this.backend?.exited.then((x) => {
      if (runEnded || x.stopped) return;
      const how = x.signal ? `killed by ${x.signal}` : `exit code ${x.code}${x.code !== 0 && x.stderrTail ? `: ${x.stderrTail}` : ''}`;
      runner.targetLost(`the reference backend exited mid-run (${how})`);
    });
    let result: ReplayRunResult;
    try {
      result = await runner.run(this.primed!, this.t0Ms);
    } finally {
      runEnded = true;
    }
    this.run = result;
    const telemetryNotes = await this.telemetry?.stop();
    const skipped = this.source!.skipped();
    const notes: Record<string, unknown> = {
      outputMismatch: { fewer: result.stats.fewerTokens, more: result.stats.moreTokens },
      errorCodes: Object.fromEntries(result.stats.errorCodes),
      ...(result.reason ? { reason: result.reason } : {}),
      ...(skipped > 0 ? { skippedTraceRows: skipped } : {}),
      ...(runner.sessions ? { sessions: runner.sessions.counts() } : {}),
      ...(telemetryNotes ?? {}),
    };
    return {
      status: result.status,
      unsuccessful: result.stats.failed + result.stats.byStatus.cancelled,
      ...(result.error ? { error: result.error } : {}),
      finish: { lagFlagged: result.lagFlagged, ...(result.lagP99S === undefined ? {} : { lagP99S: result.lagP99S }), notes },
    };
  }

  signal(sig: NodeJS.Signals, n: number, ctx: LifecycleContext): void {
    const runner = this.runner;
    if (!runner) {
      this.preRunAbort?.();
      return;
    }
    if (n === 1) {
      ctx.log(`splitbench replay: ${sig}: stopping; in-flight requests get ${this.opts.graceS} s to finish (again to cancel them now)`);
      runner.interrupt(`${sig}`);
    } else {
      ctx.log(`splitbench replay: ${sig} again: cancelling in-flight requests`);
      runner.abort();
    }
  }

  async report(store: Store, runId: number, _r: DriveResult, exitCode: number): Promise<ReplaySummary> {
    const opts = this.opts;
    const result = this.run!;
    const runner = this.runner!;
    const log = this.io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
    // The figures `splitbench summary` prints, from the stored rows (one definition for both).
    let metrics: RunSummary | undefined;
    let check: SelfCheck | undefined;
    // A shard whose coordinator died skips this: nobody reads it, and it must exit at once.
    if (!this.io.hooks?.skipSummary?.())
      try {
        metrics = summarizeRun(store, runId);
        // Against the bundled backend: the twin check (src/load/twin.ts), recorded on the run, then the summary again.
        if (opts.twin && this.backend && !this.io.hooks && opts.deployment && result.status === 'completed' && metrics.counts.ok > 0) {
          check = await selfCheck({
            store,
            runId,
            runName: store.getRun(runId)?.name ?? String(runId),
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
          metrics = summarizeRun(store, runId);
        }
      } catch (e) {
        log(`splitbench replay: the summary from the stored rows is unavailable (${(e as Error).message}); try \`splitbench summary --run ${runId}\``);
      }
    return buildSummary({
      ...(metrics ? { metrics } : {}),
      ...(check ? { selfCheck: check } : {}),
      runId,
      exitCode,
      name: store.getRun(runId)?.name ?? String(runId),
      target: this.url,
      model: this.pre!.model,
      opts,
      result,
    });
  }

  async close(): Promise<void> {
    await this.telemetry?.stop().catch(() => undefined);
    await this.client?.destroy().catch(() => undefined);
    await this.backend?.stop(5000);
  }
}
