/**
 * One generation request in flight: submits one engine request per prompt, turns the engine's per-iteration
 * token callbacks into OpenAI/vLLM-shaped SSE chunks (or one JSON body), and cancels the engine requests
 * when the client goes away.
 *
 * Stream shape (vLLM): for chat, the first chunk of each choice is a role chunk `delta: {role, content: ""}`
 * (written together with that choice's first tokens, so "first chunk with choices" still marks the first
 * token); then one chunk per engine iteration that produced tokens for the choice; the choice's last
 * iteration's chunk carries `finish_reason` and the top-level `splitbench` extension object; with
 * `include_usage`, a final chunk with `choices: []` and the usage totals; then `data: [DONE]`.
 */
import type { ServerResponse } from 'node:http';
import type { Clock, Cluster, RemotePrefill, RequestBreakdown, SubmitHandle } from '../engine/index.js';
import { prefixBlockHashes } from '../engine/index.js';
import type { FinishedRequestStats } from './metrics.js';
import type { GenerationRequest } from './openai.js';
import { tokensText } from './tokens.js';

/** The documented extension object (engine seconds = real-GPU seconds). */
export interface SplitbenchExtension {
  readonly queue_s: number;
  readonly prefill_s: number;
  readonly kv_transfer_s: number;
  readonly decode_wait_s: number;
  readonly decode_s: number;
  readonly prompt_machine: string;
  readonly token_machine: string;
  readonly pool: string;
  readonly preemptions: number;
  /** The server's own emission delay for this request: largest and mean (actual − intended write time of each chunk, engine seconds). */
  readonly emit_delay_max_s?: number;
  readonly emit_delay_mean_s?: number;
}

export function extensionOf(b: RequestBreakdown): SplitbenchExtension {
  return {
    queue_s: b.queue,
    prefill_s: b.prefill,
    kv_transfer_s: b.kvTransfer,
    decode_wait_s: b.decodeWait,
    decode_s: b.decode,
    prompt_machine: b.promptMachine,
    token_machine: b.tokenMachine,
    pool: b.pool,
    preemptions: b.preemptions,
  };
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** vLLM's shape: prompt tokens served from the prefix cache (deployments with a prefix cache). */
  prompt_tokens_details?: { cached_tokens: number };
}
const usage = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
});

interface ChoiceState {
  readonly index: number;
  readonly promptTokens: number;
  readonly total: number;
  readonly finishReason: 'length' | 'stop';
  emitted: number;
  /** Final tokens held until onDone (so they go out with finish_reason and the extension). */
  held: { tokens: number; time: number } | undefined;
  done: boolean;
  ext: SplitbenchExtension | undefined;
  /** Prompt tokens its prefix cache supplied (set when done; undefined: no cache looked up). */
  cached?: number;
  handle: SubmitHandle | undefined;
  /** Emission delays of this choice's chunks so far (engine seconds): largest, sum, count. */
  delayMax: number;
  delaySum: number;
  delayN: number;
  /** Engine times: submitted, first token, previous token-carrying iteration. */
  submitted: number;
  firstToken: number | undefined;
  lastTokens: number | undefined;
  /** Token-weighted inter-token gaps (engine seconds), for vLLM's inter-token histogram. */
  readonly gaps: number[];
  readonly counts: number[];
  /** Real-inference clusters: the prompt's ids, and the ids / texts of tokens produced, not yet written and all. */
  readonly promptIds: readonly number[] | undefined;
  readonly pendingIds: number[];
  readonly pendingTexts: string[];
  readonly allIds: number[];
  readonly allTexts: string[];
  readonly pendingLogprobs: number[];
  readonly allLogprobs: number[];
  /** Characters of text written so far (completions' `text_offset`). */
  textOffset: number;
}

export interface GenerationHooks {
  /** A chunk was written `delaySeconds` (wall) after the engine meant it to go out. */
  onEmit(delaySeconds: number): void;
  /** The generation ended (completed, failed, cancelled or shut down). */
  onEnd(outcome: 'ok' | 'failed' | 'cancelled' | 'shutdown', httpStatus: number): void;
  /** One choice finished (all its tokens produced): its figures for vLLM's request histograms. */
  onFinished?(stats: FinishedRequestStats): void;
  /** Decode endpoint: the request was prefilled elsewhere (engine `submitPrefilled`). */
  readonly remote?: RemotePrefill;
  /** Prefill endpoint: the `kv_transfer_params` of the (non-streamed) reply. */
  kvReply?(ext: SplitbenchExtension | undefined, promptTokens: number, id: string): Record<string, unknown>;
  /** What serves the requests, for failure messages (default "the emulated cluster"). */
  readonly engineLabel?: string;
}

let seq = 0;

export class Generation {
  readonly id: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly choices: ChoiceState[];
  private readonly object: string;
  private ended = false;
  private readonly timeScale: number;

  constructor(
    private readonly req: GenerationRequest,
    private readonly res: ServerResponse,
    private readonly cluster: Cluster,
    private readonly clock: Clock & { readonly timeScale?: number; realNow?(): number },
    private readonly hooks: GenerationHooks,
  ) {
    const chat = req.endpoint === 'chat';
    this.id = `${chat ? 'chatcmpl' : 'cmpl'}-${(++seq).toString(36)}${Math.random().toString(36).slice(2, 10)}`;
    this.object = chat ? (req.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    this.timeScale = clock.timeScale ?? 1;
    this.choices = req.prompts.map((p, index) => ({
      index,
      promptTokens: p.promptTokens,
      total: p.output.tokens,
      finishReason: p.output.finishReason,
      emitted: 0,
      held: undefined,
      done: false,
      ext: undefined,
      handle: undefined,
      delayMax: 0,
      delaySum: 0,
      delayN: 0,
      submitted: 0,
      firstToken: undefined,
      lastTokens: undefined,
      gaps: [],
      counts: [],
      promptIds: p.ids,
      pendingIds: [],
      pendingTexts: [],
      allIds: [],
      allTexts: [],
      pendingLogprobs: [],
      allLogprobs: [],
      textOffset: 0,
    }));
  }

  /** Submit to the engine and start the response. */
  start(): void {
    if (this.req.stream) {
      this.res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        'X-Request-Id': this.id,
      });
      this.res.flushHeaders();
    }
    this.res.on('close', () => {
      if (!this.ended) this.finish('cancelled', 499);
    });
    for (const c of this.choices) {
      if (this.ended) break;
      c.submitted = this.clock.now();
      const er = {
        id: `${this.id}-${c.index}`,
        promptTokens: c.promptTokens,
        outputTokens: c.total,
        ...(c.promptIds ? { promptIds: c.promptIds, blockHashes: prefixBlockHashes(c.promptIds) } : {}),
        ...(this.req.logprobs ? { logprobs: true } : {}),
      };
      const obs = {
        onTokenIds: (ids: readonly number[], texts?: readonly string[], logprobs?: readonly number[]) => {
          c.pendingIds.push(...ids);
          c.allIds.push(...ids);
          if (texts && texts.length === ids.length) {
            c.pendingTexts.push(...texts);
            c.allTexts.push(...texts);
          }
          if (logprobs && logprobs.length === ids.length) {
            c.pendingLogprobs.push(...logprobs);
            c.allLogprobs.push(...logprobs);
          }
        },
        onTokens: (tokens: number, time: number) => this.onTokens(c, tokens, time),
        onDone: (b: RequestBreakdown, time: number) => this.onDone(c, b, time),
        onFailed: (reason: string) => this.onFailed(reason),
      };
      const remote = this.hooks.remote;
      c.handle = remote && this.cluster.submitPrefilled ? this.cluster.submitPrefilled(er, obs, remote) : this.cluster.submit(er, obs);
    }
  }

  /** Server shutdown: cancel engine work and end the response. */
  shutdown(): void {
    if (this.ended) return;
    this.failResponse(503, 'server shutting down', 'server_shutdown', 'shutdown');
  }

  private onTokens(c: ChoiceState, tokens: number, time: number): void {
    if (this.ended || c.done || tokens <= 0) return;
    this.timeTokens(c, tokens, time);
    if (c.emitted + tokens >= c.total) {
      c.held = { tokens: c.total - c.emitted, time };
      return;
    }
    c.emitted += tokens;
    if (this.req.stream) this.writeChunk(c, tokens, null, time);
  }

  /** Record the timing of `tokens` tokens produced at engine time `time` (ITL samples: gap spread over them). */
  private timeTokens(c: ChoiceState, tokens: number, time: number): void {
    if (c.firstToken === undefined) {
      c.firstToken = time;
      if (tokens > 1) {
        c.gaps.push(0);
        c.counts.push(tokens - 1);
      }
    } else if (c.lastTokens !== undefined) {
      c.gaps.push((time - c.lastTokens) / tokens);
      c.counts.push(tokens);
    }
    c.lastTokens = time;
  }

  private onDone(c: ChoiceState, b: RequestBreakdown, time: number): void {
    if (this.ended || c.done) return;
    const tokens = c.total - c.emitted;
    const at = c.held?.time ?? time;
    // Tokens the engine reported only with onDone (none were announced by onTokens) count as produced now.
    const timed = c.counts.reduce((a, x) => a + x, 0) + (c.firstToken === undefined ? 0 : 1);
    if (timed < c.total) this.timeTokens(c, c.total - timed, at);
    this.hooks.onFinished?.({
      breakdown: b,
      submitted: c.submitted,
      firstToken: c.firstToken ?? at,
      end: at,
      promptTokens: c.promptTokens,
      outputTokens: c.total,
      maxTokens: this.req.maxTokens,
      n: this.choices.length,
      finishReason: c.finishReason,
      gaps: c.gaps,
      counts: c.counts,
    });
    c.emitted = c.total;
    c.held = undefined;
    c.done = true;
    c.ext = extensionOf(b);
    if (b.cachedPromptTokens !== undefined) c.cached = b.cachedPromptTokens;
    if (this.req.stream) this.writeChunk(c, tokens, c.finishReason, at);
    if (this.choices.every((x) => x.done)) this.complete();
  }

  private onFailed(reason: string): void {
    if (this.ended) return;
    this.failResponse(503, `${this.hooks.engineLabel ?? 'the emulated cluster'} could not serve the request: ${reason}`, 'engine_failed', 'failed');
  }

  /** The next `tokens` tokens' text (the model's, where a real model produced them), ids and logprobs object. */
  private take(c: ChoiceState, tokens: number, offset: number): { text: string; ids: number[]; logprobs: unknown } {
    const ids = c.pendingIds.splice(0, tokens);
    const texts = c.pendingTexts.splice(0, tokens);
    const lps = c.pendingLogprobs.splice(0, tokens);
    const text = texts.length === tokens ? texts.join('') : tokensText(tokens);
    return { text, ids, logprobs: this.logprobsObject(texts, lps, offset) };
  }

  /**
   * OpenAI's `logprobs` of a choice (or chunk) for tokens with these texts and log-probabilities: completions
   * `{tokens, token_logprobs, top_logprobs, text_offset}`, chat `{content: [{token, logprob, bytes, top_logprobs}]}`.
   * Only the sampled token's own log-probability is known (no alternatives). `null` when not asked or not known
   * (the emulated engine has no model).
   */
  private logprobsObject(texts: readonly string[], lps: readonly number[], offset: number): unknown {
    if (!this.req.logprobs || lps.length === 0 || lps.length !== texts.length) return null;
    if (this.req.endpoint === 'chat') {
      return { content: texts.map((t, i) => ({ token: t, logprob: lps[i]!, bytes: [...Buffer.from(t, 'utf8')], top_logprobs: [] })) };
    }
    const offsets: number[] = [];
    let at = offset;
    for (const t of texts) {
      offsets.push(at);
      at += t.length;
    }
    return { tokens: [...texts], token_logprobs: [...lps], top_logprobs: texts.map((t, i) => ({ [t]: lps[i]! })), text_offset: offsets };
  }

  private fullText(c: ChoiceState): string {
    return c.allTexts.length === c.total ? c.allTexts.join('') : tokensText(c.total);
  }

  private writeChunk(c: ChoiceState, tokens: number, finish: string | null, time: number): void {
    const { text, ids, logprobs } = this.take(c, tokens, c.textOffset);
    c.textOffset += text.length;
    // Ids exist where a real model produced the tokens; the emulated engine has none (null).
    const tokenIds = this.req.returnTokenIds ? { token_ids: ids.length === tokens ? ids : null } : {};
    let out = '';
    const chat = this.req.endpoint === 'chat';
    const cont = this.req.continuousUsage;
    const first = c.emitted === tokens; // nothing was written for this choice before
    // Actual − intended write time (engine seconds), measured before the write so the last chunk reports itself.
    const delay = Math.max(0, (this.clock.realNow?.() ?? this.clock.now()) - time);
    c.delayMax = Math.max(c.delayMax, delay);
    c.delaySum += delay;
    c.delayN++;
    if (finish !== null && c.ext) c.ext = { ...c.ext, emit_delay_max_s: c.delayMax, emit_delay_mean_s: c.delaySum / c.delayN };
    if (chat && first) {
      out += this.event({
        choices: [{ index: c.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
        ...(cont ? { usage: usage(c.promptTokens, 0) } : this.req.includeUsage ? { usage: null } : {}),
      });
    }
    const choice = chat
      ? { index: c.index, delta: { content: text }, logprobs, finish_reason: finish, ...tokenIds }
      : { index: c.index, text, logprobs, finish_reason: finish, stop_reason: null, ...tokenIds };
    out += this.event({
      choices: [choice],
      ...(cont ? { usage: usage(c.promptTokens, c.emitted) } : this.req.includeUsage ? { usage: null } : {}),
      ...(finish !== null && c.ext ? { splitbench: c.ext } : {}),
    });
    this.res.write(out);
    this.hooks.onEmit(delay / this.timeScale);
  }

  private event(body: Record<string, unknown>): string {
    return `data: ${JSON.stringify({ id: this.id, object: this.object, created: this.created, model: this.req.model, ...body })}\n\n`;
  }

  private totals(): Usage {
    let p = 0;
    let o = 0;
    let cached: number | undefined;
    for (const c of this.choices) {
      p += c.promptTokens;
      o += c.emitted;
      if (c.cached !== undefined) cached = (cached ?? 0) + c.cached;
    }
    const u = usage(p, o);
    if (cached !== undefined) u.prompt_tokens_details = { cached_tokens: cached };
    return u;
  }

  private complete(): void {
    if (this.req.stream) {
      let out = '';
      if (this.req.includeUsage) out += this.event({ choices: [], usage: this.totals() });
      out += 'data: [DONE]\n\n';
      this.res.end(out);
    } else {
      const chat = this.req.endpoint === 'chat';
      const choices = this.choices.map((c) =>
        chat
          ? {
              index: c.index,
              message: { role: 'assistant', content: this.fullText(c) },
              logprobs: this.logprobsObject(c.allTexts, c.allLogprobs, 0),
              finish_reason: c.finishReason,
              ...(this.req.returnTokenIds ? { token_ids: c.allIds.length === c.total ? c.allIds : null } : {}),
              splitbench: c.ext,
            }
          : {
              index: c.index,
              text: this.fullText(c),
              logprobs: this.logprobsObject(c.allTexts, c.allLogprobs, 0),
              finish_reason: c.finishReason,
              stop_reason: null,
              ...(this.req.returnTokenIds ? { token_ids: c.allIds.length === c.total ? c.allIds : null, prompt_token_ids: c.promptIds ?? null } : {}),
              splitbench: c.ext,
            },
      );
      const body = {
        id: this.id,
        object: this.object,
        created: this.created,
        model: this.req.model,
        choices,
        usage: this.totals(),
        ...(choices.length === 1 ? { splitbench: this.choices[0]!.ext } : {}),
        ...(this.hooks.kvReply ? { kv_transfer_params: this.hooks.kvReply(this.choices[0]!.ext, this.choices[0]!.promptTokens, this.id) } : {}),
      };
      const text = JSON.stringify(body);
      this.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'X-Request-Id': this.id });
      this.res.end(text);
    }
    this.finish('ok', 200);
  }

  private failResponse(status: number, message: string, code: string, outcome: 'failed' | 'shutdown'): void {
    const err = { error: { message, type: 'server_error', param: null, code } };
    if (this.req.stream) {
      if (!this.res.writableEnded) this.res.end(`data: ${JSON.stringify(err)}\n\ndata: [DONE]\n\n`);
      this.finish(outcome, 200);
    } else {
      if (!this.res.headersSent) {
        const text = JSON.stringify(err);
        this.res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        this.res.end(text);
      }
      this.finish(outcome, status);
    }
  }

  /** Mark ended and cancel every engine request that is not done. */
  private finish(outcome: 'ok' | 'failed' | 'cancelled' | 'shutdown', status: number): void {
    if (this.ended) return;
    this.ended = true;
    for (const c of this.choices) if (!c.done) c.handle?.cancel();
    this.hooks.onEnd(outcome, status);
  }
}
