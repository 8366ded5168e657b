import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { ProfilePerfModel } from '../../../src/engine/perf/profile.js';
import { convertTorchMeasurement } from '../../../src/config/index.js';

const pt = (p: number, b: number, ctx: number, ms: number) => ({ prefill_tokens: p, decode_batch: b, decode_context: ctx, ms_median: ms, watts_mean: null });

test('a raw PyTorch measurement becomes a profile with one decode curve per context length', () => {
  const raw = {
    meta: { gpu: 'NVIDIA H200', tensor_parallel: 1 },
    prefill: [pt(256, 0, 0, 12), pt(128, 0, 0, 8)],
    decode: [pt(0, 4, 1024, 7.5), pt(0, 1, 1024, 7), pt(0, 1, 128, 6.5), pt(0, 4, 128, 6.8)],
    mixed: [pt(256, 4, 1024, 14)],
    errors: [],
  };
  const p = convertTorchMeasurement(raw, { model: 'llama3-8b', hardware: 'h200-141gb' });
  assert.deepEqual(p.prefill, { tokens: [128, 256], ms: [8, 12] });
  assert.deepEqual(p.decode.curves, [
    { contextTokens: 128, batch: [1, 4], ms: [6.5, 6.8] },
    { contextTokens: 1024, batch: [1, 4], ms: [7, 7.5] },
  ]);
  assert.equal(p.tp, 1);
  const m = new ProfilePerfModel(p);
  assert.ok(Math.abs(m.decodeTime(4, 4 * 576) - 0.00715) < 1e-12, 'halfway between the two curves');
  // composed mixed = max(prefill(260), decode(4, 0)) + decode(4, 4096) - decode(4, 0); k fits the measured 14 ms
  assert.ok(Math.abs(m.iterationTime({ promptTokens: [256], decodes: 4, decodeContextTokens: 4096 }) - 0.014) < 1e-12);
  assert.throws(
    () => convertTorchMeasurement({ meta: {}, prefill: 'x', decode: [] }, { model: 'a', hardware: 'b', file: 'r.json' }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('r.json: prefill:'),
  );
});
