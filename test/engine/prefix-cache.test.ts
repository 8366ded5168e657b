import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock, EventRank } from '../../src/engine/clock.js';
import { createCluster, type EngineCatalog } from '../../src/engine/cluster.js';
import { Instance, Seq, SeqMode } from '../../src/engine/instance.js';
import { PrefixCache, prefixBlockHashes } from '../../src/engine/prefix-cache.js';
import type { EngineRequest } from '../../src/engine/api.js';
import { ConstantPerfModel, catalogOf, near, recorder, tinyMachine, tinyModel, type Record } from './helpers.js';
import { defineDeployment, loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();

// prefill = 0.1 + 0.001·tokens, decode iteration 0.02 s.
const perf = new ConstantPerfModel(0.1, 0.001, 0.02);
const bigCatalog = catalogOf([tinyMachine('m', 1e12)], [tinyModel()]);

function setup(spec: Parameters<typeof defineDeployment>[0], catalog: EngineCatalog = bigCatalog) {
  const clock = new VirtualClock();
  const cluster = createCluster(defineDeployment(spec), { clock, catalog, perfModel: perf });
  const recs = new Map<string, Record>();
  const submitAt = (t: number, r: EngineRequest) => clock.at(t, () => cluster.submit(r, recorder(r.id, recs)), EventRank.arrival);
  return { clock, cluster, recs, submitAt };
}
const mono = (extra: object = {}, count = 1) => ({ kind: 'monolithic' as const, model: 'tiny', pools: { mixed: { machine: 'm', count } }, ...extra });
const ask = (id: string, promptTokens: number, outputTokens: number, blockHashes?: number[]): EngineRequest => ({
  id,
  promptTokens,
  outputTokens,
  ...(blockHashes ? { blockHashes } : {}),
});

test("a repeated prompt's second prefill costs only its uncached suffix", () => {
  const on = setup(mono({ prefixCache: true }));
  on.submitAt(0, ask('a', 1100, 2, [1, 2, 3]));
  on.submitAt(10, ask('b', 1100, 2, [1, 2, 3]));
  on.clock.run();
  near(on.recs.get('a')!.tokens[0]!.t, 0.1 + 1.1, 'cold: the whole prompt');
  // Two whole 512-token blocks cached; 1100 − 1024 = 76 tokens computed.
  near(on.recs.get('b')!.tokens[0]!.t, 10 + 0.1 + 0.076, 'warm: only the suffix');
  const snap = on.cluster.snapshot()[0]!;
  assert.equal(snap.promptTokensTotal, 1100 + 76);

  const off = setup(mono());
  off.submitAt(0, ask('a', 1100, 2, [1, 2, 3]));
  off.submitAt(10, ask('b', 1100, 2, [1, 2, 3]));
  off.clock.run();
  near(off.recs.get('b')!.tokens[0]!.t, 10 + 1.2, 'off by default: no reuse');

  // Requests without hashes derive none: no reuse even with the cache on.
  const bare = setup(mono({ prefixCache: true }));
  bare.submitAt(0, ask('a', 1100, 2));
  bare.submitAt(10, ask('b', 1100, 2));
  bare.clock.run();
  near(bare.recs.get('b')!.tokens[0]!.t, 10 + 1.2);
});

test('a cache hit is costed as a chunk at the cached offset, and a whole hit still computes one token', () => {
  const inst = new Instance<null>('i', 1e6, { prefixCache: true });
  const run = (id: string, prompt: number, hashes: number[]): { tokens: number[]; offsets: number[] } => {
    const s = new Seq<null>(id, 0, SeqMode.full, prompt, 1, null);
    s.hashes = hashes;
    inst.admit(s);
    const b = inst.nextBatch()!;
    const shape = { tokens: [...b.promptTokens], offsets: [...b.promptOffsets] };
    inst.onIterationEnd();
    return shape;
  };
  assert.deepEqual(run('a', 1536, [7, 8, 9]), { tokens: [1536], offsets: [0] });
  assert.deepEqual(run('b', 1300, [7, 8, 5]), { tokens: [276], offsets: [1024] });
  // All three blocks cached, but the prompt's last token is computed (its first token comes from it).
  assert.deepEqual(run('c', 1536, [7, 8, 9]), { tokens: [512], offsets: [1024] });
  assert.equal(inst.cacheQueries, 3);
  assert.equal(inst.cacheHits, 2);
  assert.equal(inst.cacheQueryTokens, 1536 + 1300 + 1536);
  assert.equal(inst.cacheHitTokens, 1024 + 1024);
});

test('LRU eviction order: least recently used chain first, its tail before its head', () => {
  const c = new PrefixCache(32);
  const a = [c.insert(1), c.insert(2)];
  const b = [c.insert(3), c.insert(4)];
  c.unpin(a);
  c.unpin(b);
  assert.deepEqual(c.evictionOrder(), [2, 1, 4, 3]);
  // Using chain a again makes it the most recent.
  const again: ReturnType<PrefixCache['insert']>[] = [];
  assert.equal(c.match([1, 2, 99]), 2);
  c.pin([1, 2], 2, again);
  assert.deepEqual(c.evictionOrder(), [4, 3], 'pinned entries are not evictable');
  c.unpin(again);
  assert.deepEqual(c.evictionOrder(), [4, 3, 2, 1]);
  assert.equal(c.evictOne(), 4);
  assert.equal(c.match([3, 4]), 1);

  // In an instance: memory for two prompts' blocks; a third prompt evicts the oldest chain, tail first.
  const inst = new Instance<null>('i', 64 * 16, { prefixCache: true }); // 64 blocks = two 512-token prefix blocks
  let n = 0;
  const serve = (prompt: number, hashes: number[]): number => {
    const s = new Seq<null>(`r${n}`, n++, SeqMode.full, prompt, 1, null);
    s.hashes = hashes;
    inst.admit(s);
    const b = inst.nextBatch()!;
    const offset = b.promptOffsets[0]!;
    inst.onIterationEnd();
    return offset;
  };
  serve(512, [10]);
  serve(512, [20]);
  assert.deepEqual(inst.cache!.evictionOrder(), [10, 20]);
  assert.equal(inst.usedTokens, 1024, 'cached blocks count in the KV footprint');
  serve(512, [30]); // evicts 10, the least recently used
  assert.deepEqual(inst.cache!.evictionOrder(), [20, 30]);
  assert.equal(serve(1024, [20, 40]), 512, '20 still cached');
  assert.deepEqual(inst.cache!.evictionOrder(), [40, 20]);
});

test('cached blocks are evicted before a running request is preempted', () => {
  // 100 blocks of 16 tokens. One 512-token block cached (32 blocks), then two requests of 34 blocks each
  // fill the rest exactly; the first decode block either evicts the cache or preempts the younger.
  const inst = new Instance<null>('i', 100 * 16, { prefixCache: true });
  const a = new Seq<null>('a', 0, SeqMode.full, 512, 1, null);
  a.hashes = [1];
  inst.admit(a);
  inst.nextBatch();
  inst.onIterationEnd();
  assert.equal(inst.cache!.size, 1);
  assert.equal(inst.freeBlocks, 68);
  const b = new Seq<null>('b', 1, SeqMode.full, 544, 50, null);
  const c = new Seq<null>('c', 2, SeqMode.full, 544, 50, null);
  inst.admit(b);
  inst.admit(c);
  const first = inst.nextBatch()!;
  assert.deepEqual([...first.promptTokens], [544, 544]);
  assert.equal(inst.cache!.size, 1, 'admission fitted in free memory: nothing evicted');
  inst.onIterationEnd();
  for (let i = 0; i < 49; i++) {
    const batch = inst.nextBatch()!;
    assert.equal(batch.preempted.length, 0, `iteration ${i}: no preemption`);
    inst.onIterationEnd();
  }
  assert.equal(inst.cache!.size, 0, 'the cached block made room');
  assert.equal(b.preemptions + c.preemptions, 0);
  assert.equal(inst.freeBlocks, inst.capacityBlocks);

  // Control: without the cache the same memory holds both requests and nothing is preempted either; with
  // the cached block pinned (in use) the younger request must be preempted.
  const pinned = new Instance<null>('p', 100 * 16, { prefixCache: true });
  const holder = new Seq<null>('h', 0, SeqMode.prefillOnly, 512, 2, null);
  holder.hashes = [1];
  pinned.admit(holder);
  pinned.nextBatch();
  pinned.onIterationEnd(); // prefilled, held for a transfer: its cached block is pinned
  const b2 = new Seq<null>('b', 1, SeqMode.full, 544, 50, null);
  const c2 = new Seq<null>('c', 2, SeqMode.full, 544, 50, null);
  pinned.admit(b2);
  pinned.admit(c2);
  let preempted = 0;
  for (let i = 0; i < 30; i++) {
    const batch = pinned.nextBatch();
    if (!batch) break;
    preempted += batch.preempted.length;
    pinned.onIterationEnd();
  }
  assert.ok(preempted > 0, 'a pinned block cannot be evicted: preemption');
});

test('prefix-affinity routing sends a repeated prefix to the machine that holds it', () => {
  for (const scheduler of ['prefix-affinity', 'kv-cost', 'jsq-tokens']) {
    const { clock, recs, submitAt } = setup(mono({ prefixCache: true, scheduler }, 2));
    submitAt(0, ask('x', 1100, 2, [5, 6, 7]));
    submitAt(0, ask('y', 1100, 2, [1, 2, 3])); // both idle: x took mixed-0, y goes to mixed-1 (fewer pending)
    submitAt(20, ask('z', 1100, 2, [1, 2, 3])); // both idle again
    clock.run();
    assert.equal(recs.get('y')!.done!.bd.promptMachine, 'mixed-1');
    const z = recs.get('z')!;
    if (scheduler === 'jsq-tokens') {
      assert.equal(z.done!.bd.promptMachine, 'mixed-0', 'load alone: the first idle machine');
      near(z.tokens[0]!.t, 20 + 1.2);
    } else {
      assert.equal(z.done!.bd.promptMachine, 'mixed-1', `${scheduler}: where [1, 2, 3] is cached`);
      near(z.tokens[0]!.t, 20 + 0.1 + 0.076);
    }
  }
  // Phase-split: prompt machines cache, the token machine gets the whole context.
  const splitDep = {
    kind: 'split' as const,
    model: 'tiny',
    scheduler: 'prefix-affinity',
    prefixCache: true,
    pools: { prompt: { machine: 'm', count: 2 }, token: { machine: 'm', count: 1 } },
  };
  const { clock, cluster, recs, submitAt } = setup(splitDep);
  submitAt(0, ask('x', 1100, 3, [5, 6, 7]));
  submitAt(0, ask('y', 1100, 3, [1, 2, 3]));
  submitAt(20, ask('z', 1100, 3, [1, 2, 3]));
  clock.run();
  assert.equal(recs.get('y')!.done!.bd.promptMachine, 'prompt-1');
  assert.equal(recs.get('z')!.done!.bd.promptMachine, 'prompt-1');
  assert.equal(recs.get('z')!.done!.bd.tokenMachine, 'token-0');
  near(recs.get('z')!.tokens[0]!.t, 20 + 0.176);
  assert.ok(recs.get('z')!.done!.bd.kvTransfer > 0);
  near(recs.get('z')!.done!.bd.kvTransfer, recs.get('y')!.done!.bd.kvTransfer, 'the whole context is shipped, hit or not');
  assert.equal(cluster.snapshot().find((s) => s.id === 'token-0')!.kvUsedTokens, 0);
});

test('prefixCache is validated and the compatible mode refuses it', () => {
  assert.throws(() => defineDeployment({ ...mono(), prefixCache: 'yes' } as never), /prefixCache/);
  assert.throws(() => defineDeployment({ ...mono({ prefixCache: true }), instance: { blockTokens: 24 } }), /prefixCache: needs a KV block size dividing 512/);
  const clock = new VirtualClock();
  assert.throws(
    () => createCluster(defineDeployment(mono({ prefixCache: true })), { clock, data, compat: 'splitwise' }),
    /compatible mode has no prefix cache/,
  );
});

test('server-side block hashes: one per whole 512-token block, chained over the prefix', () => {
  const ids = Array.from({ length: 1300 }, (_, i) => 1000 + (i % 97));
  const h = prefixBlockHashes(ids);
  assert.equal(h.length, 2);
  const other = [...ids];
  other[600] = 5; // second block differs
  const h2 = prefixBlockHashes(other);
  assert.equal(h2[0], h[0]);
  assert.notEqual(h2[1], h[1]);
  const third = [...ids];
  third[0] = 5; // first block differs: every later hash differs too (a prefix hash)
  const h3 = prefixBlockHashes(third);
  assert.notEqual(h3[0], h[0]);
  assert.notEqual(h3[1], h[1]);
  assert.deepEqual(prefixBlockHashes(ids.slice(0, 511)), []);
});

test('kv-cost weighs the cache hit against queued work; prefix-affinity follows the cache regardless', () => {
  // mixed-1 caches [1, 2] (1024 tokens), then a long prompt sharing them queues there (both policies: it hits).
  // A request with prefix [1, 2] next: prefix-affinity sends it to mixed-1 anyway; kv-cost compares
  // prefill(20,000 queued + 1100 − 1024) = 20.2 s there with prefill(1100) = 1.2 s on the idle mixed-0.
  for (const [scheduler, want] of [
    ['prefix-affinity', 'mixed-1'],
    ['kv-cost', 'mixed-0'],
  ] as const) {
    const { clock, recs, submitAt } = setup(mono({ prefixCache: true, scheduler }, 2));
    submitAt(0, ask('busy0', 100, 2, [7])); // mixed-0 (tie → first)
    submitAt(0, ask('warm', 1100, 2, [1, 2, 3])); // mixed-1 (fewer pending tokens / cheaper)
    submitAt(5, ask('long', 20000, 2, [1, 2, 10])); // mixed-1: cached there
    submitAt(5, ask('q', 1100, 2, [1, 2, 5]));
    clock.run();
    assert.equal(recs.get('warm')!.done!.bd.promptMachine, 'mixed-1', scheduler);
    assert.equal(recs.get('long')!.done!.bd.promptMachine, 'mixed-1', scheduler);
    assert.equal(recs.get('q')!.done!.bd.promptMachine, want, scheduler);
  }
});
