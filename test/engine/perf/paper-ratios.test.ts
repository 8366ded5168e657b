/** The Splitwise paper's hardware claims (the Splitwise notes, 5.2), kept by the calibrated models and catalogs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPerfModel } from '../../../src/engine/perf/registry.js';
import { loadCatalog, loadEngineData } from '../../../src/config/index.js';

const data = loadEngineData();

const pm = (kind: string, model: string, machine: string) => createPerfModel({ kind, model, machine, data });

test("H100 vs A100 at TP8: prefill ~0.45-0.5x the time, decode ~0.70-0.75x (BLOOM-176B, the paper's model)", () => {
  const a = pm('profile', 'bloom-176b', 'dgx-a100');
  const h = pm('profile', 'bloom-176b', 'dgx-h100');
  for (const t of [1020, 1500, 2048]) {
    const r = h.prefillTime(t) / a.prefillTime(t);
    assert.ok(r >= 0.45 && r <= 0.5, `prefill ${t}: ${r}`);
  }
  for (const b of [1, 4, 8]) {
    const r = h.decodeTime(b, b * 1000) / a.decodeTime(b, b * 1000);
    assert.ok(r >= 0.7 && r <= 0.75, `decode batch ${b}: ${r}`);
  }
});

test('Llama2-70B keeps the same direction (its data: prefill ~0.5x, decode ~0.66-0.69x)', () => {
  for (const kind of ['profile', 'roofline']) {
    const a = pm(kind, 'llama2-70b', 'dgx-a100');
    const h = pm(kind, 'llama2-70b', 'dgx-h100');
    for (const t of [1020, 1500, 2048]) {
      const r = h.prefillTime(t) / a.prefillTime(t);
      assert.ok(r >= 0.45 && r <= 0.52, `${kind} prefill ${t}: ${r}`);
    }
    for (const b of [1, 4, 16]) {
      const r = h.decodeTime(b, b * 1000) / a.decodeTime(b, b * 1000);
      assert.ok(r >= 0.65 && r <= 0.75, `${kind} decode batch ${b}: ${r}`);
    }
  }
});

test('power-capped H100: prefill 1.3x slower, decode unchanged (profile) or within 2% (roofline)', () => {
  for (const kind of ['profile', 'roofline']) {
    for (const model of ['bloom-176b', 'llama2-70b']) {
      const h = pm(kind, model, 'dgx-h100');
      const c = pm(kind, model, 'dgx-h100-cap');
      for (const t of [512, 1500, 4096]) assert.ok(Math.abs(c.prefillTime(t) / h.prefillTime(t) - 1.3) < 0.005, `${kind} ${model} prefill ${t}`);
      for (const b of [1, 8, 32]) {
        const tol = kind === 'profile' ? 1e-9 : 0.02;
        assert.ok(Math.abs(c.decodeTime(b, b * 1000) / h.decodeTime(b, b * 1000) - 1) <= tol, `${kind} ${model} decode ${b}`);
      }
    }
  }
});

test('cost ratio 2.15-2.16, provisioned power ratio 1.75-1.77 (capped: 1.24)', () => {
  const c = loadCatalog();
  const a = c.machine('dgx-a100');
  const h = c.machine('dgx-h100');
  const cap = c.machine('dgx-h100-cap');
  const cost = h.pricePerHour / a.pricePerHour;
  assert.ok(cost >= 2.15 && cost <= 2.16, String(cost));
  const power = Number((h.powerUnits / a.powerUnits).toFixed(2));
  assert.ok(power >= 1.75 && power <= 1.77, String(power));
  assert.equal(Number((cap.powerUnits / a.powerUnits).toFixed(2)), 1.24);
  assert.equal(h.hw.tdpW / a.hw.tdpW, 1.75);
  assert.equal(cap.pricePerHour, h.pricePerHour);
});
