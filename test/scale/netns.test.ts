/**
 * Shards in separate network namespaces (needs root, else it is skipped saying so, and iproute2's `ip`; CI runs as
 * root): a backend namespace and three shard namespaces, each shard joined to the backend by its own veth pair, so
 * every byte between a shard and the backend crosses a namespace boundary on the namespaces' own addresses.
 * Three shards replay one trace, the merge checks and joins them, and everything created is removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { BIN, readDb, runCli, spawnCli, tempDir, writeTrace, type Row } from './helpers.js';
import { jsonResult } from '../json-output.js';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

// Creating network namespaces needs root: as another user the test says so and does not run (CI runs as root).
const NEEDS_ROOT = process.getuid?.() === 0 ? false : 'needs root: it creates network namespaces and veth pairs (CI runs as root)';

test('three shards in three network namespaces against a backend in a fourth, merged', { skip: NEEDS_ROOT }, async () => {
  let ipPath = '';
  try {
    ipPath = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  } catch {
    // fall through to the assertion
  }
  assert.ok(ipPath, 'this test needs iproute2 (`ip`); it installs nothing: install iproute2 on the test machine');

  const tag = randomBytes(2).toString('hex');
  const octet = 100 + (parseInt(tag, 16) % 150);
  const nsB = `sb${tag}b`;
  const shardNs = [0, 1, 2].map((i) => `sb${tag}s${i}`);
  const created: string[] = [];
  const procs: { kill(sig?: NodeJS.Signals): boolean; exitCode: number | null }[] = [];
  const dir = tempDir();
  try {
    ip('netns', 'add', nsB);
    created.push(nsB);
    ip('-n', nsB, 'link', 'set', 'lo', 'up');
    const backendAddr: string[] = [];
    shardNs.forEach((ns, i) => {
      ip('netns', 'add', ns);
      created.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      const a = `sbv${tag}${i}`;
      const b = `sbp${tag}${i}`;
      ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
      ip('link', 'set', a, 'netns', nsB);
      ip('link', 'set', b, 'netns', ns);
      const back = `10.231.${octet}.${4 * i + 1}`;
      ip('-n', nsB, 'addr', 'add', `${back}/30`, 'dev', a);
      ip('-n', ns, 'addr', 'add', `10.231.${octet}.${4 * i + 2}/30`, 'dev', b);
      ip('-n', nsB, 'link', 'set', a, 'up');
      ip('-n', ns, 'link', 'set', b, 'up');
      backendAddr.push(back);
    });

    // The backend, inside its namespace, on all of that namespace's addresses.
    const serve = spawnCli(['serve', '--deployment', 'splitwise-hh', '--host', '0.0.0.0', '--port', '18731'], {
      cmd: ['ip', 'netns', 'exec', nsB, process.execPath, BIN],
    });
    procs.push(serve.child);
    let out = '';
    serve.child.stdout!.on('data', (s: string) => (out += s));
    for (let i = 0; i < 400 && !/listening on/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /listening on/, 'backend started in its namespace');

    const rows: [number, number, number][] = [];
    for (let i = 0; i < 18; i++) rows.push([Number((i * 0.2).toFixed(3)), 128 + (i % 3) * 64, 8]);
    const trace = writeTrace(dir, rows);
    const uuid = `netns-${tag}`;
    const shards = shardNs.map((ns, i) => {
      const url = `http://${backendAddr[i]}:18731`;
      const s = spawnCli(
        [
          'replay',
          '--trace',
          trace,
          '--url',
          url,
          '--time-url',
          url,
          '--shard',
          `${i}/3`,
          '--run-uuid',
          uuid,
          '--start-at',
          'stdin',
          '--db',
          path.join(dir, `s${i}.db`),
        ],
        {
          cmd: ['ip', 'netns', 'exec', ns, process.execPath, BIN],
          stdin: true,
        },
      );
      procs.push(s.child);
      let err = '';
      s.child.stderr!.on('data', (x: string) => (err += x));
      return { ...s, err: () => err };
    });
    for (let i = 0; i < 600 && !shards.every((s) => s.err().includes('splitbench shard: ready')); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(
      shards.every((s) => s.err().includes('splitbench shard: ready')),
      shards.map((s) => s.err()).join('\n'),
    );
    const startAt = performance.timeOrigin + performance.now() + 300;
    for (const s of shards) s.child.stdin!.end(`${startAt}\n`);
    const results = await Promise.all(shards.map((s) => s.done));
    results.forEach((r, i) => {
      assert.equal(r.code, 0, `shard ${i}: ${r.stderr}`);
    });

    const merged = path.join(dir, 'merged.db');
    // One backend, reached at a different address from each namespace: merge is told so, else it refuses.
    const strict = await runCli(['merge', ...[0, 1, 2].map((i) => path.join(dir, `s${i}.db`)), '--out', merged, '--max-offset-ms', '5']);
    assert.equal(strict.code, 2);
    assert.match(strict.stderr, /s1\.db: clock reference differs: .*\n {2}hint: .*--any-host/);
    const m = await runCli(['merge', ...[0, 1, 2].map((i) => path.join(dir, `s${i}.db`)), '--out', merged, '--max-offset-ms', '5', '--any-host', '--json']);
    assert.equal(m.code, 0, m.stderr);
    assert.equal((jsonResult(m.stdout) as { requests: number }).requests, 18);
    const sh = readDb(merged, (db) => db.prepare('SELECT shard_index, time_ref FROM shards ORDER BY shard_index').all() as Row[]);
    assert.deepEqual(
      sh.map((r) => r.time_ref),
      backendAddr.map((a) => `http://${a}:18731/time`),
      'each shard reached the backend through its own namespace link',
    );
    const ok = readDb(merged, (db) => db.prepare("SELECT count(*) FROM requests WHERE status = 'ok'").pluck().get());
    assert.equal(ok, 18);
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    for (const ns of created.reverse()) {
      try {
        ip('netns', 'del', ns); // deleting a namespace removes its veth ends and their peers
      } catch {
        // reported below
      }
    }
    const left = ip('netns', 'list');
    assert.doesNotMatch(left, new RegExp(`sb${tag}`), 'namespaces cleaned up');
    assert.doesNotMatch(ip('link', 'show'), new RegExp(`sb[vp]${tag}`), 'veth pairs cleaned up');
  }
});
