/**
 * `splitbench sim` end to end: resolve the deployment and the request source, create a `sim` run in the
 * store, simulate (streaming rows into the run's writer), finish the run and summarize it with
 * src/metrics. The first SIGINT stops pulling new requests (in-flight ones finish in virtual time, the
 * run is marked `interrupted`).
 */
import os from 'node:os';
import { ExitCode } from '../errors.js';
import { loadDeployment } from '../config/index.js';
import type { Deployment } from '../engine/index.js';
import { formatSummaries, resolveReference, summarizeRun, findRun, type RunSummary } from '../metrics/index.js';
import { openStore, type Store } from '../store/index.js';
import { rateRequests, SessionWorkload, sha256File, traceRequests, traceSampler, type RequestSpec } from '../trace/index.js';
import type { SimOptions } from './options.js';
import { TraceEventWriter } from './perfetto.js';
import { simulate, type SimulateResult } from './simulate.js';

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
    const { sampler, source } = await traceSampler(input, opts.seed);
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

export function resolveDeployment(opts: { deployment: string; model?: string | undefined; perfModel?: string | undefined }): Deployment {
  return loadDeployment(opts.deployment, { ...(opts.model ? { model: opts.model } : {}), ...(opts.perfModel ? { perfModel: opts.perfModel } : {}) });
}

export async function runSim(opts: SimOptions, io: SimIo = {}): Promise<SimRunResult> {
  const log = io.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const dep = resolveDeployment(opts);
  const src = await simRequests(opts);
  const traceSha = await sha256File(src.path);
  let stop = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (!stop) log(`splitbench sim: ${sig}: no new arrivals; requests in flight finish in virtual time`);
    stop = true;
  };
  if (io.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  let store: Store | undefined;
  let tev: TraceEventWriter | undefined;
  try {
    store = openStore(opts.db);
    tev = opts.traceEvents ? new TraceEventWriter(opts.traceEvents) : undefined;
    const writer = store.createRun(
      {
        kind: 'sim',
        ...(opts.name ? { name: opts.name } : {}),
        target: `sim:${dep.name}`,
        deployment: opts.deployment,
        model: dep.model,
        tracePath: src.path,
        traceSha256: traceSha,
        ...(opts.shape.kind === 'rate' ? { offeredRate: opts.shape.rate } : {}),
        warmupS: opts.warmupS,
        seed: opts.seed,
        options: { ...opts, transforms: storeTransforms(opts), compat: opts.compat ?? null, host: os.hostname() },
        tags: { ...opts.tags },
      },
      { bulk: true },
    ); // a sim can be rerun: bulk writes skip the checkpoint fsyncs (store api WriterOptions.bulk)
    const progress = io.progress ?? (process.stderr.isTTY === true && !opts.json);
    let lastShown = 0;
    const sessions = opts.sessions ? new SessionWorkload() : undefined;
    const result = await simulate({
      ...(sessions ? { sessions, sessionLimits: { maxTurns: opts.maxRequests, untilS: opts.durationS } } : {}),
      deployment: dep,
      requests: src.requests,
      ...(opts.compat ? { compat: opts.compat } : {}),
      seed: opts.seed,
      sink: writer,
      sampleIntervalS: opts.sampleIntervalS,
      warmupS: opts.warmupS,
      ...(tev ? { events: tev } : {}),
      shouldStop: () => stop,
      ...(progress
        ? {
            onProgress: (p) => {
              const now = performance.now();
              if (now - lastShown < 250) return;
              lastShown = now;
              process.stderr.write(`\rsim: t=${p.virtualTime.toFixed(1)} s  submitted ${p.submitted}  done ${p.finished}  in flight ${p.inFlight}   `);
            },
          }
        : {}),
    });
    if (progress) process.stderr.write('\n');
    tev?.close();
    writer.finish(result.stopped ? 'interrupted' : 'completed', {
      notes: {
        wallS: result.wallS,
        virtualEndS: result.endTime,
        energyJ: result.energyJ,
        neverCompleted: result.neverCompleted,
        ...(Object.keys(result.failures).length > 0 ? { failures: result.failures } : {}),
        ...(src.skipped() > 0 ? { skippedTraceRows: src.skipped() } : {}),
        ...(sessions ? { sessions: sessions.counts() } : {}),
      },
    });
    const run = findRun(store, writer.runId);
    const reference = await resolveReference(store, run, { required: false });
    const summary = summarizeRun(store, writer.runId, reference ? { reference } : {});
    const exitCode = result.stopped ? ExitCode.interrupted : result.failed + result.neverCompleted > 0 ? ExitCode.requestErrors : ExitCode.ok;
    return { exitCode, runId: writer.runId, summary, result, ...(tev ? { traceEvents: { file: tev.file, events: tev.count } } : {}) };
  } finally {
    tev?.close();
    if (io.handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    store?.close();
  }
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
