/**
 * One machine of the realistic (default) engine: iteration-level continuous batching as a time-free
 * state machine. The cluster calls `nextBatch()`, asks the performance model how long that batch takes,
 * asks the clock to call back then, and calls `onIterationEnd()`; the instance never sees time.
 *
 * Choices (documented in docs/engine.md, "Cluster, schedulers, deployments, compatibility mode"):
 * - Token budget per iteration (`maxBatchTokens`, default 2048) counts prompt-chunk tokens plus one
 *   per decode, like vLLM's `max_num_batched_tokens`; a prompt larger than what is left of the budget
 *   is **chunked** over several iterations (chunked prefill), so a long prompt never stalls decodes
 *   for a whole multi-second prefill. Its first token comes out of the iteration of its last chunk.
 * - Batch order: running decodes first (oldest first), then running chunked prefills, then waiting
 *   requests FCFS (head-of-line: a waiting head that does not fit in KV memory blocks those behind it).
 * - KV cache in blocks of `blockTokens` (16) tokens; a request holds ceil(context / 16) blocks and grows
 *   as it decodes.
 * - Preemption by **recompute** (vLLM's default): when a running decode needs a block and none is
 *   free, the youngest running request (latest cluster arrival) loses its KV and goes back to the
 *   waiting queue in age order; when readmitted it prefills prompt + generated tokens again.
 *   Prompts whose KV waits for a transfer (`held`) are never preempted.
 * - Prefix cache (optional, `prefixCache`; prefix-cache.ts): when a request with prefix block hashes
 *   starts, the longest run of its leading 512-token blocks held in the cache is pinned and counted as
 *   already computed (at least one prompt token is always computed, for the first token), so its prefill
 *   costs only the uncached suffix, as a chunk at that offset (`promptOffsets`). When its prompt is
 *   prefilled its whole blocks join the cache (the request's own KV becomes the cache's, pinned by it; a
 *   block another request cached meanwhile is shared and the duplicate freed). Cached blocks share the KV
 *   memory: free blocks are taken first, then unpinned cached blocks (LRU), and only then is a running
 *   request preempted.
 */
import { PREFIX_BLOCK_TOKENS, PrefixCache, type CacheEntry } from './prefix-cache.js';

export const SeqMode = {
  /** Prefill and decode here (monolithic, or both phases on one machine). */
  full: 0,
  /** Prefill only; after the first token the KV is held until shipped (prompt machine). */
  prefillOnly: 1,
  /** Arrives with the prompt's KV (after a transfer) and decodes. */
  decodeOnly: 2,
} as const;
export type SeqModeValue = (typeof SeqMode)[keyof typeof SeqMode];

export const SeqState = { waiting: 0, running: 1, held: 2, done: 3, gone: 4, idle: 5 } as const;
export type SeqStateValue = (typeof SeqState)[keyof typeof SeqState];

/**
 * One request's presence on one instance. `tag` is the owner's (cluster's) per-request state. Fields in the
 * order the per-iteration passes read them (the decode path's first): an object's fields sit in declaration
 * order, and a decode then touches one or two cache lines of it.
 */
export class Seq<T = unknown> {
  state: SeqStateValue = SeqState.idle;
  /** Context tokens whose KV is on this instance. */
  computed = 0;
  /** Output tokens produced so far (over all machines). */
  generated = 0;
  readonly outputTokens: number;
  blocks = 0;
  /** Tokens to prefill before decoding: the prompt, or prompt + generated after a recompute. */
  target: number;
  /** This iteration: prefill chunk size (> 0) or 0 for a decode. */
  chunk = 0;
  readonly tag: T;
  mode: SeqModeValue;
  /** It has been in a batch as a decode (on this instance). */
  decoded = false;
  /** Age key: cluster arrival order (smaller = older). */
  readonly age: number;
  readonly promptTokens: number;
  readonly id: string;
  preemptions = 0;
  /** Prefix block hashes of the prompt (512-token blocks); set by the owner where the machine caches. */
  hashes: readonly number[] | undefined = undefined;
  /** Prefix-cache entries this request uses (their KV blocks count in `blocks` but belong to the cache). */
  readonly pinned: CacheEntry[] = [];
  /** Prompt tokens found in the prefix cache when it last started its prefill here. */
  cachedTokens = 0;

  constructor(id: string, age: number, mode: SeqModeValue, promptTokens: number, outputTokens: number, tag: T) {
    this.outputTokens = outputTokens;
    this.target = promptTokens;
    this.tag = tag;
    this.mode = mode;
    this.age = age;
    this.promptTokens = promptTokens;
    this.id = id;
  }
}

export interface InstanceLimits {
  /** Tokens per iteration: prompt-chunk tokens + 1 per decode (default 2048). */
  readonly maxBatchTokens: number;
  /** Requests per iteration (default 512). */
  readonly maxBatchSize: number;
  /** KV block size in tokens (default 16). */
  readonly blockTokens: number;
  /** Keep a prefix cache (default false). */
  readonly prefixCache?: boolean;
}

export const DEFAULT_LIMITS: InstanceLimits = Object.freeze({ maxBatchTokens: 2048, maxBatchSize: 512, blockTokens: 16 });

/** The batch of one iteration; valid until the next `onIterationEnd()`. */
export interface Batch<T = unknown> {
  /** Requests in the batch (decodes + prefill chunks). */
  readonly size: number;
  /** The request of each prefill chunk (aligned with `promptTokens`). */
  readonly chunkSeqs: readonly Seq<T>[];
  /** Decodes of the batch that are their request's first decode on this instance. */
  readonly firstDecodes: readonly Seq<T>[];
  /** Prompt tokens of each prefill chunk in the batch. */
  readonly promptTokens: readonly number[];
  /** Per chunk, the tokens of its prompt already prefilled here before it (0: a first chunk). */
  readonly promptOffsets: readonly number[];
  readonly decodes: number;
  /** Sum of the context lengths of the decodes. */
  readonly decodeContextTokens: number;
  /** Requests preempted while this batch was formed (their KV was dropped). */
  readonly preempted: readonly Seq<T>[];
}

/** What one iteration produced. Arrays are reused by the instance: read them before the next call. */
export interface IterationResult<T = unknown> {
  /**
   * Requests that produced one token this iteration: the first `emittedCount` entries (the array is reused
   * and never shortened, so entries past the count are stale).
   */
  readonly emitted: readonly Seq<T>[];
  readonly emittedCount: number;
  /** Requests whose prefill completed on a prefill-only instance: KV now held for the transfer. */
  readonly prefilled: readonly Seq<T>[];
  /** Requests that produced their last token (KV freed). */
  readonly finished: readonly Seq<T>[];
}

class SeqQueue<T> {
  private a: Seq<T>[] = [];
  private head = 0;
  get length(): number {
    return this.a.length - this.head;
  }
  peek(): Seq<T> | undefined {
    return this.a[this.head];
  }
  shift(): Seq<T> | undefined {
    const s = this.a[this.head];
    if (s === undefined) return undefined;
    this.a[this.head++] = undefined as unknown as Seq<T>;
    if (this.head > 1024 && this.head * 2 > this.a.length) {
      this.a = this.a.slice(this.head);
      this.head = 0;
    }
    return s;
  }
  /** Insert keeping age order (append when youngest, the usual case). */
  insertByAge(s: Seq<T>): void {
    let i = this.a.length;
    while (i > this.head && this.a[i - 1]!.age > s.age) i--;
    if (i === this.a.length) this.a.push(s);
    else this.a.splice(i, 0, s);
  }
  remove(s: Seq<T>): boolean {
    const i = this.a.indexOf(s, this.head);
    if (i < 0) return false;
    this.a.splice(i, 1);
    return true;
  }
}

/** The instance's reused batch: `seqs` is never shortened (no reallocation); its first `size` entries are the batch. */
class BatchState<T> implements Batch<T> {
  readonly seqs: Seq<T>[] = [];
  size = 0;
  readonly chunkSeqs: Seq<T>[] = [];
  readonly firstDecodes: Seq<T>[] = [];
  readonly promptTokens: number[] = [];
  readonly promptOffsets: number[] = [];
  decodes = 0;
  decodeContextTokens = 0;
  readonly preempted: Seq<T>[] = [];
}

/** The instance's reused iteration result. */
class IterationState<T> implements IterationResult<T> {
  readonly emitted: Seq<T>[] = [];
  emittedCount = 0;
  readonly prefilled: Seq<T>[] = [];
  readonly finished: Seq<T>[] = [];
}

export class Instance<T = unknown> {
  readonly limits: InstanceLimits;
  readonly capacityBlocks: number;
  freeBlocks: number;
  /** Waiting requests (not started, or preempted), in age order. */
  private readonly waiting = new SeqQueue<T>();
  /** Running requests (hold KV, prefilling or decoding), in age order. */
  private running: Seq<T>[] = [];
  /** Prefilled requests whose KV waits for a transfer. */
  heldCount = 0;
  private busy = false;

  // Reused per-iteration storage (no allocation per iteration).
  private readonly batch = new BatchState<T>();
  /** Running prefills seen by step 1 of `nextBatch` (age order), for step 2. */
  private readonly prefilling: Seq<T>[] = [];
  /**
   * Batch membership kept from one iteration to the next: unless `dirty`, the running decodes are the last
   * batch's decodes that stayed (compacted in order at the front of `batch.seqs` by `onIterationEnd`: `kept`
   * of them, their context sum `keptCtx`), the running prefills are `prefilling`, and the only decodes that
   * need a KV block are at the indices `needy`. Anything else that changes the running set (an admission,
   * a completed prefill, a preemption, a removal, a batch cut short) sets `dirty`: the next batch scans.
   */
  private dirty = true;
  private kept = 0;
  private keptCtx = 0;
  private readonly needy: number[] = [];
  /** Decodes that arrived (`admitDecoded`) during the current iteration: they join the kept ones at its end. */
  private readonly arrived: Seq<T>[] = [];
  /** Kept decodes that have not decoded here yet (the next batch's `firstDecodes`). */
  private readonly newKept: Seq<T>[] = [];
  private readonly result = new IterationState<T>();

  /** Totals for snapshots. */
  promptTokensTotal = 0;
  outputTokensTotal = 0;
  /** The prefix cache, when this machine keeps one. */
  readonly cache: PrefixCache | undefined;
  /** Prefix-cache totals (vLLM's queries/hits, in tokens; and in requests: looked up / hit ≥ 1 block). */
  cacheQueryTokens = 0;
  cacheHitTokens = 0;
  cacheQueries = 0;
  cacheHits = 0;

  constructor(
    readonly id: string,
    capacityTokens: number,
    limits: Partial<InstanceLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.capacityBlocks = Math.floor(capacityTokens / this.limits.blockTokens);
    this.freeBlocks = this.capacityBlocks;
    if (this.limits.prefixCache) {
      if (PREFIX_BLOCK_TOKENS % this.limits.blockTokens !== 0)
        throw new Error(`prefix cache: KV block size ${this.limits.blockTokens} does not divide ${PREFIX_BLOCK_TOKENS}`);
      this.cache = new PrefixCache(PREFIX_BLOCK_TOKENS / this.limits.blockTokens);
    } else {
      this.cache = undefined;
    }
  }

  get capacityTokens(): number {
    return this.capacityBlocks * this.limits.blockTokens;
  }
  get usedTokens(): number {
    return (this.capacityBlocks - this.freeBlocks) * this.limits.blockTokens;
  }
  get waitingCount(): number {
    return this.waiting.length;
  }
  get runningCount(): number {
    return this.running.length;
  }
  /** An iteration is in progress (between nextBatch() and onIterationEnd()). */
  get isBusy(): boolean {
    return this.busy;
  }
  /** Nothing waiting, running or held. */
  get isEmpty(): boolean {
    return this.waiting.length === 0 && this.running.length === 0 && this.heldCount === 0;
  }

  /** Tokens of KV held by the prefix cache (pinned or not). */
  get cachedTokens(): number {
    return this.cache ? this.cache.size * PREFIX_BLOCK_TOKENS : 0;
  }

  /** Prompt tokens of `hashes` this machine's cache holds now (longest leading run × 512; 0 without a cache). */
  cachedPrefixTokens(hashes: readonly number[] | undefined): number {
    return this.cache && hashes ? this.cache.match(hashes) * PREFIX_BLOCK_TOKENS : 0;
  }

  /** Blocks that could be made free now: free ones plus evictable cached ones. */
  private get availableBlocks(): number {
    return this.freeBlocks + (this.cache ? this.cache.evictable * this.cache.kvBlocksPerEntry : 0);
  }

  /** Evict unpinned cached blocks (LRU) until `need` blocks are free; false when they cannot be. */
  private reclaim(need: number): boolean {
    const c = this.cache;
    if (c) {
      while (this.freeBlocks < need) {
        if (c.evictOne() === undefined) break;
        this.freeBlocks += c.kvBlocksPerEntry;
      }
    }
    return this.freeBlocks >= need;
  }

  /** Free a request's KV: its own blocks go back, the cache entries it used are unpinned. */
  private dropKv(seq: Seq<T>): void {
    if (seq.pinned.length > 0) {
      this.freeBlocks += seq.blocks - seq.pinned.length * this.cache!.kvBlocksPerEntry;
      this.cache!.unpin(seq.pinned);
      seq.pinned.length = 0;
    } else {
      this.freeBlocks += seq.blocks;
    }
    seq.blocks = 0;
  }

  /** A request starting its prefill: pin the cached leading blocks and count them as computed. */
  private lookup(s: Seq<T>): void {
    const c = this.cache!;
    const hashes = s.hashes!;
    const usable = Math.min(hashes.length, Math.floor(s.promptTokens / PREFIX_BLOCK_TOKENS), Math.floor((s.target - 1) / PREFIX_BLOCK_TOKENS));
    const k = usable > 0 ? c.match(hashes, usable) : 0;
    s.cachedTokens = k * PREFIX_BLOCK_TOKENS;
    if (k === 0) return;
    c.pin(hashes, k, s.pinned);
    s.blocks = k * c.kvBlocksPerEntry;
    s.computed = s.cachedTokens;
  }

  /** A request's prompt is prefilled: its whole blocks join the cache. */
  private insertPrompt(s: Seq<T>): void {
    const c = this.cache!;
    const hashes = s.hashes!;
    const n = Math.min(hashes.length, Math.floor(s.promptTokens / PREFIX_BLOCK_TOKENS));
    for (let i = s.pinned.length; i < n; i++) {
      const h = hashes[i]!;
      if (c.has(h)) {
        // Cached meanwhile by another request: share that copy, free ours.
        s.pinned.push(c.pinOne(h));
        this.freeBlocks += c.kvBlocksPerEntry;
      } else {
        s.pinned.push(c.insert(h));
      }
    }
  }

  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.limits.blockTokens);
  }

  /** Whether a request of `tokens` context could ever fit here. */
  fits(tokens: number): boolean {
    return this.blocksFor(tokens) <= this.capacityBlocks;
  }

  /** Queue a request (prefill first). */
  admit(seq: Seq<T>): void {
    seq.state = SeqState.waiting;
    seq.computed = 0;
    seq.cachedTokens = 0;
    seq.target = seq.promptTokens + seq.generated;
    this.waiting.insertByAge(seq);
  }

  /** Reserve KV blocks for `tokens` of incoming context (a transfer); false when they are not free. */
  reserve(tokens: number): boolean {
    const b = this.blocksFor(tokens);
    if (!this.reclaim(b)) return false;
    this.freeBlocks -= b;
    return true;
  }

  /** Give back a reservation made with `reserve()` that will not be used. */
  unreserve(tokens: number): void {
    this.freeBlocks += this.blocksFor(tokens);
  }

  /** A request whose `computed` tokens of KV arrived (reserved with `reserve(computed)`); it decodes. */
  admitDecoded(seq: Seq<T>): void {
    seq.blocks = this.blocksFor(seq.computed);
    seq.target = seq.computed;
    seq.state = SeqState.running;
    const keep = !this.dirty && this.busy;
    this.insertRunning(seq);
    // During an iteration the batch is in use: the kept decodes take it in at the iteration's end.
    if (keep) {
      this.dirty = false;
      this.arrived.push(seq);
    }
  }

  /** Free the KV of a held (prefilled, shipped) request. */
  releaseHeld(seq: Seq<T>): void {
    if (seq.state !== SeqState.held) return;
    this.dropKv(seq);
    seq.state = SeqState.done;
    this.heldCount--;
  }

  /** Drop a request (cancelled): frees its KV; if it is in the current batch its result is ignored. */
  remove(seq: Seq<T>): void {
    this.dirty = true;
    switch (seq.state) {
      case SeqState.waiting:
        this.waiting.remove(seq);
        break;
      case SeqState.running: {
        const i = this.running.indexOf(seq);
        if (i >= 0) this.running.splice(i, 1);
        break;
      }
      case SeqState.held:
        this.heldCount--;
        break;
      default:
        return;
    }
    this.dropKv(seq);
    seq.state = SeqState.gone;
  }

  private insertRunning(seq: Seq<T>): void {
    this.dirty = true;
    const r = this.running;
    let i = r.length;
    while (i > 0 && r[i - 1]!.age > seq.age) i--;
    if (i === r.length) r.push(seq);
    else r.splice(i, 0, seq);
  }

  private preempt(seq: Seq<T>): void {
    const i = this.running.lastIndexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
    this.dropKv(seq);
    seq.preemptions++;
    this.batch.preempted.push(seq);
    this.admit(seq);
  }

  /** Form the next iteration's batch; undefined when there is nothing to run. */
  nextBatch(): Batch<T> | undefined {
    const L = this.limits;
    const bt = L.blockTokens;
    const maxSize = L.maxBatchSize;
    const b = this.batch;
    const seqs = b.seqs;
    const running = this.running;
    const prefilling = this.prefilling;
    clear(b.chunkSeqs);
    clear(b.firstDecodes);
    clear(b.promptTokens);
    clear(b.promptOffsets);
    clear(b.preempted);
    let n = 0;
    let decodes = 0;
    let ctx = 0;
    let budget = L.maxBatchTokens;
    const clean = !this.dirty && this.kept < Math.min(maxSize, budget);
    this.dirty = false;

    // 1. Running decodes, oldest first; preempt the youngest when a block is missing.
    if (clean) {
      // The same decodes as last time: only those past their blocks need work; the first that cannot get
      // one (a preemption) sends the whole step to the scan below, which then finds the same state.
      const needy = this.needy;
      let ok = true;
      for (let k = 0; k < needy.length; k++) {
        const s = seqs[needy[k]!]!;
        const need = Math.ceil((s.computed + 1) / bt) - s.blocks;
        if (!this.reclaim(need)) {
          ok = false;
          break;
        }
        this.freeBlocks -= need;
        s.blocks += need;
      }
      if (ok) {
        n = decodes = this.kept;
        ctx = this.keptCtx;
        budget -= n;
        const fresh = this.newKept;
        for (let k = 0; k < fresh.length; k++) {
          fresh[k]!.decoded = true;
          b.firstDecodes.push(fresh[k]!);
        }
      }
      if (!ok) this.dirty = true;
    }
    clear(this.newKept);
    if (!clean || this.dirty) {
      clear(prefilling);
      this.dirty = false;
      // The running prefills passed over are kept for step 2 (a preemption only removes requests not yet passed).
      let i = 0;
      for (; i < running.length && n < maxSize && budget > 0; ) {
        const s = running[i]!;
        const c = s.computed;
        if (c < s.target) {
          prefilling.push(s);
          i++;
          continue;
        }
        // A block more only when the next token is past the request's blocks (c + 1 > blocks x bt is
        // ceil((c + 1) / bt) > blocks).
        if (c + 1 > s.blocks * bt) {
          const need = Math.ceil((c + 1) / bt) - s.blocks;
          let self = false;
          // Free blocks first, then evictable cached blocks, and only then a preemption.
          while (!this.reclaim(need)) {
            const victim = running[running.length - 1]!;
            this.preempt(victim);
            this.dirty = true;
            if (victim === s) {
              self = true;
              break;
            }
          }
          if (self) continue;
          this.freeBlocks -= need;
          s.blocks += need;
        }
        s.chunk = 0;
        seqs[n++] = s;
        if (!s.decoded) {
          s.decoded = true;
          b.firstDecodes.push(s);
        }
        decodes++;
        ctx += c + 1;
        budget -= 1;
        i++;
      }
      // Cut short: the next batch scans again.
      if (i < running.length) this.dirty = true;
    }
    b.size = n;
    b.decodes = decodes;
    b.decodeContextTokens = ctx;

    // 2. Running chunked prefills (no preemption: a chunk shrinks to the free blocks). When step 1 stopped
    // early, this stops at once (same conditions).
    for (let k = 0; k < prefilling.length && b.size < maxSize && budget > 0; k++) {
      const s = prefilling[k]!;
      const chunk = this.chunkFor(s, budget);
      if (chunk <= 0) continue;
      this.takeChunk(s, chunk);
      budget -= chunk;
    }

    // 3. Waiting requests, FCFS.
    while (this.waiting.length > 0 && b.size < maxSize && budget > 0) {
      const s = this.waiting.peek()!;
      if (this.cache && s.hashes && s.computed === 0 && s.pinned.length === 0) this.lookup(s);
      const chunk = this.chunkFor(s, budget);
      // Head-of-line: wait for memory rather than start a sliver of a prompt.
      if (chunk < Math.min(s.target - s.computed, budget)) break;
      this.waiting.shift();
      if (this.cache && s.hashes) {
        this.cacheQueries++;
        this.cacheQueryTokens += s.promptTokens;
        if (s.cachedTokens > 0) {
          this.cacheHits++;
          this.cacheHitTokens += s.cachedTokens;
        }
      }
      s.state = SeqState.running;
      this.insertRunning(s);
      this.takeChunk(s, chunk);
      budget -= chunk;
    }

    if (b.size === 0) {
      this.dirty = true;
      return undefined;
    }
    this.busy = true;
    return b;
  }

  private chunkFor(s: Seq<T>, budget: number): number {
    const want = Math.min(s.target - s.computed, budget);
    const room = (s.blocks + this.availableBlocks) * this.limits.blockTokens - s.computed;
    return Math.min(want, room);
  }

  private takeChunk(s: Seq<T>, chunk: number): void {
    const need = Math.ceil((s.computed + chunk) / this.limits.blockTokens) - s.blocks;
    if (need > 0) {
      this.reclaim(need);
      this.freeBlocks -= need;
      s.blocks += need;
    }
    s.chunk = chunk;
    const b = this.batch;
    b.seqs[b.size++] = s;
    b.chunkSeqs.push(s);
    b.promptTokens.push(chunk);
    b.promptOffsets.push(s.computed);
  }

  /** A request produced its last token: its KV is freed. */
  private finish(s: Seq<T>): void {
    this.dropKv(s);
    s.state = SeqState.done;
    this.result.finished.push(s);
  }

  /** Apply the finished iteration: advance every request of the batch. */
  onIterationEnd(): IterationResult<T> {
    this.busy = false;
    const res = this.result;
    const emitted = res.emitted;
    const prefilled = res.prefilled;
    const finished = res.finished;
    clear(prefilled);
    clear(finished);
    const b = this.batch;
    const seqs = b.seqs;
    const n = b.size;
    const d = b.decodes;
    const bt = this.limits.blockTokens;
    const needy = this.needy;
    clear(needy);
    let ne = 0;
    let leaving = 0;
    // Decodes (the front of the batch): the ones that stay are compacted in order at the front of `seqs`.
    let kept = 0;
    let keptCtx = 0;
    for (let k = 0; k < d; k++) {
      const s = seqs[k]!;
      if (s.state !== SeqState.running) continue;
      const c = ++s.computed;
      s.generated += 1;
      emitted[ne++] = s;
      if (s.generated >= s.outputTokens) {
        this.finish(s);
        leaving++;
      } else {
        if (c + 1 > s.blocks * bt) needy.push(kept);
        seqs[kept++] = s;
        keptCtx += c + 1;
      }
    }
    // Prefill chunks: one that completes changes the running set.
    for (let k = d; k < n; k++) {
      const s = seqs[k]!;
      if (s.state !== SeqState.running) continue;
      s.computed += s.chunk;
      this.promptTokensTotal += s.chunk;
      if (s.computed < s.target) continue;
      this.dirty = true;
      if (this.cache && s.hashes) this.insertPrompt(s);
      s.generated += 1;
      emitted[ne++] = s;
      if (s.generated >= s.outputTokens) {
        this.finish(s);
        leaving++;
      } else if (s.mode === SeqMode.prefillOnly) {
        s.state = SeqState.held;
        this.heldCount++;
        prefilled.push(s);
        leaving++;
      }
    }
    // Decodes that arrived meanwhile join the kept ones in age order.
    const arrived = this.arrived;
    for (let a = 0; a < arrived.length; a++) {
      const s = arrived[a]!;
      let pos = kept;
      while (pos > 0 && seqs[pos - 1]!.age > s.age) {
        seqs[pos] = seqs[pos - 1]!;
        pos--;
      }
      seqs[pos] = s;
      kept++;
      keptCtx += s.computed + 1;
      for (let k = 0; k < needy.length; k++) if (needy[k]! >= pos) needy[k]!++;
      if (s.computed + 1 > s.blocks * bt) {
        needy.push(pos);
        needy.sort((x, y) => x - y);
      }
      this.newKept.push(s);
    }
    clear(arrived);
    this.kept = kept;
    this.keptCtx = keptCtx;
    this.outputTokensTotal += ne;
    res.emittedCount = ne;
    if (leaving > 0) {
      let w = 0;
      const r = this.running;
      for (let i = 0; i < r.length; i++) {
        const s = r[i]!;
        if (s.state === SeqState.running) r[w++] = s;
      }
      r.length = w;
    }
    return res;
  }
}

/** Empty a reused array (setting the length of an empty one is not free). */
function clear(a: unknown[]): void {
  if (a.length > 0) a.length = 0;
}
