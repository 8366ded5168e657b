/**
 * The live progress line on a TTY (cli-progress, on stderr): sent, in flight, done, errors, lag p99,
 * elapsed and ETA. The ETA is known when the run has a `--duration` or `--max-requests` bound.
 * The runner calls `update` a few times a second; nothing here reads the run's data on its own.
 */
import cliProgress from 'cli-progress';
import type { ReplayOptions } from './options.js';
import type { Runner } from './replay.js';
import { fmtS } from './summary.js';

function clock(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private readonly bar: cliProgress.SingleBar;
  private readonly opts: ReplayOptions;
  private readonly total: number;

  constructor(opts: ReplayOptions) {
    this.opts = opts;
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

  start(): void {
    this.bar.start(this.total, 0, { sent: 0, inflight: 0, done: 0, errors: 0, lag: '-', elapsed: '0s', etaText: '-' });
  }

  update(r: Runner): void {
    const st = r.stats;
    const elapsedWall = (performance.now() - r.startMs) / 1000;
    const elapsedTrace = elapsedWall * this.opts.timeScale;
    let frac: number | undefined;
    if (this.opts.durationS !== undefined) frac = Math.min(1, elapsedTrace / this.opts.durationS);
    if (this.opts.maxRequests !== undefined) frac = Math.max(frac ?? 0, st.sent / this.opts.maxRequests);
    const eta = frac !== undefined && frac > 0 ? (elapsedWall / frac) * (1 - frac) : NaN;
    this.bar.update(frac === undefined ? 0 : Math.round(frac * this.total), {
      sent: st.sent,
      inflight: st.inFlight,
      done: st.done,
      errors: st.failed,
      lag: fmtS(st.lag.percentile(99)),
      elapsed: clock(elapsedWall),
      etaText: r.isStopping ? 'stopping' : clock(eta),
    });
  }

  stop(): void {
    this.bar.stop();
  }
}
