/**
 * The router of the real-inference mode: worker processes behind the engine's `Cluster` interface, so the
 * reference backend's HTTP layer (src/server) serves them unchanged.
 *
 * - Monolithic (`mono`): N `mixed` workers; each request runs its prompt and its decode on one worker.
 * - Phase-split (`split`): P prompt workers and M token workers; the engine's cluster scheduler (by name,
 *   e.g. jsq-tokens: join the shortest queue by pending tokens) picks both at arrival; the prompt worker
 *   sends the first token, then ships the KV state to the token worker over loopback TCP.
 *
 * Per-request breakdown (seconds on the router's monotonic clock; the prefill and KV durations measured in
 * the workers), built so that the parts add up: queue = TTFT − prefill; prefill = the prompt worker's prefill
 * time; kvTransfer = save the state + send it and get the receiver's ack + load it (0 when monolithic, capped
 * at the wait for the second token); decodeWait = (second token − first token) − kvTransfer (waiting for a
 * sequence or KV room on the token worker, the first decode step); decode = second token → last token.
 *
 * A worker that exits fails the requests it held (each gets `onFailed`, which the HTTP layer turns into an
 * error) and leaves the scheduler's pools; the others keep serving.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, SplitbenchError } from '../errors.js';
import { RealClock } from '../wallclock.js';
import {
  bookingsOf,
  createScheduler,
  poolsOf,
  requestProblem,
  secondTokenParts,
  type Cluster,
  type ClusterScheduler,
  type EngineRequest,
  type MachineBookings,
  type MachineInfo,
  type MachineSnapshot,
  type Placement,
  type PoolName,
  type RequestObserver,
  type SchedMachine,
  type SubmitHandle,
} from '../engine/index.js';
import { kvBytesPerToken, readModelShape, SPECIAL_TOKENS, type ModelShape } from './model.js';
import type { FromWorker, GpuMode, ToWorker, WorkerRole } from './protocol.js';

export type RealDeployment = 'mono' | 'split';

/** An observer that also wants the output token ids (tests, tools); the HTTP layer passes a plain one. */
export interface TokenIdObserver extends RequestObserver {
  /** The ids (and their texts and log-probabilities) of the tokens the next `onTokens` call counts. */
  onTokenIds?(ids: readonly number[], texts?: readonly string[], logprobs?: readonly number[]): void;
}
/** Cluster schedulers that apply to worker pools (no machine borrowing). */
export const REAL_SCHEDULERS = ['jsq-tokens', 'round-robin', 'random'] as const;
export type RealScheduler = (typeof REAL_SCHEDULERS)[number];

export interface RealClusterOptions {
  readonly modelFile: string;
  readonly deployment: RealDeployment;
  /** Monolithic: worker processes (default 1). */
  readonly workers?: number;
  /** Phase-split: prompt and token worker processes (default 1 each). */
  readonly promptWorkers?: number;
  readonly tokenWorkers?: number;
  /** llama.cpp threads per worker (default 1). */
  readonly threads?: number;
  /** Sequences per worker context: the most requests a worker batches (default 8). */
  readonly slots?: number;
  /** KV cells per sequence = the longest request, prompt + output (default min(2048, the model's context)). */
  readonly contextSize?: number;
  /** KV tokens a worker may hold at once (default slots × contextSize). */
  readonly kvTokens?: number;
  readonly gpu?: GpuMode;
  readonly scheduler?: RealScheduler;
  readonly seed?: number;
  readonly clock?: RealClock;
  /** Longest wait for the workers to load the model (ms). */
  readonly startTimeoutMs?: number;
}

interface Worker {
  readonly id: string;
  readonly role: WorkerRole;
  readonly child: ChildProcess;
  readonly sched: SchedMachine;
  port: number | undefined;
  device: string;
  alive: boolean;
  queued: number;
  running: number;
  kvUsed: number;
  promptTokensTotal: number;
  outputTokensTotal: number;
  exitReason: string | undefined;
}

interface Rec {
  readonly rid: string;
  readonly req: EngineRequest;
  readonly obs: TokenIdObserver;
  readonly p: Worker;
  readonly t: Worker;
  /** What its placement booked on the scheduler's counters. */
  readonly placed: Placement;
  readonly tSubmit: number;
  /** KV tokens reserved on each worker once started. */
  started: Set<Worker>;
  emitted: number;
  tFirst: number;
  /** When the second token arrived (NaN until then). */
  tSecond: number;
  prefillS: number;
  kvS: number;
  shipped: boolean;
  loaded: boolean;
  /** `done` arrived before the prompt worker's `shipped` (two IPC channels): finish on `shipped`. */
  doneEarly: { decodeS: number } | undefined;
  promptDone: boolean;
  finished: boolean;
}

const WORKER_ENTRY = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './process.ts' : './process.js', import.meta.url));

/** A deterministic prompt: the first `n` tokens of a fixed pseudo-random document over the model's ordinary tokens. */
export function promptIds(n: number, vocab: number): number[] {
  const span = vocab - SPECIAL_TOKENS;
  const out = new Array<number>(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = SPECIAL_TOKENS + (x % span);
  }
  return out;
}

export class RealCluster implements Cluster {
  readonly clock: RealClock;
  readonly shape: ModelShape;
  private readonly workers: Worker[] = [];
  private readonly byId = new Map<string, Worker>();
  private readonly recs = new Map<string, Rec>();
  private readonly pools = poolsOf([]);
  private scheduler!: ClusterScheduler;
  private readonly kvBytes: number;
  private seq = 0;
  private closing = false;
  private document: number[] = [];
  /** KV cells per sequence on every worker (as llama.cpp created them). */
  contextSize = 0;
  readonly kvTokens: number;
  readonly slots: number;

  private constructor(
    readonly opts: RealClusterOptions,
    shape: ModelShape,
  ) {
    this.clock = opts.clock ?? new RealClock(1);
    this.shape = shape;
    this.kvBytes = kvBytesPerToken(shape);
    this.slots = opts.slots ?? 8;
    this.contextSize = opts.contextSize ?? Math.min(2048, shape.context);
    this.kvTokens = opts.kvTokens ?? this.slots * this.contextSize;
  }

  /** Validate options, start the workers and wait until each has loaded the model. */
  static async start(opts: RealClusterOptions): Promise<RealCluster> {
    const problems: string[] = [];
    const int = (flag: string, v: number | undefined, min: number): void => {
      if (v !== undefined && (!Number.isInteger(v) || v < min)) problems.push(`${flag}: must be an integer ≥ ${min}, got ${v}`);
    };
    int('--workers', opts.workers, 1);
    int('--prompt-workers', opts.promptWorkers, 1);
    int('--token-workers', opts.tokenWorkers, 1);
    int('--threads', opts.threads, 1);
    int('--slots', opts.slots, 1);
    int('--context', opts.contextSize, 16);
    int('--kv-tokens', opts.kvTokens, 16);
    if (opts.deployment !== 'mono' && opts.deployment !== 'split')
      problems.push(`--deployment: must be mono or split with --engine real, got '${String(opts.deployment)}'`);
    if (opts.deployment === 'mono' && (opts.promptWorkers !== undefined || opts.tokenWorkers !== undefined)) {
      problems.push('--prompt-workers/--token-workers: only with --deployment split (use --workers for mono)');
    }
    if (opts.deployment === 'split' && opts.workers !== undefined)
      problems.push('--workers: only with --deployment mono (use --prompt-workers/--token-workers for split)');
    if (opts.scheduler !== undefined && !REAL_SCHEDULERS.includes(opts.scheduler)) {
      problems.push(`--scheduler: must be one of ${REAL_SCHEDULERS.join(', ')} with --engine real, got '${opts.scheduler}'`);
    }
    if (problems.length > 0) throw new ConfigError(problems.join('; '), { hint: 'see `splitbench serve --help`' });
    const shape = readModelShape(opts.modelFile);
    if (opts.contextSize !== undefined && opts.contextSize > shape.context) {
      throw new ConfigError(`${opts.contextSize} is more than the model's context of ${shape.context} tokens`, { path: '--context' });
    }
    const c = new RealCluster(opts, shape);
    c.document = promptIds(shape.context, shape.vocab);
    try {
      await c.spawnAll();
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  private async spawnAll(): Promise<void> {
    const o = this.opts;
    const plan: WorkerRole[] =
      o.deployment === 'mono'
        ? Array<WorkerRole>(o.workers ?? 1).fill('mixed')
        : [...Array<WorkerRole>(o.promptWorkers ?? 1).fill('prompt'), ...Array<WorkerRole>(o.tokenWorkers ?? 1).fill('token')];
    const count: Record<WorkerRole, number> = { mixed: 0, prompt: 0, token: 0 };
    const ready: Promise<void>[] = [];
    for (const role of plan) {
      const id = `${role}-${count[role]++}`;
      const child = fork(WORKER_ENTRY, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const pool: PoolName = role;
      const sched: SchedMachine = {
        id,
        homePool: pool,
        pool,
        pendingTokens: 0,
        schedMemory: 0,
        memCapacity: this.kvTokens * this.kvBytes,
        queueLength: () => w.queued,
      };
      const w: Worker = {
        id,
        role,
        child,
        sched,
        port: undefined,
        device: 'unknown',
        alive: true,
        queued: 0,
        running: 0,
        kvUsed: 0,
        promptTokensTotal: 0,
        outputTokensTotal: 0,
        exitReason: undefined,
      };
      this.workers.push(w);
      this.byId.set(id, w);
      this.pools[pool].push(sched);
      ready.push(this.awaitReady(w));
      const init: ToWorker = {
        type: 'init',
        id,
        role,
        modelFile: o.modelFile,
        slots: this.slots,
        contextSize: this.contextSize,
        kvTokens: this.kvTokens,
        threads: o.threads ?? 1,
        gpu: o.gpu ?? 'auto',
      };
      child.send(init);
    }
    await Promise.all(ready);
    this.scheduler = createScheduler(
      o.scheduler ?? 'jsq-tokens',
      this.pools,
      { kvBytesPerToken: this.kvBytes, ...(o.seed === undefined ? {} : { seed: o.seed }) },
      '--scheduler',
    );
  }

  private awaitReady(w: Worker): Promise<void> {
    const timeoutMs = this.opts.startTimeoutMs ?? 120_000;
    return new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        reject(new SplitbenchError('SB_WORKER', `worker ${w.id} did not start: ${why}`, { hint: 'check --model-file, --gpu and --context' }));
      };
      const timer = setTimeout(() => fail(`no answer in ${timeoutMs / 1000} s`), timeoutMs);
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          w.port = m.port;
          w.device = m.device;
          this.contextSize = m.contextSize;
          w.child.off('message', onMessage);
          w.child.on('message', (x: FromWorker) => this.onMessage(w, x));
          resolve();
        } else if (m.type === 'fatal') fail(m.message);
      };
      w.child.on('message', onMessage);
      w.child.once('exit', (code, signal) => {
        this.onExit(w, code, signal);
        fail(`exited (${signal ?? `code ${code}`})`);
      });
      w.child.on('error', (e) => fail(e.message));
    });
  }

  // ---- Cluster ------------------------------------------------------------------------------------

  submit(request: EngineRequest, observer: TokenIdObserver): SubmitHandle {
    const fail = (reason: string): SubmitHandle => {
      queueMicrotask(() => observer.onFailed(reason, this.clock.now()));
      return { cancel: () => {} };
    };
    const need = request.promptTokens + request.outputTokens;
    if (this.closing) return fail('server shutting down');
    const bad = requestProblem(request);
    if (bad) return fail(bad);
    if (need > this.contextSize) return fail(`prompt + output = ${need} tokens, more than the workers' context of ${this.contextSize}`);
    if (need > this.kvTokens) return fail(`prompt + output = ${need} tokens, more than a worker's KV budget of ${this.kvTokens}`);
    const split = this.opts.deployment === 'split';
    // A one-token request is all prompt phase: on a split cluster it needs a prompt worker only.
    const needsToken = split && request.outputTokens > 1;
    if (!split && this.pools.mixed.length === 0) return fail(`no workers left (${this.deadList()})`);
    if (split && this.pools.prompt.length === 0) return fail(`no prompt workers left (${this.deadList('prompt')})`);
    if (needsToken && this.pools.token.length === 0) {
      return fail(`no token workers left (${this.deadList('token')}); a request of more than one output token needs one`);
    }
    // With no token worker left (a one-token request), the scheduler puts both phases on one prompt worker.
    const placed = this.scheduler.place(request.promptTokens, request.outputTokens);
    const p = this.byId.get(placed.prompt.id)!;
    const t = this.byId.get(placed.token.id)!;
    const rid = `r${++this.seq}`;
    const rec: Rec = {
      rid,
      req: request,
      obs: observer,
      p,
      t,
      placed,
      tSubmit: this.clock.now(),
      started: new Set(),
      emitted: 0,
      tFirst: 0,
      tSecond: NaN,
      prefillS: 0,
      kvS: 0,
      shipped: false,
      loaded: false,
      doneEarly: undefined,
      promptDone: false,
      finished: false,
    };
    this.recs.set(rid, rec);
    p.queued++;
    const msg: ToWorker = {
      type: 'submit',
      rid,
      prompt: request.promptIds && request.promptIds.length === request.promptTokens ? [...request.promptIds] : this.document.slice(0, request.promptTokens),
      outputTokens: request.outputTokens,
      ...(request.logprobs ? { logprobs: true } : {}),
      ...(p !== t && request.outputTokens > 1 ? { to: { id: t.id, port: t.port! } } : {}),
    };
    p.child.send(msg);
    return {
      cancel: () => {
        if (rec.finished) return;
        this.finish(rec, 'cancelled');
        this.tell(rec.p, { type: 'cancel', rid });
        if (rec.t !== rec.p) this.tell(rec.t, { type: 'cancel', rid });
      },
    };
  }

  machines(): readonly MachineInfo[] {
    return this.workers.map((w) => ({
      id: w.id,
      type: `llama.cpp-${w.device}-${this.opts.threads ?? 1}t`,
      pool: w.role,
      gpus: w.device === 'cpu' ? 0 : 1,
      pricePerHour: 0,
      tdpW: 0,
      idleW: 0,
    }));
  }

  snapshot(): readonly MachineSnapshot[] {
    return this.workers.map((w) => ({
      id: w.id,
      pool: w.role,
      queuedRequests: w.queued,
      runningRequests: w.running,
      batchSize: w.running,
      batchPromptTokens: 0,
      kvUsedTokens: w.kvUsed,
      kvCapacityTokens: w.alive ? this.kvTokens : 0,
      watts: 0,
      promptTokensTotal: w.promptTokensTotal,
      outputTokensTotal: w.outputTokensTotal,
      phase: w.running > 0 ? (w.role === 'prompt' ? 'prompt' : w.role === 'token' ? 'decode' : 'mixed') : 'idle',
    }));
  }

  inFlight(): number {
    return this.recs.size;
  }

  bookings(): readonly MachineBookings[] {
    return bookingsOf(this.workers.map((w) => w.sched));
  }

  inFlightIds(): readonly string[] {
    return [...this.recs.values()].map((r) => r.req.id);
  }

  /** Worker process ids by worker id (for operators and fault tests). */
  workerPids(): ReadonlyMap<string, number> {
    return new Map(this.workers.filter((w) => w.alive).map((w) => [w.id, w.child.pid!]));
  }

  /** 'cpu' or the GPU backend the workers use. */
  get device(): string {
    return this.workers[0]?.device ?? 'unknown';
  }

  // ---- worker events ----------------------------------------------------------------------------

  private tell(w: Worker, m: ToWorker): void {
    if (w.alive && w.child.connected) w.child.send(m);
  }

  private kvNeed(rec: Rec, w: Worker): number {
    return w === rec.p && rec.p !== rec.t && rec.req.outputTokens > 1 ? rec.req.promptTokens + 1 : rec.req.promptTokens + rec.req.outputTokens;
  }

  private onMessage(w: Worker, m: FromWorker): void {
    if (m.type === 'ready' || m.type === 'fatal') return;
    const rec = this.recs.get(m.rid);
    if (!rec || rec.finished) return;
    const now = this.clock.now();
    switch (m.type) {
      case 'started':
        if (w === rec.p && !rec.started.has(w)) w.queued--;
        rec.started.add(w);
        w.running++;
        w.kvUsed += this.kvNeed(rec, w);
        return;
      case 'tokens': {
        const n = m.ids.length;
        if (rec.emitted === 0) {
          rec.tFirst = now;
          rec.prefillS = m.prefillS ?? 0;
          w.promptTokensTotal += rec.req.promptTokens;
          this.promptPhaseDone(rec);
          if (n > 1) rec.tSecond = now;
        } else if (rec.tSecond !== rec.tSecond) rec.tSecond = now;
        rec.emitted += n;
        w.outputTokensTotal += n;
        rec.obs.onTokenIds?.(m.ids, m.texts, m.logprobs);
        rec.obs.onTokens(n, now);
        return;
      }
      case 'shipped':
        rec.shipped = true;
        rec.kvS += m.saveS + m.wireS;
        this.release(rec, rec.p);
        if (rec.doneEarly) this.complete(rec, rec.doneEarly.decodeS, now);
        return;
      case 'loaded':
        rec.loaded = true;
        rec.kvS += m.loadS;
        return;
      case 'done':
        if (rec.p !== rec.t && rec.req.outputTokens > 1 && !rec.shipped) rec.doneEarly = { decodeS: m.decodeS };
        else this.complete(rec, m.decodeS, now);
        return;
      case 'failed':
        this.fail(rec, `${w.id}: ${m.reason}`);
        return;
    }
  }

  /** The prompt phase ended (first token): the prompt worker's pending prompt tokens go back. */
  private promptPhaseDone(rec: Rec): void {
    if (rec.promptDone) return;
    rec.promptDone = true;
    rec.placed.promptDone();
    // The prompt worker keeps no KV once its first token is out (it ships or drops the state).
    rec.placed.kvShipped();
  }

  /** The worker no longer holds the request. */
  private release(rec: Rec, w: Worker): void {
    if (!rec.started.delete(w)) return;
    w.running--;
    w.kvUsed -= this.kvNeed(rec, w);
  }

  /** `_decodeS`: the token worker's own decode time (the breakdown uses the router's instants instead). */
  private complete(rec: Rec, _decodeS: number, now: number): void {
    const split = rec.p !== rec.t && rec.req.outputTokens > 1;
    // Router-clock instants, so that the parts add up: queue + prefill = TTFT, kvTransfer + decodeWait = the
    // wait for the second token, decode = the rest (the workers' own prefill figure sets the queue/prefill split).
    const ttft = rec.tFirst - rec.tSubmit;
    const prefill = Math.min(Math.max(0, rec.prefillS), ttft);
    rec.obs.onDone(
      {
        queue: ttft - prefill,
        prefill,
        ...secondTokenParts(rec.tFirst, rec.tSecond, now, split ? rec.kvS : 0),
        promptMachine: rec.p.id,
        tokenMachine: split ? rec.t.id : rec.p.id,
        pool: rec.p.role,
        preemptions: 0,
      },
      now,
    );
    this.finish(rec, 'finished');
  }

  private fail(rec: Rec, reason: string): void {
    if (rec.finished) return;
    const obs = rec.obs;
    this.finish(rec, 'failed');
    if (rec.t !== rec.p) {
      this.tell(rec.p, { type: 'cancel', rid: rec.rid });
      this.tell(rec.t, { type: 'cancel', rid: rec.rid });
    }
    obs.onFailed(reason, this.clock.now());
  }

  /** Forget the request: its placement handed back, no more callbacks. */
  private finish(rec: Rec, how: 'finished' | 'cancelled' | 'failed'): void {
    if (rec.finished) return;
    rec.finished = true;
    this.recs.delete(rec.rid);
    if (!rec.started.has(rec.p) && !rec.promptDone) rec.p.queued--;
    for (const w of [...rec.started]) this.release(rec, w);
    rec.placed[how]();
  }

  /** The dead workers (of one role), named with why they died. */
  private deadList(role?: WorkerRole): string {
    const dead = this.workers.filter((w) => !w.alive && (role === undefined || w.role === role));
    return dead.length === 0 ? 'none started' : dead.map((w) => `${w.id} ${w.exitReason}`).join(', ');
  }

  private onExit(w: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    if (!w.alive) return;
    w.alive = false;
    w.exitReason = `exited (${signal ?? `code ${code}`})`;
    for (const list of [this.pools.prompt, this.pools.token, this.pools.mixed]) {
      const i = list.indexOf(w.sched);
      if (i >= 0) list.splice(i, 1);
    }
    if (this.closing) return;
    process.stderr.write(`splitbench serve: worker ${w.id} (pid ${w.child.pid}) ${w.exitReason}; failing its requests, serving on with the others\n`);
    for (const rec of [...this.recs.values()]) {
      // A one-token request never reaches its token worker: only its prompt worker's death fails it.
      const needsT = rec.t !== rec.p && rec.req.outputTokens > 1;
      if (rec.p === w || (rec.t === w && needsT)) this.fail(rec, `worker ${w.id} (${w.role}) ${w.exitReason}`);
    }
    w.queued = 0;
    w.running = 0;
    w.kvUsed = 0;
  }

  /** Fail what is in flight, stop the workers (SIGKILL after a grace). Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const rec of [...this.recs.values()]) this.fail(rec, 'server shutting down');
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            const kill = setTimeout(() => w.child.kill('SIGKILL'), 3000);
            w.child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (w.child.connected) w.child.send({ type: 'stop' } satisfies ToWorker);
            else w.child.kill('SIGTERM');
          }),
      ),
    );
    this.clock.close();
  }
}
