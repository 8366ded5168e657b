import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnergyMeter, PREFILL_POWER_SATURATION_TOKENS, energyJoules, enginePower, powerModel, type PowerState } from '../../src/engine/power.js';
import { loadCatalog } from '../../src/config/index.js';

const catalog = loadCatalog();

const idle: PowerState = { phase: 'idle', batchPromptTokens: 0, decodes: 0 };
const decode = (decodes: number): PowerState => ({ phase: 'decode', batchPromptTokens: 0, decodes });
const prefill = (tokens: number): PowerState => ({ phase: 'prefill', batchPromptTokens: tokens, decodes: 0 });

test("DGX-A100 / DGX-H100 watts from SplitwiseSim's constants: idle, decode flat, prefill up to TDP", () => {
  const a = powerModel(catalog.machine('dgx-a100'));
  assert.equal(a.watts(idle), 1500);
  assert.equal(a.watts(decode(1)), 1500 + 8 * (250 - 63));
  assert.equal(a.watts(decode(256)), a.watts(decode(1)), 'decode power is flat in batch size');
  assert.equal(a.watts(prefill(PREFILL_POWER_SATURATION_TOKENS)), 1500 + 8 * (400 - 63));
  assert.equal(a.watts(prefill(8192)), a.watts(prefill(2048)), 'saturates');
  assert.equal(a.gpuWatts(prefill(1024)), 250 + (400 - 250) * 0.5);
  const h = powerModel(catalog.machine('dgx-h100'));
  assert.equal(h.watts(idle), 2800);
  assert.equal(h.watts(prefill(4096)), 2800 + 8 * (700 - 75));
  assert.equal(h.gpuWatts(decode(4)), 380);
});

test('prefill power rises with batch tokens; mixed counts decodes; order idle < decode <= prefill', () => {
  const h = powerModel(catalog.machine('dgx-h100'));
  let last = h.watts(decode(1));
  for (const t of [128, 512, 1024, 2048]) {
    const w = h.watts(prefill(t));
    assert.ok(w > last, `prefill ${t}`);
    last = w;
  }
  assert.ok(h.watts(idle) < h.watts(decode(1)));
  assert.ok(h.watts({ phase: 'mixed', batchPromptTokens: 1000, decodes: 48 }) > h.watts(prefill(1000)));
  for (const m of ['dgx-a100', 'dgx-h100', 'dgx-h200', 'dgx-b200', 'l40s-8', 'mi300x-8', 'dgx-h100-cap']) {
    const p = powerModel(catalog.machine(m));
    assert.ok(p.watts(prefill(1e6)) <= p.maxW, `${m} stays under its rating`);
  }
});

test('the power cap cuts prefill power and barely touches decode', () => {
  const h = powerModel(catalog.machine('dgx-h100'));
  const c = powerModel(catalog.machine('dgx-h100-cap'));
  assert.equal(c.gpuWatts(prefill(4096)), 350);
  assert.ok(c.watts(prefill(4096)) < 0.7 * h.watts(prefill(4096)));
  assert.ok(c.watts(decode(8)) / h.watts(decode(8)) > 0.95);
  assert.ok(c.watts(prefill(4096)) <= 7140);
});

test('energy: zero-order-hold integration and the running meter', () => {
  assert.equal(
    energyJoules(
      [
        { time: 0, watts: 100 },
        { time: 2, watts: 50 },
      ],
      6,
    ),
    100 * 2 + 50 * 4,
  );
  assert.equal(energyJoules([], 5), 0);
  assert.throws(
    () =>
      energyJoules(
        [
          { time: 3, watts: 1 },
          { time: 1, watts: 1 },
        ],
        5,
      ),
    RangeError,
  );
  const m = new EnergyMeter(10, 1500);
  m.set(12, 4000);
  assert.equal(m.joules(13), 1500 * 2 + 4000);
  assert.equal(m.watts, 4000);
  assert.throws(() => m.set(11, 1), RangeError);
});

test("enginePower maps the cluster's phases onto the model", () => {
  const p = enginePower(catalog);
  const a = powerModel(catalog.machine('dgx-a100'));
  assert.equal(p({ name: 'dgx-a100' }, { phase: 'idle', batchSize: 0, batchTokens: 0 }), 1500);
  assert.equal(p({ name: 'dgx-a100' }, { phase: 'decode', batchSize: 10, batchTokens: 10 }), a.watts(decode(10)));
  assert.equal(p({ name: 'dgx-a100' }, { phase: 'prompt', batchSize: 1, batchTokens: 1024 }), a.watts(prefill(1024)));
  assert.equal(
    p({ name: 'dgx-h100-pcap' }, { phase: 'mixed', batchSize: 9, batchTokens: 4096 }),
    powerModel(catalog.machine('dgx-h100-cap')).watts(prefill(4096)),
  );
});
