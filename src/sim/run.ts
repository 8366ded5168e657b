/**
 * `splitbench sim`: the simulated driver of the run lifecycle (src/run/lifecycle.ts). Its steps: resolve
 * the deployment and the request source, create a `sim` run, simulate (streaming rows into the run's
 * writer), then summarize it with src/metrics. The first SIGINT stops pulling new requests (in-flight ones
 * finish in virtual time, the run is marked `interrupted`).
 */
import os from 'node:os';
import type { SimInput } from '../config/index.js';
import {
  findRun,
  formatSummaries,
  isCompatRun,
  METRIC_FIELDS,
  type OrderedAccumulator,
  resolveReference,
  summarizeAccumulated,
  type RunSummary,
} from '../metrics/index.js';
import type { RunEvents } from '../run/events.js';
import { runLifecycle, type CommonRunOptions, type DriveResult, type LifecycleContext, type RunDriver, type RunProgress } from '../run/lifecycle.js';
import type { RunWriter, Store } from '../store/index.js';
import { bundledTraceSizes } from '../config/snapshot.js';
import { rateRequests, SessionWorkload, traceRequests, traceSampler, type RequestSpec } from '../trace/index.js';
import type { SimOptions } from './options.js';
import { TraceEventWriter } from './perfetto.js';
import { simulate, type SimProgress, type SimulateResult } from './simulate.js';
import { SUMMARY_TAP_MODULE, summaryAccumulator, type SummaryTapData } from './summary-tap.js';

export interface SimIo {
  readonly handleSignals?: boolean;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
}

export interface SimRunResult {
  readonly exitCode: number;
  readonly runId: number;
  readonly summary: RunSummary;
  readonly result: SimulateResult;
  readonly traceEvents?: { readonly file: string; readonly events: number };
}

/** Requests of a sim: the trace (with transforms, --duration and --max-requests cuts) or a rate load from it. */
export async function simRequests(
  opts: Pick<SimOptions, 'trace' | 'traceFormat' | 'lenient' | 'transforms' | 'shape' | 'durationS' | 'maxRequests' | 'seed' | 'sessions'>,
): Promise<{ path: string; requests: AsyncIterable<RequestSpec> | Iterable<RequestSpec>; skipped: () => number }> {
  const input = { trace: opts.trace, format: opts.traceFormat, lenient: opts.lenient, transforms: opts.transforms };
  if (opts.shape.kind === 'rate') {
    const { sampler, source } = await traceSampler(input, opts.seed, bundledTraceSizes);
    return {
      path: source.path,
      skipped: () => source.skipped(),
      requests: rateRequests(sampler, {
        rate: opts.shape.rate,
        arrivals: opts.shape.arrivals,
        seed: opts.seed,
        ...(opts.durationS === undefined ? {} : { durationS: opts.durationS }),
        ...(opts.maxRequests === undefined ? {} : { maxRequests: opts.maxRequests }),
        draw: 'joint',
      }),
    };
  }
  const { source, requests } = traceRequests(input);
  // Sessions: --max-requests counts turns sent, which the simulator applies itself (sessionLimits).
  return { path: source.path, skipped: () => source.skipped(), requests: cut(requests, opts.durationS, opts.sessions ? undefined : opts.maxRequests) };
}

async function* cut(src: AsyncIterable<RequestSpec>, durationS: number | undefined, max: number | undefined): AsyncGenerator<RequestSpec> {
  let n = 0;
  for await (const r of src) {
    if ((durationS !== undefined && r.arrival >= durationS) || (max !== undefined && n >= max)) return;
    n++;
    yield r;
  }
}

/** A sim of `input` (its deployment and engine data, loaded at the edge: src/config `loadSimInput`). */
export async function runSim(opts: SimOptions, input: SimInput, io: SimIo = {}): Promise<SimRunResult> {
  const { report } = await runLifecycle(new SimDriver(opts, input), {
    ...(io.handleSignals === undefined ? {} : { handleSignals: io.handleSignals }),
    ...(io.progress === undefined ? {} : { progress: io.progress }),
    ...(io.log === undefined ? {} : { log: io.log }),
    json: opts.json,
  });
  return report;
}

/** The simulated driver: the engine's cluster on a virtual clock (simulate.ts). */
class SimDriver implements RunDriver<SimProgress, SimRunResult> {
  private src: Awaited<ReturnType<typeof simRequests>> | undefined;
  private tev: TraceEventWriter | undefined;
  private stop = false;
  private result: SimulateResult | undefined;
  /**
   * The summary, kept as the writer commits the rows (its request tap), in the order a read-back adds them:
   * on the writer's thread when it has one (summary-tap.ts), else here.
   */
  private rows: OrderedAccumulator | undefined;
  private tapData: SummaryTapData | undefined;
  private writer: RunWriter | undefined;

  constructor(
    private readonly opts: SimOptions,
    private readonly input: SimInput,
  ) {}

  get db(): string {
    return this.opts.db;
  }

  get common(): CommonRunOptions {
    return this.opts;
  }

  async open(): Promise<string> {
    this.src = await simRequests(this.opts);
    return this.src.path;
  }

  async prepare(): Promise<void> {
    this.tev = this.opts.traceEvents ? new TraceEventWriter(this.opts.traceEvents) : undefined;
  }

  runRow(): ReturnType<RunDriver<SimProgress, SimRunResult>['runRow']> {
    const opts = this.opts;
    // A sim can be rerun: bulk writes skip the checkpoint fsyncs (store api WriterOptions.bulk).
    const writer = {
      bulk: true,
      requestTap: {
        fields: METRIC_FIELDS,
        add: (r: Parameters<OrderedAccumulator['add']>[0]) => this.rows!.add(r),
        // Asked as the writer's thread starts (after start(): the reference is known by then).
        thread: { module: SUMMARY_TAP_MODULE, data: () => this.tapData },
      },
    };
    const options = { ...opts, transforms: storeTransforms(opts), compat: opts.compat ?? null, host: os.hostname() };
    return {
      writer,
      run: { kind: 'sim', target: `sim:${this.input.deployment.name}`, deployment: opts.deployment, model: this.input.deployment.model, options },
    };
  }

  async start(store: Store, writer: RunWriter): Promise<void> {
    const run = findRun(store, writer.runId);
    const reference = await resolveReference(store, run, { required: false });
    const compat = isCompatRun(run);
    this.rows = summaryAccumulator(compat, reference);
    // A reference the writer's thread can build again (a performance model's), or none: else the tap stays here.
    if (!reference || reference.model) this.tapData = { compat, ...(reference?.model ? { reference: reference.model } : {}) };
    this.writer = writer;
  }

  progress(): RunProgress<SimProgress> {
    let lastShown = 0;
    return {
      tick: (p) => {
        const now = performance.now();
        if (now - lastShown < 250) return;
        lastShown = now;
        process.stderr.write(`\rsim: t=${p.virtualTime.toFixed(1)} s  submitted ${p.submitted}  done ${p.finished}  in flight ${p.inFlight}   `);
      },
      stop: () => process.stderr.write('\n'),
    };
  }

  async drive(writer: RunWriter, events: RunEvents<SimProgress>): Promise<DriveResult> {
    const opts = this.opts;
    const src = this.src!;
    const sessions = opts.sessions ? new SessionWorkload() : undefined;
    const tev = this.tev;
    const expected = expectedRequests(opts);
    if (expected !== undefined) writer.expectRows?.(expected);
    const result = await simulate({
      ...(sessions ? { sessions, sessionLimits: { maxTurns: opts.maxRequests, untilS: opts.durationS } } : {}),
      deployment: this.input.deployment,
      data: this.input.data,
      requests: src.requests,
      ...(opts.compat ? { compat: opts.compat } : {}),
      seed: opts.seed,
      sink: writer,
      sampleIntervalS: opts.sampleIntervalS,
      warmupS: opts.warmupS,
      ...(tev ? { events: tev } : {}),
      shouldStop: () => this.stop,
      run: events,
    });
    this.result = result;
    tev?.close();
    return {
      status: result.stopped ? 'interrupted' : 'completed',
      unsuccessful: result.failed + result.neverCompleted,
      finish: {
        notes: {
          wallS: result.wallS,
          virtualEndS: result.endTime,
          energyJ: result.energyJ,
          neverCompleted: result.neverCompleted,
          ...(Object.keys(result.failures).length > 0 ? { failures: result.failures } : {}),
          ...(src.skipped() > 0 ? { skippedTraceRows: src.skipped() } : {}),
          ...(sessions ? { sessions: sessions.counts() } : {}),
        },
      },
    };
  }

  signal(sig: NodeJS.Signals, _n: number, ctx: LifecycleContext): void {
    if (!this.stop) ctx.log(`splitbench sim: ${sig}: no new arrivals; requests in flight finish in virtual time`);
    this.stop = true;
  }

  async report(store: Store, runId: number, _r: DriveResult, exitCode: number): Promise<SimRunResult> {
    const fromThread = this.writer?.tapResult?.();
    const summary = fromThread ? (fromThread.value as RunSummary) : summarizeAccumulated(store, findRun(store, runId), this.rows!.finish());
    const tev = this.tev;
    return { exitCode, runId, summary, result: this.result!, ...(tev ? { traceEvents: { file: tev.file, events: tev.count } } : {}) };
  }

  async close(): Promise<void> {
    this.tev?.close();
  }
}

/** At most about how many requests a sim records, where its options bound that (a rate × duration, a request cap). */
function expectedRequests(o: SimOptions): number | undefined {
  let n = o.maxRequests ?? Infinity;
  if (o.shape.kind === 'rate' && o.durationS !== undefined) n = Math.min(n, o.shape.rate * o.durationS);
  if (o.shape.kind === 'trace' && o.transforms.limit !== undefined) n = Math.min(n, o.transforms.limit);
  return Number.isFinite(n) ? n : undefined;
}

function storeTransforms(o: SimOptions): Record<string, unknown> {
  const w = o.transforms.window;
  return { ...o.transforms, window: w ? [w[0], Number.isFinite(w[1]) ? w[1] : null] : undefined };
}

/** The human-readable end-of-run text. */
export function formatSimResult(r: SimRunResult): string {
  const lines = [formatSummaries([r.summary])];
  const x = r.result;
  lines.push(
    `simulated ${x.submitted} requests (${x.ok} ok, ${x.failed} failed, ${x.neverCompleted} never completed) to t=${x.endTime.toFixed(2)} s in ${x.wallS.toFixed(2)} s wall (${(x.submitted / Math.max(x.wallS, 1e-9)).toFixed(0)} req/s)`,
  );
  for (const [reason, n] of Object.entries(x.failures)) lines.push(`  failed: ${n} × ${reason}`);
  if (r.traceEvents) lines.push(`trace events: ${r.traceEvents.events} written to ${r.traceEvents.file}`);
  return lines.join('\n');
}
