import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { referenceLatency } from '../../../src/engine/perf/reference.js';
import { DEFAULT_PROFILES_DIR, loadEngineData } from '../../../src/config/index.js';

const data = loadEngineData();

test('splitwise mode: A100 TP8 prompt predictor, token predictor at x = prompt size, e2e = ttft + tbt x (n - 1)', () => {
  const r = referenceLatency({ model: 'bloom-176b', promptTokens: 1500, outputTokens: 13, mode: 'splitwise', data });
  // the notes' table: prompt 287.5 @1024, 536.1 @2048; token 49.44 @1024, 50.19 @2048
  const ttft = 287.5 + ((536.1 - 287.5) * 476) / 1024;
  const tpot = 49.44 + ((50.19 - 49.44) * 476) / 1024;
  assert.ok(Math.abs(r.ttft * 1000 - ttft) < 0.1, String(r.ttft));
  assert.ok(Math.abs(r.tpot * 1000 - tpot) < 0.01, String(r.tpot));
  assert.equal(r.e2e, r.ttft + r.tpot * 12);
  const one = referenceLatency({ model: 'bloom-176b', promptTokens: 1500, outputTokens: 1, mode: 'splitwise', data });
  assert.equal(one.e2e, one.ttft);
  // the quirk: TBT baseline follows the prompt size, not the output
  const long = referenceLatency({ model: 'bloom-176b', promptTokens: 8192, outputTokens: 13, mode: 'splitwise', data });
  assert.ok(Math.abs(long.tpot * 1000 - 54.27) < 0.01);
});

test('realistic mode: the DGX-A100 profile, decode iterations at growing context', () => {
  const prof = JSON.parse(fs.readFileSync(path.join(DEFAULT_PROFILES_DIR, 'splitwise-sim', 'bloom-176b.a100-80gb.tp8.profile.json'), 'utf8'));
  const xs: number[] = prof.decode.contextSweep.contextTokens;
  const ys: number[] = prof.decode.contextSweep.ms;
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const base: number = prof.decode.curves[0].ms[0];
  const r = referenceLatency({ model: 'bloom-176b', promptTokens: 1500, outputTokens: 13, data });
  const ttft = 289.191399 + ((540.411861 - 289.191399) * 476) / 1024;
  assert.ok(Math.abs(r.ttft * 1000 - ttft) < 1e-9, String(r.ttft));
  // decode i = 1..12 at context 1500 + i: base + slope x (1500 + i - 576), mean i = 6.5
  const tpot = base + slope * (1500 + 6.5 - 576);
  assert.ok(Math.abs(r.tpot * 1000 - tpot) < 1e-9, `${r.tpot * 1000} vs ${tpot}`);
  assert.ok(Math.abs(r.e2e - (r.ttft + 12 * r.tpot)) < 1e-12);
  const one = referenceLatency({ model: 'bloom-176b', promptTokens: 1500, outputTokens: 1, data });
  assert.equal(one.e2e, one.ttft);
  assert.ok(Math.abs(one.tpot * 1000 - (base + slope * (1501 - 576))) < 1e-9);
});

test('other reference machines and bad input', () => {
  const h200 = referenceLatency({ model: 'llama3-8b', machine: 'dgx-h200', promptTokens: 1000, outputTokens: 100, data });
  assert.ok(h200.ttft > 0 && h200.tpot > 0 && h200.e2e > h200.ttft);
  const h100 = referenceLatency({ model: 'bloom-176b', machine: 'dgx-h100', promptTokens: 1000, outputTokens: 100, data });
  const a100 = referenceLatency({ model: 'bloom-176b', promptTokens: 1000, outputTokens: 100, data });
  assert.ok(h100.e2e < a100.e2e);
  assert.throws(
    () => referenceLatency({ model: 'bloom-176b', promptTokens: 0, outputTokens: 3, data }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('promptTokens'),
  );
  assert.throws(() => referenceLatency({ model: 'bloom-176b', promptTokens: 10, outputTokens: 2.5, data }), ConfigError);
  assert.throws(() => referenceLatency({ model: 'llama3-8b', promptTokens: 10, outputTokens: 3, mode: 'splitwise', data }), ConfigError);
  assert.throws(() => referenceLatency({ model: 'bloom-176b', promptTokens: 10, outputTokens: 3, mode: 'exotic' as 'splitwise', data }), ConfigError);
});
