/** End to end: `replay` starts the reference backend itself (a child `serve`), replays a real trace window. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { requests, runCli, runs, tempDir } from './helpers.js';
import { jsonResult } from '../json-output.js';

test('replay against the embedded reference backend: one ok row per request, breakdown stored, backend stopped', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'r.db');
  const r = await runCli(['replay', '--trace', 'coding', '--window', '0:20', '--time-scale', '10', '--db', db, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const summary = jsonResult(r.stdout) as { runId: number; target: string; requests: { sent: number; ok: number } };
  const [run] = runs(db);
  assert.equal(run!.status, 'completed');
  assert.equal(run!.target, 'reference:splitwise-hh');
  assert.equal(run!.deployment, 'splitwise-hh');
  assert.equal(run!.time_scale, 10);
  assert.ok(run!.model, 'model recorded from /v1/models');
  const rows = requests(db, summary.runId);
  assert.ok(rows.length >= 5, `rows ${rows.length}`);
  assert.equal(rows.length, summary.requests.sent);
  for (const row of rows) {
    assert.equal(row.status, 'ok', JSON.stringify(row));
    assert.equal(row.tokens_received, row.output_tokens, 'exactly the asked output');
    assert.equal(row.usage_prompt, row.prompt_tokens, 'exactly the asked prompt');
    assert.ok((row.ttft as number) > 0);
    assert.equal(typeof row.prefill_s, 'number', 'the server breakdown is stored');
    assert.ok(row.prompt_machine);
  }
  // The backend child was stopped: its port no longer answers.
  const url = new URL(summary.target);
  await assert.rejects(fetch(new URL('/health', url), { signal: AbortSignal.timeout(2000) }));
});
