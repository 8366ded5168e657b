/**
 * The one validation point for request bodies (zod): raw JSON in, a typed `GenerationRequest` out, or an
 * HttpError 400 naming the offending field (`param`). Unknown fields (temperature, top_p, …) are accepted
 * and ignored, as OpenAI-compatible servers do.
 */
import { z } from 'zod';
import { contextProblem } from '../engine/index.js';
import { badRequest, type HttpError } from './http-error.js';
import { countTextTokens, hashIds, hashText, planOutput, type OutputPlan } from './tokens.js';

export type Endpoint = 'completions' | 'chat';

/** The model this server serves. */
export interface ServedModel {
  readonly name: string;
  /** Maximum context (prompt + output tokens). */
  readonly maxContextTokens: number;
  /** Vocabulary size of a real model: prompt token ids must be below it. Absent (emulated): any id up to MAX_TOKEN_ID. */
  readonly vocabSize?: number;
  /**
   * Server-side cap on every request's output length (`serve --max-output-tokens`, as vLLM's generation-config
   * `max_new_tokens`): a request's `max_tokens`, given or defaulted, is lowered to it. Absent: no cap.
   */
  readonly maxOutputTokens?: number;
}

export interface PromptPlan {
  readonly promptTokens: number;
  readonly output: OutputPlan;
  /** The prompt's token ids, when the client sent ids. */
  readonly ids?: readonly number[];
}

/** A validated generation request. */
export interface GenerationRequest {
  readonly endpoint: Endpoint;
  readonly model: string;
  readonly prompts: readonly PromptPlan[];
  readonly maxTokens: number;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  /** `logprobs` asked (completions: a count ≥ 0; chat: `logprobs: true`): a real model's choices carry them. */
  readonly logprobs: boolean;
  /** vLLM's `return_token_ids`: each choice carries `token_ids` (and the reply `prompt_token_ids` where known). */
  readonly returnTokenIds: boolean;
  /** vLLM's disaggregated-serving field (`kv_transfer_params`), when the request carried one. */
  readonly kvTransfer?: KvTransferParams;
}

/** `kv_transfer_params` of a request (vLLM's NixlConnector shape; the splitbench_ fields are this server's). */
export interface KvTransferParams {
  /** A prefill request: the proxy will send the decode elsewhere. */
  readonly doRemoteDecode: boolean;
  /** A decode request: the prompt was prefilled elsewhere, its KV is to be pulled. */
  readonly doRemotePrefill: boolean;
  readonly remoteEngineId?: string;
  /** splitbench_prefill_s: the remote prefill's duration (engine seconds), for the layer-wise overlap. */
  readonly prefillS?: number;
  /** splitbench_machine_type: the remote prompt machine's type (the link's other end). */
  readonly machineType?: string;
}

const kvTransferParams = z
  .object({
    do_remote_decode: z.boolean().nullish(),
    do_remote_prefill: z.boolean().nullish(),
    remote_engine_id: z.union([z.string(), z.number()]).nullish(),
    splitbench_prefill_s: z
      .number({ invalid_type_error: 'splitbench_prefill_s must be a number' })
      .finite()
      .min(0, 'splitbench_prefill_s must be ≥ 0')
      .nullish(),
    splitbench_machine_type: z.string().nullish(),
  })
  .passthrough()
  .nullish();

/** Default `max_tokens` of /v1/completions (as OpenAI and vLLM). Chat defaults to the remaining context. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;
/** Most prompts one /v1/completions request may batch. */
export const MAX_PROMPTS_PER_REQUEST = 256;

const count = (name: string, min: number) =>
  z
    .number({ invalid_type_error: `${name} must be an integer` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`);

const streamOptions = z
  .object({
    include_usage: z.boolean().nullish(),
    continuous_usage_stats: z.boolean().nullish(),
  })
  .passthrough()
  .nullish();

const common = {
  model: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  min_tokens: count('min_tokens', 0).nullish(),
  ignore_eos: z.boolean().nullish(),
  n: count('n', 1).max(1, 'n > 1 is not supported').nullish(),
  kv_transfer_params: kvTransferParams,
  return_token_ids: z.boolean().nullish(),
};

const completionBody = z
  .object({
    ...common,
    // Checked by parsePrompt (a plain loop: a 4096-id prompt costs microseconds, not a zod pass per id).
    prompt: z.unknown(),
    max_tokens: count('max_tokens', 1).nullish(),
    logprobs: count('logprobs', 0).nullish(),
  })
  .passthrough();

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();

const chatBody = z
  .object({
    ...common,
    messages: z
      .array(
        z
          .object({
            role: z.string(),
            content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
          })
          .passthrough(),
      )
      .nonempty('messages must not be empty'),
    max_tokens: count('max_tokens', 1).nullish(),
    max_completion_tokens: count('max_completion_tokens', 1).nullish(),
    logprobs: z.boolean({ invalid_type_error: 'logprobs must be a boolean' }).nullish(),
    top_logprobs: count('top_logprobs', 0).nullish(),
  })
  .passthrough();

/** Parse the raw body text as JSON; 400 `invalid_json` if it is not. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json');
  }
}

const paramOf = (path: readonly (string | number)[]): string | null =>
  path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '') || null;

const UNION_EXPECTED: Record<string, string> = {
  content: 'a string, an array of content parts or null',
};

function zodToHttp(err: z.ZodError): HttpError {
  let issue = err.issues[0]!;
  if (issue.code === 'invalid_union') {
    // Union errors carry their branches' issues; the branch that got furthest into the value (longest
    // path) says most about what is wrong.
    const branches = issue.unionErrors.map((u) => u.issues[0]!).filter(Boolean);
    const best = branches.reduce((a, b) => (b.path.length > a.path.length ? b : a), branches[0] ?? issue);
    if (best.path.length > issue.path.length) issue = best;
    else {
      const param = paramOf(issue.path);
      const missing = branches.every((b) => b.code === 'invalid_type' && b.received === 'undefined');
      if (missing) return badRequest(`${param ?? 'body'}: is required`, param, 'missing_field');
      const last = String(issue.path.at(-1) ?? '');
      return badRequest(`${param ?? 'body'}: must be ${UNION_EXPECTED[last] ?? 'of another type'}`, param, 'invalid_type');
    }
  }
  const param = paramOf(issue.path);
  const missing = issue.code === 'invalid_type' && issue.received === 'undefined';
  const code = issue.code === 'invalid_type' ? (missing ? 'missing_field' : 'invalid_type') : 'invalid_value';
  const what = missing ? 'is required' : issue.message;
  const msg = param && what.startsWith(`${param} `) ? what : `${param ?? 'body'}: ${what}`;
  return badRequest(msg, param, code);
}

const PROMPT_SHAPES = 'a string, an array of token ids, an array of strings or an array of token-id arrays';

/**
 * Largest token id accepted: 2^31 − 1, the int32 token type of llama.cpp and of the tensors vLLM builds
 * (any real vocabulary is far smaller). `1e300` is an integer to JavaScript; it is not a token id.
 */
export const MAX_TOKEN_ID = 2 ** 31 - 1;

/** Index of the first element that is not a token id (an integer from 0 to MAX_TOKEN_ID), or -1. */
function badIdIndex(ids: readonly unknown[]): number {
  for (let i = 0; i < ids.length; i++) {
    const x = ids[i];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_TOKEN_ID) return i;
  }
  return -1;
}

function idsError(ids: readonly unknown[], i: number, param: string): HttpError {
  const p = `${param}[${i}]`;
  return typeof ids[i] === 'number'
    ? badRequest(`${p}: token ids must be integers from 0 to ${MAX_TOKEN_ID}, got ${String(ids[i])}`, p, 'invalid_value')
    : badRequest(`${p}: token ids must be numbers, got ${typeof ids[i]}`, p, 'invalid_type');
}

/** The `prompt` of /v1/completions: token counts and hashes per prompt (see tokens.ts for the rules). */
function parsePrompt(p: unknown, vocab: number | undefined): { tokens: number; hash: number; ids?: readonly number[] }[] {
  if (p === undefined) throw badRequest('prompt: is required', 'prompt', 'missing_field');
  if (typeof p === 'string') return [{ tokens: countTextTokens(p), hash: hashText(p) }];
  if (!Array.isArray(p)) throw badRequest(`prompt: must be ${PROMPT_SHAPES}`, 'prompt', 'invalid_type');
  if (p.length === 0) throw badRequest('prompt: must not be empty', 'prompt', 'invalid_value');
  if (typeof p[0] === 'number') {
    const bad = badIdIndex(p);
    if (bad >= 0) throw idsError(p, bad, 'prompt');
    vocabCheck(p as number[], vocab, 'prompt');
    return [{ tokens: p.length, hash: hashIds(p as number[]), ids: p as number[] }];
  }
  if (p.length > MAX_PROMPTS_PER_REQUEST) {
    throw badRequest(`prompt: at most ${MAX_PROMPTS_PER_REQUEST} prompts per request, got ${p.length}`, 'prompt', 'invalid_value');
  }
  const out: { tokens: number; hash: number; ids?: readonly number[] }[] = [];
  const asText = typeof p[0] === 'string';
  for (let i = 0; i < p.length; i++) {
    const q: unknown = p[i];
    const param = `prompt[${i}]`;
    if (asText) {
      if (typeof q !== 'string') throw badRequest(`${param}: must be a string like the other prompts`, param, 'invalid_type');
      out.push({ tokens: countTextTokens(q), hash: hashText(q) });
    } else {
      if (!Array.isArray(q)) throw badRequest(`${param}: must be an array of token ids like the other prompts`, param, 'invalid_type');
      if (q.length === 0) throw badRequest(`${param}: must not be empty`, param, 'invalid_value');
      const bad = badIdIndex(q);
      if (bad >= 0) throw idsError(q, bad, param);
      vocabCheck(q as number[], vocab, param);
      out.push({ tokens: q.length, hash: hashIds(q as number[]), ids: q as number[] });
    }
  }
  return out;
}

/** A real model's vocabulary: an id at or past its size is refused, naming its index. */
function vocabCheck(ids: readonly number[], vocab: number | undefined, param: string): void {
  if (vocab === undefined) return;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! >= vocab) {
      const p = `${param}[${i}]`;
      throw badRequest(`${p}: token id ${ids[i]} is outside the model's vocabulary (ids 0 to ${vocab - 1})`, p, 'invalid_value');
    }
  }
}

function chatText(messages: z.infer<typeof chatBody>['messages']): string {
  let text = '';
  for (const m of messages) {
    if (typeof m.content === 'string') text += m.content;
    else if (Array.isArray(m.content)) for (const p of m.content) if (typeof p.text === 'string') text += p.text;
  }
  return text;
}

/**
 * Validate a parsed JSON body for `endpoint` against the served model. Throws HttpError 400 on bad input.
 */
export function parseGeneration(endpoint: Endpoint, body: unknown, served: ServedModel): GenerationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('request body must be a JSON object', null, 'invalid_type');
  }
  const schema = endpoint === 'chat' ? chatBody : completionBody;
  const r = schema.safeParse(body);
  if (!r.success) throw zodToHttp(r.error);
  const b = r.data as z.infer<typeof completionBody> & z.infer<typeof chatBody>;

  if (b.model != null && b.model !== served.name) {
    throw badRequest(`model: the model \`${b.model}\` does not exist; this server serves \`${served.name}\``, 'model', 'model_not_found');
  }

  // Prompts: token counts and hashes.
  const prompts: { tokens: number; hash: number; ids?: readonly number[] }[] = [];
  const promptParam = endpoint === 'chat' ? 'messages' : 'prompt';
  if (endpoint === 'chat') {
    const text = chatText(b.messages);
    prompts.push({ tokens: countTextTokens(text), hash: hashText(text) });
  } else {
    prompts.push(...parsePrompt(b.prompt, served.vocabSize));
  }

  const ctx = served.maxContextTokens;
  const longest = Math.max(...prompts.map((p) => p.tokens));
  const maxParam = b.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const asked = b.max_completion_tokens ?? b.max_tokens ?? undefined;
  // (A prompt that fills the context is refused before the default output length is worked out.)
  const wanted = asked ?? (endpoint === 'chat' ? Math.max(1, ctx - longest) : DEFAULT_COMPLETION_MAX_TOKENS);
  // The same rule the simulator applies (src/engine/context.ts), on what the client asked (as vLLM checks it).
  const over = contextProblem(ctx, longest, wanted, maxParam, promptParam);
  if (over) throw badRequest(over.message, over.param, 'context_length_exceeded');
  const maxTokens = served.maxOutputTokens === undefined ? wanted : Math.min(wanted, served.maxOutputTokens);
  const minTokens = b.min_tokens ?? 0;
  const ignoreEos = b.ignore_eos ?? false;
  const stream = b.stream ?? false;
  const includeUsage = stream ? (b.stream_options?.include_usage ?? false) : true;
  if (!stream && b.stream_options != null) {
    throw badRequest('stream_options: only allowed when stream is true', 'stream_options', 'invalid_value');
  }
  return {
    endpoint,
    model: served.name,
    prompts: prompts.map((p) => ({ promptTokens: p.tokens, output: planOutput(maxTokens, minTokens, ignoreEos, p.hash), ...(p.ids ? { ids: p.ids } : {}) })),
    maxTokens,
    stream,
    includeUsage,
    continuousUsage: stream && includeUsage && (b.stream_options?.continuous_usage_stats ?? false),
    returnTokenIds: b.return_token_ids ?? false,
    logprobs: endpoint === 'chat' ? (r.data as { logprobs?: unknown }).logprobs === true : typeof (r.data as { logprobs?: unknown }).logprobs === 'number',
    ...(b.kv_transfer_params ? { kvTransfer: kvParams(b.kv_transfer_params) } : {}),
  };
}

function kvParams(k: NonNullable<z.infer<typeof kvTransferParams>>): KvTransferParams {
  return {
    doRemoteDecode: k.do_remote_decode ?? false,
    doRemotePrefill: k.do_remote_prefill ?? false,
    ...(k.remote_engine_id != null ? { remoteEngineId: String(k.remote_engine_id) } : {}),
    ...(k.splitbench_prefill_s != null ? { prefillS: k.splitbench_prefill_s } : {}),
    ...(k.splitbench_machine_type != null ? { machineType: k.splitbench_machine_type } : {}),
  };
}
