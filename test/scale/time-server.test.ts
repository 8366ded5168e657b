/**
 * `splitbench time-server`: the clock reference that does not depend on the target, and its start barrier.
 * Two shards started seconds apart meet at the barrier, start at one instant, measure their offsets against
 * the time server (not the target) and merge; the server exits when told to; bad flags are one-line errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mergeShards } from '../../src/scale/index.js';
import { readDb, runCli, spawnCli, startServe, tempDir, writeTrace } from './helpers.js';

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two shards meet at the time server\'s start barrier, measure offsets against it, and merge', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const portFile = path.join(dir, 'time.port');
  const stopFile = path.join(dir, 'done');
  const ts = spawnCli(['time-server', '--port', '0', '--port-file', portFile, '--barrier', '2', '--barrier-lead-s', '1', '--exit-when', stopFile]);
  const backend = await startServe(['--deployment', 'splitwise-hh']);
  try {
    await waitFor(() => existsSync(portFile), 'the port file');
    const timeUrl = `http://127.0.0.1:${readFileSync(portFile, 'utf8').trim()}/time`;
    const t = await fetch(timeUrl);
    assert.equal(t.status, 200);
    assert.equal(typeof ((await t.json()) as { wall_ms: unknown }).wall_ms, 'number');
    assert.equal((await fetch(timeUrl.replace(/\/time$/, '/metrics'))).status, 404, 'nothing but /time and /barrier');
    const trace = writeTrace(dir, Array.from({ length: 8 }, (_, i) => [i * 0.1, 64, 4] as const));
    const shard = (i: number): ReturnType<typeof spawnCli> =>
      spawnCli(['replay', '--trace', trace, '--url', backend.url, '--shard', `${i}/2`, '--start-at', 'barrier', '--time-url', timeUrl, '--run-uuid', 'barrier-run', '--db', path.join(dir, `s${i}.db`)]);
    const s0 = shard(0);
    await new Promise((r) => setTimeout(r, 1500)); // shard 1 starts well after shard 0: it must wait
    const s1 = shard(1);
    const [r0, r1] = await Promise.all([s0.done, s1.done]);
    assert.equal(r0.code, 0, r0.stderr);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r0.stderr, /waiting at the start barrier/);
    const rows = [0, 1].map((i) => readDb(path.join(dir, `s${i}.db`), (db) => db.prepare('SELECT start_at_ms, time_ref, offset_start_ms, late FROM shards').get() as Record<string, unknown>));
    assert.equal(rows[0]!.start_at_ms, rows[1]!.start_at_ms, 'one start instant');
    for (const r of rows) {
      assert.equal(r.time_ref, timeUrl, 'offsets measured against the time server, not the target');
      assert.equal(typeof r.offset_start_ms, 'number');
      assert.equal(r.late, 0);
    }
    const m = await mergeShards([0, 1].map((i) => path.join(dir, `s${i}.db`)), { out: path.join(dir, 'run.db') });
    assert.equal(m.requests, 8);
    // --exit-when: the server stops once the file exists.
    writeFileSync(stopFile, '');
    const done = await ts.done;
    assert.equal(done.code, 0, done.stderr);
  } finally {
    ts.child.kill('SIGTERM');
    await backend.stop();
  }
});

test('time-server and --start-at barrier: bad flags are one-line errors', async () => {
  const r1 = await runCli(['time-server', '--barrier', '0']);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /--barrier: expected a shard count >= 1, got 0/);
  const r2 = await runCli(['time-server', '--barrier-lead-s', '3']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /--barrier-lead-s: applies with --barrier N/);
  const r3 = await runCli(['time-server', '--port', '70000']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /--port: expected a port number 0\.\.65535, got 70000/);
  const r4 = await runCli(['replay', '--trace', 'coding', '--shard', '0/2', '--start-at', 'barrier']);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /--start-at barrier: needs --time-url/);
  for (const r of [r1, r2, r3, r4]) assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
