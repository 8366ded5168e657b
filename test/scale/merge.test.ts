/** `mergeShards` / `splitbench merge`: exact union of raw rows, and loud refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { mergeShards } from '../../src/scale/index.js';
import { openStore, SCHEMA_VERSION } from '../../src/store/index.js';
import { summarizeRun } from '../../src/metrics/index.js';
import { makeShard, readDb, runCli, tempDir, type ShardFixture } from './helpers.js';
import { jsonResult } from '../json-output.js';

const UUID = '11111111-2222-3333-4444-555555555555';

/** Three uneven shards: many fast requests, a few slow ones. */
function threeShards(dir: string, over: (i: number) => Partial<ShardFixture> = () => ({})): string[] {
  const ttfts = [
    Array.from({ length: 60 }, (_, k) => 0.05 + k * 0.001),
    Array.from({ length: 30 }, (_, k) => 0.1 + k * 0.002),
    Array.from({ length: 6 }, (_, k) => 1 + k),
  ];
  return [0, 1, 2].map((i) => {
    const f = path.join(dir, `shard-${i}.db`);
    makeShard(f, { uuid: UUID, index: i, count: 3, ttfts: ttfts[i]!, ...over(i) });
    return f;
  });
}

test('merge: every row of every shard, shard-qualified, in one run with the shared uuid; re-merge is a no-op', async () => {
  const dir = tempDir();
  const files = threeShards(dir, (i) => ({ t0LocalMs: 1_700_000_000_000 + i * 2, offsetMs: -i * 2 + 0.3, rttMs: 1 }));
  const out = path.join(dir, 'run.db');
  const r = await mergeShards(files, { out, maxOffsetMs: 5 });
  assert.equal(r.changed, true);
  assert.equal(r.requests, 96);
  assert.equal(r.runUuid, UUID);
  const rows = readDb(
    out,
    (db) =>
      db.prepare('SELECT shard, seq, trace_id, scheduled, send, ttft FROM requests WHERE run_id = ? ORDER BY shard, seq').all(r.runId) as {
        shard: number;
        seq: number;
        trace_id: string;
        scheduled: number;
        send: number;
        ttft: number;
      }[],
  );
  assert.equal(rows.length, 96);
  assert.deepEqual([...new Set(rows.map((x) => x.shard))], [0, 1, 2]);
  // Each shard's t0 in reference time is t0_local + offset = base + 0.3 for all three: no shift at all.
  for (const s of r.shards) assert.ok(Math.abs(s.shiftMs) < 1e-6, `shard ${s.index} shift ${s.shiftMs}`);
  // Latencies are copied untouched.
  const shard2 = rows.filter((x) => x.shard === 2).map((x) => x.ttft);
  assert.deepEqual(
    shard2.map((x) => Math.round(x * 1000)),
    [1000, 2000, 3000, 4000, 5000, 6000],
  );
  const run = readDb(out, (db) => db.prepare('SELECT * FROM runs WHERE id = ?').get(r.runId) as Record<string, unknown>);
  assert.equal(run.uuid, UUID);
  assert.equal(run.status, 'completed');
  const shardRows = readDb(
    out,
    (db) => db.prepare('SELECT shard_index, file_sha256 FROM shards WHERE run_id = ? ORDER BY shard_index').all(r.runId) as Record<string, unknown>[],
  );
  assert.equal(shardRows.length, 3);
  for (const s of shardRows) assert.match(String(s.file_sha256), /^[0-9a-f]{64}$/);
  // Timeline samples carry their shard.
  const labels = readDb(out, (db) => db.prepare('SELECT labels_json FROM timeline_samples WHERE run_id = ?').pluck().all(r.runId) as string[]);
  assert.deepEqual(labels.map((l) => (JSON.parse(l) as { shard: string }).shard).sort(), ['0', '1', '2']);

  // Re-merging the same files changes nothing.
  const before = readDb(out, (db) => db.prepare('SELECT count(*) FROM requests').pluck().get());
  const again = await mergeShards(files, { out, maxOffsetMs: 5 });
  assert.equal(again.changed, false);
  assert.equal(again.runId, r.runId);
  assert.equal(
    readDb(out, (db) => db.prepare('SELECT count(*) FROM requests').pluck().get()),
    before,
  );
  assert.equal(
    readDb(out, (db) => db.prepare('SELECT count(*) FROM runs').pluck().get()),
    1,
  );
});

test('merge: a shard whose clock ran 40 ms ahead has its timeline moved back by its measured offset', async () => {
  const dir = tempDir();
  const base = 1_700_000_000_000;
  const files = [0, 1].map((i) => {
    const f = path.join(dir, `s${i}.db`);
    // Shard 1's wall clock reads 40 ms ahead: its local t0 is base+40, its offset to the reference -40.
    makeShard(f, {
      uuid: UUID,
      index: i,
      count: 2,
      ttfts: [0.1, 0.2],
      t0LocalMs: base + (i === 1 ? 40 : 0) + 10,
      offsetMs: i === 1 ? -40 : 0,
      rttMs: 0.2,
      gapS: 1,
    });
    return f;
  });
  const out = path.join(dir, 'm.db');
  await assert.rejects(mergeShards(files, { out }), /shard 1\/2: clock offset -40\.000 ms .* exceeds --max-offset-ms 1/);
  const r = await mergeShards(files, { out, maxOffsetMs: 50 });
  for (const s of r.shards) assert.ok(Math.abs(s.shiftMs) < 1e-6, `corrected t0s coincide (shift ${s.shiftMs})`);
  const start = readDb(out, (db) => db.prepare('SELECT start_wall_ms FROM runs WHERE id = ?').pluck().get(r.runId) as number);
  assert.equal(start, base + 10);
});

test('merge: shards that really started apart keep their distance on the merged timeline', async () => {
  const dir = tempDir();
  const base = 1_700_000_000_000;
  const files = [0, 1].map((i) => {
    const f = path.join(dir, `s${i}.db`);
    makeShard(f, { uuid: UUID, index: i, count: 2, ttfts: [0.1], t0LocalMs: base + i * 250, offsetMs: 0 });
    return f;
  });
  const out = path.join(dir, 'm.db');
  const r = await mergeShards(files, { out });
  assert.equal(r.shards[1]!.shiftMs, 250);
  const rows = readDb(
    out,
    (db) =>
      db.prepare('SELECT shard, scheduled, send, ttft FROM requests ORDER BY shard').all() as {
        shard: number;
        scheduled: number;
        send: number;
        ttft: number;
      }[],
  );
  assert.equal(rows[0]!.scheduled, 0);
  assert.ok(Math.abs(rows[1]!.scheduled - 0.25) < 1e-9, 'shard 1 scheduled 250 ms later on the merged timeline');
  assert.ok(Math.abs(rows[1]!.ttft - rows[0]!.ttft) < 1e-9, 'TTFT unchanged by the shift');
});

test('merge refuses: missing, duplicate, late, still running, schema mismatch, other run, unmeasured clocks on several hosts', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'out.db');
  const files = threeShards(dir);
  await assert.rejects(mergeShards(files.slice(0, 2), { out }), /missing shard 2 of 3 \(run 11111111/);
  await assert.rejects(mergeShards([files[0]!, files[1]!, files[1]!], { out }), /duplicate shard 1\/3 of run .*: given as .*shard-1\.db and .*shard-1\.db/);

  const late = tempDir();
  const lf = threeShards(late, (i) => (i === 1 ? { late: true } : {}));
  await assert.rejects(mergeShards(lf, { out: path.join(late, 'o.db') }), /shard-1\.db: shard 1\/3 was late: ready 12\.5 ms after the shared start/);

  const running = tempDir();
  const rf = threeShards(running, (i) => (i === 2 ? { status: 'running' } : {}));
  await assert.rejects(mergeShards(rf, { out: path.join(running, 'o.db') }), /shard-2\.db: shard 2\/3 is still 'running'/);

  const old = tempDir();
  const of = threeShards(old);
  const db = new Database(of[0]!);
  db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
  db.close();
  await assert.rejects(
    mergeShards(of, { out: path.join(old, 'o.db') }),
    (e: Error) =>
      new RegExp(`shard-0\\.db: store schema version ${SCHEMA_VERSION - 1}, but this splitbench .* merges version ${SCHEMA_VERSION}`).test(e.message) &&
      (e as { exitCode?: number }).exitCode === 6,
  );

  const other = tempDir();
  const xf = threeShards(other);
  makeShard(path.join(other, 'x.db'), { uuid: 'another-run', index: 2, count: 3, ttfts: [0.1] });
  await assert.rejects(
    mergeShards([xf[0]!, xf[1]!, path.join(other, 'x.db')], { out: path.join(other, 'o.db') }),
    /x\.db: is a shard of run another-run, but .*shard-0\.db is of run 1111/,
  );

  const hosts = tempDir();
  const hf = threeShards(hosts, (i) => ({ offsetMs: null, host: `node${i}` }));
  await assert.rejects(mergeShards(hf, { out: path.join(hosts, 'o.db') }), /shard 0\/3 \(host node0\) has no clock measurement, and the shards ran on 3 hosts/);
  // On one host, unmeasured clocks are the same clock: accepted.
  const same = tempDir();
  const sf = threeShards(same, () => ({ offsetMs: null }));
  assert.equal((await mergeShards(sf, { out: path.join(same, 'o.db') })).requests, 96);

  // A different file for an already-merged shard is a duplicate too.
  const okOut = path.join(dir, 'merged.db');
  await mergeShards(files, { out: okOut });
  const changed = path.join(dir, 'shard-1b.db');
  makeShard(changed, { uuid: UUID, index: 1, count: 3, ttfts: [0.3, 0.4] });
  await assert.rejects(mergeShards([files[0]!, changed, files[2]!], { out: okOut }), /duplicate shard 1\/3: run .* already has shard 1 from another file/);
  // The output is never one of the inputs.
  await assert.rejects(mergeShards(files, { out: files[0]! }), /is also the --out store/);
});

test('merge refuses a same-uuid shard re-run by hand: start instant, window, target, options, clock reference, each named', async () => {
  const out = (d: string): string => path.join(d, 'o.db');
  // Shard 1 re-run 49 s later with the same --run-uuid (its own start instant).
  const later = tempDir();
  const lf = threeShards(later, (i) => (i === 1 ? { startAtMs: 1_700_000_049_000, t0LocalMs: 1_700_000_049_000 } : {}));
  await assert.rejects(
    mergeShards(lf, { out: out(later), maxOffsetMs: 60_000 }),
    /shard-1\.db: start instant differs: this shard was started for 2023-11-14T22:14:09\.000Z \(epoch ms 1700000049000\), .*shard-0\.db for .*\(49\.000 s later\)/,
  );
  const win = tempDir();
  const wf = threeShards(win, (i) => (i === 2 ? { options: { transforms: { window: [49, 349] } } } : {}));
  await assert.rejects(mergeShards(wf, { out: out(win) }), /shard-2\.db: options\.transforms\.window\[0\] differs: 49 here, 0 in .*shard-0\.db/);
  const tgt = tempDir();
  const tf = threeShards(tgt, (i) => (i === 1 ? { target: 'http://other:8000' } : {}));
  await assert.rejects(mergeShards(tf, { out: out(tgt) }), /shard-1\.db: target differs: 'http:\/\/other:8000' here, 'http:\/\/127\.0\.0\.1:1' in/);
  const opt = tempDir();
  const of = threeShards(opt, (i) => (i === 2 ? { options: { seed: 7 } } : {}));
  await assert.rejects(mergeShards(of, { out: out(opt) }), /shard-2\.db: options\.seed differs: 7 here, unset in/);
  const ref = tempDir();
  const rf = threeShards(ref, (i) => (i === 0 ? {} : { timeRef: 'http://10.0.0.9:18780/time' }));
  await assert.rejects(mergeShards(rf, { out: out(ref) }), /shard-1\.db: clock reference differs: http:\/\/10\.0\.0\.9:18780\/time here/);
  // --any-host: one server reached under different addresses (one per network) is one target.
  const alias = tempDir();
  const af = threeShards(alias, (i) => ({
    target: `http://10.0.${i}.1:8000/`,
    timeRef: `http://10.0.${i}.1:8000/time`,
    options: { url: `http://10.0.${i}.1:8000` },
  }));
  await assert.rejects(mergeShards(af, { out: out(alias) }), /shard-1\.db: clock reference differs/);
  assert.equal((await mergeShards(af, { out: out(alias), anyHost: true })).requests, 96);
  const other = tempDir();
  const of2 = threeShards(other, (i) => ({ target: `http://10.0.${i}.1:${8000 + i}/`, timeRef: 'http://t:1/time' }));
  await assert.rejects(mergeShards(of2, { out: out(other), anyHost: true }), /shard-1\.db: target differs: 'http:\/\/10\.0\.1\.1:8001\/' here/);
  // Per-shard options (its own --db, its host) are not differences; the merged run drops them.
  const ok = tempDir();
  const okf = threeShards(ok, (i) => ({ host: `node${i}` }));
  const r = await mergeShards(okf, { out: out(ok) });
  assert.equal(r.requests, 96);
  const opts = readDb(
    out(ok),
    (db) => JSON.parse(db.prepare('SELECT options_json FROM runs WHERE id = ?').pluck().get(r.runId) as string) as Record<string, unknown>,
  );
  assert.equal(opts.db, undefined);
  assert.equal(opts.host, undefined);
  assert.deepEqual(opts.transforms, { window: [0, 300] });
});

test("percentiles come from the union: the mean of the shards' p99s is a different (wrong) answer", async () => {
  const dir = tempDir();
  const files = threeShards(dir);
  const out = path.join(dir, 'run.db');
  const r = await mergeShards(files, { out });
  const p99 = (file: string, run?: number): number => {
    const s = openStore(file, { readonly: true });
    try {
      return summarizeRun(s, run ?? 1).latencyS.ttft!.p99;
    } finally {
      s.close();
    }
  };
  const union = p99(out, r.runId);
  const perShard = files.map((f) => p99(f));
  const mean = perShard.reduce((a, b) => a + b, 0) / perShard.length;
  // Union of 96 requests, linear interpolation: h = 95 × 0.99 = 94.05, between the two slowest (5 s and 6 s) →
  // 5.05 s; the mean of the shards' p99s is ~2.07 s.
  assert.ok(Math.abs(union - 5.05) / 5.05 < 1e-12, `union p99 ${union}`);
  assert.ok(Math.abs(mean - union) / union > 0.5, `mean of shard p99s ${mean} vs union ${union}`);
});

test('splitbench merge CLI: one-line errors with exit 2, a table on success, JSON with --json', async () => {
  const dir = tempDir();
  const files = threeShards(dir);
  const out = path.join(dir, 'cli.db');
  const miss = await runCli(['merge', files[0]!, files[2]!, '--out', out]);
  assert.equal(miss.code, 2);
  assert.equal(miss.stderr.trim().split('\n')[0], `splitbench: missing shard 1 of 3 (run ${UUID}); every shard 0..2 must be given once`);
  assert.doesNotMatch(miss.stderr, /at .*\.js:\d+/, 'no stack trace');
  const ok = await runCli(['merge', ...files, '--out', out, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const j = jsonResult(ok.stdout) as { changed: boolean; requests: number; shardCount: number };
  assert.deepEqual([j.changed, j.requests, j.shardCount], [true, 96, 3]);
  const again = await runCli(['merge', ...files, '--out', out]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /nothing to do: run 1 .* already holds exactly these shard files/);
  const copy = path.join(dir, 'copy.db');
  copyFileSync(files[0]!, copy);
  const dup = await runCli(['merge', files[0]!, copy, files[1]!, files[2]!, '--out', path.join(dir, 'd.db')]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /duplicate shard 0\/3/);
  const bad = await runCli(['merge', ...files, '--out', out, '--max-offset-ms', '-1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--max-offset-ms: expected a number >= 0/);
});
