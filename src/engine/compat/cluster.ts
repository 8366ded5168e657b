/**
 * The SplitwiseSim-compatible engine (`createCluster(dep, { compat: 'splitwise' })`): reproduces the
 * semantics of SplitwiseSim's `SplitwiseInstance`, `mixed_pool` / `token_jsq` schedulers and KV flows,
 * as written down in the Splitwise notes (section 2.8), so the paper's simulator numbers can be
 * reproduced. It is deliberately *not* the realistic engine: whole-request KV reservation, no chunked
 * prefill, contiguous decode-only runs, the ×1.1 mixed-batch factor, KV = MHA formula at 200 GiB/s
 * never overlapped, 1 s transfer retries, no wake-ups besides arrivals and transfer notifications
 * (so a KV deadlock leaves requests that never complete; `inFlightIds()` lists them).
 *
 * Time: zero-delay actions run inline in their caller, like the original; delayed ones go into an
 * internal heap ordered exactly like CPython `heapq` by time only (compat/heapq.ts), drained by one
 * Clock callback at its head. Arrivals either go into that same heap (`queueArrival`, what the simulator
 * does: every arrival pushed in trace order before the first event runs, as SplitwiseSim's loader does,
 * so the heap's layout, and with it the order of exactly tied events, is SplitwiseSim's), or come from
 * `submit()` at the clock's time (the live server, tests): then an internal event due at the arrival's
 * instant runs first, which can differ from SplitwiseSim on exact ties.
 *
 * Differences from the original, on purpose: an arrival at t = 0 is accepted (the original crashes);
 * a one-token request (`outputTokens` 1) ends with its prompt phase, with no decode task and no KV flow
 * (the original's zero-length decode corrupts its clock); a run cut at the exact instant it ends keeps its
 * length instead of overshooting. A request it cannot take (sizes, a duplicate id) fails through
 * `onFailed`, as in every cluster; `submit` does not throw.
 */
import type {
  Cluster,
  EngineEvents,
  EngineRequest,
  IterationEvent,
  MachineBookings,
  MachineInfo,
  MachineSnapshot,
  RequestBreakdown,
  RequestObserver,
  SubmitHandle,
} from '../api.js';
import { secondTokenParts } from '../api.js';
import { EventRank, type Clock, type TimerHandle } from '../clock.js';
import { ConfigError } from '../../errors.js';
import { originOf, type Deployment } from '../deployment.js';
import type { ClusterOptions } from '../cluster.js';
import { defaultPower, resolveMachines, resolvePredictors, withDefaults } from '../cluster.js';
import { bookingsOf, ClusterBase, failLater, machineInfo, requestProblem } from '../cluster-base.js';
import type { CompatPredictors } from '../predictors.js';
import { createScheduler, poolsOf, type ClusterScheduler, type Placement, type PoolName, type SchedMachine } from '../schedulers.js';
import { kvBytesPerToken, machineMemoryBytes, SPLITWISE_TRANSFER_BYTES_PER_S, type MachineSpec } from '../specs.js';
import { PyHeap, pyFloorDiv, type HeapEvent } from './heapq.js';

/** What a heap entry does when its turn comes. */
const ITERATION_END = 0;
const FLOW_END = 1;
const FLOW_RETRY = 2;
const ACTION = 3;

/**
 * A heap entry of this cluster: a kind and its subject (no closure per event). Entries are reused once
 * popped (`CompatCluster.recycle`): a cancelled one stays in the heap, and so unused, until its turn.
 */
class CEvent implements HeapEvent {
  time = 0;
  cancelled = false;
  kind = ITERATION_END;
  /** Retries (told apart for the livelock test): the memory epoch in which their flow last failed. */
  epoch = 0;
  inst: Inst | undefined = undefined;
  flow: Flow | undefined = undefined;
  action: (() => void) | undefined = undefined;
}

const NONE = 0;
const QUEUED = 1;
const RUNNING = 2;
const BLOCKED = 3;
const COMPLETED = 4;

export interface CompatInstanceState {
  readonly id: string;
  readonly pool: string;
  /** Allocated bytes (weights + KV taken). */
  readonly memory: number;
  readonly capacity: number;
  readonly weights: number;
  readonly schedMemory: number;
  readonly pendingTokens: number;
  readonly pendingTasks: number;
  readonly batch: number;
  readonly requests: number;
}

class Task {
  state = NONE;
  /**
   * SplitwiseSim `num_preemptions` (see 2.8 rule 1): selections this task waited while current, kept
   * lazily: `counted` plus, while it waits (its request's current task on `inst`, not in the batch), the
   * selections `inst` made since `waitFrom` (see `counterOf`), so a selection need not visit every waiter.
   */
  counted = 0;
  waiting = false;
  waitFrom = 0;
  /** The instance it was handed to. */
  inst: Inst | undefined;
  /** Counter value when last inserted in the pending queue ('frozen' queue key). */
  frozen = 0;
  /** The request's observer (its decode task's copy, so a run's end reads the task alone). */
  obs: RequestObserver = MUTED;
  generated = 0;
  inBatch = false;
  /** Times actually preempted (for the breakdown). */
  preemptions = 0;
  constructor(
    readonly req: CReq,
    readonly isPrompt: boolean,
    /** Prompt: prompt size; decode: token_size − 1. */
    readonly size: number,
    /** The model's KV bytes per token. */
    readonly kv: number,
  ) {}
  /** KV bytes allocated when first run: KV(prompt+1) or KV(token_size − 1) (computed: no heap number per task). */
  get memory(): number {
    return this.kv * (this.isPrompt ? this.size + 1 : this.size);
  }
  get tpi(): number {
    return this.isPrompt ? this.size : 1;
  }
}

/**
 * A request's times and KV bytes, in one slab for all requests (a field of a class holding a double is a
 * separate heap number; a dozen per request is most of the engine's garbage): a request's fields are
 * `v[at + F]` for these F. Its slot is reused once the request is done.
 */
const F_ARRIVAL = 0;
/** KV bytes it holds (allocated on its instances). */
const F_MEMORY = 1;
const F_PROMPT_START = 2;
const F_PROMPT_END = 3;
/** When the first decode tokens arrived (the second token; NaN until then). */
const F_SECOND_TOKEN = 4;
const F_FLOW_START = 5;
const F_FLOW_END = 6;
const FIELDS = 8;

class RequestSlab {
  v = new Float64Array(FIELDS * 1024);
  private readonly spare: number[] = [];
  private next = 0;

  /** A slot for a request arriving at `arrival`: its offset. */
  take(arrival: number): number {
    let at = this.spare.pop();
    if (at === undefined) {
      at = this.next;
      this.next += FIELDS;
      if (this.next > this.v.length) {
        const grown = new Float64Array(this.v.length * 2);
        grown.set(this.v);
        this.v = grown;
      }
    }
    const v = this.v;
    v[at + F_ARRIVAL] = arrival;
    v[at + F_MEMORY] = 0;
    v.fill(NaN, at + F_PROMPT_START, at + FIELDS);
    return at;
  }

  release(at: number): void {
    this.spare.push(at);
  }
}

class CReq implements SubmitHandle {
  selStamp = -1;
  done = false;
  cancelled = false;
  flow: Flow | undefined;
  pool: PoolName = 'mixed';
  /** What its placement booked on the scheduler's counters. */
  placed!: Placement;
  constructor(
    readonly r: EngineRequest,
    readonly obs: RequestObserver,
    /** Its fields' offset in the cluster's RequestSlab. */
    readonly at: number,
    readonly prompt: Task,
    readonly token: Task,
  ) {}
  tokenSize(): number {
    return this.r.outputTokens;
  }
  /**
   * Its submit handle. Cancelling has no SplitwiseSim counterpart (the simulator never abandons a
   * request): the request keeps running to keep the simulated cluster's state exact, but its observer
   * hears nothing more.
   */
  cancel(): void {
    if (this.done || this.cancelled) return;
    this.cancelled = true;
    (this as { obs: RequestObserver }).obs = MUTED;
    this.token.obs = MUTED;
  }
}

interface Flow {
  readonly req: CReq;
  readonly src: Inst;
  readonly dest: Inst;
  readonly bytes: number;
  state: number;
}

class Inst implements SchedMachine {
  pool: PoolName;
  pendingTokens = 0;
  schedMemory: number;
  memory: number;
  readonly memCapacity: number;
  readonly pendingQueue: Task[] = [];
  readonly promptQueue: Task[] = [];
  readonly blockedQueue: Task[] = [];
  readonly batch: Task[] = [];
  promptsInBatch = 0;
  tokensInBatch = 0;
  readonly pendingRequests: CReq[] = [];
  /** Reused buffers (no allocation per selection). */
  /** The batch being selected: `nb[0, nbSize)` (a reused buffer, never shortened); see `selectBatch`. */
  readonly nb: Task[] = [];
  nbSize = 0;
  /** Tasks of the previous batch selected again: its first `kept` (see `selectBatch`). */
  kept = 0;
  /** Tasks an iteration completed: `completed[0, n)` in `completeIteration` (a reused buffer). */
  readonly completed: Task[] = [];
  /** Inside `completeIteration`: arrivals wait for its selection. */
  completing = false;
  batchTokens = 0;
  /** The current run: its iteration time, its number of iterations, whether it was cut already. */
  iterDur = 0;
  nContig = 0;
  pauseNext = false;
  completionEv: CEvent | undefined;
  runStart = 0;
  /** What `iterationStart` was told about the current run (when it was told). */
  runEvent: IterationEvent | undefined = undefined;
  promptTokensTotal = 0;
  outputTokensTotal = 0;
  /** Selections made so far (the unit of the lazy counters, `counterOf`). */
  selections = 0;
  constructor(
    readonly id: string,
    readonly homePool: PoolName,
    readonly spec: MachineSpec,
    readonly pred: CompatPredictors,
    readonly weights: number,
    capacity: number,
    readonly maxBatchSize: number,
    readonly maxBatchTokens: number,
    readonly maxPreemptions: number,
  ) {
    this.pool = homePool;
    this.schedMemory = weights;
    this.memory = weights;
    this.memCapacity = capacity;
    this.decodeTimes = maxBatchSize <= 4096 ? new Float64Array(maxBatchSize + 1) : undefined;
  }
  queueLength(): number {
    return this.pendingQueue.length;
  }
  /** Decode-only iteration seconds for `n` decode tasks (≤ the batch size limit: memoised). */
  private readonly decodeTimes: Float64Array | undefined;
  decodeTime(n: number): number {
    const memo = this.decodeTimes;
    if (memo === undefined || n >= memo.length) return this.pred.tokenTime(n);
    let v = memo[n]!;
    if (v === 0) v = memo[n] = this.pred.tokenTime(n);
    return v;
  }
}

/** A task's counter now (`Task.counted`). */
function counterOf(t: Task): number {
  return t.waiting ? t.counted + (t.inst!.selections - t.waitFrom) : t.counted;
}

/** `t` becomes its request's current task on its instance without being in the batch: each selection now counts. */
function startWaiting(t: Task): void {
  if (t.waiting) return;
  t.waiting = true;
  t.waitFrom = t.inst!.selections;
}

/** `t` joins the batch (or completes): selections stop counting. */
function stopWaiting(t: Task): void {
  if (!t.waiting) return;
  t.waiting = false;
  t.counted += t.inst!.selections - t.waitFrom;
}

/**
 * The request's current task on `m` (SplitwiseSim `request_tasks[request][0]`): its prompt until that
 * completes, then its decode task.
 */
function currentTask(m: Inst, r: CReq): Task {
  const p = r.prompt;
  return p.inst === m && p.state !== COMPLETED ? p : r.token;
}

/** Rule 3's limits: `k` tasks of `tokens` are selected; is there no room for one of `tpi` more tokens? */
function full(m: Inst, k: number, tokens: number, tpi: number): boolean {
  return k === m.maxBatchSize || (k > 0 && tokens + tpi > m.maxBatchTokens);
}

/** `a[k] = t` in a reused buffer (grown by push); returns k + 1. */
function put(a: Task[], k: number, t: Task): number {
  if (k === a.length) a.push(t);
  else a[k] = t;
  return k + 1;
}

/** Add a task to the batch being selected, at `nb[k]`; returns its tokens per iteration. */
function take(nb: Task[], k: number, t: Task, serial: number): number {
  put(nb, k, t);
  t.req.selStamp = serial;
  return t.isPrompt ? t.size : 1;
}

/** Shorten `a` to `n` entries (pops: setting `length` is a slow runtime call). */
function truncate<T>(a: T[], n: number): void {
  while (a.length > n) a.pop();
}

function dropInBatch(a: Task[]): void {
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (!t.inBatch) a[w++] = t;
  }
  truncate(a, w);
}

/** Entries moved one by one at most; past this `splice` (which allocates its result, but moves in bulk) is faster. */
const SHIFT_BY_HAND = 32;

/** Remove `x` from `a`, keeping the order. */
function removeItem<T>(a: T[], x: T): boolean {
  const i = a.indexOf(x);
  if (i < 0) return false;
  const last = a.length - 1;
  if (last - i > SHIFT_BY_HAND) {
    a.splice(i, 1);
    return true;
  }
  for (let j = i; j < last; j++) a[j] = a[j + 1]!;
  a.pop();
  return true;
}

/** Insert `x` at index `i` of `a`. */
function insertAt<T>(a: T[], i: number, x: T): void {
  let j = a.length;
  if (j - i > SHIFT_BY_HAND) {
    a.splice(i, 0, x);
    return;
  }
  a.push(x);
  for (; j > i; j--) a[j] = a[j - 1]!;
  a[i] = x;
}

class CompatCluster extends ClusterBase<CReq> implements Cluster {
  private readonly clock: Clock;
  private readonly ev: EngineEvents | undefined;
  private readonly heap = new PyHeap();
  private time = 0;
  private armed: TimerHandle | undefined;
  private armedAt = Infinity;
  private readonly insts: Inst[] = [];
  private readonly sched: ClusterScheduler;
  private readonly kv: number;
  private readonly slab = new RequestSlab();
  protected readonly infos: MachineInfo[];
  private readonly liveKeys: boolean;
  private readonly power: NonNullable<ClusterOptions['power']>;
  private selSerial = 0;

  constructor(dep: Deployment, given: ClusterOptions) {
    super();
    const opts = withDefaults(dep, { ...given, compat: 'splitwise' });
    this.clock = opts.clock;
    this.ev = opts.events;
    this.liveKeys = (opts.compatPendingKey ?? 'live') === 'live';
    this.power = opts.power ?? defaultPower;
    const { model, machines } = resolveMachines(dep, opts.catalog);
    this.kv = kvBytesPerToken(model, true);
    for (const rm of machines) {
      const cap = machineMemoryBytes(rm.spec, true);
      if (model.weightsBytes >= cap) {
        throw new ConfigError(`${model.name} does not fit in ${rm.spec.name} (SplitwiseSim capacity ${cap} B)`, {
          path: originOf(dep, `pools.${rm.role}.machine`),
        });
      }
      this.insts.push(
        new Inst(
          rm.id,
          rm.role,
          rm.spec,
          resolvePredictors(opts, rm.spec, model),
          model.weightsBytes,
          cap,
          rm.limits.maxBatchSize,
          rm.limits.maxBatchTokens,
          rm.limits.maxPreemptions,
        ),
      );
    }
    this.sched = createScheduler(dep.scheduler, poolsOf(this.insts), {
      kvBytesPerToken: this.kv,
      promptMaxPendingTokens: dep.promptMaxPendingTokens,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
    });
    this.infos = this.insts.map((m) => machineInfo(m.id, m.homePool, m.spec));
  }

  // ---- event loop ---------------------------------------------------------------------------------

  private readonly spareEvents: CEvent[] = [];

  private event(time: number, kind: number): CEvent {
    const e = this.spareEvents.pop() ?? new CEvent();
    e.time = time;
    e.kind = kind;
    e.cancelled = false;
    return e;
  }

  private recycle(e: CEvent): void {
    e.inst = undefined;
    e.flow = undefined;
    e.action = undefined;
    this.spareEvents.push(e);
  }

  /** Queue `e` (not a retry). */
  private enqueue(e: CEvent): CEvent {
    this.heap.push(e);
    this.progress++;
    this.armHead();
    return e;
  }

  /** `m`'s run ends in `delay` s; at once (inline, as SplitwiseSim's zero-delay actions) when 0. */
  private scheduleRunEnd(m: Inst, delay: number): void {
    if (delay === 0) {
      m.completionEv = undefined;
      this.completeIteration(m);
      return;
    }
    const e = this.event(this.time + delay, ITERATION_END);
    e.inst = m;
    m.completionEv = this.enqueue(e);
  }

  /**
   * Livelock bookkeeping. A KV flow whose destination is full retries every second, forever if nothing
   * frees memory there (SplitwiseSim then spins until its `end_time`, one day, with no request completing).
   * `progress` counts queued events that are not retries (iteration ends, transfer ends, queued arrivals);
   * `epoch` moves whenever any instance frees memory, the only thing that can let a retry succeed; a retry
   * that failed in the current epoch will fail again. When every queued event is such a retry, the state
   * can never change again: the clock is not re-armed, so a simulation ends there and reports the requests
   * in flight as never completed, what SplitwiseSim's outputs hold at its end time. The retries stay in the
   * heap (its layout unchanged): an external `submit` later drains them up to its time, exactly as they
   * would have run.
   */
  private progress = 0;
  private retries = 0;
  private freshFails = 0;
  private epoch = 1;

  private freed(): void {
    this.epoch++;
    this.freshFails = 0;
  }

  private scheduleRetry(f: Flow): void {
    const e = this.event(this.time + 1.0, FLOW_RETRY);
    e.flow = f;
    e.epoch = this.epoch;
    this.heap.push(e);
    this.retries++;
    this.freshFails++;
    this.armHead();
  }

  /** Only retries that will fail again are queued: nothing can happen any more. */
  private frozen(): boolean {
    return this.progress === 0 && this.retries > 0 && this.freshFails === this.retries;
  }

  /** Arm the clock for the heap's head (a frozen heap's old retries included) unless a drain is running. */
  private armHead(): void {
    if (this.draining) return;
    const head = this.heap.headTime();
    if (head < this.armedAt) this.arm(head);
  }

  private arm(t: number): void {
    this.armed?.cancel();
    this.armedAt = t;
    this.armed = this.clock.at(t, this.onDrain, EventRank.completion);
  }

  private draining = false;
  private readonly onDrain = (): void => this.drain();

  private drain(): void {
    this.armed = undefined;
    this.armedAt = Infinity;
    this.drainUpTo(this.clock.now(), true);
  }

  /**
   * Run internal events due by `now` in heap order, then arm the clock for the next one. With `onward`
   * (a clock callback) it goes on to later events while the clock can `advance` to them (nothing else
   * is scheduled by then: their callback would have run next anyway), so most events need no callback.
   */
  private drainUpTo(now: number, onward: boolean): void {
    this.draining = true;
    const heap = this.heap;
    const clock = this.clock;
    const advance = onward && clock.advance !== undefined;
    for (;;) {
      const t = heap.headTime();
      if (t > now) {
        if (!advance || t === Infinity || this.frozen() || !clock.advance!(t)) break;
        now = t;
      }
      const top = heap.pop()!;
      if (typeof top === 'number') {
        // A queued arrival (queueArrivals): its number.
        this.progress--;
        this.time = t;
        this.runArrival!(top, t);
        continue;
      }
      const e = top as CEvent;
      if (e.cancelled) {
        this.recycle(e);
        continue;
      }
      const kind = e.kind;
      if (kind === FLOW_RETRY) {
        this.retries--;
        if (e.epoch === this.epoch) this.freshFails--;
      } else {
        this.progress--;
      }
      this.time = e.time;
      if (kind === ITERATION_END) this.completeIteration(e.inst!);
      else if (kind === FLOW_END) this.flowCompletion(e.flow!);
      else if (kind === FLOW_RETRY) this.tryFlow(e.flow!);
      else e.action!();
      this.recycle(e);
    }
    this.draining = false;
    // Cancelled entries stay where they are (popping them early would change the heap's layout).
    const next = heap.headTime();
    if (next < this.armedAt && !this.frozen()) this.arm(next);
  }

  // ---- Cluster --------------------------------------------------------------------------------------

  /** Internal counters per instance, for invariant checks (tests, `sim --check`). */
  compatDebug(): readonly CompatInstanceState[] {
    return this.insts.map(({ id, pool, memory, memCapacity: capacity, weights, schedMemory, pendingTokens, pendingQueue, batch, pendingRequests }) => ({
      ...{ id, pool, memory, capacity, weights, schedMemory, pendingTokens },
      ...{ pendingTasks: pendingQueue.length, batch: batch.length, requests: pendingRequests.length },
    }));
  }

  bookings(): readonly MachineBookings[] {
    return bookingsOf(this.insts, (m) => (m as Inst).weights);
  }

  snapshot(): readonly MachineSnapshot[] {
    return this.insts.map((m) => {
      const phase = m.batch.length === 0 ? 'idle' : m.promptsInBatch === 0 ? 'decode' : m.tokensInBatch === 0 ? 'prompt' : 'mixed';
      const prompts = m.batchTokens - m.tokensInBatch;
      return {
        id: m.id,
        pool: m.pool,
        queuedRequests: m.pendingQueue.length,
        runningRequests: m.batch.length,
        batchSize: m.batch.length,
        batchPromptTokens: prompts,
        kvUsedTokens: Math.round((m.memory - m.weights) / this.kv),
        kvCapacityTokens: Math.floor((m.memCapacity - m.weights) / this.kv),
        watts: this.power(m.spec, { phase, batchSize: m.batch.length, batchTokens: m.batchTokens }),
        promptTokensTotal: m.promptTokensTotal,
        outputTokensTotal: m.outputTokensTotal,
        phase,
      };
    });
  }
  /**
   * An arrival event in the internal heap (SplitwiseSim's `schedule(arrival_timestamp, …)` at load time,
   * so its time is the arrival itself). `fn` runs at its turn in heap order, typically calling `submit`.
   */
  queueArrival(time: number, fn: () => void): void {
    if (!(time >= this.time)) throw new RangeError(`arrival at ${time} s is before the engine's time ${this.time} s`);
    const e = this.event(time, ACTION);
    e.action = fn;
    this.enqueue(e);
  }

  private runArrival: ((index: number, time: number) => void) | undefined;

  /**
   * Arrivals queued by number (see Cluster.queueArrivals): each takes 12 bytes in the heap, no object, and
   * sits where a `queueArrival` event at its time would (the heap orders by time only).
   */
  queueArrivals(run: (index: number, time: number) => void): (time: number) => void {
    if (this.runArrival) throw new RangeError('queueArrivals: already set up');
    this.runArrival = run;
    return (time) => {
      if (!(time >= this.time)) throw new RangeError(`arrival at ${time} s is before the engine's time ${this.time} s`);
      this.heap.pushArrival(time);
      this.progress++;
      this.armHead();
    };
  }

  submit(request: EngineRequest, observer: RequestObserver): SubmitHandle {
    const bad = requestProblem(request, this.live);
    if (bad) return failLater(this.clock, observer, `request ${request.id}: ${bad}`);
    if (!this.draining) {
      // Called from outside the heap (the clock, a live server): catch up first, since a real clock may
      // deliver an arrival before the timer of an earlier internal event fired. From inside the heap (a
      // queued arrival) the time is the event's and the events tied with it keep their heap order.
      const now = this.clock.now();
      if (this.heap.headTime() <= now) {
        this.armed?.cancel();
        this.armed = undefined;
        this.armedAt = Infinity;
        this.drainUpTo(now, false);
      }
      this.time = now;
    }
    const kv = this.kv;
    const prompt = new Task(undefined as unknown as CReq, true, request.promptTokens, kv);
    const token = new Task(undefined as unknown as CReq, false, request.outputTokens - 1, kv);
    const r = new CReq(request, observer, this.slab.take(this.time), prompt, token);
    (prompt as { req: CReq }).req = r;
    (token as { req: CReq }).req = r;
    token.obs = observer;
    this.live.set(request.id, r);
    const pl = this.sched.place(request.promptTokens, request.outputTokens);
    r.placed = pl;
    const p = pl.prompt as Inst;
    const t = pl.token as Inst;
    r.pool = p.pool;
    // A one-token request is all prompt phase: its token task stays empty, on the prompt machine.
    const oneToken = request.outputTokens === 1;
    if (p !== t && !oneToken) r.flow = { req: r, src: p, dest: t, bytes: kv * request.promptTokens, state: NONE };
    prompt.inst = p;
    token.inst = oneToken ? p : t;
    this.taskArrival(p, prompt);
    if (p === t && !oneToken) this.taskArrival(t, token);
    return r;
  }

  // ---- instance -----------------------------------------------------------------------------------

  private addToPool(m: Inst, task: Task): void {
    const r = task.req;
    // A chained decode task joins its prompt's entry.
    if (!task.isPrompt && r.prompt.inst === m && r.prompt.state !== COMPLETED) return;
    const a = m.pendingRequests;
    const v = this.slab.v;
    const key = v[r.at + F_ARRIVAL]!;
    let lo = 0;
    let hi = a.length;
    if (hi > 0 && v[a[hi - 1]!.at + F_ARRIVAL]! <= key) lo = hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (key < v[a[mid]!.at + F_ARRIVAL]!) hi = mid;
      else lo = mid + 1;
    }
    insertAt(a, lo, r);
  }

  private removeFromPool(m: Inst, task: Task): void {
    const r = task.req;
    // A completed prompt whose decode task waits on the same instance keeps the entry.
    if (task.isPrompt && r.token.inst === m && r.token.state !== NONE) return;
    removeItem(m.pendingRequests, r);
  }

  /** bisect.insort_right by (counter, arrival): over current counters ('live', as SplitwiseSim's bisect does) or frozen keys. */
  private addPendingTask(m: Inst, task: Task, preempt: boolean): void {
    const a = m.pendingQueue;
    const c = counterOf(task);
    const v = this.slab.v;
    const arr = v[task.req.at + F_ARRIVAL]!;
    task.frozen = c;
    let lo = 0;
    let hi = a.length;
    const live = this.liveKeys;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const o = a[mid]!;
      const oc = live ? counterOf(o) : o.frozen;
      if (c < oc || (c === oc && arr < v[o.req.at + F_ARRIVAL]!)) hi = mid;
      else lo = mid + 1;
    }
    insertAt(a, lo, task);
    if (preempt) m.blockedQueue.push(task);
    if (task.isPrompt) m.promptQueue.push(task);
  }

  private taskArrival(m: Inst, task: Task): void {
    task.inst = m;
    task.state = QUEUED;
    // A chained decode task is not its request's current task until its prompt completes.
    const r = task.req;
    if (task.isPrompt || r.prompt.inst !== m || r.prompt.state === COMPLETED) startWaiting(task);
    this.addToPool(m, task);
    this.addPendingTask(m, task, false);
    if (m.completing) return;
    if (m.batch.length === 0) {
      if (m.memory + task.memory > m.memCapacity) return;
      this.startIteration(m);
      return;
    }
    if (m.batch.length < m.maxBatchSize && m.batchTokens + task.tpi <= m.maxBatchTokens) {
      this.pauseIteration(m);
      return;
    }
    if (task.isPrompt) {
      const batchPromptTokens = m.batchTokens - m.tokensInBatch;
      if (m.promptsInBatch < m.batch.length && batchPromptTokens + task.size <= m.maxBatchTokens) this.pauseIteration(m);
    }
  }

  private notifyFlowCompletion(m: Inst): void {
    if (m.pendingQueue.length === 0) return;
    const task = m.pendingQueue[0]!;
    if (m.batch.length === 0) {
      if (m.memory + task.memory > m.memCapacity) return;
      this.startIteration(m);
      return;
    }
    if (m.batch.length < m.maxBatchSize && m.batchTokens < m.maxBatchTokens) this.pauseIteration(m);
  }

  /**
   * SplitwiseSim's five-step selection (2.8). The previous batch's tasks selected again are exactly the
   * first `m.kept` of it, all taken by step 4 (a decode task of the batch is its request's current task and
   * in no list steps 1–3 read, and step 5 stops wherever step 4 did: same limits, no fewer tokens); the
   * other tasks selected, the newcomers, are `m.nb[0, m.nbSize)` in selection order.
   */
  private selectBatch(m: Inst): void {
    const serial = ++this.selSerial;
    const nb = m.nb;
    // k: tasks selected; j: newcomers stored in nb
    let k = 0;
    let j = 0;
    let tokens = 0;
    let memory = m.memory;
    const maxSize = m.maxBatchSize;
    const maxTok = m.maxBatchTokens;
    const cap = m.memCapacity;
    // 1. tasks that waited too long, from the head of the pending queue
    const pending = m.pendingQueue;
    for (let i = 0; i < pending.length; i++) {
      const t = pending[i]!;
      if (counterOf(t) < m.maxPreemptions) break;
      if (full(m, k, tokens, t.tpi)) break;
      if (t.req.selStamp === serial) continue;
      // A preempted task holds its KV already; another must fit.
      const held = t.state === BLOCKED;
      if (!held && t.memory + memory > cap) continue;
      tokens += take(nb, j++, t, serial);
      k++;
      if (!held) memory += t.memory;
    }
    // 2. new prompts, in arrival order
    const prompts = m.promptQueue;
    for (let i = 0; i < prompts.length; i++) {
      const t = prompts[i]!;
      if (full(m, k, tokens, t.size)) break;
      if (t.req.selStamp === serial) continue;
      if (t.memory + memory > cap) break;
      tokens += take(nb, j++, t, serial);
      k++;
      memory += t.memory;
    }
    // 3. preempted decodes, in preemption order
    const blocked = m.blockedQueue;
    for (let i = 0; i < blocked.length; i++) {
      const t = blocked[i]!;
      if (full(m, k, tokens, t.tpi)) break;
      if (t.req.selStamp === serial) continue;
      tokens += take(nb, j++, t, serial);
      k++;
    }
    // 4. the previous batch's decodes (selected again: marked, not stored)
    const batch = m.batch;
    let kept = 0;
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      if (full(m, k, tokens, t.tpi)) break;
      if (t.req.selStamp === serial) continue;
      t.req.selStamp = serial;
      tokens += t.tpi;
      k++;
      kept++;
    }
    m.kept = kept;
    // 5. the current task of every request on the instance, in request-arrival order (none left when
    // every request already has its task in the batch: one task per request)
    const requests = m.pendingRequests;
    if (k < requests.length)
      for (let i = 0; i < requests.length; i++) {
        const r = requests[i]!;
        if (k === maxSize) break;
        if (r.selStamp === serial) continue;
        const t = currentTask(m, r);
        if (k > 0 && tokens + t.tpi > maxTok) break;
        const held = t.state === BLOCKED;
        if (!held && t.memory + memory > cap) break;
        tokens += take(nb, j++, t, serial);
        k++;
        if (!held) memory += t.memory;
      }
    m.nbSize = j;
    m.batchTokens = tokens;
  }

  /**
   * Nothing waits on `m` and its batch is decode tasks only, one per request there: the five steps would
   * select that batch again, in its order (step 4; nothing is preempted, nothing joins, no counter moves
   * but the selection count), so it is kept as it is.
   */
  private unchanged(m: Inst): boolean {
    const size = m.batch.length;
    return (
      size > 0 &&
      m.promptsInBatch === 0 &&
      size === m.pendingRequests.length &&
      m.pendingQueue.length === 0 &&
      m.promptQueue.length === 0 &&
      m.blockedQueue.length === 0
    );
  }

  private startIteration(m: Inst): void {
    if (this.unchanged(m)) {
      ++this.selSerial;
      m.selections++;
      m.batchTokens = m.batch.length;
      this.launch(m);
      return;
    }
    this.selectBatch(m);
    // Preempt the previous batch's tasks that were not selected again, the end of it (they keep their KV).
    const batch = m.batch;
    const kept = m.kept;
    if (kept < batch.length) {
      for (let i = kept; i < batch.length; i++) {
        const t = batch[i]!;
        t.state = BLOCKED;
        t.inBatch = false;
        startWaiting(t);
        t.preemptions++;
        if (t.isPrompt) m.promptsInBatch--;
        else m.tokensInBatch--;
        this.addPendingTask(m, t, true);
      }
      truncate(batch, kept);
    }
    // Newcomers join after the survivors, in selection order.
    const nb = m.nb;
    const size = m.nbSize;
    for (let i = 0; i < size; i++) this.join(m, nb[i]!);
    if (size > 0) {
      // New tasks leave the pending queue, the preempted list and the prompt list (one pass each).
      dropInBatch(m.pendingQueue);
      dropInBatch(m.blockedQueue);
      dropInBatch(m.promptQueue);
    }
    // Every current task not in the new batch waited one more selection (the lazy counters).
    m.selections++;
    if (m.batch.length === 0) {
      if (m.pendingRequests.length === 0) this.sched.release?.(m);
      return;
    }
    this.launch(m);
  }

  /**
   * A newly selected task joins `m`'s batch (after the survivors, in selection order) and runs: a task
   * that never ran takes its KV now (a prompt starts).
   */
  private join(m: Inst, t: Task): void {
    t.inBatch = true;
    stopWaiting(t);
    m.batch.push(t);
    if (t.isPrompt) m.promptsInBatch++;
    else m.tokensInBatch++;
    if (t.state === QUEUED) {
      const v = this.slab.v;
      const r = t.req;
      if (t.isPrompt) v[r.at + F_PROMPT_START] = this.time;
      m.memory += t.memory;
      v[r.at + F_MEMORY]! += t.memory;
    }
    t.state = RUNNING;
  }

  /** Start the run of `m`'s selected batch (its tasks running). */
  private launch(m: Inst): void {
    // Iteration time, computed once per run from the batch as selected.
    const pr = m.pred;
    if (m.tokensInBatch === 0) m.iterDur = pr.promptTime(m.batchTokens);
    else if (m.promptsInBatch === 0) m.iterDur = m.decodeTime(m.batchTokens);
    else m.iterDur = pr.promptTime(m.batchTokens) * 1.1;
    if (!(m.iterDur > 0))
      throw new ConfigError(`performance model gave a non-positive iteration time (${m.iterDur} s) on ${m.id} for ${m.batchTokens} batch tokens`);
    // A prompt is always one whole iteration; a decode-only batch runs until its shortest task ends.
    let n = 1;
    if (m.promptsInBatch === 0) {
      n = Infinity;
      const batch = m.batch;
      for (let i = 0; i < batch.length; i++) {
        const t = batch[i]!;
        const left = t.size - t.generated;
        if (left < n) n = left;
      }
    }
    m.nContig = n;
    m.runStart = this.time;
    this.scheduleRunEnd(m, m.iterDur * m.nContig);
    if (this.ev?.iterationStart) this.ev.iterationStart((m.runEvent = this.iterEvent(m)));
    else m.runEvent = undefined;
  }

  private iterEvent(m: Inst): IterationEvent {
    const phase = m.promptsInBatch === 0 ? 'decode' : m.tokensInBatch === 0 ? 'prompt' : 'mixed';
    return {
      machine: m.id,
      start: m.runStart,
      end: m.runStart + m.iterDur * m.nContig,
      phase: phase as 'decode' | 'prompt' | 'mixed',
      batchSize: m.batch.length,
      promptTokens: m.batchTokens - m.tokensInBatch,
      decodes: m.tokensInBatch,
      iterations: m.nContig,
    };
  }

  /** Cut a decode-only run at the first iteration boundary strictly after now. */
  private pauseIteration(m: Inst): void {
    if (m.pauseNext || m.promptsInBatch > 0) return;
    m.pauseNext = true;
    const ev = m.completionEv!;
    const oldDur = m.iterDur * m.nContig;
    const start = ev.time - oldDur;
    const elapsed = this.time - start;
    // An arrival at the very instant the run ends would overshoot in the original; keep the run's length.
    const n = Math.min(pyFloorDiv(this.time - start, m.iterDur) + 1, m.nContig);
    m.nContig = n;
    const remaining = m.iterDur * n - elapsed;
    ev.cancelled = true;
    this.progress--;
    this.scheduleRunEnd(m, remaining);
  }

  private completeIteration(m: Inst): void {
    // The run's start event says it all again unless the run was cut (new end, fewer iterations).
    if (this.ev?.iterationEnd) this.ev.iterationEnd(m.runEvent === undefined || m.pauseNext ? this.iterEvent(m) : m.runEvent);
    const now = this.time;
    const n = m.nContig;
    const completed = m.completed;
    let done = 0;
    const batch = m.batch;
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      if (t.isPrompt) {
        t.generated += 1;
        m.promptTokensTotal += t.size;
        m.outputTokensTotal += 1;
        if (t.generated === 1) done = put(completed, done, t);
      } else {
        // Its first decode tokens are the request's second token.
        if (t.generated === 0) this.slab.v[t.req.at + F_SECOND_TOKEN] = now;
        t.generated += n;
        m.outputTokensTotal += n;
        t.obs.onTokens(n, now);
        if (t.generated === t.size) done = put(completed, done, t);
      }
    }
    if (done > 0) {
      // Observers may submit work synchronously: hold its selection until this one is done.
      m.completing = true;
      for (let i = 0; i < done; i++) this.taskCompletion(m, completed[i]!);
      m.completing = false;
      let w = 0;
      for (let i = 0; i < batch.length; i++) {
        const t = batch[i]!;
        if (t.inBatch) batch[w++] = t;
      }
      truncate(batch, w);
    }
    m.pauseNext = false;
    this.startIteration(m);
  }

  private taskCompletion(m: Inst, t: Task): void {
    const r = t.req;
    t.state = COMPLETED;
    t.inBatch = false;
    if (t.isPrompt) m.promptsInBatch--;
    else m.tokensInBatch--;
    this.removeFromPool(m, t);
    if (t.isPrompt) {
      // A chained decode task is now its request's current task here.
      if (r.token.inst === m && r.token.state === QUEUED) startWaiting(r.token);
      r.placed.promptDone();
      this.slab.v[r.at + F_PROMPT_END] = this.time;
      r.obs.onTokens(1, this.time);
      if (r.flow && r.flow.state === NONE) this.flowArrival(r.flow);
      else if (r.r.outputTokens === 1) this.releaseRequest(m, r);
    } else {
      this.releaseRequest(m, r);
    }
  }

  /** The request's last task ended on `m`: its KV there is free, its placement handed back. */
  private releaseRequest(m: Inst, r: CReq): void {
    const v = this.slab.v;
    m.memory -= v[r.at + F_MEMORY]!;
    v[r.at + F_MEMORY] = 0;
    if (r.cancelled) r.placed.cancelled();
    else r.placed.finished();
    this.freed();
    this.finishRequest(r);
  }

  // ---- KV flow (a DummyLink per flow: no contention, 1 s retries) ---------------------------------

  private flowArrival(f: Flow): void {
    f.state = QUEUED;
    this.tryFlow(f);
  }

  private tryFlow(f: Flow): void {
    if (f.state !== QUEUED) return;
    if (f.dest.memory + this.slab.v[f.req.at + F_MEMORY]! <= f.dest.memCapacity) this.runFlow(f);
    else this.scheduleRetry(f);
  }

  private runFlow(f: Flow): void {
    f.state = RUNNING;
    const r = f.req;
    const v = this.slab.v;
    v[r.at + F_FLOW_START] = this.time;
    f.dest.memory += v[r.at + F_MEMORY]!;
    if (this.ev?.kvTransferStart) this.ev.kvTransferStart({ requestId: r.r.id, from: f.src.id, to: f.dest.id, time: this.time, bytes: f.bytes });
    const e = this.event(this.time + f.bytes / SPLITWISE_TRANSFER_BYTES_PER_S, FLOW_END);
    e.flow = f;
    this.enqueue(e);
  }

  private flowCompletion(f: Flow): void {
    f.state = COMPLETED;
    const r = f.req;
    const v = this.slab.v;
    v[r.at + F_FLOW_END] = this.time;
    f.src.memory -= v[r.at + F_MEMORY]!;
    r.placed.kvShipped();
    this.freed();
    if (this.ev?.kvTransferEnd) this.ev.kvTransferEnd({ requestId: r.r.id, from: f.src.id, to: f.dest.id, time: this.time, bytes: f.bytes });
    this.taskArrival(f.dest, r.token);
    this.notifyFlowCompletion(f.src);
  }

  private finishRequest(r: CReq): void {
    r.done = true;
    this.live.delete(r.r.id);
    const now = this.time;
    const v = this.slab.v;
    const at = r.at;
    const promptEnd = v[at + F_PROMPT_END]!;
    const promptStart = v[at + F_PROMPT_START]!;
    const second = secondTokenParts(promptEnd, v[at + F_SECOND_TOKEN]!, now, r.flow ? v[at + F_FLOW_END]! - v[at + F_FLOW_START]! : 0);
    const bd: RequestBreakdown = {
      queue: promptStart - v[at + F_ARRIVAL]!,
      prefill: promptEnd - promptStart,
      kvTransfer: second.kvTransfer,
      decodeWait: second.decodeWait,
      decode: second.decode,
      promptMachine: r.prompt.inst!.id,
      tokenMachine: r.token.inst!.id,
      pool: r.pool,
      preemptions: r.token.preemptions,
    };
    if (this.ev?.requestDone) this.ev.requestDone(r.r.id, bd, now);
    r.obs.onDone(bd, now);
    this.slab.release(at);
  }
}

const MUTED: RequestObserver = { onTokens: () => {}, onDone: () => {}, onFailed: () => {} };

export function createCompatCluster(dep: Deployment, opts: ClusterOptions): Cluster {
  return new CompatCluster(dep, opts);
}
