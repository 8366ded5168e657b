import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock, EventRank } from '../../src/engine/clock.js';
import { createCluster, type EngineCatalog } from '../../src/engine/cluster.js';
import type { EngineEvents } from '../../src/engine/api.js';
import { ConstantPerfModel, catalogOf, near, recorder, req, tinyMachine, tinyModel, type Record } from './helpers.js';
import { defineDeployment } from '../../src/config/index.js';

const perf = new ConstantPerfModel(0.1, 0.001, 0.02);

function setup(spec: Parameters<typeof defineDeployment>[0], catalog: EngineCatalog, events?: EngineEvents) {
  const clock = new VirtualClock();
  const cluster = createCluster(defineDeployment(spec), { clock, catalog, perfModel: perf, ...(events ? { events } : {}) });
  const recs = new Map<string, Record>();
  const submitAt = (t: number, id: string, p: number, o: number) => clock.at(t, () => cluster.submit(req(id, p, o), recorder(id, recs)), EventRank.arrival);
  return { clock, cluster, recs, submitAt };
}

const bigCatalog = catalogOf([tinyMachine('m', 1e12), tinyMachine('slow', 1e12, 0.8, 0.008)], [tinyModel()]);
const mono = (count = 1) => ({ kind: 'monolithic' as const, model: 'tiny', pools: { mixed: { machine: 'm', count } } });

test('one request alone: prefill then one decode per iteration', () => {
  const { clock, cluster, recs, submitAt } = setup(mono(), bigCatalog);
  submitAt(0, 'r1', 100, 5);
  clock.run();
  const r = recs.get('r1')!;
  assert.equal(r.tokens.length, 5);
  near(r.tokens[0]!.t, 0.2, 'first token');
  near(r.done!.t, 0.28, 'end');
  near(r.done!.bd.queue, 0);
  near(r.done!.bd.prefill, 0.2);
  near(r.done!.bd.decodeWait, 0.02, 'first token → second token: one decode iteration');
  near(r.done!.bd.decode, 0.06, 'second token → last token');
  assert.equal(r.done!.bd.kvTransfer, 0);
  assert.equal(r.done!.bd.promptMachine, 'mixed-0');
  assert.equal(cluster.inFlight(), 0);
});

test('two overlapping requests share a mixed batch', () => {
  const { clock, recs, submitAt } = setup(mono(), bigCatalog);
  submitAt(0, 'r1', 100, 3);
  submitAt(0.1, 'r2', 200, 2);
  clock.run();
  const r1 = recs.get('r1')!;
  const r2 = recs.get('r2')!;
  near(r1.tokens[0]!.t, 0.2);
  // 0.2 → mixed iteration: r1 decode + r2 prefill(200) = 0.1 + 0.2 + 0.02
  near(r1.tokens[1]!.t, 0.52);
  near(r2.tokens[0]!.t, 0.52, 'r2 first token');
  near(r1.done!.t, 0.54);
  near(r2.done!.t, 0.54);
  near(r2.done!.bd.queue, 0.1, 'r2 waited for the running iteration');
});

test('a prompt larger than the token budget is chunked over iterations', () => {
  const { clock, recs, submitAt } = setup({ ...mono(), instance: { maxBatchTokens: 1000 } }, bigCatalog);
  submitAt(0, 'r1', 2500, 2);
  clock.run();
  const r = recs.get('r1')!;
  // chunks 1000, 1000, 500: 1.1 + 1.1 + 0.6
  near(r.tokens[0]!.t, 2.8);
  near(r.done!.t, 2.82);
});

test('preemption under KV pressure: youngest request is recomputed', () => {
  // 2 bytes/token, 128 bytes of memory → 64 tokens = 4 blocks of 16.
  const cat = catalogOf([tinyMachine('m', 128)], [tinyModel(1)]);
  const { clock, recs, submitAt } = setup(mono(), cat);
  submitAt(0, 'r1', 16, 20);
  submitAt(0, 'r2', 16, 20);
  clock.run();
  const r1 = recs.get('r1')!;
  const r2 = recs.get('r2')!;
  near(r1.tokens[0]!.t, 0.132);
  near(r1.done!.t, 0.132 + 19 * 0.02, 'r1 never waits');
  assert.equal(r1.done!.bd.preemptions, 0);
  assert.equal(r2.done!.bd.preemptions, 1);
  // r2: preempted at 0.452 after 17 tokens; recompute of 33 tokens after r1 ends at 0.512.
  near(r2.tokens[16]!.t, 0.132 + 16 * 0.02);
  near(r2.tokens[17]!.t, 0.512 + 0.133, 'recompute emits token 18');
  near(r2.done!.t, 0.645 + 0.04);
  assert.equal(
    r2.tokens.reduce((s, x) => s + x.n, 0),
    20,
  );
});

const split = (promptMachine = 'm', tokenMachine = 'm', extra: object = {}) => ({
  kind: 'split' as const,
  model: 'tiny',
  scheduler: 'splitwise-mixed-pool',
  pools: { prompt: { machine: promptMachine, count: 1 }, token: { machine: tokenMachine, count: 1 } },
  ...extra,
});

test('KV transfer between pools: serialized for small prompts', () => {
  const seen: string[] = [];
  const { clock, recs, submitAt } = setup(split(), bigCatalog, {
    kvTransferStart: (e) => seen.push(`start ${e.from}->${e.to} ${e.bytes}`),
    kvTransferEnd: (e) => seen.push(`end ${e.time.toFixed(3)}`),
  });
  submitAt(0, 'r1', 100, 3);
  clock.run();
  const r = recs.get('r1')!;
  near(r.tokens[0]!.t, 0.2);
  // 100 tokens × 2000 B over 0.8 Gb/s = 0.002 s
  near(r.done!.bd.kvTransfer, 0.002);
  near(r.tokens[1]!.t, 0.222);
  near(r.done!.t, 0.242);
  assert.equal(r.done!.bd.promptMachine, 'prompt-0');
  assert.equal(r.done!.bd.tokenMachine, 'token-0');
  near(r.done!.bd.decodeWait, 0.02, 'second-token wait 0.022 = transfer 0.002 + one decode iteration');
  assert.deepEqual(seen, ['start prompt-0->token-0 200000', 'end 0.202']);
});

test('KV transfer: layer-wise overlap leaves the residue for large prompts', () => {
  const { clock, recs, submitAt } = setup(split('m', 'slow'), bigCatalog);
  submitAt(0, 'r1', 1000, 2);
  clock.run();
  const r = recs.get('r1')!;
  near(r.tokens[0]!.t, 1.1);
  near(r.done!.bd.kvTransfer, 0.008, 'max residue of the two machines');
  near(r.done!.t, 1.1 + 0.008 + 0.02);
});

test('pool borrowing: a token machine joins the mixed pool under prompt load and returns', () => {
  const { clock, cluster, recs, submitAt } = setup(split('m', 'm', { promptMaxPendingTokens: 100 }), bigCatalog);
  submitAt(0, 'r1', 100, 3);
  submitAt(0, 'r2', 100, 2);
  let midPool = '';
  clock.at(0.1, () => (midPool = cluster.snapshot().find((m) => m.id === 'token-0')!.pool), EventRank.sample);
  clock.run();
  const r1 = recs.get('r1')!;
  const r2 = recs.get('r2')!;
  assert.equal(midPool, 'mixed');
  assert.equal(r2.done!.bd.pool, 'mixed');
  assert.equal(r2.done!.bd.promptMachine, 'token-0');
  assert.equal(r2.done!.bd.tokenMachine, 'token-0');
  near(r2.done!.t, 0.22);
  near(r1.done!.bd.kvTransfer, 0.002);
  near(r1.done!.bd.decodeWait, 0.038, 'waits for the borrowed machine to finish its iteration (0.018), then one decode iteration');
  near(r1.done!.t, 0.26);
  assert.equal(cluster.snapshot().find((m) => m.id === 'token-0')!.pool, 'token');
});

test('requests larger than KV memory fail; cancel frees everything', () => {
  const cat = catalogOf([tinyMachine('m', 128)], [tinyModel(1)]);
  const { clock, cluster, recs, submitAt } = setup(mono(), cat);
  submitAt(0, 'huge', 60, 10);
  let handle: { cancel(): void } | undefined;
  clock.at(0, () => (handle = cluster.submit(req('c', 16, 40), recorder('c', recs))), EventRank.arrival);
  clock.at(0.2, () => handle!.cancel(), EventRank.arrival);
  clock.run();
  assert.match(recs.get('huge')!.failed!.reason, /KV tokens/);
  const c = recs.get('c')!;
  assert.equal(c.done, undefined);
  assert.ok(c.tokens.length > 0 && c.tokens.length < 40);
  assert.equal(cluster.inFlight(), 0);
  assert.equal(cluster.snapshot()[0]!.kvUsedTokens, 0);
  assert.deepEqual(
    cluster.bookings!(),
    [{ machine: 'mixed-0', pendingTokens: 0, reservedBytes: 0 }],
    'the failed and the cancelled placements gave back what they booked',
  );
});

test('round-robin and random spread requests; jsq-tokens picks the least loaded', () => {
  for (const scheduler of ['round-robin', 'random', 'jsq-tokens']) {
    const { clock, recs, submitAt } = setup({ ...mono(3), scheduler }, bigCatalog);
    for (let i = 0; i < 9; i++) submitAt(0, `r${i}`, 100, 2);
    clock.run();
    const used = new Set([...recs.values()].map((r) => r.done!.bd.promptMachine));
    assert.ok(used.size >= 2, `${scheduler} used ${[...used].join(',')}`);
    if (scheduler !== 'random') assert.equal(used.size, 3);
  }
});
