/**
 * Tokenizer-free token accounting of the reference backend. Deterministic, documented rules (docs/backend.md,
 * section "Reference backend"):
 *
 * - A prompt given as token ids counts exactly its length.
 * - A prompt given as text counts `ceil(chars / 4)` tokens (characters = UTF-16 code units), at least 1.
 *   Chat messages count the same rule over the concatenated text of every message's content.
 * - Output length: exactly `max_tokens` when `ignore_eos` is set or `min_tokens >= max_tokens`;
 *   otherwise `lo + hash(prompt) mod (max_tokens − lo + 1)` with `lo = max(1, min_tokens)`, where
 *   `hash` is 32-bit FNV-1a over the prompt (token ids or text). The finish reason is "length" when
 *   the output reaches `max_tokens`, else "stop".
 * - Every output token's text is TOKEN_TEXT.
 */

/** Text of one emitted token. */
export const TOKEN_TEXT = ' tok';

/** Characters per token for text prompts. */
export const CHARS_PER_TOKEN = 4;

export function countTextTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN));
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a of a text (over UTF-16 code units, low and high byte). */
export function hashText(text: string, seed = FNV_OFFSET): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME) >>> 0;
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME) >>> 0;
  }
  return h >>> 0;
}

/** 32-bit FNV-1a of a token-id sequence (each id as 4 little-endian bytes). */
export function hashIds(ids: readonly number[], seed = FNV_OFFSET): number {
  let h = seed >>> 0;
  for (const id of ids) {
    let v = id >>> 0;
    for (let b = 0; b < 4; b++) {
      h = Math.imul(h ^ (v & 0xff), FNV_PRIME) >>> 0;
      v >>>= 8;
    }
  }
  return h >>> 0;
}

export interface OutputPlan {
  readonly tokens: number;
  readonly finishReason: 'length' | 'stop';
}

/** How many tokens a request produces (see the module comment). `maxTokens` ≥ 1. */
export function planOutput(maxTokens: number, minTokens: number, ignoreEos: boolean, promptHash: number): OutputPlan {
  if (ignoreEos || minTokens >= maxTokens) return { tokens: maxTokens, finishReason: 'length' };
  const lo = Math.max(1, minTokens);
  const tokens = lo + ((promptHash >>> 0) % (maxTokens - lo + 1));
  return { tokens, finishReason: tokens === maxTokens ? 'length' : 'stop' };
}

/** The text of `n` output tokens. */
export function tokensText(n: number): string {
  return n <= 0 ? '' : TOKEN_TEXT.repeat(n);
}
