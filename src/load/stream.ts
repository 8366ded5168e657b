/**
 * Interprets one OpenAI-style streamed completion (`/v1/completions` or `/v1/chat/completions`, SSE)
 * as it arrives: per chunk its arrival time and token count, the first token, the longest stall, the
 * final usage block and the reference backend's `splitbench` breakdown object.
 *
 * Token counting (docs/replay.md): when chunks carry `usage.completion_tokens` (vLLM's
 * `continuous_usage_stats`), a chunk's tokens are the increase of that counter; otherwise each chunk
 * with non-empty text counts one token. At the end the count is reconciled with the final usage block:
 * if the server says more tokens than were counted from chunks, the chunk counts are scaled up so they
 * sum to the server's count (multi-token chunks, e.g. speculative decoding); `countMethod` records how.
 */
import { RequestErrorCode } from '../errors.js';
import { ChunkFacts, ChunkReader, type ChunkVerdict, readChunk, str } from './chunk.js';
import { SseParser, type SseSink } from './sse.js';

export type CountMethod = 'usage-continuous' | 'usage-final' | 'chunks';

export interface Breakdown {
  queue?: number | undefined;
  prefill?: number | undefined;
  kvTransfer?: number | undefined;
  decodeWait?: number | undefined;
  decode?: number | undefined;
  promptMachine?: string | undefined;
  tokenMachine?: string | undefined;
  pool?: string | undefined;
  preemptions?: number | undefined;
  /** The reference backend's own emission delay for this request (actual − intended chunk write), engine seconds: largest and mean. */
  emitDelayMax?: number | undefined;
  emitDelayMean?: number | undefined;
}

export interface StreamFailure {
  /** Not a valid stream, or the server sent an error event/object (codes from the table in src/errors.ts). */
  readonly code: typeof RequestErrorCode.stream | typeof RequestErrorCode.targetError;
  readonly message: string;
}

const EXCERPT = 200;

export function excerpt(s: string, n = EXCERPT): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The facts of the chunk being read (one chunk at a time, synchronously: shared by all streams). */
const facts = new ChunkFacts();

function failureOf(v: Exclude<ChunkVerdict, { kind: 'ok' }>, data: string): StreamFailure {
  switch (v.kind) {
    case 'malformed':
      return { code: RequestErrorCode.stream, message: `malformed SSE data (not JSON): ${excerpt(data)}` };
    case 'not-object':
      return { code: RequestErrorCode.stream, message: `SSE data is not a JSON object: ${excerpt(data)}` };
    case 'error':
      return { code: RequestErrorCode.targetError, message: `server sent an error object: ${excerpt(v.message)}` };
    case 'bad-choices':
      return { code: RequestErrorCode.stream, message: `SSE chunk has a non-array "choices": ${excerpt(data)}` };
  }
}

/** The reference backend's `splitbench` object. */
function breakdownOf(b: Record<string, unknown>): Breakdown {
  const out: Breakdown = {
    queue: num(b.queue_s),
    prefill: num(b.prefill_s),
    kvTransfer: num(b.kv_transfer_s),
    decodeWait: num(b.decode_wait_s),
    decode: num(b.decode_s),
    promptMachine: str(b.prompt_machine),
    tokenMachine: str(b.token_machine),
    pool: str(b.pool),
    preemptions: num(b.preemptions),
  };
  const dMax = num(b.emit_delay_max_s);
  const dMean = num(b.emit_delay_mean_s);
  if (dMax !== undefined) out.emitDelayMax = dMax;
  if (dMean !== undefined) out.emitDelayMean = dMean;
  return out;
}

export class CompletionStream implements SseSink {
  /** Arrival time (ms, monotonic) of the read being parsed; set by the caller before each `push`. */
  now = 0;
  readonly sendMs: number;
  /** Token-bearing chunks: arrival (ms, monotonic) and tokens. Parallel arrays, no object per chunk. */
  readonly chunkMs: number[] = [];
  readonly chunkTokens: number[] = [];
  tokens = 0;
  firstTokenMs: number | undefined;
  lastTokenMs: number | undefined;
  /** Longest gap between consecutive token-bearing chunks (ms), after the first. */
  maxStallMs = 0;
  done = false;
  /** A `finish_reason` was seen. */
  finished = false;
  sawContinuousUsage = false;
  usagePrompt: number | undefined;
  usageCompletion: number | undefined;
  /** `usage.prompt_tokens_details.cached_tokens` (vLLM, the reference backend with a prefix cache). */
  usageCachedPrompt: number | undefined;
  breakdown: Breakdown | undefined;
  failure: StreamFailure | undefined;
  /** Token-carrying chunks that arrived in the same read as the previous token-carrying chunk (coalesced in transit). */
  coalesced = 0;
  private reads = 0;
  private lastTokenRead = -1;
  private readonly parser: SseParser;
  /** Reads this stream's chunks (through a template learnt from the first ones; src/load/chunk.ts). */
  private readonly reader = new ChunkReader();

  constructor(sendMs: number) {
    this.sendMs = sendMs;
    this.parser = new SseParser(this);
  }

  /** Feed decoded text that arrived at `nowMs`. */
  push(text: string, nowMs: number): void {
    this.now = nowMs;
    this.reads++;
    // The usual event, a whole `data:` event of this stream's chunk template, is read without the event parser
    // (ChunkReader.readEvent: the same event, the same facts); any other event, and the rest of one split
    // between reads, goes through the parser, which hands back at the next event boundary.
    const f = facts;
    const parser = this.parser;
    const n = text.length;
    let at = 0;
    while (at < n && !this.done && !this.failure) {
      if (parser.atBoundary) {
        const next = this.reader.readEvent(text, at, f);
        if (next >= 0) {
          this.onChunk(f);
          at = next;
          continue;
        }
      }
      at = parser.pushFrom(text, at, true);
    }
    // (After the end or a failure: the rest is the parser's, which ignores its events.)
    if (at < n) parser.pushFrom(text, at, false);
  }

  /** The body ended; returns true if an unterminated event was left over. */
  end(): boolean {
    return this.parser.end();
  }

  onEvent(type: string, data: string): void {
    if (this.done || this.failure) return;
    if (type === 'error') {
      this.failure = { code: RequestErrorCode.targetError, message: `server sent an error event: ${excerpt(data)}` };
      return;
    }
    if (data === '[DONE]') {
      this.done = true;
      return;
    }
    const f = facts;
    if (!this.reader.read(data, f)) {
      const v = readChunk(data, f);
      if (v.kind !== 'ok') {
        this.failure = failureOf(v, data);
        return;
      }
      const sb = v.obj.splitbench;
      if (sb && typeof sb === 'object') this.breakdown = breakdownOf(sb as Record<string, unknown>);
    }
    this.onChunk(f);
  }

  /** A chunk's facts: its tokens, usage and finish. */
  private onChunk(f: ChunkFacts): void {
    if (f.finished) this.finished = true;
    let chunkTokens = 0;
    let counted = false;
    if (!Number.isNaN(f.prompt)) this.usagePrompt = f.prompt;
    if (!Number.isNaN(f.cached)) this.usageCachedPrompt = f.cached;
    const completion = f.completion;
    if (!Number.isNaN(completion)) {
      this.usageCompletion = completion;
      if (f.hasChoice) {
        this.sawContinuousUsage = true;
        chunkTokens = Math.max(0, completion - this.tokens);
        counted = true;
      }
    }
    if (!counted && f.hasText) chunkTokens = 1;
    if (chunkTokens > 0) {
      const t = this.now;
      if (this.lastTokenMs === undefined) this.firstTokenMs = t;
      else if (t - this.lastTokenMs > this.maxStallMs) this.maxStallMs = t - this.lastTokenMs;
      this.lastTokenMs = t;
      if (this.lastTokenRead === this.reads) this.coalesced++;
      this.lastTokenRead = this.reads;
      this.tokens += chunkTokens;
      this.chunkMs.push(t);
      this.chunkTokens.push(chunkTokens);
    }
  }

  /**
   * Reconcile chunk counts with the final usage block; returns the method used. After this, `tokens`
   * is the received count to store.
   */
  reconcile(): CountMethod {
    if (this.sawContinuousUsage) {
      if (this.usageCompletion !== undefined && this.usageCompletion !== this.tokens) this.scaleTo(this.usageCompletion);
      return 'usage-continuous';
    }
    if (this.usageCompletion === undefined) return 'chunks';
    this.scaleTo(this.usageCompletion);
    return 'usage-final';
  }

  private scaleTo(total: number): void {
    const counted = this.tokens;
    if (total > counted && counted > 0) {
      const f = total / counted;
      let cum = 0;
      let prev = 0;
      for (let i = 0; i < this.chunkTokens.length; i++) {
        cum += this.chunkTokens[i]!;
        const r = Math.round(cum * f);
        this.chunkTokens[i] = r - prev;
        prev = r;
      }
    }
    // Fewer than counted, or nothing counted: keep the observed chunks, report the server's count.
    this.tokens = total;
  }
}

/**
 * Run the SSE parser and chunk interpreter over synthetic streams of the usual shapes (completions and
 * chat, with and without per-chunk usage), so their code is compiled before a run's clock starts. Touches
 * no state outside the throwaway streams.
 */
export function warmStreamCode(rounds = 200): void {
  const completion = (i: number, n: number, usage: boolean): string =>
    `data: {"id":"cmpl-warm","object":"text_completion","created":0,"model":"m","choices":[{"index":0,"text":" w","logprobs":null,"finish_reason":${i === n ? '"length"' : 'null'}}],"usage":${usage ? `{"prompt_tokens":8,"completion_tokens":${i},"total_tokens":${8 + i}}` : 'null'}}\n\n`;
  const chat = (i: number, n: number): string =>
    `data: {"id":"chatcmpl-warm","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":" w"},"finish_reason":${i === n ? '"length"' : 'null'}}]}\n\n`;
  const tail = 'data: {"id":"cmpl-warm","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":8,"total_tokens":16}}\n\ndata: [DONE]\n\n';
  for (let r = 0; r < rounds; r++) {
    const s = new CompletionStream(0);
    const kind = r % 3;
    for (let i = 1; i <= 8; i++) s.push(kind === 2 ? chat(i, 8) : completion(i, 8, kind === 0), i);
    s.push(tail, 9);
    s.reconcile();
  }
}
