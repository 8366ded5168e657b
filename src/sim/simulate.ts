/**
 * The simulator's core: drive the engine's cluster on a VirtualClock with a stream of requests, and hand
 * every finished request to a sink as a `requests` row (the same row a live replay writes), plus machine
 * power and timeline samples at a fixed virtual interval.
 *
 * Streaming: arrivals are pulled from the (async) request source a block at a time (`lookahead`) and put
 * on the clock; the clock then runs every event strictly before the last pulled arrival, so the source is
 * never read further ahead than one block and rows are handed over (and dropped) as requests finish.
 * Memory is the in-flight requests plus one block, whatever the trace length.
 *
 * Same-instant order: all arrivals of one block are scheduled before any event at their instant runs
 * (they carry the clock's `arrival` rank), so a block boundary never changes the order of events; the
 * result depends only on the requests, the deployment and the seed.
 *
 * The SplitwiseSim-compatible mode is the exception to streaming: SplitwiseSim pushes every arrival into
 * its one event heap, in trace order, before its loop starts, and the order in which exactly tied events
 * leave a time-only binary heap depends on everything in it, future arrivals included. So when the
 * cluster has its own arrival queue (`Cluster.queueArrivals`), the whole source is read first and every
 * arrival pushed into that heap in trace order; memory then grows with the trace (about 20 B per
 * request: numbers, not objects; see QueuedSpecs and docs/simulator.md). The realistic mode stays streaming.
 *
 * Times: virtual seconds from t0 = trace time 0. A request's `scheduled` = `send` = its arrival (the
 * simulator has no client lag); chunks are the engine's per-iteration token emissions.
 */
import {
  EventRank,
  VirtualClock,
  contextProblem,
  enginePower,
  type Catalog,
  type Cluster,
  type Deployment,
  type EngineData,
  type EngineEvents,
  type IterationEvent,
  type KvTransferEvent,
  type MachineInfo,
  type RequestBreakdown,
  type RequestObserver,
} from '../engine/index.js';
import { grownCapacity } from '../capacity.js';
import { RequestErrorCode } from '../errors.js';
import { Recorder, type RequestFields, type RequestStarted, type RunEvents } from '../run/events.js';
import { OK } from '../run/outcome.js';
import { encodeChunkTimes, type MachineRow, type PowerSampleRow, type RequestRow, type TimelineSampleRow } from '../store/index.js';
import type { RequestSpec, SessionTurn, SessionWorkload } from '../trace/index.js';
import { buildCluster, type CompatMode } from './cluster.js';

/** Where the simulator's output goes (a RunWriter fits; so does an in-memory accumulator). */
export interface SimSink {
  addRequest(row: RequestRow): void;
  addMachines?(rows: readonly MachineRow[]): void;
  addPowerSample?(row: PowerSampleRow): void;
  addTimelineSample?(row: TimelineSampleRow): void;
}

/** Listener for the engine's event timeline (Perfetto export); arrivals added. */
export interface SimEventListener extends EngineEvents {
  arrival?(requestId: string, time: number, promptTokens: number, outputTokens: number): void;
  machines?(machines: readonly MachineInfo[]): void;
}

export interface SimulateOptions {
  readonly deployment: Deployment;
  /**
   * The catalogs and profiles the cluster is built from, loaded at the edge (src/config `loadEngineData`;
   * SplitwiseSim's rows included for `compat: 'splitwise'`). The simulator reads no file.
   */
  readonly data: EngineData;
  readonly requests: AsyncIterable<RequestSpec> | Iterable<RequestSpec>;
  readonly compat?: CompatMode;
  /** Seed for the engine's random choices (`random` scheduler). */
  readonly seed?: number;
  readonly sink: SimSink;
  /** Virtual seconds between power/timeline samples (default 1; 0: none). */
  readonly sampleIntervalS?: number;
  /** Requests pulled from the source per block (default 2048). */
  readonly lookahead?: number;
  /** Keep per-iteration chunk times in the rows (default true; false stores first token and end only). */
  readonly chunks?: boolean;
  readonly events?: SimEventListener;
  /** Called after every block with the virtual time and counts (progress lines). */
  readonly onProgress?: (p: SimProgress) => void;
  /** The run's events (src/run/events.ts): each request's start and outcome, and a tick with the progress after every block. */
  readonly run?: RunEvents<SimProgress>;
  /** Requests arriving before this (seconds) are marked warm-up (excluded from summaries). */
  readonly warmupS?: number;
  /** Stop pulling requests when this returns true (interrupt); in-flight requests still finish. */
  readonly shouldStop?: () => boolean;
  /**
   * Multi-turn sessions (closed loop within a session): the source's rows are fed to this workload in
   * arrival order, and each turn's completion (or failure) releases the session's next turn at its end +
   * think time on the virtual clock. Not with the SplitwiseSim-compatible mode.
   */
  readonly sessions?: SessionWorkload;
  /**
   * With `sessions`, the cuts a session replay makes (`--max-requests`, `--duration`): at most `maxTurns` turns
   * are sent, none due at or after `untilS`; a turn past them is not sent and ends its session.
   */
  readonly sessionLimits?: { readonly maxTurns?: number | undefined; readonly untilS?: number | undefined };
}

export interface SimProgress {
  readonly virtualTime: number;
  readonly submitted: number;
  readonly finished: number;
  readonly inFlight: number;
}

export interface SimulateResult {
  readonly submitted: number;
  readonly ok: number;
  readonly failed: number;
  /** Requests left in flight when the event queue emptied (compatible mode's KV deadlock). */
  readonly neverCompleted: number;
  /** Virtual time of the last event. */
  readonly endTime: number;
  /** Wall seconds the simulation took. */
  readonly wallS: number;
  readonly machines: readonly MachineInfo[];
  /** Energy per machine over the run (joules, from the power model). */
  readonly energyJ: number;
  /** Stopped early by `shouldStop`. */
  readonly stopped: boolean;
  /** Failure reasons seen (first one per distinct message, with counts). */
  readonly failures: Readonly<Record<string, number>>;
}

/** Per-machine power bookkeeping: exact energy from iteration start/end events. */
class PowerMeter {
  readonly watts: Float64Array;
  readonly energy: Float64Array;
  readonly since: Float64Array;
  private readonly index = new Map<string, number>();
  private readonly idleW: Float64Array;
  private readonly types: string[];
  private readonly power: ReturnType<typeof enginePower>;

  constructor(machines: readonly MachineInfo[], catalog: Catalog) {
    this.power = enginePower(catalog);
    const n = machines.length;
    this.watts = new Float64Array(n);
    this.energy = new Float64Array(n);
    this.since = new Float64Array(n);
    this.idleW = new Float64Array(n);
    this.types = machines.map((m) => m.type);
    machines.forEach((m, i) => {
      this.index.set(m.id, i);
      this.idleW[i] = this.power({ name: m.type }, { phase: 'idle', batchSize: 0, batchTokens: 0 });
      this.watts[i] = this.idleW[i]!;
    });
    this.lastIndex = this.index.get(this.lastId) ?? -1;
  }

  private lastId = '';
  private lastIndex = -1;

  /** Machine `id`'s index (-1 if unknown); remembers the last one, since one machine's iteration end and next start come in a row. */
  indexOf(id: string): number {
    if (id === this.lastId) return this.lastIndex;
    const i = this.index.get(id) ?? -1;
    this.lastId = id;
    this.lastIndex = i;
    return i;
  }

  /** The power model's watts for machine `i` running this iteration (what the cluster's snapshot reports). */
  wattsOf(i: number, e: IterationEvent): number {
    return this.power({ name: this.types[i]! }, { phase: e.phase, batchSize: e.batchSize, batchTokens: e.promptTokens + e.decodes });
  }

  /** Set machine `i` to `w` watts from time `t`. */
  set(i: number, t: number, w: number): void {
    this.energy[i]! += this.watts[i]! * (t - this.since[i]!);
    this.since[i] = t;
    this.watts[i] = w;
  }

  idle(i: number, t: number): void {
    this.set(i, t, this.idleW[i]!);
  }

  /** Energy of machine `i` up to `t`. */
  energyAt(i: number, t: number): number {
    return this.energy[i]! + this.watts[i]! * (t - this.since[i]!);
  }
}

/** The simulator has no client lag: every request is sent at its arrival. */
const SENT_ON_TIME: RequestStarted = Object.freeze({ lagS: 0 });

/** Run a simulation to completion (the event queue empties after the last request). */
export async function simulate(o: SimulateOptions): Promise<SimulateResult> {
  const t0 = performance.now();
  const data = o.data;
  const clock = new VirtualClock(0);
  const keepChunks = o.chunks ?? true;
  const interval = o.sampleIntervalS ?? 1;
  const lookahead = Math.max(1, o.lookahead ?? 2048);
  const ev = o.events;
  const warmupS = o.warmupS ?? 0;
  const out = o.sink;
  // Bound methods: the sink may be a class instance (a RunWriter).
  const sink: SimSink = {
    addRequest: warmupS > 0 ? (r: RequestRow) => out.addRequest(r.arrival < warmupS ? { ...r, warmup: true } : r) : (r: RequestRow) => out.addRequest(r),
    ...(out.addMachines ? { addMachines: (rows: readonly MachineRow[]) => out.addMachines!(rows) } : {}),
    ...(out.addPowerSample ? { addPowerSample: (row: PowerSampleRow) => out.addPowerSample!(row) } : {}),
    ...(out.addTimelineSample ? { addTimelineSample: (row: TimelineSampleRow) => out.addTimelineSample!(row) } : {}),
  };

  // Watts per machine come from the cluster's snapshot (its power model) right after an iteration starts.
  let meter: PowerMeter | undefined;
  let cluster: Cluster | undefined;
  const wantPower = interval > 0 && sink.addPowerSample !== undefined;
  const engineEvents: EngineEvents = {
    ...(wantPower || ev?.iterationStart
      ? {
          iterationStart: (e: IterationEvent) => {
            if (meter) {
              const i = meter.indexOf(e.machine);
              if (i >= 0) meter.set(i, e.start, meter.wattsOf(i, e));
            }
            ev?.iterationStart?.(e);
          },
        }
      : {}),
    ...(wantPower || ev?.iterationEnd
      ? {
          iterationEnd: (e: IterationEvent) => {
            if (meter) {
              const i = meter.indexOf(e.machine);
              if (i >= 0) meter.idle(i, clock.now());
            }
            ev?.iterationEnd?.(e);
          },
        }
      : {}),
    ...(ev?.kvTransferStart ? { kvTransferStart: (e: KvTransferEvent) => ev.kvTransferStart!(e) } : {}),
    ...(ev?.kvTransferEnd ? { kvTransferEnd: (e: KvTransferEvent) => ev.kvTransferEnd!(e) } : {}),
    ...(ev?.requestDone ? { requestDone: (id: string, b: RequestBreakdown, t: number) => ev.requestDone!(id, b, t) } : {}),
  };
  cluster = buildCluster(o.deployment, {
    clock,
    data,
    ...(o.compat ? { compat: o.compat } : {}),
    ...(o.seed === undefined ? {} : { seed: o.seed }),
    events: engineEvents,
  });
  const machines = cluster.machines();
  if (wantPower) meter = new PowerMeter(machines, data.catalog);
  sink.addMachines?.(
    machines.map((m) => ({ machineId: m.id, machineType: m.type, pool: m.pool, gpus: m.gpus, pricePerHour: m.pricePerHour, tdpW: m.tdpW, idleW: m.idleW })),
  );
  ev?.machines?.(machines);

  let submitted = 0;
  let ok = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  const live = new Map<string, Live>();
  let seq = 0;
  const pool = new ChunkArrays();
  const recorder = new Recorder(sink, o.run);
  const run = o.run;
  const progress = (p: SimProgress): void => {
    o.onProgress?.(p);
    run?.tick(p);
  };

  const sessions = o.sessions;
  // A session turn ended: its session's next turn goes on the clock at that end + think time.
  const turnEnded = (st: Live, time: number, okTurn: boolean): void => {
    const next = sessions!.complete(st.turn!, time, okTurn);
    // Stopped (interrupt): what is in flight finishes, no further turns start.
    if (next && !stopped) clock.at(Math.max(next.dueS, clock.now()), () => submitTurn(next), EventRank.arrival);
  };
  const ctx: LiveContext = {
    pool,
    done(st, b, time) {
      live.delete(st.key);
      ok++;
      const row = rowFields(st, time, b);
      pool.release(st);
      recorder.record(row, OK);
      if (st.turn) turnEnded(st, time, true);
    },
    failed(st, reason, time) {
      live.delete(st.key);
      failed++;
      failures[reason] = (failures[reason] ?? 0) + 1;
      const row = rowFields(st, time, undefined);
      pool.release(st);
      recorder.record(row, { kind: 'error', code: RequestErrorCode.engine, message: reason });
      if (st.turn) turnEnded(st, time, false);
    },
  };

  // Requests past the model's context get what the reference backend answers them (HTTP 400
  // context_length_exceeded, recorded as a live replay records it) and never reach the engine.
  const maxContext = data.catalog.model(o.deployment.model).maxContextTokens;
  const refuse = (spec: RequestSpec, mySeq: number, message: string, turn: SessionTurn | undefined): void => {
    const st = new Live(ctx, spec, mySeq, undefined);
    st.turn = turn;
    submitted++; // sent, as a replay sends it, and refused
    run?.requestStarted(SENT_ON_TIME);
    failed++;
    const key = `HTTP 400 context_length_exceeded: prompt + output past the model's ${maxContext}-token context`;
    failures[key] = (failures[key] ?? 0) + 1;
    recorder.record(rowFields(st, clock.now(), undefined), { kind: 'error', code: RequestErrorCode.http, httpStatus: 400, message: `HTTP 400: ${message}` });
    if (turn) turnEnded(st, clock.now(), false);
  };

  const submit = (spec: RequestSpec, mySeq: number, turn?: SessionTurn): void => {
    const over = contextProblem(maxContext, spec.promptTokens, spec.outputTokens);
    if (over) {
      refuse(spec, mySeq, over.message, turn);
      return;
    }
    // Chunk times preallocated: at most one chunk per output token, no growth, no per-token objects.
    // The request's state is its own observer (one object per request, no closures on the token path).
    const st = new Live(ctx, spec, mySeq, keepChunks ? pool.times(Math.max(1, spec.outputTokens)) : undefined);
    st.turn = turn;
    // Trace ids need not be unique (sampled or concatenated traces): the engine gets a unique key.
    st.key = live.has(spec.id) ? `${spec.id}#${mySeq}` : spec.id;
    ev?.arrival?.(st.key, clock.now(), spec.promptTokens, spec.outputTokens);
    live.set(st.key, st);
    submitted++;
    run?.requestStarted(SENT_ON_TIME);
    cluster!.submit(
      { id: st.key, promptTokens: spec.promptTokens, outputTokens: spec.outputTokens, ...(spec.hashIds ? { blockHashes: spec.hashIds } : {}) },
      st,
    );
  };
  // A session turn is numbered when it is sent (as a replay numbers what it sends).
  const maxTurns = o.sessionLimits?.maxTurns ?? Infinity;
  const untilS = o.sessionLimits?.untilS ?? Infinity;
  const submitTurn = (t: SessionTurn): void => {
    if (seq >= maxTurns || t.dueS >= untilS) {
      turnEndedUnsent(t);
      return;
    }
    submit(t.spec, seq++, t);
  };
  // A turn past the limits is not sent: its session ends there (as in a session replay).
  const turnEndedUnsent = (t: SessionTurn): void => sessions!.unsent(t);

  // Periodic samples (power, timeline) while there is work.
  let sourceDone = false;
  let lastSample = 0;
  // The pool each machine served since the last sample (a borrowed machine serves 'mixed'): its power over that
  // interval counts for that pool.
  let poolSince = new Map<string, string>();
  const seenPools = new Set<string>();
  const sample = (): void => {
    const t = clock.now();
    const snapshot = cluster!.snapshot();
    if (meter && sink.addPowerSample) {
      const dt = t - lastSample;
      for (let i = 0; i < machines.length; i++) {
        const before = meter.energyAt(i, lastSample);
        const after = meter.energyAt(i, t);
        // Sample-and-hold from the start of the interval: its mean watts over [lastSample, t].
        sink.addPowerSample({
          t: lastSample,
          machineId: machines[i]!.id,
          role: poolSince.get(machines[i]!.id) ?? machines[i]!.pool,
          source: 'model',
          watts: dt > 0 ? (after - before) / dt : meter.watts[i]!,
          energyJ: after,
        });
      }
    }
    if (sink.addTimelineSample) {
      const snap = snapshot;
      const queue: Record<string, number> = {};
      const running: Record<string, number> = {};
      for (const s of snap) {
        queue[s.pool] = (queue[s.pool] ?? 0) + s.queuedRequests;
        running[s.pool] = (running[s.pool] ?? 0) + s.runningRequests;
      }
      sink.addTimelineSample({ t, source: 'engine', name: 'in_flight', value: cluster!.inFlight() });
      const kvUsed: Record<string, number> = {};
      const kvCap: Record<string, number> = {};
      for (const s of snap) {
        kvUsed[s.pool] = (kvUsed[s.pool] ?? 0) + s.kvUsedTokens;
        kvCap[s.pool] = (kvCap[s.pool] ?? 0) + s.kvCapacityTokens;
        // Per machine, as a live scrape of `splitbench_batch_size` records them (report: batch distributions).
        if (s.batchSize > 0) {
          sink.addTimelineSample({ t, source: 'engine', role: s.pool, name: 'batch_size', labels: { machine: s.id }, value: s.batchSize });
          sink.addTimelineSample({ t, source: 'engine', role: s.pool, name: 'batch_prompt_tokens', labels: { machine: s.id }, value: s.batchPromptTokens });
        }
      }
      // A pool whose machines all moved (the Splitwise mixed pool borrows them) still gets samples: 0,
      // not its last value carried on.
      for (const pool of Object.keys(queue)) seenPools.add(pool);
      for (const pool of seenPools) {
        sink.addTimelineSample({ t, source: 'engine', role: pool, name: 'queue_depth', value: queue[pool] ?? 0 });
        sink.addTimelineSample({ t, source: 'engine', role: pool, name: 'running', value: running[pool] ?? 0 });
        sink.addTimelineSample({ t, source: 'engine', role: pool, name: 'kv_used_frac', value: (kvCap[pool] ?? 0) > 0 ? kvUsed[pool]! / kvCap[pool]! : 0 });
      }
    }
    poolSince = new Map(snapshot.map((m) => [m.id, m.pool]));
    lastSample = t;
  };
  let samplerArmed = false;
  const armSampler = (): void => {
    if (interval <= 0 || samplerArmed || (!sink.addPowerSample && !sink.addTimelineSample)) return;
    samplerArmed = true;
    const tick = (): void => {
      sample();
      // Keep sampling while anything can still happen.
      // (Not while requests are merely in flight: with no event left they never finish, e.g. a KV deadlock.)
      if (!sourceDone || clock.pending() > 0) clock.at(clock.now() + interval, tick, EventRank.sample);
      else samplerArmed = false;
    };
    clock.at(0, tick, EventRank.sample);
  };
  armSampler();

  // Pull the source a block at a time.
  const it = isAsync(o.requests) ? o.requests[Symbol.asyncIterator]() : undefined;
  const syncIt = it ? undefined : (o.requests as Iterable<RequestSpec>)[Symbol.iterator]();
  let stopped = false;
  let lastArrival = -Infinity;
  const queued = cluster.queueArrivals !== undefined;
  if (queued && sessions)
    throw new RangeError(
      'session workloads (closed loop within a session) cannot run in the SplitwiseSim-compatible mode, whose arrivals are all queued before the run starts',
    );
  if (queued) {
    // Every arrival in the cluster's heap before the first event runs (SplitwiseSim's loader), kept as
    // numbers in typed arrays (QueuedSpecs) until its turn: a week-size trace is millions of them.
    const specs = new QueuedSpecs();
    const queueArrival = cluster.queueArrivals!((i, time) => {
      // Stopped: later arrivals stay in the heap (its layout is moot by then) but submit nothing.
      if (stopped) return;
      // Progress and the stop test at the same points as the streaming loop's block boundaries (just
      // before the last arrival of each block of `lookahead`), so a stop cuts the same arrivals.
      const boundary = (i + 1) % lookahead === 0;
      if (boundary) progress({ virtualTime: clock.now(), submitted, finished: ok + failed, inFlight: live.size });
      submit(specs.take(i, time), i);
      if (boundary && o.shouldStop?.()) stopped = true;
    });
    for (;;) {
      const r = it ? await it.next() : syncIt!.next();
      if (r.done) break;
      const spec = r.value;
      if (!(spec.arrival >= lastArrival)) {
        throw new RangeError(
          `request ${spec.id}: arrival ${spec.arrival} s is before the previous one (${lastArrival} s); the simulator needs arrivals in order`,
        );
      }
      lastArrival = spec.arrival;
      // The i-th queued arrival is request seq i (no other request is numbered in this mode).
      specs.add(seq++, spec);
      queueArrival(spec.arrival);
    }
    sourceDone = true;
  }
  let barrierHit = false;
  const onBarrier = (): void => {
    barrierHit = true;
  };
  while (!sourceDone) {
    if (o.shouldStop?.()) {
      stopped = true;
      sourceDone = true;
      break;
    }
    let pulled = 0;
    while (pulled < lookahead) {
      const r = it ? await it.next() : syncIt!.next();
      if (r.done) {
        sourceDone = true;
        break;
      }
      const spec = r.value;
      if (!(spec.arrival >= lastArrival)) {
        throw new RangeError(
          `request ${spec.id}: arrival ${spec.arrival} s is before the previous one (${lastArrival} s); the simulator needs arrivals in order`,
        );
      }
      lastArrival = spec.arrival;
      pulled++;
      if (sessions) {
        // A turn due now (a session's first, or an idle session's next) goes on the clock; others wait for
        // their session's turn in flight to end (turnEnded). Due times are never before the row's arrival.
        const t = sessions.feed(spec);
        if (t) clock.at(Math.max(t.dueS, clock.now()), () => submitTurn(t), EventRank.arrival);
        continue;
      }
      const mySeq = seq++;
      clock.at(Math.max(spec.arrival, clock.now()), () => submit(spec, mySeq), EventRank.arrival);
    }
    if (sourceDone) break;
    // Run everything strictly before the last pulled arrival; the next block may add arrivals at that instant.
    barrierHit = false;
    const barrier = clock.at(lastArrival, onBarrier, EventRank.completion);
    while (!barrierHit && clock.step()) {
      /* run */
    }
    barrier.cancel();
    progress({ virtualTime: clock.now(), submitted, finished: ok + failed, inFlight: live.size });
  }
  // Drain.
  while (clock.step()) {
    /* run */
  }
  const endTime = clock.now();
  if (samplerArmed || lastSample < endTime) sample();
  // What is still in flight will never complete (compatible mode's KV deadlock).
  let neverCompleted = 0;
  for (const st of [...live.values()].sort((a, b) => a.seq - b.seq)) {
    neverCompleted++;
    recorder.record(rowFields(st, undefined, undefined), { kind: 'never-completed', message: 'still in flight when the event queue emptied (KV deadlock)' });
  }
  live.clear();
  let energyJ = 0;
  if (meter) for (let i = 0; i < machines.length; i++) energyJ += meter.energyAt(i, endTime);
  progress({ virtualTime: endTime, submitted, finished: ok + failed, inFlight: 0 });
  return {
    submitted,
    ok,
    failed,
    neverCompleted,
    endTime,
    wallS: (performance.now() - t0) / 1000,
    machines,
    energyJ,
    stopped,
    failures,
  };
}

/**
 * The requests of a queued trace (compatible mode), by number, until their turn: prompt and output sizes in
 * typed arrays, and ids not kept at all when they follow a pattern (`r0`, `r1`, … from a rate load; `0`,
 * `1`, … a trace's row indexes): a prefix and a number counting up with the requests. Anything else (an id
 * off the pattern, a session id, prefix hashes, sizes past 32 bits) keeps its request as given. 4 bytes per
 * request while every size fits 16 bits (the Azure traces' do), else 8 (the arrival time is the heap's);
 * `take` gives back a request equal in every field simulate reads.
 */
export class QueuedSpecs {
  /** Request i's prompt and output tokens at 2i and 2i + 1 (16 bits each until a size needs more). */
  private sizes: Uint16Array | Int32Array = new Uint16Array(2048);
  private prefix: string | undefined = undefined;
  /** The first request's id number: request i's id is `prefix + (base + i)`. */
  private base = 0;
  private readonly odd = new Map<number, RequestSpec>();

  add(i: number, spec: RequestSpec): void {
    if (2 * i + 2 > this.sizes.length) {
      // Grow by half (not double): this is most of a queued trace's memory.
      const wide = this.sizes instanceof Int32Array;
      const cap = grownCapacity(this.sizes.length, 2 * i + 2, wide ? 4 : 2, 1.5);
      const grown = wide ? new Int32Array(cap) : new Uint16Array(cap);
      grown.set(this.sizes);
      this.sizes = grown;
    }
    if (i === 0) {
      const m = /^(.*?)(0|[1-9][0-9]{0,14})$/.exec(spec.id);
      if (m) {
        this.prefix = m[1]!;
        this.base = Number(m[2]);
      }
    }
    const { promptTokens: p, outputTokens: q } = spec;
    if (
      this.prefix !== undefined &&
      spec.sessionId === undefined &&
      spec.hashIds === undefined &&
      (p | 0) === p &&
      (q | 0) === q &&
      spec.id === this.prefix + String(this.base + i)
    ) {
      if (this.sizes instanceof Uint16Array && ((p >>> 16) | (q >>> 16)) !== 0) this.sizes = Int32Array.from(this.sizes);
      this.sizes[2 * i] = p;
      this.sizes[2 * i + 1] = q;
    } else this.odd.set(i, spec);
  }

  /** Request `i`, queued at `arrival` (its spec's own arrival, from the heap). */
  take(i: number, arrival: number): RequestSpec {
    const odd = this.odd.size > 0 ? this.odd.get(i) : undefined;
    if (odd !== undefined) {
      this.odd.delete(i);
      return odd;
    }
    return { id: this.prefix + String(this.base + i), arrival, promptTokens: this.sizes[2 * i]!, outputTokens: this.sizes[2 * i + 1]! };
  }
}

/**
 * Reused chunk-time arrays: a request's arrays go back to the pool once its row is encoded (the row keeps
 * only the encoded bytes), so a long run allocates about as many as it has requests in flight. Buckets
 * by power-of-two capacity; each bucket keeps at most 16 MiB of arrays (and at least 4).
 */
class ChunkArrays {
  private readonly t: Float64Array[][] = [];
  private readonly c: Uint32Array[][] = [];
  private static keep(b: number, bytesPer: number): number {
    return Math.max(4, Math.floor(2 ** 24 / (2 ** b * bytesPer)));
  }

  private static bucket(n: number): number {
    return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
  }

  /** A Float64Array of at least `n` (contents: whatever; only the first `Live.n` are ever read). */
  times(n: number): Float64Array {
    const b = ChunkArrays.bucket(n);
    return this.t[b]?.pop() ?? new Float64Array(2 ** b);
  }

  /** A Uint32Array of at least `n`, filled with 1. */
  counts(n: number): Uint32Array {
    const b = ChunkArrays.bucket(n);
    const a = this.c[b]?.pop();
    return a ? a.fill(1) : new Uint32Array(2 ** b).fill(1);
  }

  release(st: Live): void {
    const { times, counts } = st;
    st.times = undefined;
    st.counts = undefined;
    if (times && times.length === 2 ** ChunkArrays.bucket(times.length)) {
      const b = ChunkArrays.bucket(times.length);
      const list = (this.t[b] ??= []);
      if (list.length < ChunkArrays.keep(b, 8)) list.push(times);
    }
    if (counts && counts.length === 2 ** ChunkArrays.bucket(counts.length)) {
      const b = ChunkArrays.bucket(counts.length);
      const list = (this.c[b] ??= []);
      if (list.length < ChunkArrays.keep(b, 4)) list.push(counts);
    }
  }
}

interface LiveContext {
  readonly pool: ChunkArrays;
  done(st: Live, b: RequestBreakdown, time: number): void;
  failed(st: Live, reason: string, time: number): void;
}

/** One request in flight: its chunk times as they come, and the engine's observer for it. */
class Live implements RequestObserver {
  first = NaN;
  /** Chunk times (first `n` used); counts per chunk only once some chunk carried more than one token. */
  counts: Uint32Array | undefined = undefined;
  n = 0;
  received = 0;
  key = '';
  /** The session turn this request is (session workloads). */
  turn: SessionTurn | undefined = undefined;

  constructor(
    private readonly ctx: LiveContext,
    readonly spec: RequestSpec,
    readonly seq: number,
    public times: Float64Array | undefined,
  ) {}

  onTokens(tokens: number, time: number): void {
    if (this.first !== this.first) this.first = time;
    this.received += tokens;
    const times = this.times;
    if (times === undefined) return;
    const n = this.n;
    if (n > 0 && times[n - 1] === time) {
      // Several emissions at one instant are one chunk.
      const c = (this.counts ??= this.ctx.pool.counts(times.length));
      c[n - 1]! += tokens;
      return;
    }
    const t = n === times.length ? this.grow(n + 1) : times;
    t[n] = time;
    this.n = n + 1;
    if (tokens !== 1) (this.counts ??= this.ctx.pool.counts(t.length))[n] = tokens;
  }

  /** `onTokens(1, t)` for each of `tokenTimes[from, to)`, at once (a cluster's late delivery): the same chunks. */
  onTokenTimes(tokenTimes: Float64Array, from: number, to: number): void {
    if (from >= to) return;
    if (this.first !== this.first) this.first = tokenTimes[from]!;
    this.received += to - from;
    let times = this.times;
    if (times === undefined) return;
    const n = this.n;
    let i = from;
    if (n > 0 && times[n - 1] === tokenTimes[from]) {
      // Several emissions at one instant are one chunk.
      (this.counts ??= this.ctx.pool.counts(times.length))[n - 1]! += 1;
      i++;
    }
    const end = n + (to - i);
    if (end > times.length) times = this.grow(end);
    // A chunk of one token needs no count (counts are 1 until set).
    times.set(tokenTimes.subarray(i, to), n);
    this.n = end;
  }

  /** Room for `need` chunks: more chunks than output tokens asked (never from the bundled engines). */
  private grow(need: number): Float64Array {
    const old = this.times!;
    const size = Math.max(old.length * 2, need);
    const t = new Float64Array(size);
    t.set(old);
    this.times = t;
    if (this.counts) {
      const c2 = new Uint32Array(size).fill(1);
      c2.set(this.counts);
      this.counts = c2;
    }
    return t;
  }

  onDone(b: RequestBreakdown, time: number): void {
    this.ctx.done(this, b, time);
  }

  onFailed(reason: string, time: number): void {
    this.ctx.failed(this, reason, time);
  }
}

/** A row's breakdown (RequestRow's), with an absent prefix-cache count as undefined (one shape). */
interface SimBreakdown {
  readonly queue: number;
  readonly prefill: number;
  readonly kvTransfer: number;
  readonly decodeWait: number;
  readonly decode: number;
  readonly cachedPromptTokens: number | undefined;
}

/**
 * A simulated request's row: every RequestRow field an own property from the start, in one order, so all
 * rows share one shape (the writer, the recorder's outcome columns and the summary's tap read them by
 * field, tens of thousands a second). A field the row does not have holds `undefined`, which every reader
 * treats as absent (the store binds it as SQL NULL); the outcome's columns are the recorder's to set.
 */
class SimRow {
  readonly shard: number | undefined = undefined;
  readonly seq: number;
  readonly traceId: string;
  readonly sessionId: string | undefined;
  readonly sessionTurn: number | undefined;
  readonly arrival: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly warmup: boolean | undefined = undefined;
  readonly scheduled: number;
  readonly send: number;
  readonly firstToken: number | undefined;
  readonly end: number | undefined;
  readonly status: RequestRow['status'] | undefined = undefined;
  readonly errorCode: string | undefined = undefined;
  readonly error: string | undefined = undefined;
  readonly httpStatus: number | undefined = undefined;
  readonly timeoutPhase: string | undefined = undefined;
  readonly tokensReceived: number;
  readonly usagePrompt: number;
  readonly usageCompletion: number;
  readonly countMethod = 'exact';
  readonly chunks: undefined = undefined;
  readonly tokenTimesBlob: Uint8Array | undefined;
  readonly maxStall: number | undefined;
  readonly breakdown: SimBreakdown | undefined;
  readonly promptMachine: string | undefined;
  readonly tokenMachine: string | undefined;
  readonly pool: string | undefined;
  readonly coalesced: undefined = undefined;

  constructor(st: Live, end: number | undefined, b: RequestBreakdown | undefined) {
    const s = st.spec;
    // token_times encoded straight from the typed arrays (no chunk objects); the store takes the blob as is.
    const enc = st.times && st.n > 0 ? encodeChunkTimes(st.times, st.counts, st.n, s.arrival) : undefined;
    this.seq = st.seq;
    this.traceId = s.id;
    this.sessionId = s.sessionId;
    this.sessionTurn = st.turn?.turn;
    this.arrival = s.arrival;
    this.promptTokens = s.promptTokens;
    this.outputTokens = s.outputTokens;
    this.scheduled = s.arrival;
    this.send = s.arrival;
    this.firstToken = st.first === st.first ? st.first : undefined;
    this.end = end;
    this.tokensReceived = st.received;
    this.usagePrompt = s.promptTokens;
    this.usageCompletion = st.received;
    this.tokenTimesBlob = enc?.blob;
    this.maxStall = enc?.maxStall;
    this.breakdown = b
      ? {
          queue: b.queue,
          prefill: b.prefill,
          kvTransfer: b.kvTransfer,
          decodeWait: b.decodeWait,
          decode: b.decode,
          cachedPromptTokens: b.cachedPromptTokens,
        }
      : undefined;
    this.promptMachine = b?.promptMachine;
    this.tokenMachine = b?.tokenMachine;
    this.pool = b?.pool;
  }
}

/** A finished (or never-completed) request's row fields; its outcome's columns are the recorder's to add. */
function rowFields(st: Live, end: number | undefined, b: RequestBreakdown | undefined): RequestFields {
  // Absent fields are undefined-valued own properties (one shape; see SimRow), which the optional-field type cannot say.
  return new SimRow(st, end, b) as unknown as RequestFields;
}

function isAsync<T>(x: AsyncIterable<T> | Iterable<T>): x is AsyncIterable<T> {
  return typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}
