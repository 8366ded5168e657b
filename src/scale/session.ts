/**
 * One shard of a sharded replay, as hooks into the ordinary replay (src/load's ReplayHooks):
 *
 * 1. the schedule keeps this shard's part of the trace (after a global --max-requests);
 * 2. once the run row exists: the clock check at start (offset and RTT to the reference), the `shards`
 *    row, then the wait for the shared start instant on the monotonic clock (a shard ready after it
 *    records itself late; merge rejects the run);
 * 3. rows carry the shard index; `--metrics-port` serves live Prometheus metrics;
 * 4. after the run: the clock check at end, the shard's t0 on its own and on the reference clock.
 */
import os from 'node:os';
import { ConfigError } from '../errors.js';
import type { ReplayHooks, ReplayOptions, Runner } from '../load/index.js';
import { Sleeper } from '../load/index.js';
import type { RequestRow, RunWriter, Store } from '../store/index.js';
import { wallMsOf } from '../wallclock.js';
import { awaitBarrier, measureOffset, waitForReference, timeUrlOf, wallNowMs, type ClockSample } from './clock.js';
import { LiveMetrics, serveMetrics, type MetricsServer } from './live.js';
import type { ScaleOptions } from './options.js';
import { DEFAULT_LEAD_MS, newRunUuid, shardFilter, type ShardSpec } from './shard.js';

/** Printed on stderr by a `--start-at stdin` shard once it is ready to start (the --procs parent waits for it). */
export const READY_LINE = 'splitbench shard: ready';

/**
 * Second word of the start line a --procs parent writes (`<epoch ms> held`): it keeps the pipe open for the
 * whole run, so the pipe's end means it died and the shard stops. A bare `<epoch ms>` line (a launcher that
 * then closes the pipe) starts the shard without that watch.
 */
export const HELD_WORD = 'held';

export interface ShardSession {
  /** The replay options to run with (a global --max-requests moves into the shard filter). */
  readonly opts: ReplayOptions;
  readonly hooks: ReplayHooks;
  readonly shard: ShardSpec;
  readonly runUuid: string;
}

/**
 * Read one line from stdin (the start instant from the --procs parent), then keep watching the pipe: the
 * parent holds it open for the whole run, so its end means the coordinator is gone (even by SIGKILL), and
 * `onGone` runs. The pipe no longer keeps this process alive once the line arrived (unref).
 */
function readStdinLine(onGone: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    stdin.setEncoding('utf8');
    let buf = '';
    let line: string | undefined;
    const onData = (s: string): void => {
      if (line !== undefined) return;
      buf += s;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      line = buf.slice(0, nl);
      (stdin as unknown as { unref?: () => void }).unref?.();
      resolve(line);
    };
    const onEnd = (): void => {
      stdin.off('end', onEnd);
      stdin.off('close', onEnd);
      if (line === undefined) reject(new ConfigError('--start-at stdin: stdin closed before the start instant arrived'));
      else onGone();
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('close', onEnd);
    stdin.resume();
  });
}

export async function shardSession(
  opts: ReplayOptions,
  scale: ScaleOptions,
  log: (l: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<ShardSession> {
  const shard: ShardSpec = scale.shard ?? { index: 0, count: 1 };
  const sharded = scale.shard !== undefined;
  const runUuid = scale.runUuid ?? newRunUuid();
  const skew = scale.skewMs;
  // Clock reference: explicit --time-url (must answer), else the target's /time when it has one.
  const explicitRef = scale.timeUrl !== undefined;
  const refUrl = scale.timeUrl ? timeUrlOf(scale.timeUrl).href : opts.url ? timeUrlOf(opts.url).href : undefined;
  let measured = refUrl !== undefined && sharded;

  const measure = async (when: string): Promise<ClockSample | undefined> => {
    if (!measured || !refUrl) return undefined;
    try {
      return await measureOffset(refUrl, { skewMs: skew });
    } catch (e) {
      if (explicitRef || when === 'end') throw e;
      measured = false; // the target does not serve /time: no clock check (fine on one host)
      log(
        `splitbench replay: shard ${shard.index}/${shard.count}: no clock reference at ${refUrl} (${(e as Error).message.replace(/^clock check: /, '')}); offset not measured`,
      );
      return undefined;
    }
  };

  let startAt: number | undefined = typeof scale.startAt === 'number' ? scale.startAt : undefined;
  if (sharded && scale.startAt === undefined) startAt = wallNowMs() + DEFAULT_LEAD_MS; // no reference yet: local clock
  let start: ClockSample | undefined;
  let runnerRef: Runner | undefined;
  let lateMs: number | null = null;
  let coordinatorLost = false;
  let held = false;
  let metrics: LiveMetrics | undefined;
  let metricsServer: MetricsServer | undefined;

  if (scale.metricsPort !== undefined) {
    metrics = new LiveMetrics({ shard: String(shard.index), shards: String(shard.count), runUuid });
    metricsServer = await serveMetrics(metrics, scale.metricsPort);
    log(`splitbench replay: live metrics on ${metricsServer.url}`);
  }

  const runOpts: ReplayOptions = sharded ? Object.freeze({ ...opts, maxRequests: undefined }) : opts;
  const hooks: ReplayHooks = {
    ...(sharded ? { schedule: (s) => shardFilter(s, shard, opts.maxRequests) } : {}),
    ...(sharded && startAt !== undefined ? { startWallMs: () => startAt! } : {}),
    wrapWriter: (w: RunWriter): RunWriter => ({
      runId: w.runId,
      addRequest: sharded ? (row: RequestRow) => w.addRequest({ ...row, shard: shard.index }) : (row: RequestRow) => w.addRequest(row),
      addMachines: (rows) => w.addMachines(rows),
      addPowerSample: (row) => w.addPowerSample(row),
      addTimelineSample: (row) => w.addTimelineSample(row),
      flush: () => w.flush(),
      finish: (status, extra) => w.finish(status, coordinatorLost ? { ...extra, notes: { ...(extra?.notes ?? {}), coordinatorLost: true } } : extra),
    }),
    skipSummary: () => coordinatorLost,
    beforeStart: async (store: Store, runId: number, runner: Runner) => {
      runnerRef = runner;
      if (!sharded) return;
      if (scale.startAt === 'barrier') await waitForReference(refUrl!, undefined, log);
      start = await measure('start');
      const offset = start?.offsetMs ?? 0;
      if (scale.startAt === 'stdin') {
        process.stderr.write(`${READY_LINE} ${shard.index}/${shard.count}\n`);
        const line = (
          await readStdinLine(() => {
            if (!held) return; // a launcher that wrote the instant and closed the pipe: nothing to watch
            // The coordinator died: stop at once (no grace: it is not there to merge), and mark the shard so
            // that merge refuses it; its part of the trace was cut short.
            coordinatorLost = true;
            // Its end of our stdout/stderr pipes is gone too: a write must not crash this process (EPIPE).
            for (const out of [process.stdout, process.stderr]) out.on('error', () => undefined);
            log(`splitbench replay: shard ${shard.index}/${shard.count}: the --procs coordinator went away (its pipe closed); stopping now`);
            runner.interrupt('the --procs coordinator went away');
            runner.abort();
          })
        ).trim();
        // `<epoch ms> held`: the --procs parent holds the pipe for the whole run (HELD_WORD).
        const [at, mode] = line.split(/\s+/);
        held = mode === HELD_WORD;
        startAt = Number(at);
        if (!Number.isFinite(startAt)) throw new ConfigError(`--start-at stdin: expected epoch ms, got '${line}'`);
      } else if (scale.startAt === 'barrier') {
        log(`splitbench replay: shard ${shard.index}/${shard.count} ready; waiting at the start barrier of ${refUrl!}`);
        startAt = await awaitBarrier(refUrl!, shard.index, log);
        log(`splitbench replay: shard ${shard.index}/${shard.count}: every shard is ready; start at ${new Date(startAt).toISOString()}`);
      }
      store.addShard(runId, {
        runUuid,
        shardIndex: shard.index,
        shardCount: shard.count,
        host: os.hostname(),
        startAtMs: startAt!,
        t0LocalMs: startAt! - offset,
        timeRef: measured ? refUrl! : null,
        offsetStartMs: start?.offsetMs ?? null,
        rttStartMs: start?.rttMs ?? null,
      });
      // Wait for the shared instant: local wall (+ offset = reference) reaches startAt. The run's t0 is that
      // instant on the monotonic clock, not the moment the wait woke up (a timer may fire a little late).
      const nowMono = performance.now();
      const delayMs = startAt! - (wallMsOf(nowMono) + skew + offset);
      const t0Mono = nowMono + delayMs;
      lateMs = -delayMs;
      if (lateMs > 0) {
        log(`splitbench replay: shard ${shard.index}/${shard.count} is LATE: ready ${lateMs.toFixed(1)} ms after --start-at; merge will reject this run`);
        return performance.now();
      }
      await new Sleeper().until(t0Mono);
      return t0Mono;
    },
    // Run events: starts and outcomes feed the live metrics; the end (run row finished) records the shard's end clock check.
    listener: {
      ...(metrics ? { requestStarted: () => metrics.requestStarted(), outcome: (row: RequestRow) => metrics.outcome(row) } : {}),
      end: ({ store, runId }) => afterRun(store, runId),
    },
  };
  async function afterRun(store: Store, runId: number): Promise<void> {
    await metricsServer?.close();
    if (!sharded) return;
    let end: ClockSample | undefined;
    try {
      end = await measure('end');
    } catch (e) {
      log(`splitbench replay: shard ${shard.index}/${shard.count}: clock check at end failed: ${(e as Error).message}`);
    }
    const t0Local = wallMsOf(runnerRef?.startMs ?? performance.now()) + skew;
    const t0Ref = t0Local + (start?.offsetMs ?? 0);
    store.updateShardEnd(runId, shard.index, { t0LocalMs: t0Local, offsetEndMs: end?.offsetMs ?? null, rttEndMs: end?.rttMs ?? null, lateMs });
    store.setRunStart(runId, t0Ref);
    if (start) {
      log(
        `splitbench replay: shard ${shard.index}/${shard.count} of run ${runUuid}: clock offset ${start.offsetMs.toFixed(3)} ms (RTT ${start.rttMs.toFixed(3)} ms) at start` +
          (end ? `, ${end.offsetMs.toFixed(3)} ms (RTT ${end.rttMs.toFixed(3)} ms) at end` : ''),
      );
    }
  }
  return { opts: runOpts, hooks, shard, runUuid };
}
