import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WORKLOADS_DIR } from '../../src/paths.js';
import { computeTraceStats, openTrace } from '../../src/trace/index.js';
import { runCli } from '../cli/helpers.js';
import { fromArray } from './helpers.js';

const MOONCAKE = path.join(WORKLOADS_DIR, 'mooncake', 'conversation_trace.jsonl');

interface Row {
  input_length: number;
  hash_ids: number[];
}
const rows = (): Row[] =>
  fs
    .readFileSync(MOONCAKE, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
const blockTok = (len: number, i: number): number => Math.max(0, Math.min(512, len - 512 * i));

/** Independent: tokens of blocks whose id any earlier request had (a Set), and an LRU kept as a plain array. */
function independent(rs: Row[], lruBlocks: number): { infinite: number; lru: number; total: number } {
  const seen = new Set<number>();
  let lruList: number[] = []; // most recently used first
  let inf = 0,
    lru = 0,
    total = 0;
  for (const r of rs) {
    total += r.input_length;
    r.hash_ids.forEach((h, i) => {
      if (seen.has(h)) inf += blockTok(r.input_length, i);
    });
    for (const h of r.hash_ids) seen.add(h);
    let i = 0;
    while (i < r.hash_ids.length && lruList.includes(r.hash_ids[i]!)) lru += blockTok(r.input_length, i++);
    lruList = [...r.hash_ids, ...lruList.filter((h) => !r.hash_ids.includes(h))].slice(0, lruBlocks);
  }
  return { infinite: inf, lru, total };
}

test('trace stats: the Mooncake conversation trace reuse equals an independent computation', async () => {
  const rs = rows();
  assert.equal(rs.length, 12031);
  const cap = 2000;
  const want = independent(rs, cap);
  const s = await computeTraceStats(openTrace(MOONCAKE), { cacheBlocks: cap });
  const pr = s.prefixReuse!;
  assert.equal(pr.requests, 12031);
  assert.equal(pr.promptTokens, want.total);
  // Equal ids name equal prefixes in this trace, so "seen before" and the leading cached run agree.
  assert.equal(pr.infinite.hitTokens, want.infinite);
  assert.equal(pr.lru!.hitTokens, want.lru);
  assert.ok(Math.abs(pr.infinite.fraction - want.infinite / want.total) < 1e-12);
  assert.ok(pr.lru!.fraction < pr.infinite.fraction && pr.lru!.fraction > 0);
});

test('trace stats reuse: LRU semantics on a small example; no hashes, no figures', async () => {
  const r = (arrival: number, promptTokens: number, hashIds: number[]) => ({ id: String(arrival), arrival, promptTokens, outputTokens: 1, hashIds });
  // a cache of 2 blocks; a request touches its blocks so that its first block is the most recently used
  const s = await computeTraceStats(fromArray([r(0, 1024, [1, 2]), r(1, 1000, [1, 3]), r(2, 512, [4]), r(3, 1024, [1, 2]), r(4, 300, [4])]), {
    cacheBlocks: 2,
  });
  const pr = s.prefixReuse!;
  assert.equal(pr.promptTokens, 1024 + 1000 + 512 + 1024 + 300);
  // infinite: 512 (block 1) + 0 + (1 and 2: 1024) + 300 (block 4, cut to the prompt)
  assert.equal(pr.infinite.hitTokens, 512 + 1024 + 300);
  // LRU: [1,2] → {2,1}; [1,3] hits 1, evicts 2 → {3,1}; [4] evicts 3 → {1,4}; [1,2] hits 1, evicts 4; [4] misses.
  assert.equal(pr.lru!.hitTokens, 512 + 512);
  assert.equal(pr.lru!.hitRequests, 2);
  const none = await computeTraceStats(fromArray([{ id: 'a', arrival: 0, promptTokens: 10, outputTokens: 1 }]), { cacheBlocks: 2 });
  assert.equal(none.prefixReuse, undefined);
});

test('trace stats --cache-blocks: printed and as JSON; a bad size is a clear error', async () => {
  const ok = await runCli(['trace', 'stats', MOONCAKE, '--cache-blocks', '2000', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout).result;
  assert.equal(j.prefixReuse.lru.blocks, 2000);
  const bad = await runCli(['trace', 'stats', MOONCAKE, '--cache-blocks', '0']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--cache-blocks: expected an integer/);
  assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/);
});
