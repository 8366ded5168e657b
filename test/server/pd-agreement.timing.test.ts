/**
 * `replay` through a vLLM-style P/D proxy (pd-proxy.ts) over `serve --role prefill` and `serve --role decode`
 * agrees with `replay` against the one-process split deployment within 5% at p50, for TTFT and E2E. Wall-clock
 * sensitive: the proxy's two extra HTTP hops cost wall milliseconds, which a time scale K turns into K times as
 * many emulated milliseconds of TTFT, so it runs at time scale 1 (and with the timing tests, one at a time).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { requests, runCli, tempDir, writeTrace } from '../load/helpers.js';
import { startPdSetup, type PdSetup } from './pd-proxy.js';
import { jsonResult } from '../json-output.js';

const SCALE = 1;

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

describe('P/D endpoints behind a proxy vs the one-process split deployment', () => {
  let pd: PdSetup;
  before(async () => {
    pd = await startPdSetup('splitwise-hh', SCALE);
  });
  after(() => pd.close());

  it('replay through the proxy agrees with the one-process split deployment within 5% at p50 (TTFT, E2E)', async () => {
    const dir = tempDir();
    // 30 requests over 15 trace seconds (15 s of wall time each run): modest load, no mixed-pool borrowing.
    const rows: [number, number, number][] = [];
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 30; i++) rows.push([i * 0.5 + rnd() * 0.4, 500 + Math.floor(rnd() * 2000), 10 + Math.floor(rnd() * 40)]);
    const trace = writeTrace(dir, rows);
    const common = ['replay', '--trace', trace, '--time-scale', String(SCALE)];
    const viaProxy = await runCli([...common, '--url', pd.proxy.url, '--db', path.join(dir, 'pd.db'), '--json']);
    assert.equal(viaProxy.code, 0, viaProxy.stderr);
    const oneProcess = await runCli([...common, '--deployment', 'splitwise-hh', '--db', path.join(dir, 'one.db'), '--json']);
    assert.equal(oneProcess.code, 0, oneProcess.stderr);
    // The live run's own rows (a replay against the bundled backend also stores its simulated twin).
    const runIdOf = (out: string): number => jsonResult<{ runId: number }>(out, 'replay').runId;
    const stats = (db: string, runId: number): { ttft: number; e2e: number; n: number } => {
      const ok = requests(db, runId).filter((r) => r.status === 'ok');
      assert.equal(ok.length, rows.length, `${db}: every request ok`);
      for (const r of ok) assert.equal(r.tokens_received, r.output_tokens);
      return { ttft: p50(ok.map((r) => r.ttft as number)), e2e: p50(ok.map((r) => r.e2e as number)), n: ok.length };
    };
    const a = stats(path.join(dir, 'pd.db'), runIdOf(viaProxy.stdout));
    const b = stats(path.join(dir, 'one.db'), runIdOf(oneProcess.stdout));
    const rel = (x: number, y: number): number => Math.abs(x - y) / y;
    const msg = `p50 TTFT ${a.ttft.toFixed(4)} vs ${b.ttft.toFixed(4)} s (${(100 * rel(a.ttft, b.ttft)).toFixed(1)}%), p50 E2E ${a.e2e.toFixed(4)} vs ${b.e2e.toFixed(4)} s (${(100 * rel(a.e2e, b.e2e)).toFixed(1)}%)`;
    console.log(`# proxy vs one process: ${msg}`);
    assert.ok(rel(a.ttft, b.ttft) <= 0.05, msg);
    assert.ok(rel(a.e2e, b.e2e) <= 0.05, msg);
  });
});
