/** Interrupts and crashes: SIGINT (grace, then cancel), a second SIGINT, and SIGKILL durability. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { requests, runs, spawnCli, tempDir, writeTrace } from './helpers.js';
import { startServer, type TestServer } from './servers.js';
import { jsonResult } from '../json-output.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const sent = (s: TestServer): number => s.received.length - 1; // minus the preflight probe

test('first SIGINT stops scheduling, lets in-flight requests finish, marks the run interrupted, exit 130', async () => {
  const server = await startServer({ ttftMs: 40, itlMs: 40 });
  const dir = tempDir();
  try {
    const trace = writeTrace(
      dir,
      Array.from({ length: 100 }, (_, i) => [i * 0.05, 10, 6] as const),
    );
    const db = path.join(dir, 'r.db');
    const { child, done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db, '--json']);
    await waitFor(() => server.completions.length >= 4, 'a few completed requests');
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    const [run] = runs(db);
    assert.equal(run!.status, 'interrupted');
    const rows = requests(db);
    assert.ok(rows.length < 100, 'scheduling stopped');
    assert.equal(rows.length, sent(server), 'every sent request has a row');
    assert.ok(
      rows.every((x) => x.status === 'ok'),
      'in-flight requests finished within the grace period',
    );
    assert.equal(jsonResult(r.stdout).status, 'interrupted');
  } finally {
    await server.close();
  }
});

test('a second SIGINT cancels in-flight requests: rows kept with status cancelled', async () => {
  const server = await startServer({ ttftMs: 20, itlMs: 2000 });
  const dir = tempDir();
  try {
    const trace = writeTrace(
      dir,
      Array.from({ length: 50 }, (_, i) => [i * 0.02, 10, 5] as const),
    );
    const db = path.join(dir, 'r.db');
    const { child, done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db]);
    await waitFor(() => sent(server) >= 5, 'some requests in flight');
    child.kill('SIGINT');
    await sleep(150);
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(runs(db)[0]!.status, 'interrupted');
    const rows = requests(db);
    assert.equal(rows.length, sent(server));
    assert.ok(rows.length >= 5);
    assert.ok(
      rows.every((x) => x.status === 'cancelled' && x.error_code === 'SB_CANCELLED'),
      JSON.stringify(rows.map((x) => x.status)),
    );
    assert.ok(
      rows.every((x) => (x.tokens_received as number) >= 1),
      'tokens received before the cancel are kept',
    );
  } finally {
    await server.close();
  }
});

test('SIGKILL: every request completed more than a second before the kill is in the store (two kills)', async () => {
  // Two kill moments (after ~2 s and ~3 s of completions); docs/guarantees.md's promise exactly: 1.0 s. The replay
  // commits every 500 ms (LIVE_FLUSH_MS), which leaves room for a loaded machine's late timers.
  for (const after of [120, 200]) {
    const server = await startServer({ ttftMs: 2 });
    const dir = tempDir();
    try {
      // The prompt length identifies the request across processes: 100 + its index.
      const trace = writeTrace(
        dir,
        Array.from({ length: 400 }, (_, i) => [i * 0.02, 100 + i, 3] as const),
      );
      const db = path.join(dir, 'r.db');
      const { child, done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db]);
      await waitFor(() => server.completions.length >= after, `${after} completed requests`);
      const killEpochMs = performance.timeOrigin + performance.now();
      child.kill('SIGKILL');
      const r = await done;
      assert.equal(r.signal, 'SIGKILL');
      const [run] = runs(db);
      assert.equal(run!.status, 'running', 'a killed run cannot mark itself');
      const stored = new Set(
        requests(db)
          .filter((x) => x.status === 'ok')
          .map((x) => x.prompt_tokens as number),
      );
      const old = server.completions.filter((c) => c.promptLength >= 100 && c.endEpochMs < killEpochMs - 1000);
      assert.ok(old.length >= 20, `only ${old.length} early completions`);
      const missing = old.filter((c) => !stored.has(c.promptLength));
      assert.deepEqual(missing, [], `kill after ${after}: completed > 1.0 s before the kill but not stored`);
    } finally {
      await server.close();
    }
  }
});
