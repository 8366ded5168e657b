/**
 * The emulated cluster (realistic mode): machines in pools, a cluster scheduler choosing the prompt and
 * token machine of each request at arrival, iteration-level batching per machine (instance.ts), and
 * KV transfers between machines. Driven by the injected Clock only. `createCluster(..., { compat:
 * 'splitwise' })` returns the SplitwiseSim-compatible engine instead (compat/cluster.ts).
 */
import type {
  Cluster,
  EngineEvents,
  EngineRequest,
  MachineBookings,
  MachineInfo,
  MachinePhase,
  MachineSnapshot,
  PerfModel,
  RemotePrefill,
  RequestObserver,
  SubmitHandle,
} from './api.js';
import { secondTokenParts, type IterationEvent } from './api.js';
import { EventRank, type Clock, type TimerHandle } from './clock.js';
import { bookingsOf, ClusterBase, failLater, machineInfo, requestProblem } from './cluster-base.js';
import { ConfigError } from '../errors.js';
import { originOf, type Deployment } from './deployment.js';
import { Instance, Seq, SeqMode } from './instance.js';
import { createScheduler, poolsOf, type ClusterScheduler, type Placement, type PoolName, type SchedMachine } from './schedulers.js';
import { kvBytesPerToken, kvCapacityBytes, transferBytesPerS, type MachineSpec, type ModelSpec } from './specs.js';
import type { CompatPredictors } from './predictors.js';
import { createCompatCluster } from './compat/cluster.js';
import { engineCatalog } from './catalog.js';
import type { EngineData } from './data.js';
import { enginePerfModels, enginePredictors } from './perf/registry.js';
import { enginePower } from './power.js';

/** The part of a hardware/model catalog the engine reads. */
export interface EngineCatalog {
  machine(name: string): MachineSpec | undefined;
  model(name: string): ModelSpec | undefined;
  machineNames(): readonly string[];
  modelNames(): readonly string[];
}

/** Machine state the power model sees. */
export interface MachinePowerState {
  readonly phase: MachinePhase;
  readonly batchSize: number;
  /** Prompt tokens + decodes in the current iteration. */
  readonly batchTokens: number;
}

export interface ClusterOptions {
  readonly clock: Clock;
  /** 'splitwise': SplitwiseSim-compatible semantics (see compat/cluster.ts). */
  readonly compat?: 'splitwise';
  /** Seed for the `random` scheduler. */
  readonly seed?: number;
  /**
   * The loaded catalogs and profiles (src/config) the defaults below come from; needed unless `catalog`,
   * `perfModel` (realistic mode) and `predictors` (compatible mode) are all given.
   */
  readonly data?: EngineData;
  /** Default: `data`'s catalog, with SplitwiseSim's sizes in the compatible mode. */
  readonly catalog?: EngineCatalog;
  /** One model for every machine, or a factory per (machine type, model). Default: the deployment's `perfModel` kind from the performance-model registry. */
  readonly perfModel?: PerfModel | ((machine: MachineSpec, model: ModelSpec) => PerfModel);
  /** Compatible mode: SplitwiseSim's raw predictors per (machine type, model). Default: from its bundled profile CSV. */
  readonly predictors?: (machine: MachineSpec, model: ModelSpec) => CompatPredictors;
  /** Watts of one machine in a state. Default: the power model of the catalog. */
  readonly power?: (machine: MachineSpec, state: MachinePowerState) => number;
  readonly events?: EngineEvents;
  /**
   * Observers need not hear of tokens as they come, only before their request ends (a simulation, which
   * records rows): the realistic cluster then logs each machine's iteration end times and tells a request
   * its tokens, in order, when it completes, is cancelled, moves on or its machine's log fills, instead of
   * reaching every request's observer at every iteration. A live server, which streams, leaves it unset.
   */
  readonly deferTokens?: boolean;
  /** Compatible mode only: how a task is inserted in an instance's pending queue ('live' = SplitwiseSim's bisect over current counters; 'frozen' = keys fixed at insertion). */
  readonly compatPendingKey?: 'live' | 'frozen';
}

/** Fallback power: idle + (TDP − idle) × (prompt 0.95, mixed 0.9, decode 0.55, idle 0). */
export function defaultPower(machine: MachineSpec, state: MachinePowerState): number {
  const f = state.phase === 'prompt' ? 0.95 : state.phase === 'mixed' ? 0.9 : state.phase === 'decode' ? 0.55 : 0;
  return machine.idleW + (machine.tdpW - machine.idleW) * f;
}

export interface ResolvedMachine {
  readonly id: string;
  readonly role: PoolName;
  readonly spec: MachineSpec;
  readonly limits: Deployment['pools'][number]['limits'];
}

/** Resolve machine specs and ids (`prompt-0`, `token-0`, `mixed-0`…) for a deployment. */
export function resolveMachines(dep: Deployment, catalog: EngineCatalog): { model: ModelSpec; machines: ResolvedMachine[] } {
  const model = catalog.model(dep.model);
  if (!model) {
    throw new ConfigError(`unknown model '${dep.model}'`, { path: originOf(dep, 'model'), hint: `known models: ${catalog.modelNames().join(', ')}` });
  }
  const machines: ResolvedMachine[] = [];
  for (const pool of dep.pools) {
    const spec = catalog.machine(pool.machine);
    if (!spec) {
      throw new ConfigError(`unknown machine type '${pool.machine}'`, {
        path: originOf(dep, `pools.${pool.role}.machine`),
        hint: `known machine types: ${catalog.machineNames().join(', ')}`,
      });
    }
    for (let i = 0; i < pool.count; i++) machines.push({ id: `${pool.role}-${i}`, role: pool.role, spec, limits: pool.limits });
  }
  return { model, machines };
}

/** Fill in the defaults that come from `data`: its catalog, performance models and power model. */
export function withDefaults(
  dep: Deployment,
  opts: ClusterOptions,
): ClusterOptions & {
  readonly catalog: EngineCatalog;
  readonly power: NonNullable<ClusterOptions['power']>;
} {
  const compat = opts.compat === 'splitwise';
  const data = (what: string): EngineData => {
    if (opts.data) return opts.data;
    throw new ConfigError(`the cluster needs ${what}, or the loaded catalogs and profiles to make one from`, { path: 'data' });
  };
  return {
    ...opts,
    catalog: opts.catalog ?? engineCatalog(data('a catalog').catalog, { compat }),
    // The catalog's power model knows the loaded machines only; a caller's own catalog gets the fallback.
    power: opts.power ?? (opts.catalog ? defaultPower : enginePower(data('a power model').catalog)),
    ...(opts.perfModel || compat
      ? {}
      : {
          perfModel: enginePerfModels({
            data: data('a performance model'),
            ...(dep.perfModel === 'auto' ? {} : { kind: dep.perfModel }),
            ...(dep.profile ? { profile: dep.profile } : {}),
          }),
        }),
    ...(opts.predictors || !compat ? {} : { predictors: enginePredictors(data("SplitwiseSim's predictors")) }),
  };
}

export function resolvePredictors(opts: ClusterOptions, spec: MachineSpec, model: ModelSpec): CompatPredictors {
  if (!opts.predictors) throw new ConfigError('the SplitwiseSim-compatible mode needs predictors');
  return opts.predictors(spec, model);
}

function resolvePerf(opts: ClusterOptions, spec: MachineSpec, model: ModelSpec): PerfModel {
  const pm = opts.perfModel;
  if (typeof pm === 'function') return pm(spec, model);
  if (pm) return pm;
  throw new ConfigError('no performance model given');
}

interface Req {
  readonly r: EngineRequest;
  readonly obs: RequestObserver;
  readonly arrival: number;
  readonly p: Machine;
  readonly t: Machine;
  readonly pool: PoolName;
  readonly seqP: Seq<Req>;
  seqT: Seq<Req> | undefined;
  prefillStart: number;
  firstToken: number;
  /** Time of the second output token (NaN until then). */
  secondToken: number;
  kvStart: number;
  kvEnd: number;
  decodeStart: number;
  /** What its placement booked on the scheduler's counters (of the machines it was placed on). */
  readonly placed: Placement;
  /** 0 none, 1 waiting for destination memory, 2 in flight, 3 done. */
  xfer: 0 | 1 | 2 | 3;
  xferTimer: TimerHandle | undefined;
  xferDuration: number;
  finished: boolean;
  /**
   * A cluster that tells tokens late (`deferTokens`): the machine whose iteration log holds the tokens it has
   * not told yet, `[segFrom, segNext)` there (one token an iteration; `segNext` the next iteration it would
   * continue with).
   */
  segM: Machine | undefined;
  segFrom: number;
  segNext: number;
  /** Its index in `segM.open`. */
  openAt: number;
  /** Prefilled elsewhere (submitPrefilled): transfer times fixed at arrival; `seqP` is a placeholder never admitted. */
  remote?: { readonly full: number; readonly after: number; readonly promptMachine: string };
}

/** A request's state as it arrives: nothing started yet (the caller sets `seqP`). */
function newReq(r: EngineRequest, obs: RequestObserver, arrival: number, p: Machine, t: Machine, placed: Placement): Req {
  return {
    r,
    obs,
    arrival,
    p,
    t,
    pool: p.pool,
    seqP: undefined as unknown as Seq<Req>,
    seqT: undefined,
    prefillStart: NaN,
    firstToken: NaN,
    secondToken: NaN,
    kvStart: NaN,
    kvEnd: NaN,
    decodeStart: NaN,
    placed,
    xfer: 0,
    xferTimer: undefined,
    xferDuration: 0,
    finished: false,
    segM: undefined,
    segFrom: 0,
    segNext: 0,
    openAt: 0,
  };
}

/**
 * A machine's iteration end times, at absolute indexes `[base, base + length)` (a cluster that tells tokens
 * late: the times of the tokens its requests have not been told yet).
 */
interface IterationLog {
  times: Float64Array;
  base: number;
  len: number;
}

class Machine implements SchedMachine {
  pool: PoolName;
  pendingTokens = 0;
  schedMemory = 0;
  readonly inst: Instance<Req>;
  readonly waiters: Req[] = [];
  incoming = 0;
  phase: MachinePhase = 'idle';
  batchSize = 0;
  batchPromptTokens = 0;
  batchDecodes = 0;
  iterStart = 0;
  iterEnd = 0;
  /** The current iteration's event (start and end listeners get the same object; never changed after). */
  iterEv: IterationEvent | undefined = undefined;
  /** Set by the cluster: the iteration-end callback (one closure per machine, not per iteration). */
  onEnd: () => void = () => {};
  /** Telling tokens late: the iterations' end times, and the requests whose untold tokens are in them (`Req.segM` this machine). */
  readonly log: IterationLog = { times: new Float64Array(1024), base: 0, len: 0 };
  readonly open: Req[] = [];
  constructor(
    readonly id: string,
    readonly homePool: PoolName,
    readonly spec: MachineSpec,
    readonly perf: PerfModel,
    readonly memCapacity: number,
    capacityTokens: number,
    limits: ResolvedMachine['limits'] & { readonly prefixCache?: boolean },
  ) {
    this.pool = homePool;
    this.inst = new Instance<Req>(id, capacityTokens, limits);
  }
  queueLength(): number {
    return this.inst.waitingCount;
  }
  cachedPrefixTokens(hashes: readonly number[] | undefined): number {
    return this.inst.cachedPrefixTokens(hashes);
  }
  prefillSeconds(tokens: number): number {
    return tokens > 0 ? this.perf.prefillTime(tokens) : 0;
  }
}

/** Build the cluster of a deployment. */
export function createCluster(dep: Deployment, opts: ClusterOptions): Cluster {
  if (opts.compat !== undefined && opts.compat !== 'splitwise') {
    throw new ConfigError(`unknown compatibility mode '${String(opts.compat)}'`, { path: 'compat', hint: "known: 'splitwise'" });
  }
  const full = withDefaults(dep, opts);
  if (opts.compat === 'splitwise') {
    if (dep.prefixCache)
      throw new ConfigError('the SplitwiseSim-compatible mode has no prefix cache', {
        path: originOf(dep, 'prefixCache'),
        hint: 'set prefixCache: false, or run without the compatible mode',
      });
    return createCompatCluster(dep, full);
  }
  return new RealisticCluster(dep, full);
}

class RealisticCluster extends ClusterBase<Req> implements Cluster {
  private readonly clock: Clock;
  private readonly ev: EngineEvents | undefined;
  private readonly machinesList: Machine[] = [];
  private readonly sched: ClusterScheduler;
  private readonly kvPerToken: number;
  private readonly power: (m: MachineSpec, s: MachinePowerState) => number;
  protected readonly infos: MachineInfo[];
  private age = 0;
  /** Requests cancelled so far. */
  private cancels = 0;
  private readonly layerwiseMin: number;
  private readonly bwOverride: number | undefined;
  private readonly residueOverride: number | undefined;
  private readonly catalog: EngineCatalog;
  /** Observers hear of each token as its iteration ends (not `deferTokens`). */
  private readonly eager: boolean;

  constructor(dep: Deployment, opts: ClusterOptions) {
    super();
    this.catalog = opts.catalog!;
    this.clock = opts.clock;
    this.eager = opts.deferTokens !== true;
    this.ev = opts.events;
    this.power = opts.power ?? defaultPower;
    const { model, machines } = resolveMachines(dep, opts.catalog!);
    this.kvPerToken = kvBytesPerToken(model);
    for (const rm of machines) {
      const cap = kvCapacityBytes(rm.spec, model);
      if (cap <= 0) {
        throw new ConfigError(`${model.name} (${(model.weightsBytes / 1e9).toFixed(1)} GB of weights) does not fit in ${rm.spec.name}'s memory`, {
          path: originOf(dep, `pools.${rm.role}.machine`),
          hint: `a machine with more GPU memory, or a smaller model (${originOf(dep, 'model')})`,
        });
      }
      const m = new Machine(
        rm.id,
        rm.role,
        rm.spec,
        resolvePerf(opts, rm.spec, model),
        cap,
        Math.floor(cap / this.kvPerToken),
        dep.prefixCache ? { ...rm.limits, prefixCache: true } : rm.limits,
      );
      m.onEnd = () => this.endIteration(m);
      this.machinesList.push(m);
    }
    this.sched = createScheduler(dep.scheduler, poolsOf(this.machinesList), {
      kvBytesPerToken: this.kvPerToken,
      promptMaxPendingTokens: dep.promptMaxPendingTokens,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    });
    this.layerwiseMin = dep.interconnect.layerwiseMinPromptTokens;
    this.bwOverride = dep.interconnect.bandwidthGbps === undefined ? undefined : (dep.interconnect.bandwidthGbps * 1e9) / 8;
    this.residueOverride = dep.interconnect.residueMs === undefined ? undefined : dep.interconnect.residueMs / 1000;
    this.infos = this.machinesList.map((m) => machineInfo(m.id, m.homePool, m.spec));
  }

  bookings(): readonly MachineBookings[] {
    return bookingsOf(this.machinesList);
  }

  snapshot(): readonly MachineSnapshot[] {
    return this.machinesList.map((m) => ({
      id: m.id,
      pool: m.pool,
      queuedRequests: m.inst.waitingCount + m.waiters.length,
      runningRequests: m.inst.runningCount + m.inst.heldCount,
      batchSize: m.batchSize,
      batchPromptTokens: m.batchPromptTokens,
      kvUsedTokens: m.inst.usedTokens,
      kvCapacityTokens: m.inst.capacityTokens,
      watts: this.power(m.spec, { phase: m.phase, batchSize: m.batchSize, batchTokens: m.batchPromptTokens + m.batchDecodes }),
      promptTokensTotal: m.inst.promptTokensTotal,
      outputTokensTotal: m.inst.outputTokensTotal,
      phase: m.phase,
      ...(m.inst.cache
        ? {
            prefixCache: {
              queryTokens: m.inst.cacheQueryTokens,
              hitTokens: m.inst.cacheHitTokens,
              queries: m.inst.cacheQueries,
              hits: m.inst.cacheHits,
              cachedTokens: m.inst.cachedTokens,
            },
          }
        : {}),
    }));
  }

  submit(request: EngineRequest, observer: RequestObserver): SubmitHandle {
    const now = this.clock.now();
    const { promptTokens: prompt, outputTokens: output } = request;
    const bad = requestProblem(request, this.live);
    if (bad) return failLater(this.clock, observer, bad);
    const pl = this.sched.place(prompt, output, request.blockHashes);
    const p = pl.prompt as Machine;
    const t = pl.token as Machine;
    const same = p === t;
    const tooBig = same
      ? !p.inst.fits(prompt + output) && `needs ${prompt + output} KV tokens, more than ${p.id} holds (${p.inst.capacityTokens})`
      : !p.inst.fits(prompt + 1)
        ? `needs ${prompt + 1} KV tokens for its prompt, more than ${p.id} holds (${p.inst.capacityTokens})`
        : !t.inst.fits(prompt + output) && `needs ${prompt + output} KV tokens, more than ${t.id} holds (${t.inst.capacityTokens})`;
    if (tooBig) {
      pl.failed();
      return failLater(this.clock, observer, `request ${request.id} ${tooBig}`);
    }
    const req = newReq(request, observer, now, p, t, pl);
    (req as { seqP: Seq<Req> }).seqP = new Seq<Req>(request.id, this.age++, same ? SeqMode.full : SeqMode.prefillOnly, prompt, output, req);
    if (p.inst.cache && request.blockHashes && request.blockHashes.length > 0) req.seqP.hashes = request.blockHashes;
    this.live.set(request.id, req);
    p.inst.admit(req.seqP);
    this.kick(p, now);
    return { cancel: () => this.cancel(req) };
  }

  submitPrefilled(request: EngineRequest, observer: RequestObserver, remote: RemotePrefill): SubmitHandle {
    const now = this.clock.now();
    const { promptTokens: prompt, outputTokens: output } = request;
    const from = this.catalog.machine(remote.fromMachine);
    const bad =
      requestProblem(request, this.live) ??
      (!from
        ? `unknown prompt machine type '${remote.fromMachine}'`
        : remote.prefillSeconds !== undefined && !(remote.prefillSeconds >= 0)
          ? `prefillSeconds must be ≥ 0 (got ${remote.prefillSeconds})`
          : undefined);
    if (bad || !from) return failLater(this.clock, observer, bad ?? 'bad request');
    const pl = this.sched.place(prompt, output);
    const t = pl.token as Machine;
    const kv = this.kvPerToken;
    // Placement counted a prefill on its prompt machine; there is none: its prompt and memory go back.
    pl.promptDone();
    pl.kvShipped();
    if (!t.inst.fits(prompt + output)) {
      pl.failed();
      return failLater(this.clock, observer, `request ${request.id} needs ${prompt + output} KV tokens, more than ${t.id} holds (${t.inst.capacityTokens})`);
    }
    const bytes = kv * prompt;
    const full = bytes / (this.bwOverride ?? transferBytesPerS(from, t.spec));
    const residue = this.residueOverride ?? Math.max(from.kvResidueS, t.spec.kvResidueS);
    const after = prompt < this.layerwiseMin || remote.prefillSeconds === undefined ? full : Math.max(residue, full - remote.prefillSeconds);
    const req = newReq(request, observer, now, t, t, pl);
    // The prompt ran elsewhere: `seqP` is a placeholder (never admitted) carrying the first token.
    (req as { seqP: Seq<Req> }).seqP = new Seq<Req>(request.id, this.age++, SeqMode.decodeOnly, prompt, output, req);
    req.prefillStart = now;
    req.firstToken = now;
    req.remote = { full, after, promptMachine: remote.promptMachine ?? t.id };
    req.seqP.generated = 1;
    this.live.set(request.id, req);
    // The first token was made by the prompt machine: report it now, then move the KV (one token: done).
    this.clock.at(
      now,
      () => {
        if (req.finished) return;
        observer.onTokens(1, now);
        if (output === 1) this.complete(req, now);
        else this.startTransfer(req, now);
      },
      EventRank.internal,
    );
    return { cancel: () => this.cancel(req) };
  }

  /** Start an iteration on an idle machine at the end of the current instant (after same-time arrivals). */
  private readonly kicked = new Set<Machine>();
  /** Start an iteration on an idle machine at `at` (default now): `submit` passes its own arrival reading, so
   * an idle machine starts the request at exactly its arrival (a second clock read would be later). */
  private kick(m: Machine, at: number = this.clock.now()): void {
    if (m.inst.isBusy || this.kicked.has(m)) return;
    this.kicked.add(m);
    this.clock.at(
      at,
      () => {
        this.kicked.delete(m);
        if (!m.inst.isBusy) this.startIteration(m);
      },
      EventRank.arrival,
    );
  }

  /** Log the end of `m`'s iteration at `now` (the first token told late in it); its absolute index. */
  private logIteration(m: Machine, now: number): number {
    const log = m.log;
    if (log.len - log.base === log.times.length) {
      // Full: tell every request there its tokens so far; then no entry is needed any more. From the end: an
      // observer that cancels a request from its callback swaps the list's last entry, told already, into its place.
      const open = m.open;
      for (let i = open.length - 1; i >= 0; i--) {
        const r = open[i];
        if (r !== undefined) this.tell(r);
      }
      log.base = log.len;
    }
    log.times[log.len - log.base] = now;
    return log.len++;
  }

  /** Tell `r`'s observer the tokens it was not told yet (one `onTokens` each, or one `onTokenTimes`). */
  private tell(r: Req): void {
    const m = r.segM;
    if (m === undefined || r.segNext <= r.segFrom) return;
    const log = m.log;
    const from = r.segFrom - log.base;
    const to = r.segNext - log.base;
    r.segFrom = r.segNext;
    const obs = r.obs;
    if (obs.onTokenTimes) obs.onTokenTimes(log.times, from, to);
    else for (let k = from; k < to; k++) obs.onTokens(1, log.times[k]!);
  }

  /** Tell `r` every token it was not told yet and take it off its machine's `open` list (swapped with the last). */
  private release(r: Req): void {
    const m = r.segM;
    if (m === undefined) return;
    this.tell(r);
    const last = m.open.pop()!;
    if (last !== r) {
      m.open[r.openAt] = last;
      last.openAt = r.openAt;
    }
    r.segM = undefined;
  }

  private startIteration(m: Machine): void {
    const now = this.clock.now();
    const b = m.inst.nextBatch();
    if (!b) {
      m.phase = 'idle';
      m.batchSize = 0;
      m.batchPromptTokens = 0;
      m.batchDecodes = 0;
      if (m.inst.isEmpty && m.incoming === 0 && m.waiters.length === 0) this.sched.release?.(m);
      return;
    }
    let promptTok = 0;
    const chunks = b.chunkSeqs;
    for (let i = 0; i < chunks.length; i++) {
      const s = chunks[i]!;
      const r = s.tag;
      promptTok += s.chunk;
      if (r.prefillStart !== r.prefillStart) r.prefillStart = now;
    }
    const first = b.firstDecodes;
    for (let i = 0; i < first.length; i++) {
      const r = first[i]!.tag;
      if (r.decodeStart !== r.decodeStart) r.decodeStart = now;
    }
    // Preempted requests dropped their KV: memory may have freed for queued transfers.
    if (b.preempted.length > 0 && m.waiters.length > 0) this.pumpWaiters(m);
    const dur = m.perf.iterationTime(b);
    m.batchSize = b.size;
    m.batchPromptTokens = promptTok;
    m.batchDecodes = b.decodes;
    m.phase = promptTok === 0 ? 'decode' : b.decodes === 0 ? 'prompt' : 'mixed';
    m.iterStart = now;
    m.iterEnd = now + dur;
    const ev = this.ev;
    if (ev && (ev.iterationStart || ev.iterationEnd)) {
      m.iterEv = this.iterEvent(m);
      ev.iterationStart?.(m.iterEv);
    }
    this.clock.at(m.iterEnd, m.onEnd, EventRank.completion);
  }

  private iterEvent(m: Machine): IterationEvent {
    return {
      machine: m.id,
      start: m.iterStart,
      end: m.iterEnd,
      phase: m.phase,
      batchSize: m.batchSize,
      promptTokens: m.batchPromptTokens,
      decodes: m.batchDecodes,
      iterations: 1,
    };
  }

  private endIteration(m: Machine): void {
    const now = this.clock.now();
    if (this.ev?.iterationEnd) this.ev.iterationEnd(m.iterEv ?? this.iterEvent(m));
    const res = m.inst.onIterationEnd();
    const emitted = res.emitted;
    const ne = res.emittedCount;
    // An observer may cancel a request of this batch (its own or another) from its callback: skip those after
    // (none is finished before: a cancelled request's sequences leave their batch, and requests complete
    // below). A request's output tokens so far say which token this is: its 1st or 2nd ever when
    // `generated` is 1 or 2 (a remotely prefilled request arrives with 1).
    const cancels = this.cancels;
    const eager = this.eager;
    let at = -1;
    for (let i = 0; i < ne; i++) {
      const s = emitted[i]!;
      const r = s.tag;
      if (this.cancels !== cancels && r.finished) continue;
      const g = s.generated;
      if (g <= 2) {
        if (g === 1) {
          r.firstToken = now;
          r.placed.promptDone();
        } else r.secondToken = now;
      }
      if (eager) r.obs.onTokens(1, now);
      else {
        // Told later (tell): the token only extends the request's run of iterations on this machine.
        if (at < 0) at = this.logIteration(m, now);
        if (r.segM === m && r.segNext === at) r.segNext = at + 1;
        else {
          if (r.segM === m) this.tell(r);
          else {
            this.release(r);
            r.segM = m;
            r.openAt = m.open.length;
            m.open.push(r);
          }
          r.segFrom = at;
          r.segNext = at + 1;
        }
      }
    }
    for (let i = 0; i < res.prefilled.length; i++) {
      const r = res.prefilled[i]!.tag;
      if (!r.finished) this.startTransfer(r, now);
    }
    for (let i = 0; i < res.finished.length; i++) {
      const r = res.finished[i]!.tag;
      if (!r.finished) this.complete(r, now);
    }
    if (m.waiters.length > 0) this.pumpWaiters(m);
    this.startIteration(m);
  }

  private complete(r: Req, now: number): void {
    if (!this.eager) this.release(r);
    r.finished = true;
    this.live.delete(r.r.id);
    r.placed.finished();
    const bd = {
      queue: r.prefillStart - r.arrival,
      prefill: r.firstToken - r.prefillStart,
      ...secondTokenParts(r.firstToken, r.secondToken, now, r.kvEnd === r.kvEnd ? r.kvEnd - r.kvStart : 0),
      promptMachine: r.remote ? r.remote.promptMachine : r.p.id,
      tokenMachine: r.seqT || r.p === r.t ? r.t.id : r.p.id,
      pool: r.pool,
      preemptions: r.seqP.preemptions + (r.seqT?.preemptions ?? 0),
      ...(r.seqP.hashes ? { cachedPromptTokens: r.seqP.cachedTokens } : {}),
    };
    if (this.ev?.requestDone) this.ev.requestDone(r.r.id, bd, now);
    r.obs.onDone(bd, now);
  }

  // ---- KV transfer -------------------------------------------------------------------------------

  private transferTimes(r: Req, now: number): { bytes: number; full: number; after: number } {
    const bytes = this.kvPerToken * r.r.promptTokens;
    if (r.remote) return { bytes, full: r.remote.full, after: r.remote.after };
    const bw = this.bwOverride ?? transferBytesPerS(r.p.spec, r.t.spec);
    const full = bytes / bw;
    if (r.r.promptTokens < this.layerwiseMin) return { bytes, full, after: full };
    // Layer-wise: overlapped with the prefill, leaving a constant residue (or the excess if the link is slower).
    const residue = this.residueOverride ?? Math.max(r.p.spec.kvResidueS, r.t.spec.kvResidueS);
    const prefill = now - r.prefillStart;
    return { bytes, full, after: Math.max(residue, full - prefill) };
  }

  private startTransfer(r: Req, now: number): void {
    const t = r.t;
    t.incoming++;
    if (t.waiters.length === 0 && t.inst.reserve(r.r.promptTokens)) {
      const { after } = this.transferTimes(r, now);
      this.launchTransfer(r, now, after);
    } else {
      r.xfer = 1;
      t.waiters.push(r);
    }
  }

  private launchTransfer(r: Req, now: number, duration: number): void {
    r.xfer = 2;
    r.kvStart = now;
    r.xferDuration = duration;
    if (this.ev?.kvTransferStart)
      this.ev.kvTransferStart({ requestId: r.r.id, from: r.p.id, to: r.t.id, time: now, bytes: this.kvPerToken * r.r.promptTokens });
    r.xferTimer = this.clock.at(now + duration, () => this.endTransfer(r), EventRank.completion);
  }

  /** Start queued transfers into `m` while its memory allows (FIFO). */
  private pumpWaiters(m: Machine): void {
    const now = this.clock.now();
    while (m.waiters.length > 0) {
      const r = m.waiters[0]!;
      if (!m.inst.reserve(r.r.promptTokens)) break;
      m.waiters.shift();
      // It waited: nothing overlapped with the prefill, the whole transfer is serialized.
      this.launchTransfer(r, now, this.transferTimes(r, now).full);
    }
  }

  private endTransfer(r: Req): void {
    const now = this.clock.now();
    r.xfer = 3;
    r.xferTimer = undefined;
    r.kvEnd = now;
    const p = r.p;
    const t = r.t;
    t.incoming--;
    if (this.ev?.kvTransferEnd) this.ev.kvTransferEnd({ requestId: r.r.id, from: p.id, to: t.id, time: now, bytes: this.kvPerToken * r.r.promptTokens });
    if (!r.remote) p.inst.releaseHeld(r.seqP);
    r.placed.kvShipped();
    const s = new Seq<Req>(r.r.id, r.seqP.age, SeqMode.decodeOnly, r.r.promptTokens, r.r.outputTokens, r);
    s.generated = r.seqP.generated;
    s.computed = r.r.promptTokens;
    r.seqT = s;
    t.inst.admitDecoded(s);
    if (p.waiters.length > 0) this.pumpWaiters(p);
    this.kick(p);
    this.kick(t);
  }

  private cancel(r: Req): void {
    if (r.finished) return;
    // Its tokens until now are told; none after.
    if (!this.eager) this.release(r);
    r.finished = true;
    this.cancels++;
    this.live.delete(r.r.id);
    const { p, t } = r;
    if (!r.remote) p.inst.remove(r.seqP);
    if (r.seqT) t.inst.remove(r.seqT);
    if (r.xfer === 1) {
      t.waiters.splice(t.waiters.indexOf(r), 1);
      t.incoming--;
    } else if (r.xfer === 2) {
      r.xferTimer?.cancel();
      t.inst.unreserve(r.r.promptTokens);
      t.incoming--;
    }
    r.placed.cancelled();
    for (const m of p === t ? [p] : [p, t]) {
      if (m.waiters.length > 0) this.pumpWaiters(m);
      this.kick(m);
    }
  }
}
