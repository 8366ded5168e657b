/**
 * `splitbench time-server`: the clock reference that does not depend on the target, and its start barrier.
 * Two shards started seconds apart meet at the barrier, start at one instant, measure their offsets against
 * the time server (not the target) and merge; the server exits when told to; bad flags are one-line errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { kubernetesManifests, mergeShards, resolveLaunchOptions } from '../../src/scale/index.js';
import { BIN, readDb, runCli, spawnCli, startServe, tempDir, writeTrace } from './helpers.js';

/** A free loopback port (bound, read, released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

/** Run a container's shell script as a process; resolves with its exit code and output. */
function sh(script: string, env: NodeJS.ProcessEnv): { done: Promise<{ code: number | null; out: string }>; kill(): void } {
  // Its own process group, so a kill takes the script's children (the splitbench processes) with it.
  const c = spawn('/bin/sh', ['-c', script], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (x: string) => (out += x));
  c.stderr.setEncoding('utf8').on('data', (x: string) => (out += x));
  const done = new Promise<{ code: number | null; out: string }>((r) => c.on('close', (code) => r({ code, out })));
  return {
    done,
    kill: () => {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("two shards meet at the time server's start barrier, measure offsets against it, and merge", { timeout: 120_000 }, async () => {
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
    const trace = writeTrace(
      dir,
      Array.from({ length: 8 }, (_, i) => [i * 0.1, 64, 4] as const),
    );
    const shard = (i: number): ReturnType<typeof spawnCli> =>
      spawnCli([
        'replay',
        '--trace',
        trace,
        '--url',
        backend.url,
        '--shard',
        `${i}/2`,
        '--start-at',
        'barrier',
        '--time-url',
        timeUrl,
        '--run-uuid',
        'barrier-run',
        '--db',
        path.join(dir, `s${i}.db`),
      ]);
    const s0 = shard(0);
    await new Promise((r) => setTimeout(r, 1500)); // shard 1 starts well after shard 0: it must wait
    const s1 = shard(1);
    const [r0, r1] = await Promise.all([s0.done, s1.done]);
    assert.equal(r0.code, 0, r0.stderr);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r0.stderr, /waiting at the start barrier/);
    const rows = [0, 1].map((i) =>
      readDb(
        path.join(dir, `s${i}.db`),
        (db) => db.prepare('SELECT start_at_ms, time_ref, offset_start_ms, late FROM shards').get() as Record<string, unknown>,
      ),
    );
    assert.equal(rows[0]!.start_at_ms, rows[1]!.start_at_ms, 'one start instant');
    for (const r of rows) {
      assert.equal(r.time_ref, timeUrl, 'offsets measured against the time server, not the target');
      assert.equal(typeof r.offset_start_ms, 'number');
      assert.equal(r.late, 0);
    }
    const m = await mergeShards(
      [0, 1].map((i) => path.join(dir, `s${i}.db`)),
      { out: path.join(dir, 'run.db') },
    );
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

test('kubernetes manifests, run as processes: shards applied seconds apart meet at the barrier, the merge Job merges and stops the time server', {
  timeout: 180_000,
}, async () => {
  const dir = tempDir();
  const vol = path.join(dir, 'vol');
  mkdirSync(vol);
  const backend = await startServe(['--deployment', 'splitwise-hh']);
  const trace = writeTrace(
    dir,
    Array.from({ length: 6 }, (_, i) => [i * 0.1, 64, 4] as const),
  );
  const o = resolveLaunchOptions('kubernetes', { shards: 2, sharedDir: vol, runUuid: 'k8s-00000001', leadS: 1, splitbench: `${process.execPath} ${BIN}` }, [
    'replay',
    '--trace',
    trace,
    '--url',
    backend.url,
  ]);
  const m = kubernetesManifests(o);
  type Pod = { spec: { template: { spec: { containers: { command: string[]; env?: { name: string; value: string }[] }[] } } } };
  const script = (doc: unknown): string => (doc as Pod).spec.template.spec.containers[0]!.command[2]!;
  const port = await freePort();
  // The cluster's names and fixed paths, as this machine has them: the Service's name is loopback, /scratch a folder per pod.
  const local = (c: string, scratch: string): string => {
    mkdirSync(path.join(dir, scratch), { recursive: true });
    return c
      .replaceAll(/http:\/\/splitbench-replay-k8s00000-time:18780/g, `http://127.0.0.1:${port}`)
      .replaceAll('--host 0.0.0.0 --port 18780', `--host 127.0.0.1 --port ${port}`)
      .replaceAll('/scratch/', `${path.join(dir, scratch)}/`);
  };
  const shardEnv = Object.fromEntries(((m.job as Pod).spec.template.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
  const procs: { kill(): void }[] = [];
  try {
    const time = sh(local(script(m.time), 'scratch-time'), process.env);
    procs.push(time);
    const s0 = sh(local(script(m.job), 'scratch-0'), { ...process.env, ...shardEnv, JOB_COMPLETION_INDEX: '0' });
    procs.push(s0);
    await new Promise((r) => setTimeout(r, 2000)); // the second pod is scheduled 2 s later
    const s1 = sh(local(script(m.job), 'scratch-1'), { ...process.env, ...shardEnv, JOB_COMPLETION_INDEX: '1' });
    procs.push(s1);
    const merge = sh(local(script(m.merge), 'scratch-merge'), process.env);
    procs.push(merge);
    const [r0, r1] = await Promise.all([s0.done, s1.done]);
    assert.equal(r0.code, 0, r0.out);
    assert.equal(r1.code, 0, r1.out);
    const rm = await merge.done;
    assert.equal(rm.code, 0, rm.out);
    const out = path.join(vol, 'k8s-00000001', 'run.db');
    const shards = readDb(
      out,
      (db) => db.prepare('SELECT shard_index, start_at_ms, time_ref, late FROM shards ORDER BY shard_index').all() as Record<string, unknown>[],
    );
    assert.equal(shards.length, 2);
    assert.equal(shards[0]!.start_at_ms, shards[1]!.start_at_ms, 'one start instant, agreed at the barrier');
    for (const x of shards) {
      assert.equal(x.time_ref, `http://127.0.0.1:${port}/time`);
      assert.equal(x.late, 0);
    }
    assert.equal(
      readDb(out, (db) => db.prepare("SELECT count(*) FROM requests WHERE status = 'ok'").pluck().get()),
      6,
    );
    const rt = await time.done;
    assert.equal(rt.code, 0, `the time server exits once the merge is done: ${rt.out}`);
  } finally {
    for (const p of procs) p.kill();
    await backend.stop();
  }
});
