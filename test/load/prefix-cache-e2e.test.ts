/** Replay with shared prefixes against the embedded reference backend with a prefix cache: cached tokens come back in usage and are stored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WORKLOADS_DIR } from '../../src/paths.js';
import { requests, runCli, tempDir } from './helpers.js';

test('replay of Mooncake prefixes: usage.prompt_tokens_details.cached_tokens stored as cached_prompt_tokens; summary hit rates', async () => {
  const dir = tempDir();
  const dep = path.join(dir, 'cache.yaml');
  fs.writeFileSync(dep, 'kind: monolithic\nmodel: bloom-176b\nprefixCache: true\npools:\n  mixed: { machine: dgx-h100, count: 1 }\n');
  const db = path.join(dir, 'r.db');
  const trace = path.join(WORKLOADS_DIR, 'mooncake', 'conversation_trace.jsonl');
  const r = await runCli([
    'replay',
    '--trace',
    trace,
    '--deployment',
    dep,
    '--limit',
    '30',
    '--max-prompt',
    '20000',
    '--time-scale',
    '20',
    '--db',
    db,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout).result as { runId: number };
  const rows = requests(db, summary.runId);
  assert.equal(rows.length, 30);
  let cached = 0;
  for (const row of rows) {
    assert.equal(row.status, 'ok', JSON.stringify(row));
    const c = row.cached_prompt_tokens as number;
    assert.equal(typeof c, 'number', 'every row records its cached tokens');
    assert.ok(c % 512 === 0 && c < (row.prompt_tokens as number), `whole blocks, never the whole prompt: ${c}`);
    cached += c;
  }
  assert.ok(cached > 0, 'the trace shares prefixes: some tokens came from the cache');
  const s = await runCli(['summary', '--db', db, '--run', String(summary.runId), '--run', `${summary.runId + 1}`, '--json']);
  assert.equal(s.code, 0, s.stderr);
  const [live, twin] = JSON.parse(s.stdout).result as { run: { kind: string }; prefixCache: { savedTokens: number; requests: number } }[];
  assert.equal(live!.prefixCache.savedTokens, cached);
  assert.equal(live!.prefixCache.requests, 30);
  // The twin simulation of the same requests sees the same prefixes (their block hashes go with them).
  assert.equal(twin!.run.kind, 'sim');
  assert.equal(twin!.prefixCache.requests, 30);
  assert.ok(twin!.prefixCache.savedTokens > 0);
});
