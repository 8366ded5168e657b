import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WORKLOADS_DIR } from '../../src/paths.js';
import { BodyBuilder, HASH_BLOCK_TOKENS } from '../../src/load/prompt.js';
import { openTrace } from '../../src/trace/index.js';
import type { RequestSpec } from '../../src/trace/types.js';

const MOONCAKE = path.join(WORKLOADS_DIR, 'mooncake', 'conversation_trace.jsonl');

/** Char offset just past the first `n` comma-separated ids of `s` (s.length when it has fewer). */
function cut(s: string, n: number): number {
  let at = -1;
  for (let k = 0; k < n; k++) {
    at = s.indexOf(',', at + 1);
    if (at < 0) return s.length;
  }
  return at;
}

interface Node {
  last: number;
  kids: Map<number, Node>;
}

test('Mooncake conversation trace: prompts with k common leading hash ids share exactly 512·k leading token ids', async () => {
  const specs: RequestSpec[] = [];
  for await (const r of openTrace(MOONCAKE)) specs.push(r);
  assert.equal(specs.length, 12031);
  const b = new BodyBuilder({ endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 0 });
  const promptOf = (i: number): string => {
    const body = b.build({ seq: i, promptTokens: specs[i]!.promptTokens, outputTokens: 1, hashIds: specs[i]!.hashIds });
    return body.slice(body.indexOf('[') + 1, body.indexOf(']'));
  };
  // A trie over leading hash ids finds, for each request, the earlier request sharing the most leading ids.
  const root: Node = { last: -1, kids: new Map() };
  let checked = 0;
  let sharedPairs = 0;
  for (let i = 0; i < specs.length; i++) {
    const h = specs[i]!.hashIds!;
    let node = root;
    let k = 0;
    while (k < h.length && node.kids.has(h[k]!)) node = node.kids.get(h[k++]!)!;
    const p = promptOf(i);
    const n = specs[i]!.promptTokens;
    const before = cut(p, n - 1);
    assert.ok(before < p.length && p.indexOf(',', before + 1) < 0, `request ${i}: exactly ${n} ids`);
    if (k > 0) {
      const j = node.last;
      const q = promptOf(j);
      const m = specs[j]!.promptTokens;
      const shared = Math.min(HASH_BLOCK_TOKENS * k, n, m);
      const end = cut(p, shared);
      assert.equal(p.slice(0, end), q.slice(0, cut(q, shared)), `requests ${j} and ${i}: ${k} common hash ids share ${shared} ids`);
      if (shared < n && shared < m) {
        // The next block differs (the (k+1)-th hash ids differ): not all of its ids agree.
        const next = Math.min(HASH_BLOCK_TOKENS, n - shared, m - shared);
        const pa = p.slice(end + 1, cut(p, shared + next));
        const qa = q.slice(cut(q, shared) + 1, cut(q, shared + next));
        assert.notEqual(pa, qa, `requests ${j} and ${i}: nothing shared past ${k} blocks`);
      }
      sharedPairs++;
    }
    // Insert this request's path.
    node = root;
    for (const x of h) {
      let c = node.kids.get(x);
      if (!c) node.kids.set(x, (c = { last: i, kids: new Map() }));
      c.last = i;
      node = c;
    }
    checked++;
  }
  assert.equal(checked, 12031);
  assert.ok(sharedPairs > 10000, `${sharedPairs} requests share a prefix with an earlier one`);
});
