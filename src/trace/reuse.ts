/**
 * The prefix reuse a trace with prefix block hashes offers (Mooncake `hash_ids`, one per 512-token block;
 * equal ids name equal prefixes). For each request in arrival order, its hit is the leading run of its
 * blocks held in a cache, token-weighted (block i holds min(512, promptTokens − 512·i) tokens of the
 * prompt); then all its blocks are in the cache, its first block most recently used (a chain is evicted
 * tail first, as the engine's prefix cache does). Two caches: an infinite one (every block seen before
 * stays: the reuse the trace offers at best) and, given a size in blocks, an LRU one.
 *
 *   reuse = Σ hit tokens / Σ prompt tokens, over the requests that carry hashes.
 */
import type { RequestSpec } from './types.js';

export const REUSE_BLOCK_TOKENS = 512;

export interface ReuseFigures {
  /** Prompt tokens found cached (token-weighted leading hit runs). */
  readonly hitTokens: number;
  /** hitTokens / promptTokens. */
  readonly fraction: number;
  /** Requests with at least one cached block. */
  readonly hitRequests: number;
}

export interface PrefixReuse {
  /** Requests that carry hashes, and their prompt tokens. */
  readonly requests: number;
  readonly promptTokens: number;
  readonly infinite: ReuseFigures;
  /** LRU cache of `blocks` 512-token blocks (when a size was given). */
  readonly lru?: ReuseFigures & { readonly blocks: number };
}

class Tally {
  hitTokens = 0;
  hitRequests = 0;
  result(prompt: number): ReuseFigures {
    return { hitTokens: this.hitTokens, fraction: prompt > 0 ? this.hitTokens / prompt : 0, hitRequests: this.hitRequests };
  }
}

const blockTokens = (prompt: number, i: number): number => Math.max(0, Math.min(REUSE_BLOCK_TOKENS, prompt - REUSE_BLOCK_TOKENS * i));

export class PrefixReuseCounter {
  private readonly seen = new Set<number>();
  /** LRU: Map insertion order, least recently used first. */
  private readonly lru = new Map<number, true>();
  private readonly inf = new Tally();
  private readonly lim = new Tally();
  private requests = 0;
  private prompt = 0;

  constructor(readonly lruBlocks?: number) {}

  add(r: RequestSpec): void {
    const h = r.hashIds;
    if (!h || h.length === 0) return;
    this.requests++;
    this.prompt += r.promptTokens;
    this.count(h, r.promptTokens, (x) => this.seen.has(x), this.inf);
    for (const x of h) this.seen.add(x);
    const cap = this.lruBlocks;
    if (cap !== undefined) {
      this.count(h, r.promptTokens, (x) => this.lru.has(x), this.lim);
      for (let i = h.length - 1; i >= 0; i--) {
        this.lru.delete(h[i]!);
        this.lru.set(h[i]!, true);
      }
      while (this.lru.size > cap) this.lru.delete(this.lru.keys().next().value as number);
    }
  }

  private count(h: readonly number[], prompt: number, has: (x: number) => boolean, t: Tally): void {
    let tokens = 0;
    for (let i = 0; i < h.length && has(h[i]!); i++) tokens += blockTokens(prompt, i);
    t.hitTokens += tokens;
    if (tokens > 0) t.hitRequests++;
  }

  /** Undefined when no request carried hashes. */
  result(): PrefixReuse | undefined {
    if (this.requests === 0) return undefined;
    return {
      requests: this.requests,
      promptTokens: this.prompt,
      infinite: this.inf.result(this.prompt),
      ...(this.lruBlocks === undefined ? {} : { lru: { blocks: this.lruBlocks, ...this.lim.result(this.prompt) } }),
    };
  }
}
