/**
 * Regression (issue 16, item 3): a SIGKILLed `replay --procs` parent orphaned its shard processes, which
 * kept putting load on the target and then marked their shards `completed`, so `merge` accepted them. The
 * parent now holds each shard's stdin pipe for the whole run; a shard whose pipe closes stops at once, is
 * marked `interrupted` with `coordinatorLost`, and merge refuses it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { childPids, alive } from '../load/helpers.js';
import { BIN, readDb, runCli, spawnCli, tempDir, writeTrace } from './helpers.js';
import { startServer } from '../load/servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test("a SIGINT to a --procs run's process group reaches each shard once: in-flight requests finish ok, exit 130", async () => {
  const server = await startServer({ ttftMs: 20, itlMs: 100 });
  const dir = tempDir();
  try {
    const db = path.join(dir, 'run.db');
    const trace = writeTrace(
      dir,
      Array.from({ length: 3000 }, (_, i) => [i * 0.01, 20, 10] as [number, number, number]),
    );
    const child = spawn(process.execPath, [BIN, 'replay', '--trace', trace, '--url', server.url, '--db', db, '--procs', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout.resume();
    const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    const deadline = performance.now() + 60_000;
    while (server.completions.length < 40) {
      if (performance.now() > deadline) throw new Error('the sharded run did not get going');
      await sleep(20);
    }
    process.kill(-child.pid!, 'SIGINT'); // the group: parent and (before the fix) the shards directly
    assert.equal(await code, 130, stderr);
    const rows = readDb(db, (d) => d.prepare('SELECT status, count(*) AS n FROM requests GROUP BY status').all() as { status: string; n: number }[]);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['ok'],
      JSON.stringify(rows),
    );
  } finally {
    await server.close();
  }
});

test('SIGKILL of a --procs parent: every shard exits on its own, none is completed, merge refuses them', async () => {
  const server = await startServer({ ttftMs: 20, itlMs: 50 });
  const dir = tempDir();
  try {
    const db = path.join(dir, 'run.db');
    const trace = writeTrace(
      dir,
      Array.from({ length: 3000 }, (_, i) => [i * 0.01, 20, 10] as [number, number, number]),
    );
    const { child, done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db, '--procs', '2']);
    const deadline = performance.now() + 60_000;
    while (server.completions.length < 40) {
      if (performance.now() > deadline) throw new Error('the sharded run did not get going');
      await sleep(20);
    }
    const shards = childPids(child.pid!);
    assert.equal(shards.length, 2, 'two shard processes');
    child.kill('SIGKILL');
    await done;
    const killedAt = performance.now();
    // Liveness, not speed (tests do not assert on wall time): nothing else would ever stop an orphaned shard.
    while (shards.some(alive) && performance.now() - killedAt < 15_000) await sleep(10);
    assert.ok(!shards.some(alive), 'a shard process outlived its parent by 15 s');
    // No more load once they are gone.
    const sentThen = server.received.length;
    await sleep(300);
    assert.equal(server.received.length, sentThen, 'nothing is sent after the shards are gone');

    const shardRoot = `${db}.shards`;
    const [uuid] = readdirSync(shardRoot);
    const files = [0, 1].map((i) => path.join(shardRoot, uuid!, `shard-${i}.db`));
    for (const f of files) {
      assert.ok(existsSync(f));
      const run = readDb(f, (d) => d.prepare('SELECT status, notes_json FROM runs').get() as { status: string; notes_json: string });
      assert.equal(run.status, 'interrupted', `${f}: ${run.status}`);
      assert.equal((JSON.parse(run.notes_json) as { coordinatorLost?: boolean }).coordinatorLost, true);
    }
    const m = await runCli(['merge', ...files, '--out', path.join(dir, 'merged.db')]);
    assert.equal(m.code, 2, m.stderr);
    assert.match(m.stderr, /stopped because its --procs coordinator died mid-run/);
  } finally {
    await server.close();
  }
});
