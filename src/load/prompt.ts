/**
 * Request bodies for OpenAI-compatible targets, built as strings (a long prompt is not re-serialised
 * element by element for every request).
 *
 * - `tokens` (default on `/v1/completions`): `prompt` is a list of exactly `promptTokens` token ids. The
 *   first 16 ids are unique to the request (derived from its sequence number and the seed), so no two
 *   requests share a KV prefix block and a prefix cache cannot make prompts cheaper than the trace
 *   says; the rest is a slice of one deterministic pseudo-random id sequence. Ids lie in [1000, 30000),
 *   clear of special tokens in common vocabularies; a target that states a smaller vocabulary (`vocab_size`
 *   in its /v1/models entry, as `serve --engine real` does for the tiny models it makes) gets ids in
 *   [⌊V/8⌋, V) instead (`idRange`).
 *   Requests that carry prefix block hashes (Mooncake `hash_ids`, 512 tokens per block) get, instead,
 *   one deterministic 512-id block per hash id (the last one cut to length, ids past the blocks unique
 *   to the request): requests that share leading hash ids share exactly those prompt prefixes, so a
 *   prefix cache sees the reuse the trace recorded.
 * - `text` (and always on `/v1/chat/completions`): a deterministic text of about `promptTokens` tokens
 *   (one common English word per token, each a single token in common BPE vocabularies), starting with
 *   a request-unique header.
 *
 * Every body asks for exactly the trace's output: `max_tokens` = `min_tokens` = outputTokens,
 * `ignore_eos: true`, `stream: true`, `stream_options: {include_usage, continuous_usage_stats}`;
 * `--extra-body` is merged last (it may override any of these).
 */

export type Endpoint = 'completions' | 'chat';
export type PromptMode = 'tokens' | 'text';

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  completions: '/v1/completions',
  chat: '/v1/chat/completions',
};

const ID_LO = 1000;
const ID_SPAN = 29000;
const UNIQUE_HEAD = 16;

/** The token ids prompts are drawn from: [lo, lo + span). A vocabulary of V < 30000 ids gives [⌊V/8⌋, V). */
export function idRange(vocabSize?: number): { readonly lo: number; readonly span: number } {
  if (vocabSize === undefined || vocabSize >= ID_LO + ID_SPAN) return { lo: ID_LO, span: ID_SPAN };
  const lo = Math.floor(vocabSize / 8);
  return { lo, span: Math.max(1, vocabSize - lo) };
}

/** 32-bit mixing hash (deterministic, no state). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an ' +
  'they you were her she there been one all we their has would when if so no will more can out up time who ' +
  'them some into only other new than what its also two may after first any these could our well over such ' +
  'like just most where then made did many before through back much good years people way little very still ' +
  'great own old see life work down long should day because same being under last never each know us day ' +
  'place found house world year right water small number part while might those both three high every large'
).split(' ');

/** Lazily grown comma-joined id sequence with the offset of each id's end, for O(1) slicing. */
class IdPool {
  private text = '';
  private ends: number[] = [];
  private readonly seed: number;
  constructor(
    seed: number,
    private readonly range: { readonly lo: number; readonly span: number },
  ) {
    this.seed = seed;
  }
  /** Comma-joined ids [0, n). */
  slice(n: number): string {
    if (n <= 0) return '';
    this.grow(n);
    return this.text.slice(0, this.ends[n - 1]!);
  }
  private grow(n: number): void {
    if (this.ends.length >= n) return;
    const target = Math.max(n, this.ends.length * 2, 1024);
    const parts: string[] = [];
    let len = this.text.length;
    for (let i = this.ends.length; i < target; i++) {
      const id = this.range.lo + (mix32(this.seed * 0x9e3779b1 + i) % this.range.span);
      const s = (i === 0 ? '' : ',') + id;
      parts.push(s);
      len += s.length;
      this.ends.push(len);
    }
    this.text += parts.join('');
  }
}

export interface BodyOptions {
  readonly endpoint: Endpoint;
  readonly prompt: PromptMode;
  readonly model: string;
  readonly seed: number;
  readonly extraBody?: Record<string, unknown>;
  /** Output-length and usage fields of a target preset (`--target`); default: the vLLM-style fields above. */
  readonly fields?: (outputTokens: number, endpoint: Endpoint) => Record<string, unknown>;
  /** The target's vocabulary size, where it states one (token ids stay below it; see `idRange`). */
  readonly vocabSize?: number;
}

export interface BodyRequest {
  readonly seq: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** Prefix block hashes (token-id prompts only). */
  readonly hashIds?: readonly number[] | undefined;
}

/** Tokens per prefix block hash (Mooncake's block size). */
export const HASH_BLOCK_TOKENS = 512;
/** Most distinct hash blocks kept built (≈3 KB each); older ones are rebuilt when needed again. */
const HASH_BLOCK_CACHE = 4096;
/** Prompt ids built before a run's clock starts (`BodyBuilder.warm`): about 50 KB of text. */
const WARM_IDS = 8192;
/** Most body tails (one per output length) kept built; past it the cache starts over. */
const TAIL_CACHE = 4096;

export class BodyBuilder {
  private readonly opts: BodyOptions;
  private readonly ids: IdPool;
  private readonly textPool: IdPool;
  private readonly blocks = new Map<number, string>();
  private readonly tails = new Map<number, string>();
  private readonly range: { readonly lo: number; readonly span: number };

  constructor(opts: BodyOptions) {
    this.opts = opts;
    this.range = idRange(opts.vocabSize);
    this.ids = new IdPool(opts.seed, this.range);
    this.textPool = new IdPool(opts.seed + 1, idRange());
  }

  /** Token ids of the prompt, as comma-joined text (exactly `n` ids). */
  promptIds(seq: number, n: number): string {
    const head = Math.min(UNIQUE_HEAD, n);
    const { lo, span } = this.range;
    let ids = '';
    for (let i = 0; i < head; i++) ids += `${i === 0 ? '' : ','}${lo + (mix32((seq + 1) * 0x85ebca6b + i * 0xc2b2ae35 + this.opts.seed) % span)}`;
    const rest = this.ids.slice(n - head);
    return rest.length > 0 ? `${ids},${rest}` : ids;
  }

  /** One hash block's ids, comma-joined (HASH_BLOCK_TOKENS ids, a pure function of the hash and seed). */
  private block(hash: number): string {
    let b = this.blocks.get(hash);
    if (b === undefined) {
      const ids: number[] = new Array(HASH_BLOCK_TOKENS);
      const h = mix32(hash ^ Math.imul(this.opts.seed + 0x27d4eb2f, 0x165667b1));
      const { lo, span } = this.range;
      for (let i = 0; i < HASH_BLOCK_TOKENS; i++) ids[i] = lo + (mix32(h + Math.imul(i, 0x9e3779b1)) % span);
      b = ids.join(',');
      if (this.blocks.size >= HASH_BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value as number);
      this.blocks.set(hash, b);
    }
    return b;
  }

  /** Exactly `n` ids: one block per hash id, then ids unique to `seq` past the blocks. */
  promptIdsFromHashes(seq: number, n: number, hashIds: readonly number[]): string {
    const parts: string[] = [];
    let have = 0;
    for (const hash of hashIds) {
      if (have >= n) break;
      const b = this.block(hash);
      const take = Math.min(HASH_BLOCK_TOKENS, n - have);
      if (take === HASH_BLOCK_TOKENS) parts.push(b);
      else {
        let end = -1;
        for (let k = 0; k < take; k++) end = b.indexOf(',', end + 1);
        parts.push(end < 0 ? b : b.slice(0, end));
      }
      have += take;
    }
    if (have < n) parts.push(this.promptIds(seq, n - have));
    return parts.join(',');
  }

  /** A deterministic text of about `n` tokens, unique to `seq`. */
  promptText(seq: number, n: number): string {
    const header = `Request ${seq}:`;
    const words = Math.max(1, n - 3);
    const idx = this.textPool.slice(words);
    let out = header;
    let start = 0;
    for (let i = 0; i < words; i++) {
      let end = idx.indexOf(',', start);
      if (end < 0) end = idx.length;
      const id = Number(idx.slice(start, end));
      out += ` ${WORDS[id % WORDS.length]}`;
      start = end + 1;
    }
    return out;
  }

  /**
   * The body after the prompt (`,"model":…}`): a function of the output length alone, so built once per
   * length (a trace has few distinct lengths) rather than serialised again for every request.
   */
  private tail(outputTokens: number): string {
    let tail = this.tails.get(outputTokens);
    if (tail !== undefined) return tail;
    const o = this.opts;
    const rest: Record<string, unknown> = {
      model: o.model,
      ...(o.fields
        ? o.fields(outputTokens, o.endpoint)
        : { max_tokens: outputTokens, min_tokens: outputTokens, ignore_eos: true, stream_options: { include_usage: true, continuous_usage_stats: true } }),
      stream: true,
      ...(o.extraBody ?? {}),
    };
    const restJson = JSON.stringify(rest);
    tail = restJson.length > 2 ? `,${restJson.slice(1)}` : '}';
    if (this.tails.size >= TAIL_CACHE) this.tails.clear();
    this.tails.set(outputTokens, tail);
    return tail;
  }

  /**
   * Before a run's clock starts: grow the prompt id sequence to `ids` ids and build a few bodies, so that the
   * first requests (due at once at t0) pay neither for building the sequence nor for cold code. Bodies built
   * afterwards are the same as without it (each id depends on its position alone).
   */
  warm(ids = WARM_IDS): void {
    const o = this.opts;
    const text = o.endpoint === 'chat' || o.prompt === 'text';
    for (let k = 0; k < 8; k++) {
      const promptTokens = Math.max(1, Math.round(ids / 2 ** k));
      if (text) this.promptText(k, promptTokens);
      else this.promptIds(k, promptTokens);
    }
    this.tail(1);
  }

  build(r: BodyRequest): string {
    const o = this.opts;
    const tail = this.tail(r.outputTokens);
    if (o.endpoint === 'chat') {
      const content = JSON.stringify(this.promptText(r.seq, r.promptTokens));
      return `{"messages":[{"role":"user","content":${content}}]${tail}`;
    }
    if (o.prompt === 'text') return `{"prompt":${JSON.stringify(this.promptText(r.seq, r.promptTokens))}${tail}`;
    const ids = r.hashIds && r.hashIds.length > 0 ? this.promptIdsFromHashes(r.seq, r.promptTokens, r.hashIds) : this.promptIds(r.seq, r.promptTokens);
    return `{"prompt":[${ids}]${tail}`;
  }
}
