/**
 * A replay against the bundled backend checks itself (docs/replay.md "Twin check"): it stores a simulated twin
 * of the same requests as a linked sim run, records the TTFT/TBT/E2E deviations and the distortion verdict on
 * the run, stores per-request coalescing; `gate` refuses a distorted run (exit 3, one JUnit <error>) unless
 * --allow-distorted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { replayInProcess, requests, runs, tempDir } from './helpers.js';
import { runCli } from '../cli/helpers.js';
import { openStore } from '../../src/store/index.js';

test('replay against the bundled backend stores a linked twin and a verdict that matches its reasons', async () => {
  const db = path.join(tempDir(), 'c.db');
  const { exitCode, summary } = await replayInProcess({ trace: 'conversation', window: '0:10', timeScale: 4, db });
  assert.equal(exitCode, 0);
  const c = summary.selfCheck;
  assert.ok(c, 'the self-check ran');
  const rs = runs(db);
  assert.equal(rs.length, 2, 'the live run and its twin');
  const [live, twin] = rs;
  assert.equal(live!['kind'], 'live');
  assert.equal(twin!['kind'], 'sim');
  assert.equal(live!['twin_run_id'], twin!['id']);
  assert.equal(c.twinRunId, twin!['id']);
  const liveRows = requests(db, live!['id'] as number);
  assert.equal(requests(db, twin!['id'] as number).length, liveRows.length, 'the twin simulates every sent request');
  assert.ok(
    liveRows.every((r) => typeof r['coalesced'] === 'number'),
    'coalescing stored per request',
  );
  for (const m of ['ttft', 'tbt', 'e2e'] as const) {
    const f = c.twin[m]?.p99;
    assert.ok(f, `${m} p99 compared`);
    assert.ok(Math.abs(f.deviation - (f.live / f.twin - 1)) < 1e-12);
  }
  assert.ok(c.emitDelayMeanS !== undefined && c.emitDelayMeanS >= 0, 'the server reported its emission delay');
  assert.equal(live!['distorted'], c.distorted ? 1 : 0);
  assert.equal(c.distorted, c.reasons.length > 0);
  const over = (['ttft', 'tbt', 'e2e'] as const).some((m) => [c.twin[m]?.p50, c.twin[m]?.p99].some((f) => f !== undefined && Math.abs(f.deviation) > c.bound));
  if (over)
    assert.ok(
      c.reasons.some((r) => r.includes('twin deviates')),
      'a deviation beyond the bound is a reason',
    );
  else assert.ok(!c.reasons.some((r) => r.includes('twin deviates')));
  if (c.distorted) assert.equal(live!['distorted_reason'], c.reasons.join('; '));
  assert.equal(summary.distorted, c.distorted);
});

test('gate treats a distorted run as unusable: exit 3, one JUnit <error>; --allow-distorted judges it', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'g.db');
  const r = await runCli(['sim', '--trace', 'conversation', '--rate', '0.5', '--duration', '120', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  const store = openStore(db);
  try {
    store.setRunCheck(1, { distorted: true, reason: 'client coalescing: 40.0% of token chunks arrived in one read with the one before' });
  } finally {
    store.close();
  }
  const junit = path.join(dir, 'gate.xml');
  const g = await runCli(['gate', '--slo', 'interactive', '--db', db, '--junit', junit]);
  assert.equal(g.code, 3, g.stderr);
  assert.match(g.stderr, /distorted \(client coalescing/);
  const xml = fs.readFileSync(junit, 'utf8');
  assert.equal(xml.match(/<error /g)?.length, 1, xml);
  assert.match(xml, /it is distorted/);
  const ok = await runCli(['gate', '--slo', 'interactive', '--db', db, '--allow-distorted']);
  assert.ok(ok.code === 0 || ok.code === 1, `judged with --allow-distorted (exit ${ok.code}): ${ok.stderr}`);
  const s = await runCli(['summary', '--db', db]);
  assert.match(s.stdout, /DISTORTED: run 1/);
});
