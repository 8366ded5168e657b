/**
 * Cluster schedulers: which machine runs a request's prompt phase and which its token phase, chosen at
 * arrival. A registry by name (`SCHEDULERS`); unknown names list the known ones. The same policies
 * serve the realistic engine, the SplitwiseSim-compatible mode and the worker router, over an abstract
 * view of machines whose counters (`pendingTokens`, `schedMemory`) only placements change.
 *
 * A placement books (SplitwiseSim's bookkeeping) `pendingTokens` += prompt on the prompt machine and += 1
 * on the token machine (prompt + 1 when one machine); `schedMemory` += KV(prompt+1) on the prompt machine
 * and += KV(prompt+1) + KV(output−1) on the token machine (once when one machine). The `Placement` it
 * returns un-books its own counters as the request's phases end: `promptDone` (first token: the prompt's
 * pending tokens), `kvShipped` (the prompt machine's KV went to the token machine: its memory), and one
 * of `finished`, `cancelled`, `failed` (whatever is still booked). A cluster calls these; it never
 * touches the counters itself.
 */
import { ConfigError } from '../errors.js';

export type PoolName = 'prompt' | 'token' | 'mixed';

export interface SchedMachine {
  readonly id: string;
  /** Pool it was provisioned into. */
  readonly homePool: PoolName;
  /** Pool it serves now (a borrowed machine: 'mixed'). */
  pool: PoolName;
  pendingTokens: number;
  /** Bytes reserved by placement decisions (compatible mode: starts at the weights). */
  schedMemory: number;
  /** Bytes `schedMemory` is compared with. */
  readonly memCapacity: number;
  /** Tasks waiting at the machine (its pending queue). */
  queueLength(): number;
  /** Prompt tokens of a request with these prefix block hashes its prefix cache holds now (absent: no cache). */
  cachedPrefixTokens?(hashes: readonly number[] | undefined): number;
  /** Seconds its performance model gives a prefill of `tokens` alone (for the cost-based router). */
  prefillSeconds?(tokens: number): number;
}

export interface SchedPools {
  readonly prompt: SchedMachine[];
  readonly token: SchedMachine[];
  readonly mixed: SchedMachine[];
}

export type PlacementState = 'placed' | 'finished' | 'cancelled' | 'failed';

/** Where a request runs, holding what its placement booked on those machines until it hands it back. */
export class Placement {
  private pendP: number;
  private pendT: number;
  private memP: number;
  private memT: number;
  private st: PlacementState = 'placed';
  constructor(
    readonly prompt: SchedMachine,
    readonly token: SchedMachine,
    promptTokens: number,
    outputTokens: number,
    kvBytesPerToken: number,
  ) {
    const kv = kvBytesPerToken;
    this.pendP = promptTokens;
    this.pendT = 1;
    if (prompt === token) {
      this.memP = kv * (promptTokens + 1) + kv * (outputTokens - 1);
      this.memT = 0;
    } else {
      this.memP = kv * (promptTokens + 1);
      this.memT = kv * (promptTokens + 1) + kv * (outputTokens - 1);
    }
    prompt.schedMemory += this.memP;
    token.schedMemory += this.memT;
    prompt.pendingTokens += this.pendP;
    token.pendingTokens += this.pendT;
  }
  get state(): PlacementState {
    return this.st;
  }
  /** The prompt phase ended (first token): its pending prompt tokens leave the prompt machine. */
  promptDone(): void {
    this.prompt.pendingTokens -= this.pendP;
    this.pendP = 0;
  }
  /** The prompt's KV left the prompt machine for the token machine: its memory there is free (one machine: nothing). */
  kvShipped(): void {
    if (this.prompt === this.token) return;
    this.prompt.schedMemory -= this.memP;
    this.memP = 0;
  }
  /** All output tokens produced: everything still booked goes back. */
  finished(): void {
    this.close('finished');
  }
  /** Cancelled by its client: everything still booked goes back. */
  cancelled(): void {
    this.close('cancelled');
  }
  /** Cannot be served (too large, a worker died): everything still booked goes back. */
  failed(): void {
    this.close('failed');
  }
  private close(how: PlacementState): void {
    if (this.st !== 'placed') return;
    this.st = how;
    this.prompt.pendingTokens -= this.pendP;
    this.token.pendingTokens -= this.pendT;
    this.prompt.schedMemory -= this.memP;
    this.token.schedMemory -= this.memT;
    this.pendP = this.pendT = this.memP = this.memT = 0;
  }
}

export interface ClusterScheduler {
  readonly name: string;
  /** Choose machines for a request and book them (`blockHashes`: its prefix block hashes, for KV-aware policies). */
  place(promptTokens: number, outputTokens: number, blockHashes?: readonly number[]): Placement;
  /** A machine ran dry (empty batch, no request left on it): a borrowed one returns to its pool. */
  release?(m: SchedMachine): void;
}

export interface SchedulerOptions {
  readonly seed?: number;
  /** KV bytes per token (for the memory test). */
  readonly kvBytesPerToken: number;
  /** `splitwise-mixed-pool`: a prompt machine with queued work is "long" past this many pending tokens (8192). */
  readonly promptMaxPendingTokens?: number;
}

/** Machines grouped by the pool they were provisioned into, in list order. */
export function poolsOf(machines: readonly SchedMachine[]): SchedPools {
  const pools: SchedPools = { prompt: [], token: [], mixed: [] };
  for (const m of machines) pools[m.homePool].push(m);
  return pools;
}

type Factory = (pools: SchedPools, opts: SchedulerOptions) => ClusterScheduler;

function book(p: SchedMachine, t: SchedMachine, prompt: number, output: number, kv: number): Placement {
  return new Placement(p, t, prompt, output, kv);
}

function minBy(list: readonly SchedMachine[], key: (m: SchedMachine) => number): SchedMachine | undefined {
  let best: SchedMachine | undefined;
  let bestKey = Infinity;
  for (const m of list) {
    const k = key(m);
    if (best === undefined || k < bestKey) {
      best = m;
      bestKey = k;
    }
  }
  return best;
}

/** `minBy` over [prompt, mixed, token] without building that list. */
function minOfAll(pools: SchedPools, key: (m: SchedMachine) => number): SchedMachine | undefined {
  const a = minBy(pools.prompt, key);
  const b = minBy(pools.mixed, key);
  const c = minBy(pools.token, key);
  let best = a;
  if (b !== undefined && (best === undefined || key(b) < key(best))) best = b;
  if (c !== undefined && (best === undefined || key(c) < key(best))) best = c;
  return best;
}

const byPending = (m: SchedMachine): number => m.pendingTokens;
const byMemory = (m: SchedMachine): number => m.schedMemory;

/** Split deployments (separate prompt and token pools) ship KV; otherwise one machine runs both. */
function isSplit(pools: SchedPools): boolean {
  return pools.prompt.length > 0 && pools.token.length > 0;
}

function allMachines(pools: SchedPools): SchedMachine[] {
  return [...pools.prompt, ...pools.mixed, ...pools.token];
}

const jsqTokens: Factory = (pools, opts) => ({
  name: 'jsq-tokens',
  place(prompt, output) {
    if (isSplit(pools)) {
      const p = minBy(pools.prompt, byPending)!;
      const t = minBy(pools.token, byPending)!;
      return book(p, t, prompt, output, opts.kvBytesPerToken);
    }
    const m = minOfAll(pools, byPending)!;
    return book(m, m, prompt, output, opts.kvBytesPerToken);
  },
});

const roundRobin: Factory = (pools, opts) => {
  let i = 0;
  let j = 0;
  return {
    name: 'round-robin',
    place(prompt, output) {
      if (isSplit(pools)) {
        const p = pools.prompt[i++ % pools.prompt.length]!;
        const t = pools.token[j++ % pools.token.length]!;
        return book(p, t, prompt, output, opts.kvBytesPerToken);
      }
      const all = allMachines(pools);
      const m = all[i++ % all.length]!;
      return book(m, m, prompt, output, opts.kvBytesPerToken);
    },
  };
};

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random: Factory = (pools, opts) => {
  const rnd = seededRandom(opts.seed ?? 0);
  const pick = (l: readonly SchedMachine[]): SchedMachine => l[Math.floor(rnd() * l.length)]!;
  return {
    name: 'random',
    place(prompt, output) {
      if (isSplit(pools)) return book(pick(pools.prompt), pick(pools.token), prompt, output, opts.kvBytesPerToken);
      const m = pick(allMachines(pools));
      return book(m, m, prompt, output, opts.kvBytesPerToken);
    },
  };
};

/**
 * Splitwise's cluster-level policy (SplitwiseSim `mixed_pool`), in this order:
 * (i) prompt: the prompt pool's machine with the fewest pending tokens, rejected when its queue is
 * non-empty and pending + prompt > 8192; then the same test on the mixed pool's best. (ii) token: the
 * token pool's machine with the least reserved memory, rejected when reserved + KV(prompt+1) +
 * KV(output−1) ≥ capacity; then the mixed pool's best. (iii) no prompt machine and a non-empty token
 * pool: borrow its fewest-pending-tokens machine into the mixed pool. (iv) no token machine and a
 * non-empty prompt pool: borrow its least-reserved-memory machine. (v) still missing one: the
 * fewest-pending-tokens machine over [prompt, mixed, token] runs both. Ties go to the first in list
 * order. A borrowed machine returns to the end of its pool when it runs dry.
 */
const splitwiseMixedPool: Factory = (pools, opts) => {
  const kv = opts.kvBytesPerToken;
  const maxPending = opts.promptMaxPendingTokens ?? 8192;
  const bestPrompt = (list: SchedMachine[], prompt: number): SchedMachine | undefined => {
    const m = minBy(list, byPending);
    if (m === undefined) return undefined;
    if (m.queueLength() > 0 && m.pendingTokens + prompt > maxPending) return undefined;
    return m;
  };
  const bestToken = (list: SchedMachine[], prompt: number, output: number): SchedMachine | undefined => {
    const m = minBy(list, byMemory);
    if (m === undefined) return undefined;
    if (m.schedMemory + (kv * (prompt + 1) + kv * (output - 1)) >= m.memCapacity) return undefined;
    return m;
  };
  const borrow = (from: SchedMachine[], m: SchedMachine): SchedMachine => {
    from.splice(from.indexOf(m), 1);
    pools.mixed.push(m);
    m.pool = 'mixed';
    return m;
  };
  return {
    name: 'splitwise-mixed-pool',
    place(prompt, output) {
      let p = bestPrompt(pools.prompt, prompt) ?? bestPrompt(pools.mixed, prompt);
      let t = bestToken(pools.token, prompt, output) ?? bestToken(pools.mixed, prompt, output);
      if (p === undefined && pools.token.length > 0) p = borrow(pools.token, minBy(pools.token, byPending)!);
      if (t === undefined && pools.prompt.length > 0) t = borrow(pools.prompt, minBy(pools.prompt, byMemory)!);
      if (p === undefined || t === undefined) {
        p = minOfAll(pools, byPending)!;
        t = p;
      }
      return book(p, t, prompt, output, kv);
    },
    release(m) {
      if (m.pool !== 'mixed' || m.homePool === 'mixed') return;
      const i = pools.mixed.indexOf(m);
      if (i >= 0) pools.mixed.splice(i, 1);
      m.pool = m.homePool;
      (m.homePool === 'prompt' ? pools.prompt : pools.token).push(m);
    },
  };
};

const cachedOf = (m: SchedMachine, hashes: readonly number[] | undefined): number => (hashes && m.cachedPrefixTokens ? m.cachedPrefixTokens(hashes) : 0);

/** The machine with the largest key; ties to the fewest pending tokens, then list order. */
function maxThenPending(list: readonly SchedMachine[], key: (m: SchedMachine) => number): SchedMachine {
  let best = list[0]!;
  let bestKey = key(best);
  for (let i = 1; i < list.length; i++) {
    const m = list[i]!;
    const k = key(m);
    if (k > bestKey || (k === bestKey && m.pendingTokens < best.pendingTokens)) {
      best = m;
      bestKey = k;
    }
  }
  return best;
}

/**
 * KV-aware routing, `prefix-affinity`: the prompt goes to the machine whose prefix cache holds the longest
 * leading run of the request's blocks, ties (no hit anywhere, the usual cold case) to the fewest pending
 * tokens; in a phase-split deployment over the prompt pool, the token machine by fewest pending tokens.
 * Without prefix caches (or block hashes) it is `jsq-tokens`.
 */
const prefixAffinity: Factory = (pools, opts) => ({
  name: 'prefix-affinity',
  place(prompt, output, hashes) {
    if (isSplit(pools)) {
      const p = maxThenPending(pools.prompt, (m) => cachedOf(m, hashes));
      const t = minBy(pools.token, byPending)!;
      return book(p, t, prompt, output, opts.kvBytesPerToken);
    }
    const m = maxThenPending(allMachines(pools), (m) => cachedOf(m, hashes));
    return book(m, m, prompt, output, opts.kvBytesPerToken);
  },
});

/**
 * KV-aware routing, `kv-cost` (the form of Dynamo's KV router and llm-d's prefix-aware scorer): the prompt
 * goes to the machine with the least estimated time to its first token, prefill(pending + prompt − cached)
 * seconds by that machine's performance model, where `pending` is the prompt tokens already queued there
 * and `cached` the request's prefix its cache holds; ties to the fewest pending tokens. The token machine of
 * a phase-split deployment: fewest pending tokens.
 */
const kvCost: Factory = (pools, opts) => {
  const cost = (m: SchedMachine, prompt: number, hashes: readonly number[] | undefined): number => {
    const work = m.pendingTokens + prompt - cachedOf(m, hashes);
    return m.prefillSeconds ? m.prefillSeconds(work) : work;
  };
  return {
    name: 'kv-cost',
    place(prompt, output, hashes) {
      if (isSplit(pools)) {
        const p = maxThenPending(pools.prompt, (m) => -cost(m, prompt, hashes));
        const t = minBy(pools.token, byPending)!;
        return book(p, t, prompt, output, opts.kvBytesPerToken);
      }
      const m = maxThenPending(allMachines(pools), (m) => -cost(m, prompt, hashes));
      return book(m, m, prompt, output, opts.kvBytesPerToken);
    },
  };
};

export const SCHEDULERS: Readonly<Record<string, Factory>> = Object.freeze({
  'jsq-tokens': jsqTokens,
  'splitwise-mixed-pool': splitwiseMixedPool,
  'round-robin': roundRobin,
  random,
  'prefix-affinity': prefixAffinity,
  'kv-cost': kvCost,
});

export const SCHEDULER_NAMES: readonly string[] = Object.keys(SCHEDULERS);

/** Build a scheduler by name; an unknown name is a ConfigError listing the known ones. */
export function createScheduler(name: string, pools: SchedPools, opts: SchedulerOptions, where = 'scheduler'): ClusterScheduler {
  const f = SCHEDULERS[name];
  if (!f) {
    throw new ConfigError(`unknown scheduler '${name}'`, { path: where, hint: `known schedulers: ${SCHEDULER_NAMES.join(', ')}` });
  }
  if (pools.prompt.length + pools.token.length + pools.mixed.length === 0) {
    throw new ConfigError('no machines to schedule on', { path: where });
  }
  return f(pools, opts);
}
