/**
 * The prefix cache of one machine: KV blocks of whole prompt blocks (`PREFIX_BLOCK_TOKENS` = 512 tokens,
 * Mooncake's block size), keyed by a prefix hash (the hash of the block *and* everything before it, so a
 * hash names a whole prefix), with LRU eviction. Pure bookkeeping: the instance owns the memory (free KV
 * blocks) and decides when to evict; this class keeps who uses which entry and the eviction order.
 *
 * - An entry used by a request (running, or held for a transfer) is pinned (`refs` > 0) and never evicted.
 * - Unpinned entries are evictable, least recently used first. A request that lets go of a chain of
 *   entries puts them back tail first, so within a chain the tail is evicted before the head (a head
 *   evicted first would make the rest unreachable: lookups walk the chain from its first block).
 * - A lookup matches the longest run of leading hashes present.
 */

/** Tokens per prefix block (the trace's hash block and the live server's hashing unit). */
export const PREFIX_BLOCK_TOKENS = 512;

export interface CacheEntry {
  readonly hash: number;
  refs: number;
}

export class PrefixCache {
  private readonly entries = new Map<number, CacheEntry>();
  /** Unpinned entries, least recently used first (Map insertion order). */
  private readonly lru = new Map<number, CacheEntry>();

  constructor(
    /** KV blocks (of the instance's block size) one entry occupies. */
    readonly kvBlocksPerEntry: number,
  ) {}

  /** Entries held (pinned or not). */
  get size(): number {
    return this.entries.size;
  }
  /** Entries that could be evicted now. */
  get evictable(): number {
    return this.lru.size;
  }

  /** Leading hashes of `hashes` (at most `max`) present in the cache. */
  match(hashes: readonly number[], max = hashes.length): number {
    const n = Math.min(max, hashes.length);
    let k = 0;
    while (k < n && this.entries.has(hashes[k]!)) k++;
    return k;
  }

  has(hash: number): boolean {
    return this.entries.has(hash);
  }

  /** Pin the first `k` hashes (all present: `k` ≤ `match(hashes)`); returns their entries in order. */
  pin(hashes: readonly number[], k: number, out: CacheEntry[]): void {
    for (let i = 0; i < k; i++) out.push(this.pinOne(hashes[i]!));
  }

  /** Pin one present entry. */
  pinOne(hash: number): CacheEntry {
    const e = this.entries.get(hash)!;
    if (e.refs++ === 0) this.lru.delete(hash);
    return e;
  }

  /** Add an entry for `hash` (absent), pinned once by its inserter. */
  insert(hash: number): CacheEntry {
    const e: CacheEntry = { hash, refs: 1 };
    this.entries.set(hash, e);
    return e;
  }

  /** Let go of entries pinned in chain order: the last goes back first, so it is evicted first. */
  unpin(entries: readonly CacheEntry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      if (--e.refs === 0) this.lru.set(e.hash, e);
    }
  }

  /** Drop the least recently used unpinned entry; its hash, or undefined when none can go. */
  evictOne(): number | undefined {
    const it = this.lru.keys().next();
    if (it.done) return undefined;
    const h = it.value;
    this.lru.delete(h);
    this.entries.delete(h);
    return h;
  }

  /** Hashes of unpinned entries, next to be evicted first (tests, debugging). */
  evictionOrder(): number[] {
    return [...this.lru.keys()];
  }
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Prefix hashes of a prompt given as token ids, for a server that receives ids (the live reference backend):
 * one hash per whole 512-token block, each the 32-bit FNV-1a of the block's ids (4 little-endian bytes
 * each) seeded with the previous block's hash, so equal hashes mean equal prefixes (as vLLM chains its block
 * hashes). A partial last block gets no hash (it is never cached).
 */
export function prefixBlockHashes(ids: readonly number[], blockTokens = PREFIX_BLOCK_TOKENS): number[] {
  const out: number[] = [];
  let h = FNV_OFFSET;
  for (let start = 0; start + blockTokens <= ids.length; start += blockTokens) {
    for (let i = start; i < start + blockTokens; i++) {
      let v = ids[i]! >>> 0;
      for (let b = 0; b < 4; b++) {
        h = Math.imul(h ^ (v & 0xff), FNV_PRIME) >>> 0;
        v >>>= 8;
      }
    }
    out.push(h);
  }
  return out;
}
