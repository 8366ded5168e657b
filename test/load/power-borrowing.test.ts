/**
 * Power by pool when the Splitwise mixed pool borrows machines, in a sim and in a live run against the bundled
 * backend: the pools' energies add up to the cluster's within 0.1%, no pool's mean exceeds its peak, no sample
 * exceeds the machine's rating, and the live backend's samples come every second of trace time (its engine
 * clock), not every wall second.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../cli/helpers.js';
import { tempDir } from './helpers.js';
import { jsonResult } from '../json-output.js';

interface Power {
  pools: Record<string, { meanW: number; peakW: number; energyJ?: number }>;
  energyJ: number;
}

async function check(db: string, what: string): Promise<void> {
  const s = await runCli(['summary', '--db', db, '--run', '1', '--json']);
  assert.equal(s.code, 0, s.stderr);
  const [sum] = jsonResult(s.stdout) as { power: Power }[];
  const p = sum!.power;
  const pools = Object.values(p.pools);
  const byPool = pools.reduce((a, x) => a + (x.energyJ ?? 0), 0);
  assert.ok(Math.abs(byPool - p.energyJ) <= 1e-3 * p.energyJ, `${what}: pools ${byPool} J vs cluster ${p.energyJ} J`);
  for (const [name, x] of Object.entries(p.pools)) assert.ok(x.meanW <= x.peakW + 1e-9, `${what}: pool ${name} mean ${x.meanW} W ≤ peak ${x.peakW} W`);
  const h = new Database(db, { readonly: true });
  try {
    const borrowed = h.prepare("SELECT count(DISTINCT machine_id) AS n FROM power_samples WHERE run_id = 1 AND role = 'mixed'").get() as { n: number };
    const machines = h.prepare('SELECT count(*) AS n FROM machines WHERE run_id = 1').get() as { n: number };
    assert.equal(borrowed.n, machines.n, `${what}: the mixed pool borrowed every machine (${borrowed.n} of ${machines.n})`);
    const over = h
      .prepare(
        'SELECT p.machine_id AS id, p.t AS t, p.watts AS w, m.tdp_w AS tdp FROM power_samples p JOIN machines m ON m.machine_id = p.machine_id AND m.run_id = p.run_id WHERE p.run_id = 1 AND p.watts > ?',
      )
      .all(10200 + 1e-6) as unknown[];
    assert.deepEqual(over, [], `${what}: no sample above the DGX-H100's 10,200 W`);
  } finally {
    h.close();
  }
}

test('sim: the mixed pool borrows every machine, pool power adds up and stays under the rating', async () => {
  const db = path.join(tempDir(), 'ps.db');
  const r = await runCli(['sim', '--trace', 'coding', '--deployment', 'splitwise-hh', '--rate', '25', '--duration', '30', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  await check(db, 'sim');
});

test('live: the bundled backend samples power on trace time; pool power adds up and stays under the rating', async () => {
  const db = path.join(tempDir(), 'pl.db');
  const r = await runCli(['replay', '--trace', 'coding', '--rate', '25', '--duration', '20', '--time-scale', '2', '--no-twin', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  await check(db, 'live');
  const h = new Database(db, { readonly: true });
  try {
    const ts = (h.prepare("SELECT t FROM power_samples WHERE run_id = 1 AND machine_id = 'prompt-0' AND t > 0 ORDER BY t").all() as { t: number }[]).map(
      (x) => x.t,
    );
    assert.ok(ts.length >= 15, `about one sample per trace second (${ts.length} over ~20 s)`);
    const gaps = ts
      .slice(1)
      .map((t, i) => t - ts[i]!)
      .sort((a, b) => a - b);
    assert.ok(gaps[Math.floor(gaps.length / 2)]! < 1.6, `median gap ${gaps[Math.floor(gaps.length / 2)]} trace s (not 2 s: one wall second at ×2)`);
  } finally {
    h.close();
  }
});
