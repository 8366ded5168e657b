/**
 * The replay: preflight the target, then drive requests at their scheduled times (open loop: trace
 * arrivals or a synthetic arrival process) or keep N in flight (closed loop), stream every response,
 * and write one row per sent request through the store's RunWriter as the run goes.
 *
 * Lifecycle (STYLE 13): `interrupt()` (first SIGINT/SIGTERM) stops scheduling and lets in-flight
 * streams finish within the grace period, then cancels what is left; `abort()` (second signal) cancels
 * everything now through one AbortSignal threaded through every request. Both are idempotent. The run
 * ends `completed`, `interrupted` or `failed` (`--max-error-rate`, store error).
 *
 * Times: one monotonic clock (performance.now()); stored in trace seconds from t0 = measured seconds ×
 * time scale (see schedule.ts).
 */
import { setMaxListeners } from 'node:events';
import { setImmediate as yieldImmediate } from 'node:timers/promises';
import { SplitbenchError, StoreError, TargetError, UNREACHABLE_CODES } from '../errors.js';
import { Recorder, RunEvents, specFields, type RequestFields } from '../run/events.js';
import type { RunOutcome } from '../run/lifecycle.js';
import { outcomeCode } from '../run/outcome.js';
import { encodeChunkTimes, type Chunk, type RunWriter } from '../store/index.js';
import { rateRequests, rateSampler, SessionWorkload, type RequestSpec, type SessionTurn } from '../trace/index.js';
import type { LoadClient, StreamResult } from './client.js';
import type { Breakdown, CompletionStream } from './stream.js';
import type { ReplayOptions } from './options.js';
import { BodyBuilder, ENDPOINT_PATHS } from './prompt.js';
import { targetPreset } from '../telemetry/targets.js';
import { lagSeconds, Sleeper, targetMs, traceSeconds } from './schedule.js';
import { LiveStats } from './stats.js';

/** One request to send: what to ask, and when (trace seconds from t0). */
export interface Scheduled {
  readonly spec: RequestSpec;
  readonly scheduledS: number;
  /** A session turn (`--sessions`): its completion releases the session's next turn. */
  readonly turn?: SessionTurn;
}

/** Trace replay: scheduled = arrival (arrivals are already re-based by the trace transforms). */
export async function* traceSchedule(specs: AsyncIterable<RequestSpec>): AsyncGenerator<Scheduled> {
  for await (const spec of specs) yield { spec, scheduledS: spec.arrival };
}

/**
 * Synthetic open loop: the trace layer's rate generator (sizes drawn jointly from the trace's rows), i.e. the
 * requests `sim --rate` simulates for the same seed. Unbounded: the runner stops at --duration / --max-requests.
 */
export async function* rateSchedule(specs: AsyncIterable<RequestSpec>, rate: number, arrivals: string, seed: number): AsyncGenerator<Scheduled> {
  const sampler = await rateSampler(specs, seed);
  for (const spec of rateRequests(sampler, { rate, arrivals, seed, draw: 'joint' })) yield { spec, scheduledS: spec.arrival };
}

export type { RunOutcome } from '../run/lifecycle.js';

/**
 * How many connections to open before a run's clock starts (LoadClient.warm): about what the load will
 * keep in flight, so the first second does not open one per request. An open loop at R req/s (wall):
 * one per 50 req/s, 4 to 64; a closed loop: its concurrency (at most 256); a trace replay: 8.
 */
export function warmConnections(opts: Pick<ReplayOptions, 'shape' | 'timeScale'>): number {
  const s = opts.shape;
  if (s.kind === 'closed') return Math.min(256, s.concurrency);
  if (s.kind === 'rate') return Math.min(64, Math.max(4, Math.ceil((s.rate * opts.timeScale) / 50)));
  return 8;
}

/** Seconds in-flight requests get to end by themselves once the target is lost, before they are cancelled. */
export const TARGET_LOST_GRACE_S = 2;

/** Consecutive requests whose connection failed (refused, unreachable) after which the target counts as gone. */
export const UNREACHABLE_AFTER = 20;

export interface ReplayRunResult {
  readonly status: RunOutcome;
  /** Why a run failed or stopped early. */
  readonly reason?: string;
  readonly stats: LiveStats;
  readonly lagP99S: number | undefined;
  readonly lagFlagged: boolean;
  readonly elapsedS: number;
  /** Run-level error (store) that ended the run, rethrown by the caller after cleanup. */
  readonly error?: SplitbenchError;
}

export interface RunnerDeps {
  readonly client: LoadClient;
  readonly writer: RunWriter;
  readonly model: string;
  /** The target's vocabulary size, where it states one (preflight): prompt token ids stay below it. */
  readonly vocabSize?: number;
  /** The run's events (src/run/events.ts): a tick every ~250 ms, each request's start and outcome; live stats subscribe first. */
  readonly events?: RunEvents;
  /** Where run-level notes go (default: nowhere). */
  readonly log?: (line: string) => void;
}

/** What the run's self-check needs from the streams (docs/replay.md "Twin check"). */
export interface StreamCheck {
  /** Gaps between consecutive token-carrying chunks, and how many of them arrived in one read (coalesced). */
  tokenGaps: number;
  coalesced: number;
  /** The server's reported emission delay (engine seconds): largest over requests, Σ of per-request means, requests reporting it. */
  emitDelayMaxS: number;
  emitDelaySumS: number;
  emitDelayRequests: number;
}

/** Scratch for `setTokenTimes` (rows are built one at a time, synchronously). */
let timesScratch = new Float64Array(256);
let countsScratch = new Uint32Array(256);

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** The row fields that carry a request's token times. */
export type TokenTimesFields = Writable<Pick<RequestFields, 'chunks' | 'tokenTimesBlob' | 'maxStall'>>;

/**
 * A stream's token-carrying chunks as a row's `token_times`: each chunk's time is `((arrival − send) / 1000) ×
 * time scale` seconds from send, as a chunk list would give, but encoded straight from the stream's parallel
 * arrays into a pre-encoded blob (src/store/codec.ts `encodeChunkTimes`, byte for byte what `encodeChunks`
 * writes for that list, and its max stall), without an object per chunk. Token counts that are not whole
 * numbers below 2^32 (a server's odd usage counter) keep the chunk list.
 */
export function setTokenTimes(row: TokenTimesFields, s: Pick<CompletionStream, 'chunkMs' | 'chunkTokens'>, sendMs: number, K: number): void {
  const ms = s.chunkMs;
  const tokens = s.chunkTokens;
  const n = ms.length;
  if (timesScratch.length < n) {
    timesScratch = new Float64Array(Math.max(n, 2 * timesScratch.length));
    countsScratch = new Uint32Array(timesScratch.length);
  }
  const times = timesScratch;
  const counts = countsScratch;
  let ones = true;
  for (let i = 0; i < n; i++) {
    times[i] = ((ms[i]! - sendMs) / 1000) * K;
    const c = tokens[i]!;
    if (c === 1) counts[i] = 1;
    else if (c >= 0 && c < 0x1_0000_0000 && Number.isInteger(c)) {
      counts[i] = c;
      ones = false;
    } else {
      const chunks: Chunk[] = new Array(n);
      for (let j = 0; j < n; j++) chunks[j] = { t: ((ms[j]! - sendMs) / 1000) * K, tokens: tokens[j]! };
      row.chunks = chunks;
      return;
    }
  }
  // send 0: the times are already seconds from send (x − 0 is x, bit for bit).
  const enc = encodeChunkTimes(times, ones ? undefined : counts, n, 0);
  row.tokenTimesBlob = enc.blob;
  if (enc.maxStall !== undefined) row.maxStall = enc.maxStall;
}

/** The reference backend's breakdown (and the prefix cache's share of the prompt) as row fields. */
function setBreakdown(row: Writable<RequestFields>, b: Breakdown, cachedPromptTokens: number | undefined): void {
  const o: Writable<NonNullable<RequestFields['breakdown']>> = {};
  if (b.queue !== undefined) o.queue = b.queue;
  if (b.prefill !== undefined) o.prefill = b.prefill;
  if (b.kvTransfer !== undefined) o.kvTransfer = b.kvTransfer;
  if (b.decodeWait !== undefined) o.decodeWait = b.decodeWait;
  if (b.decode !== undefined) o.decode = b.decode;
  if (cachedPromptTokens !== undefined) o.cachedPromptTokens = cachedPromptTokens;
  row.breakdown = o;
  if (b.promptMachine !== undefined) row.promptMachine = b.promptMachine;
  if (b.tokenMachine !== undefined) row.tokenMachine = b.tokenMachine;
  if (b.pool !== undefined) row.pool = b.pool;
}

export class Runner {
  readonly stats = new LiveStats();
  readonly check: StreamCheck = { tokenGaps: 0, coalesced: 0, emitDelayMaxS: 0, emitDelaySumS: 0, emitDelayRequests: 0 };
  /** Prefix block hashes of the requests sent, by seq (requests that carry them): the twin simulation reuses them. */
  readonly hashIdsBySeq = new Map<number, readonly number[]>();
  readonly opts: ReplayOptions;
  readonly events: RunEvents;
  private readonly recorder: Recorder;
  private readonly deps: RunnerDeps;
  private readonly builder: BodyBuilder;
  private readonly route: string;
  private readonly abortController = new AbortController();
  private readonly sleeper = new Sleeper();
  private t0Ms = 0;
  private stopping = false;
  private outcome: RunOutcome = 'completed';
  private reason: string | undefined;
  private runError: SplitbenchError | undefined;
  private seq = 0;
  private drained: (() => void) | undefined;
  private dispatching = true;
  private graceTimer: ReturnType<typeof setTimeout> | undefined;
  private unreachableRun = 0;
  /** `--sessions`: the closed-loop session workload (src/trace/sessions.ts), and what wakes its loop on stop. */
  readonly sessions: SessionWorkload | undefined;
  private sessionWake: (() => void) | undefined;

  constructor(opts: ReplayOptions, deps: RunnerDeps) {
    // Every in-flight request listens on the run's one AbortSignal (through one listener per client: client.ts).
    setMaxListeners(0, this.abortController.signal);
    this.opts = opts;
    this.deps = deps;
    this.events = deps.events ?? new RunEvents();
    this.recorder = new Recorder(deps.writer, this.events.on(this.stats));
    this.sessions = opts.sessions ? new SessionWorkload() : undefined;
    this.route = ENDPOINT_PATHS[opts.endpoint];
    this.builder = new BodyBuilder({
      endpoint: opts.endpoint,
      prompt: opts.prompt,
      model: deps.model,
      seed: opts.seed,
      ...(opts.extraBody ? { extraBody: opts.extraBody as Record<string, unknown> } : {}),
      ...(opts.target ? { fields: targetPreset(opts.target).fields } : {}),
      ...(deps.vocabSize === undefined ? {} : { vocabSize: deps.vocabSize }),
    });
    // (Before the clock starts: the first requests are due at once, and a cold builder took 3–9 ms for the first.)
    this.builder.warm();
  }

  /** Monotonic ms of t0 (0 before the run started). */
  get startMs(): number {
    return this.t0Ms;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Stop scheduling; in-flight requests get `graceS` to finish, then are cancelled. Idempotent. */
  interrupt(reason = 'interrupted'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.outcome = 'interrupted';
    this.reason = reason;
    this.sleeper.wake();
    this.sessionWake?.();
    this.graceTimer = setTimeout(() => this.abort(), this.opts.graceS * 1000);
    this.graceTimer.unref();
  }

  /** Cancel every in-flight request now (rows kept, status `cancelled`). Idempotent. */
  abort(): void {
    if (!this.stopping) this.interrupt();
    this.abortController.abort();
  }

  /**
   * The target is gone (the bundled backend exited, or the target refused many connections in a row): stop
   * scheduling now, mark the run failed (exit 5), and let what is in flight end by itself for a short while
   * (a dead server's connections end at once, as errors), then cancel what is left. Idempotent.
   */
  targetLost(reason: string): void {
    if (this.outcome === 'failed') return;
    this.outcome = 'failed';
    this.reason = reason;
    this.runError = new TargetError(`the run was stopped: ${reason}`);
    this.deps.log?.(
      `splitbench replay: ${reason}; stopping: no more requests are sent, those in flight are recorded as they end (cancelled after ${Math.min(this.opts.graceS, TARGET_LOST_GRACE_S)} s), the run is marked failed`,
    );
    this.stopping = true;
    this.sleeper.wake();
    this.sessionWake?.();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.abortController.abort(), Math.min(this.opts.graceS, TARGET_LOST_GRACE_S) * 1000);
    this.graceTimer.unref();
  }

  private fail(reason: string, error?: SplitbenchError): void {
    if (this.outcome === 'failed') return;
    this.outcome = 'failed';
    this.reason = reason;
    if (error) this.runError = error;
    this.stopping = true;
    this.sleeper.wake();
    this.sessionWake?.();
    this.abortController.abort();
  }

  /** Run to the end of the schedule (or until stopped); resolves once every sent request has a row. */
  /** `t0Ms`: the run's t0 on the monotonic clock (default: now), e.g. a shared start instant just passed. */
  async run(schedule: AsyncIterator<Scheduled> | AsyncIterable<Scheduled>, t0Ms?: number): Promise<ReplayRunResult> {
    const it = Symbol.asyncIterator in schedule ? (schedule as AsyncIterable<Scheduled>)[Symbol.asyncIterator]() : (schedule as AsyncIterator<Scheduled>);
    this.t0Ms = t0Ms ?? performance.now();
    const tick = this.events.hasTickListeners ? setInterval(() => this.events.tick(), 250) : undefined;
    // Client-side timeline (timeline_samples, source 'client'): requests in flight, once a second.
    const sample = (): void => {
      try {
        this.deps.writer.addTimelineSample({
          t: traceSeconds(this.t0Ms, performance.now(), this.opts.timeScale),
          source: 'client',
          name: 'in_flight',
          value: this.stats.inFlight,
        });
      } catch {
        /* a store failure surfaces on the next request row */
      }
    };
    sample();
    const sampler = setInterval(sample, 1000);
    const drained = new Promise<void>((resolve) => (this.drained = resolve));
    try {
      if (this.opts.shape.kind === 'closed') await this.closedLoop(it, this.opts.shape.concurrency);
      else if (this.sessions) await this.sessionLoop(it, this.sessions);
      else await this.openLoop(it);
    } catch (e) {
      // The trace became unreadable mid-run (a bad row): stop, keep what was measured, report it.
      this.fail(`schedule source failed: ${(e as Error).message}`, e instanceof SplitbenchError ? e : new TargetError((e as Error).message));
    } finally {
      this.dispatching = false;
      void it.return?.();
    }
    if (this.stats.inFlight > 0) await drained;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (tick) clearInterval(tick);
    clearInterval(sampler);
    sample();
    const elapsedS = (performance.now() - this.t0Ms) / 1000;
    const lagP99S = this.stats.lag.percentile(99);
    const lagFlagged = lagP99S !== undefined && lagP99S > this.opts.lagFlagS;
    return {
      status: this.outcome,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
      stats: this.stats,
      lagP99S,
      lagFlagged,
      elapsedS,
      ...(this.runError ? { error: this.runError } : {}),
    };
  }

  private limitsReached(next: Scheduled): boolean {
    const o = this.opts;
    if (o.maxRequests !== undefined && this.seq >= o.maxRequests) return true;
    if (o.durationS !== undefined && next.scheduledS >= o.durationS) return true;
    return false;
  }

  private async openLoop(it: AsyncIterator<Scheduled>): Promise<void> {
    const K = this.opts.timeScale;
    const pace = { behind: 0 };
    for (;;) {
      const next = await this.pull(it);
      if (next === undefined || this.limitsReached(next)) return;
      const seq = this.seq++;
      const body = this.builder.build({ seq, promptTokens: next.spec.promptTokens, outputTokens: next.spec.outputTokens, hashIds: next.spec.hashIds });
      const target = targetMs(this.t0Ms, next.scheduledS, K);
      if (await this.waitFor(target, pace)) return;
      this.send(seq, next, target, body);
    }
  }

  /** The schedule's next item; undefined once it is done or the run is stopping. */
  private async pull(it: AsyncIterator<Scheduled>): Promise<Scheduled | undefined> {
    if (this.stopping) return undefined;
    const r = await it.next();
    return r.done || this.stopping ? undefined : r.value;
  }

  /**
   * Sleep until `target` (monotonic ms); behind schedule, do not sleep but let I/O run every 16th send.
   * True: the run is stopping (or the sleep was woken for it).
   */
  private async waitFor(target: number, pace: { behind: number }): Promise<boolean> {
    if (performance.now() < target) {
      pace.behind = 0;
      const woken = await this.sleeper.until(target);
      return woken || this.stopping;
    }
    if (++pace.behind % 16 === 0) {
      await yieldImmediate();
      return this.stopping;
    }
    return false;
  }

  private async closedLoop(it: AsyncIterator<Scheduled>, n: number): Promise<void> {
    let chain: Promise<IteratorResult<Scheduled>> = Promise.resolve({ done: false, value: undefined as unknown as Scheduled });
    const pull = (): Promise<IteratorResult<Scheduled>> => (chain = chain.then(() => it.next()));
    const K = this.opts.timeScale;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (this.stopping) return;
        const r = await pull();
        if (r.done || this.stopping) return;
        const now = performance.now();
        const item: Scheduled = { spec: r.value.spec, scheduledS: traceSeconds(this.t0Ms, now, K) };
        if (this.limitsReached(item)) return;
        const seq = this.seq++;
        const body = this.builder.build({ seq, promptTokens: item.spec.promptTokens, outputTokens: item.spec.outputTokens, hashIds: item.spec.hashIds });
        await this.send(seq, item, now, body);
      }
    };
    await Promise.all(Array.from({ length: n }, worker));
  }

  /**
   * `--sessions`: open loop across sessions, closed loop within one. Trace rows are fed to the session
   * workload at their scheduled times (a turn is never due before its row's arrival); a turn due now is sent,
   * a later one waits on its own precise sleeper, and each turn's end releases its session's next turn at
   * that end + think time (`turnEnded`). Returns once the source is done and every turn ended, or on stop.
   */
  private async sessionLoop(it: AsyncIterator<Scheduled>, w: SessionWorkload): Promise<void> {
    const K = this.opts.timeScale;
    const waiting = new Set<Sleeper>();
    let sourceDone = false;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const settle = (): void => {
      if (this.stopping || (sourceDone && w.open === 0 && waiting.size === 0)) finish();
    };
    this.sessionWake = () => {
      for (const s of waiting) s.wake();
      finish();
    };
    const fire = (t: SessionTurn): void => {
      const item: Scheduled = { spec: t.spec, scheduledS: t.dueS, turn: t };
      if (this.stopping) return;
      if (this.limitsReached(item)) {
        // Past --max-requests / --duration: the turn is not sent, and its session ends there.
        w.unsent(t);
        settle();
        return;
      }
      const seq = this.seq++;
      const body = this.builder.build({ seq, promptTokens: t.spec.promptTokens, outputTokens: t.spec.outputTokens, hashIds: t.spec.hashIds });
      void this.send(seq, item, targetMs(this.t0Ms, t.dueS, K), body);
    };
    const release = (t: SessionTurn): void => {
      const target = targetMs(this.t0Ms, t.dueS, K);
      if (performance.now() >= target) {
        fire(t);
        return;
      }
      const s = new Sleeper();
      waiting.add(s);
      void s.until(target).then((woken) => {
        waiting.delete(s);
        if (!woken) fire(t);
        settle();
      });
    };
    this.turnEnded = (turn, endS, ok) => {
      const next = w.complete(turn, endS, ok);
      if (next && !this.stopping) release(next);
      settle();
    };
    const pace = { behind: 0 };
    for (;;) {
      const row = await this.pull(it);
      if (row === undefined) break;
      if (await this.waitFor(targetMs(this.t0Ms, row.scheduledS, K), pace)) break;
      const t = w.feed({ ...row.spec, arrival: row.scheduledS });
      if (t) release(t);
    }
    sourceDone = true;
    settle();
    await finished;
  }

  /** Set by `sessionLoop`: a session turn's row was written (`ok`: it completed with an answer). */
  private turnEnded: ((turn: SessionTurn, endS: number, ok: boolean) => void) | undefined;

  private send(seq: number, item: Scheduled, target: number, body: string): Promise<void> {
    const sendMs = performance.now();
    this.events.requestStarted({ lagS: lagSeconds(sendMs, target, this.opts.timeScale) });
    return this.deps.client.stream(this.route, body, sendMs, this.abortController.signal).then((res) => this.onResult(seq, item, res));
  }

  private onResult(seq: number, item: Scheduled, res: StreamResult): void {
    const K = this.opts.timeScale;
    const t0 = this.t0Ms;
    const ts = (ms: number): number => ((ms - t0) / 1000) * K;
    const s = res.stream;
    const spec = item.spec;
    if (spec.hashIds && spec.hashIds.length > 0) this.hashIdsBySeq.set(seq, spec.hashIds);
    const warmup = item.scheduledS < this.opts.warmupS;
    const b = s?.breakdown;
    const end = ts(res.endMs);
    // Set field by field on one object (no spread copies: this runs once per request on the dispatch loop).
    const fields = specFields(seq, spec, item.turn) as Writable<RequestFields>;
    fields.warmup = warmup;
    fields.scheduled = item.scheduledS;
    fields.send = ts(res.sendMs);
    if (s?.firstTokenMs !== undefined) fields.firstToken = ts(s.firstTokenMs);
    fields.end = end;
    fields.tokensReceived = s?.tokens ?? 0;
    if (res.countMethod !== undefined) fields.countMethod = res.countMethod;
    if (s) {
      if (s.usagePrompt !== undefined) fields.usagePrompt = s.usagePrompt;
      if (s.usageCompletion !== undefined) fields.usageCompletion = s.usageCompletion;
      if (s.chunkMs.length > 0) setTokenTimes(fields, s, res.sendMs, K);
      if (b) setBreakdown(fields, b, s.usageCachedPrompt);
      else if (s.usageCachedPrompt !== undefined) fields.breakdown = { cachedPromptTokens: s.usageCachedPrompt };
      fields.coalesced = s.coalesced;
    }
    if (s) {
      this.check.tokenGaps += Math.max(0, s.chunkMs.length - 1);
      this.check.coalesced += s.coalesced;
    }
    if (b?.emitDelayMax !== undefined) {
      this.check.emitDelayMaxS = Math.max(this.check.emitDelayMaxS, b.emitDelayMax);
      if (b.emitDelayMean !== undefined) {
        this.check.emitDelaySumS += b.emitDelayMean;
        this.check.emitDelayRequests++;
      }
    }
    // The recorder writes the row, then the outcome event updates the live stats (and whoever else listens).
    try {
      this.recorder.record(fields, res.outcome);
    } catch (e) {
      const err = e instanceof SplitbenchError ? e : new StoreError(`cannot write request rows: ${(e as Error).message}`, { cause: e });
      this.fail(`store error: ${err.message}`, err);
    }
    // A target that refuses connection after connection is gone: stop instead of sending the rest to it.
    const code = outcomeCode(res.outcome);
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      if (++this.unreachableRun >= UNREACHABLE_AFTER && !this.stopping) {
        this.targetLost(`the target became unreachable: ${this.unreachableRun} requests in a row could not connect (${code})`);
      }
    } else if (res.outcome.kind !== 'cancelled') this.unreachableRun = 0;
    const o = this.opts;
    if (o.maxErrorRate !== undefined && this.outcome !== 'failed') {
      const finished = this.stats.done - this.stats.byStatus.cancelled;
      if (finished >= o.minErrorSample && this.stats.failed / finished > o.maxErrorRate) {
        this.fail(
          `error rate ${(this.stats.failed / finished).toFixed(3)} over ${finished} requests exceeds --max-error-rate ${o.maxErrorRate}`,
          new TargetError(
            `the run was stopped: error rate ${((100 * this.stats.failed) / finished).toFixed(1)}% over ${finished} requests exceeds --max-error-rate ${o.maxErrorRate}`,
          ),
        );
      }
    }
    if (item.turn) this.turnEnded?.(item.turn, end, res.outcome.kind === 'ok');
    if (this.stats.inFlight === 0 && !this.dispatching) this.drained?.();
  }
}
