/**
 * Live and simulated agree: the first minute of the conversation trace replayed against `serve` (spawned by
 * `replay`, time scale 2) and simulated on the same deployment give the same per-request TTFT and E2E
 * distributions within 5% at p50 and p99.
 *
 * What limits the agreement: the engine inside the server matches the simulation (server-side TTFT p50
 * difference < 1 ms); the client adds wall time per request that no emulation can remove (HTTP request in,
 * process wake-ups, the SSE chunk out, and the server's emission lateness when two busy processes share two
 * cores: ~2 to 10 ms here), and the time scale multiplies it. Measured on a quiet 2-core VM (TTFT p50 ~0.26 s):
 * +2.2% at x2, +6.0% at x5. The conversation trace gives ~190 requests a minute (the coding trace 63), so the
 * percentiles are stable. Runs in the serial test phase (`*.timing.test.ts`), never beside other tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../cli/helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-agree-'));
const WINDOW = '0:60';
const DEPLOYMENT = 'splitwise-aa';
const TIME_SCALE = '2';

function values(db: Database.Database, run: string, col: 'ttft' | 'e2e'): number[] {
  const rows = db
    .prepare(`SELECT q.${col} AS v FROM requests q JOIN runs r ON r.id = q.run_id WHERE r.name = ? AND q.status = 'ok' AND q.warmup = 0 ORDER BY v`)
    .all(run) as { v: number }[];
  return rows.map((r) => r.v);
}

/** Nearest-rank percentile. */
function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

test('a live replay against serve and a simulation of the same window agree within 5% (TTFT, E2E at p50 and p99)', { timeout: 120_000 }, async () => {
  const db = path.join(tmp, 'agree.db');
  const live = await runCli([
    'replay',
    '--trace',
    'conversation',
    '--window',
    WINDOW,
    '--deployment',
    DEPLOYMENT,
    '--time-scale',
    TIME_SCALE,
    '--db',
    db,
    '--name',
    'live',
    '--json',
  ]);
  assert.equal(live.code, 0, live.stderr);
  const sim = await runCli(['sim', '--trace', 'conversation', '--window', WINDOW, '--deployment', DEPLOYMENT, '--db', db, '--name', 'sim', '--json']);
  assert.equal(sim.code, 0, sim.stderr);
  const d = new Database(db, { readonly: true });
  try {
    for (const col of ['ttft', 'e2e'] as const) {
      const l = values(d, 'live', col);
      const s = values(d, 'sim', col);
      assert.ok(s.length >= 50, `${s.length} simulated requests`);
      assert.equal(l.length, s.length, 'every request completed in both runs');
      for (const p of [0.5, 0.99]) {
        const a = pct(l, p);
        const b = pct(s, p);
        assert.ok(Math.abs(a - b) / b <= 0.05, `${col} p${p * 100}: live ${a.toFixed(4)} s vs sim ${b.toFixed(4)} s (${((100 * (a - b)) / b).toFixed(1)}%)`);
      }
    }
  } finally {
    d.close();
  }
});
