/**
 * One worker's inference engine: a llama.cpp model (node-llama-cpp) with one context of `slots`
 * sequences. Requests running at the same time are decoded together: node-llama-cpp gathers the pending
 * tokens of every sequence into one native decode per step (continuous batching of prompts and decodes).
 *
 * Admission is first come, first served under two limits: a free sequence, and the worker's KV budget in
 * tokens (each request reserves prompt + output tokens, a prefill-only request prompt + 1). A request that
 * does not fit waits in the worker's queue.
 *
 * Three kinds of work: `generate` (prompt and decode on this worker: the monolithic path), `prefill`
 * (prompt worker: the prompt, the first token, then the sequence state as bytes) and `decodeFrom`
 * (token worker: load a state and produce the remaining tokens). Sampling is greedy and end-of-sequence
 * tokens do not stop a request (`ignore_eos`): every request produces exactly its output tokens.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import type { GpuMode } from './protocol.js';

export interface EngineOptions {
  readonly modelFile: string;
  readonly slots: number;
  /** KV cells per sequence (tokens); the largest prompt + output one request may have. */
  readonly contextSize: number;
  /** KV tokens the worker may hold at once (default slots × contextSize). */
  readonly kvTokens?: number;
  readonly threads: number;
  readonly gpu: GpuMode;
  /** Folder for state files in transit (default: /dev/shm where it exists, else the OS temp folder). */
  readonly tmpDir?: string;
}

/** Memory-backed folder for state files when the system has one (llama.cpp saves and loads states via files). */
function stateDir(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/** A request's hold on a sequence and its KV reservation. */
interface Slot {
  readonly seq: LlamaContextSequence;
  release(): Promise<void>;
}

interface Waiter {
  readonly need: number;
  readonly resolve: (s: Slot) => void;
  readonly reject: (e: Error) => void;
}

/** Cancels a request queued or running on the engine. */
export class Cancel {
  cancelled = false;
  private readonly listeners: (() => void)[] = [];
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const l of this.listeners.splice(0)) l();
  }
  onCancel(l: () => void): void {
    if (this.cancelled) l();
    else this.listeners.push(l);
  }
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

export interface TokenSink {
  /** The request was admitted (holds a sequence). */
  onStart?(): void;
  /** One output token; `prefillS` on the first token of a request that ran its prompt here; `logprob` when asked. */
  onToken(id: number, prefillS?: number, logprob?: number): void;
  /** Report each token's log-probability (natural log of the model's softmax over its raw logits). */
  readonly logprobs?: boolean;
}

/**
 * Greedy tokens of `input` on `seq` (end-of-sequence tokens yielded, not stopping), with each token's natural-log
 * probability when `logprobs` (llama.cpp's confidence: the softmax of the raw logits).
 */
async function* sampled(seq: LlamaContextSequence, input: readonly number[], logprobs: boolean): AsyncGenerator<{ tok: number; lp: number | undefined }> {
  const opts = { temperature: 0, yieldEogToken: true };
  if (!logprobs) {
    for await (const tok of seq.evaluate(input as Token[], opts)) yield { tok: tok as number, lp: undefined };
    return;
  }
  for await (const o of seq.evaluateWithMetadata(input as Token[], { confidence: true }, opts)) yield { tok: o.token as number, lp: Math.log(o.confidence) };
}

/** State files left by a worker that was killed mid-copy (its pid in the name is gone). */
function removeStaleStateFiles(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^splitbench-kv-(\d+)-\d+\.bin$/.exec(n);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
      try {
        fs.rmSync(path.join(dir, n), { force: true });
      } catch {
        // Another user's stale file in a sticky shared folder (/dev/shm): not ours to remove; leave it.
      }
    }
  }
}

/**
 * Exclusive use of a sequence's context for a state copy, and the native calls to make under it.
 *
 * node-llama-cpp's `saveStateToFile`/`loadStateFromFile` wait for the context's lock, which its batch
 * dispatcher holds while it works through every queued decode (a long prefill's chunks included): timed
 * around those calls, a KV transfer would mostly measure other requests' compute. So the lock is taken
 * here first (the same lock, through the lifecycle-utils copy node-llama-cpp itself uses) and only the
 * copy is timed. This uses internals of node-llama-cpp 3.21.1 (pinned exactly); when they are not there,
 * `exclusive` returns undefined and the public calls are used, waiting included.
 */
interface Exclusive {
  readonly native: {
    saveSequenceStateToFile(file: string, sequenceId: number, tokens: Uint32Array): Promise<number>;
    loadSequenceStateFromFile(file: string, sequenceId: number, maxTokens: number): Promise<Uint32Array>;
  };
  readonly id: number;
  setTokens(tokens: Token[]): void;
  release(): void;
}

type AcquireLock = (scope: readonly unknown[]) => Promise<{ dispose(): void }>;
let acquireLockFn: Promise<AcquireLock | undefined> | undefined;

function lockOf(): Promise<AcquireLock | undefined> {
  acquireLockFn ??= (async () => {
    try {
      const { createRequire } = await import('node:module');
      const { pathToFileURL } = await import('node:url');
      const fromLlama = createRequire(createRequire(import.meta.url).resolve('node-llama-cpp'));
      const mod = (await import(pathToFileURL(fromLlama.resolve('lifecycle-utils')).href)) as { acquireLock?: AcquireLock };
      return typeof mod.acquireLock === 'function' ? mod.acquireLock : undefined;
    } catch {
      return undefined;
    }
  })();
  return acquireLockFn;
}

async function exclusive(seq: LlamaContextSequence): Promise<Exclusive | undefined> {
  const s = seq as unknown as {
    _lock?: object;
    _sequenceId?: number;
    _contextTokens?: Token[];
    _nextTokenIndex?: number;
    _loadedTokenPredictions?: unknown[];
  };
  const ctx = seq.context as unknown as { _ctx?: Exclusive['native'] };
  const native = ctx._ctx;
  const acquire = await lockOf();
  if (
    !acquire ||
    !native ||
    typeof native.saveSequenceStateToFile !== 'function' ||
    typeof native.loadSequenceStateFromFile !== 'function' ||
    typeof s._sequenceId !== 'number' ||
    !s._lock ||
    !Array.isArray(s._contextTokens)
  ) {
    return undefined;
  }
  const evaluate = await acquire([s._lock, 'evaluate']);
  const context = await acquire([seq.context, 'context']);
  return {
    native,
    id: s._sequenceId,
    setTokens: (tokens) => {
      s._contextTokens = tokens;
      s._nextTokenIndex = tokens.length;
      if (Array.isArray(s._loadedTokenPredictions)) s._loadedTokenPredictions.length = 0;
    },
    release: () => {
      context.dispose();
      evaluate.dispose();
    },
  };
}

let llamaPromise: Promise<Llama> | undefined;
let llamaGpu: GpuMode | undefined;

/** The llama.cpp binding (one per process): CUDA when asked or available (auto), else the CPU build. */
export async function loadLlama(gpu: GpuMode): Promise<Llama> {
  if (llamaPromise && llamaGpu === gpu) return llamaPromise;
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llamaGpu = gpu;
  llamaPromise = getLlama({
    gpu: gpu === 'none' ? false : gpu === 'cuda' ? 'cuda' : 'auto',
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
  }).catch((e: unknown) => {
    llamaPromise = undefined;
    const why = (e as Error)?.message ?? String(e);
    throw new Error(
      gpu === 'cuda'
        ? `--gpu cuda: no usable CUDA build of llama.cpp (${why}); a default install is CPU-only, see docs/real-inference.md to add CUDA`
        : `cannot load llama.cpp: ${why}`,
    );
  });
  return llamaPromise;
}

export class InferenceEngine {
  private readonly waiting: Waiter[] = [];
  private freeSeqs: LlamaContextSequence[] = [];
  private kvUsed = 0;
  private closed = false;
  private fileSeq = 0;
  readonly kvCapacity: number;
  readonly tmpDir: string;

  private constructor(
    readonly llama: Llama,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly opts: EngineOptions,
  ) {
    this.kvCapacity = opts.kvTokens ?? opts.slots * context.contextSize;
    this.tmpDir = opts.tmpDir ?? stateDir();
    for (let i = 0; i < opts.slots; i++) this.freeSeqs.push(context.getSequence());
  }

  static async open(opts: EngineOptions): Promise<InferenceEngine> {
    removeStaleStateFiles(opts.tmpDir ?? stateDir());
    const llama = await loadLlama(opts.gpu);
    const model = await llama.loadModel({ modelPath: opts.modelFile, gpuLayers: opts.gpu === 'none' ? 0 : 'auto' });
    const context = await model.createContext({
      sequences: opts.slots,
      contextSize: opts.contextSize,
      threads: opts.threads,
      batchSize: Math.min(512, opts.contextSize),
    });
    return new InferenceEngine(llama, model, context, opts);
  }

  /** The text of one token (its vocabulary piece, as llama.cpp detokenizes it alone). */
  tokenText(id: number): string {
    return this.model.detokenize([id as Token]);
  }

  /** 'cpu', 'cuda', 'vulkan' or 'metal'. */
  get device(): string {
    return this.llama.gpu === false ? 'cpu' : this.llama.gpu;
  }

  /** Context (KV cells) per sequence as created (llama.cpp may round up). */
  get contextSize(): number {
    return this.context.contextSize;
  }

  get kvUsedTokens(): number {
    return this.kvUsed;
  }

  get queued(): number {
    return this.waiting.length;
  }

  private acquire(need: number, cancel: Cancel): Promise<Slot> {
    if (this.closed) return Promise.reject(new Error('worker is shutting down'));
    if (need > this.kvCapacity) {
      return Promise.reject(new Error(`request needs ${need} KV tokens, more than the worker's ${this.kvCapacity}`));
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { need, resolve, reject };
      this.waiting.push(w);
      cancel.onCancel(() => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) {
          this.waiting.splice(i, 1);
          reject(new CancelledError());
          this.pump();
        }
      });
      this.pump();
    });
  }

  /** Admit queued requests in order while the head fits. */
  private pump(): void {
    while (this.waiting.length > 0) {
      const w = this.waiting[0]!;
      if (this.freeSeqs.length === 0 || this.kvUsed + w.need > this.kvCapacity) return;
      this.waiting.shift();
      const seq = this.freeSeqs.pop()!;
      this.kvUsed += w.need;
      let released = false;
      w.resolve({
        seq,
        release: async () => {
          if (released) return;
          released = true;
          // Drop the sequence's KV cells, then hand it to the next request.
          await seq.clearHistory();
          this.kvUsed -= w.need;
          this.freeSeqs.push(seq);
          this.pump();
        },
      });
    }
  }

  /**
   * Evaluate `input` on `seq` and pass up to `count` sampled tokens to `each` (greedy, end-of-sequence
   * ignored). Returns seconds to the first token and from the first to the last.
   */
  private async run(
    seq: LlamaContextSequence,
    input: readonly number[],
    count: number,
    cancel: Cancel,
    each: (id: number, firstS: number | undefined, logprob: number | undefined) => void,
    logprobs = false,
  ): Promise<{ firstS: number; decodeS: number }> {
    const t0 = performance.now();
    let firstS = 0;
    let tFirst = 0;
    let tLast = 0;
    let n = 0;
    if (count <= 0) return { firstS: 0, decodeS: 0 };
    for await (const { tok, lp } of sampled(seq, input, logprobs)) {
      if (cancel.cancelled) throw new CancelledError();
      n++;
      tLast = performance.now();
      if (n === 1) {
        tFirst = tLast;
        firstS = (tFirst - t0) / 1000;
        each(tok, firstS, lp);
      } else each(tok, undefined, lp);
      if (n >= count) break;
    }
    if (cancel.cancelled) throw new CancelledError();
    if (n < count) throw new Error(`generation stopped after ${n} of ${count} tokens`);
    return { firstS, decodeS: (tLast - tFirst) / 1000 };
  }

  /** Prompt and decode here (monolithic). */
  async generate(prompt: readonly number[], outputTokens: number, sink: TokenSink, cancel = new Cancel()): Promise<{ prefillS: number; decodeS: number }> {
    const slot = await this.acquire(prompt.length + outputTokens, cancel);
    try {
      sink.onStart?.();
      const r = await this.run(slot.seq, prompt, outputTokens, cancel, (id, firstS, lp) => sink.onToken(id, firstS, lp), sink.logprobs);
      return { prefillS: r.firstS, decodeS: r.decodeS };
    } finally {
      await slot.release();
    }
  }

  /**
   * Prompt only: evaluate the prompt, sample the first token (passed to `sink` with the prefill time),
   * save the sequence state (the prompt's KV) and free the sequence. The first token's own KV is not in
   * the state: the token worker evaluates it first.
   */
  async prefill(
    prompt: readonly number[],
    sink: TokenSink,
    cancel = new Cancel(),
  ): Promise<{ firstToken: number; prefillS: number; state: Buffer; saveS: number }> {
    const slot = await this.acquire(prompt.length + 1, cancel);
    try {
      sink.onStart?.();
      let firstToken = -1;
      const r = await this.run(
        slot.seq,
        prompt,
        1,
        cancel,
        (id, firstS, lp) => {
          firstToken = id;
          sink.onToken(id, firstS, lp);
        },
        sink.logprobs,
      );
      const saved = await this.saveState(slot.seq);
      return { firstToken, prefillS: r.firstS, state: saved.state, saveS: saved.seconds };
    } finally {
      await slot.release();
    }
  }

  /**
   * Token worker: load a prompt worker's state into a free sequence and produce the remaining
   * `outputTokens − 1` tokens, starting from the first token. `onLoaded` reports the load time.
   */
  async decodeFrom(
    state: Buffer,
    promptTokens: number,
    firstToken: number,
    outputTokens: number,
    sink: TokenSink & { onLoaded?(loadS: number): void },
    cancel = new Cancel(),
  ): Promise<{ decodeS: number }> {
    const slot = await this.acquire(promptTokens + outputTokens, cancel);
    try {
      sink.onStart?.();
      const loadS = await this.loadState(slot.seq, state);
      if (slot.seq.contextTokens.length !== promptTokens) {
        throw new Error(`KV state holds ${slot.seq.contextTokens.length} tokens, expected the prompt's ${promptTokens}`);
      }
      sink.onLoaded?.(loadS);
      const tDecode = performance.now();
      // The first generated token here is output token 2; the decode phase runs from the first token on.
      await this.run(slot.seq, [firstToken], outputTokens - 1, cancel, (id, _f, lp) => sink.onToken(id, undefined, lp), sink.logprobs);
      return { decodeS: (performance.now() - tDecode) / 1000 };
    } finally {
      await slot.release();
    }
  }

  private tmpFile(): string {
    return path.join(this.tmpDir, `splitbench-kv-${process.pid}-${++this.fileSeq}.bin`);
  }

  /**
   * The sequence's state (its tokens and their KV) as bytes, and the seconds the copy took once the
   * context was free (see `exclusive`).
   */
  async saveState(seq: LlamaContextSequence): Promise<{ state: Buffer; seconds: number }> {
    const file = this.tmpFile();
    try {
      const x = await exclusive(seq);
      let seconds: number;
      if (x) {
        try {
          const t = performance.now();
          await x.native.saveSequenceStateToFile(file, x.id, Uint32Array.from(seq.contextTokens));
          seconds = (performance.now() - t) / 1000;
        } finally {
          x.release();
        }
      } else {
        const t = performance.now();
        await seq.saveStateToFile(file);
        seconds = (performance.now() - t) / 1000;
      }
      const t = performance.now();
      const state = await fs.promises.readFile(file);
      return { state, seconds: seconds + (performance.now() - t) / 1000 };
    } finally {
      await fs.promises.rm(file, { force: true });
    }
  }

  /** Replace the sequence's state with saved bytes (same model, same context shape); returns the seconds it took. */
  async loadState(seq: LlamaContextSequence, state: Buffer): Promise<number> {
    const file = this.tmpFile();
    try {
      const t0 = performance.now();
      await fs.promises.writeFile(file, state);
      const write = (performance.now() - t0) / 1000;
      const x = await exclusive(seq);
      if (x) {
        try {
          const t = performance.now();
          const tokens = Array.from(await x.native.loadSequenceStateFromFile(file, x.id, seq.contextSize)) as Token[];
          x.setTokens(tokens);
          return write + (performance.now() - t) / 1000;
        } finally {
          x.release();
        }
      }
      const t = performance.now();
      await seq.loadStateFromFile(file, { acceptRisk: true });
      return write + (performance.now() - t) / 1000;
    } finally {
      await fs.promises.rm(file, { force: true });
    }
  }

  /** Fail queued requests and free the model. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('worker is shutting down'));
    await this.context.dispose();
    await this.model.dispose();
  }
}
