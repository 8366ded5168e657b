/**
 * The live progress line on a TTY (cli-progress, on stderr): sent, in flight, done, errors, lag p99,
 * elapsed and ETA. Quiet otherwise (the caller creates it only when stderr is a TTY and not --json).
 *
 * How far the run is: with `--duration` the trace seconds elapsed of it, with `--max-requests` the requests
 * sent of it; a trace replay without either learns its plan (requests and last arrival, after the trace
 * transforms) from a scan of the trace before t0 (`scanPlan`, `setPlan`), and then shows sent/total and an ETA
 * of the schedule still ahead (last arrival − trace time now, in wall seconds at the time scale). A rate run
 * with neither bound has no end to show: the bar does not move and the ETA is '-'.
 * It subscribes to the run's tick event (a few times a second) and then reads the runner's live stats.
 */
import cliProgress from 'cli-progress';
import type { RunProgress } from '../run/lifecycle.js';
import { applyTransforms, openTrace } from '../trace/index.js';
import type { ReplayOptions } from './options.js';
import type { Runner } from './replay.js';
import type { LiveStats } from './stats.js';
import { fmtS } from './summary.js';

function clock(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** What a trace replay will send: its request count and the arrival of its last request (trace seconds). */
export interface ReplayPlan {
  readonly requests: number;
  readonly lastArrivalS: number;
}

/**
 * Count what a trace replay will send (the same trace, transforms and --duration / --max-requests bounds as
 * the run, read once more before t0, so the scan never competes with the dispatch loop).
 */
export async function scanPlan(
  opts: Pick<ReplayOptions, 'trace' | 'traceFormat' | 'lenient' | 'transforms' | 'durationS' | 'maxRequests'>,
): Promise<ReplayPlan> {
  const source = openTrace(opts.trace, { ...(opts.traceFormat ? { format: opts.traceFormat } : {}), lenient: opts.lenient });
  let requests = 0;
  let lastArrivalS = 0;
  for await (const spec of applyTransforms(source, opts.transforms)) {
    if ((opts.durationS !== undefined && spec.arrival >= opts.durationS) || (opts.maxRequests !== undefined && requests >= opts.maxRequests)) break;
    requests++;
    lastArrivalS = Math.max(lastArrivalS, spec.arrival);
  }
  return { requests, lastArrivalS };
}

/** The bar's position (0..1, undefined: unknown) and its fields at one moment. */
export interface ProgressView {
  readonly frac: number | undefined;
  readonly sent: string;
  readonly etaS: number;
}

/** Where the run stands; pure (for tests): `elapsedWallS` since t0, `plan` once the trace scan is done. */
export function progressView(
  opts: Pick<ReplayOptions, 'durationS' | 'maxRequests' | 'timeScale' | 'shape'>,
  sent: number,
  elapsedWallS: number,
  plan?: ReplayPlan,
): ProgressView {
  const elapsedTrace = elapsedWallS * opts.timeScale;
  let frac: number | undefined;
  let etaS = NaN;
  let total: number | undefined;
  if (opts.shape.kind === 'trace' && plan) {
    total = plan.requests;
    frac = plan.requests > 0 ? Math.min(1, sent / plan.requests) : 1;
    // The schedule still ahead; once it is all sent, the ETA is 0 and what is left is the in-flight drain.
    etaS = Math.max(0, plan.lastArrivalS - elapsedTrace) / opts.timeScale;
  } else {
    if (opts.durationS !== undefined) frac = Math.min(1, elapsedTrace / opts.durationS);
    if (opts.maxRequests !== undefined) {
      frac = Math.max(frac ?? 0, sent / opts.maxRequests);
      total = opts.maxRequests;
    }
    if (frac !== undefined && frac > 0) etaS = (elapsedWallS / frac) * (1 - frac);
  }
  return { frac, sent: total === undefined ? String(sent) : `${sent}/${total}`, etaS };
}

export class Progress implements RunProgress<void> {
  private readonly bar: cliProgress.SingleBar;
  private readonly opts: ReplayOptions;
  private readonly total: number;
  private plan: ReplayPlan | undefined;
  private readonly runner: () => Runner | undefined;

  constructor(opts: ReplayOptions, runner: () => Runner | undefined = () => undefined) {
    this.opts = opts;
    this.runner = runner;
    this.total = 1000;
    this.bar = new cliProgress.SingleBar(
      {
        format: 'replay [{bar}] sent {sent} | in flight {inflight} | done {done} | errors {errors} | lag p99 {lag} | {elapsed} ETA {etaText}',
        barsize: 20,
        fps: 4,
        hideCursor: true,
        clearOnComplete: false,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  /** The trace replay's plan, once the scan beside the run has counted it. */
  setPlan(plan: ReplayPlan): void {
    this.plan = plan;
  }

  start(): void {
    this.bar.start(this.total, 0, { sent: 0, inflight: 0, done: 0, errors: 0, lag: '-', elapsed: '0s', etaText: '-' });
  }

  /** The run's tick: show where the runner stands. */
  tick(): void {
    const r = this.runner();
    if (r) this.update(r);
  }

  update(r: Runner): void {
    const st: LiveStats = r.stats;
    const elapsedWall = (performance.now() - r.startMs) / 1000;
    const v = progressView(this.opts, st.sent, elapsedWall, this.plan);
    this.bar.update(v.frac === undefined ? 0 : Math.round(v.frac * this.total), {
      sent: v.sent,
      inflight: st.inFlight,
      done: st.done,
      errors: st.failed,
      lag: fmtS(st.lag.percentile(99)),
      elapsed: clock(elapsedWall),
      etaText: r.isStopping ? 'stopping' : clock(v.etaS),
    });
  }

  stop(): void {
    this.bar.stop();
  }
}
