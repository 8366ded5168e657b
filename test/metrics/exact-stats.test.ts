/**
 * End to end: every percentile and mean that `summary --json` prints equals numpy-style linear interpolation
 * (and nearest rank, on request) computed here, independently, over the rows `runs export` writes, for a
 * simulated and a live run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runCli } from '../cli/helpers.js';
import { tempDir } from '../load/helpers.js';
import { jsonResult } from '../json-output.js';

interface Row {
  status: string;
  warmup: number;
  ttft: number | null;
  tpot: number | null;
  e2e: number | null;
  chunk_times_s: number[];
  chunk_tokens: number[];
}
interface Stats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** numpy.percentile(x, p) with method='linear' (and 'inverted_cdf', the nearest rank). */
function percentile(sorted: number[], p: number, method: 'linear' | 'nearest-rank'): number {
  const n = sorted.length;
  if (method === 'nearest-rank') return sorted[Math.max(0, Math.ceil((n * p) / 100) - 1)]!;
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

function expectExact(got: Stats | undefined, values: number[], method: 'linear' | 'nearest-rank', what: string): void {
  assert.ok(got, `${what}: summary has it`);
  const x = [...values].sort((a, b) => a - b);
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const want: Stats = {
    count: x.length,
    mean,
    p50: percentile(x, 50, method),
    p90: percentile(x, 90, method),
    p95: percentile(x, 95, method),
    p99: percentile(x, 99, method),
    p999: percentile(x, 99.9, method),
    max: x[x.length - 1]!,
  };
  for (const k of Object.keys(want) as (keyof Stats)[]) {
    const rel = Math.abs(got[k] - want[k]) / Math.max(Math.abs(want[k]), 1e-300);
    assert.ok(rel <= 1e-12, `${what} ${k}: summary ${got[k]}, rows ${want[k]} (rel ${rel})`);
  }
}

async function check(db: string, method: 'linear' | 'nearest-rank'): Promise<void> {
  const ex = await runCli(['runs', 'export', 'latest', '--format', 'json', '--db', db]);
  assert.equal(ex.code, 0, ex.stderr);
  const rows = (JSON.parse(ex.stdout) as Row[]).filter((r) => r.status === 'ok' && !r.warmup);
  assert.ok(rows.length >= 10, `rows ${rows.length}`);
  const sum = await runCli(['summary', '--db', db, '--json', '--percentiles', method]);
  assert.equal(sum.code, 0, sum.stderr);
  const [s] = jsonResult(sum.stdout) as { percentileMethod: string; latencyS: Record<string, Stats> }[];
  assert.equal(s!.percentileMethod, method);
  const col = (k: 'ttft' | 'tpot' | 'e2e'): number[] => rows.map((r) => r[k]).filter((v): v is number => v !== null);
  expectExact(s!.latencyS['ttft'], col('ttft'), method, 'TTFT');
  expectExact(s!.latencyS['tpot'], col('tpot'), method, 'TPOT');
  expectExact(s!.latencyS['e2e'], col('e2e'), method, 'E2E');
  // TBT: each chunk's gap from the previous one, spread over its tokens, token-weighted.
  const tbt: number[] = [];
  for (const r of rows) {
    for (let i = 1; i < r.chunk_times_s.length; i++) {
      const k = r.chunk_tokens[i]!;
      for (let j = 0; j < k; j++) tbt.push((r.chunk_times_s[i]! - r.chunk_times_s[i - 1]!) / k);
    }
  }
  expectExact(s!.latencyS['tbt'], tbt, method, 'TBT');
}

test('summary of a sim equals linear and nearest-rank percentiles of its exported rows', async () => {
  const db = path.join(tempDir(), 's.db');
  const r = await runCli(['sim', '--trace', 'coding', '--limit', '300', '--deployment', 'splitwise-hh', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  await check(db, 'linear');
  await check(db, 'nearest-rank');
});

test('summary of a live replay equals linear percentiles of its exported rows', async () => {
  const db = path.join(tempDir(), 'l.db');
  const r = await runCli(['replay', '--trace', 'conversation', '--window', '0:10', '--time-scale', '10', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  await check(db, 'linear');
});
