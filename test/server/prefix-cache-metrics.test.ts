/** The live backend's prefix cache: block hashes from the prompt's token ids, and vLLM's prefix-cache series on /metrics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBackend } from '../../src/server/backend.js';
import { startServer } from '../../src/server/index.js';
import { call, post, promValue } from './helpers.js';

test('a repeated token-id prompt hits the prefix cache; /metrics counts queries and hits in tokens', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitbench-pc-'));
  const dep = path.join(dir, 'mono-cache.yaml');
  fs.writeFileSync(dep, 'kind: monolithic\nmodel: bloom-176b\nprefixCache: true\npools:\n  mixed: { machine: dgx-h100, count: 1 }\n');
  const backend = createBackend({ deployment: dep, timeScale: 50 });
  const srv = await startServer({ cluster: backend.cluster, clock: backend.clock, model: backend.model, port: 0 });
  try {
    const prompt = Array.from({ length: 1100 }, (_, j) => 1000 + ((j * 7919) % 29000));
    for (let i = 0; i < 2; i++) {
      const r = await post(srv.url, '/v1/completions', { prompt, max_tokens: 2, ignore_eos: true });
      assert.equal(r.status, 200, r.text);
    }
    // A different first block: no hit.
    const r = await post(srv.url, '/v1/completions', { prompt: [5, ...prompt.slice(1)], max_tokens: 2, ignore_eos: true });
    assert.equal(r.status, 200, r.text);
    const text = (await call(srv.url, 'GET', '/metrics')).text;
    assert.equal(promValue(text, 'vllm:prefix_cache_queries_total'), 3 * 1100);
    assert.equal(promValue(text, 'vllm:prefix_cache_hits_total'), 1024, 'two whole 512-token blocks of the repeat');
    assert.ok(Math.abs(promValue(text, 'vllm:gpu_prefix_cache_hit_rate')! - 1024 / 3300) < 1e-9);
    assert.equal(promValue(text, 'splitbench_prefix_cache_hit_requests_total'), 1);
    assert.equal(promValue(text, 'splitbench_prefix_cache_query_requests_total'), 3);
    assert.equal(promValue(text, 'splitbench_prefix_cache_tokens'), 4 * 512, 'blocks of both distinct prompts stay cached');
  } finally {
    await srv.close();
  }
});
