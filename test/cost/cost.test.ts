import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { costFigures, counterEnergy, loadPrices, parsePrices } from '../../src/cost/index.js';

test('the bundled price table: Splitwise values with their source, GPU-name matching, overrides', () => {
  const p = loadPrices();
  assert.equal(p.machines.get('dgx-a100')!.usdPerHour, 17.6);
  assert.equal(p.machines.get('dgx-h100')!.usdPerHour, 38);
  assert.equal(p.machines.get('dgx-h100')!.kind, 'paper-assumption');
  for (const [name, m] of [...p.machines, ...p.gpus]) {
    assert.ok(m.source.length > 0 && m.date.length > 0, name);
  }
  assert.equal(p.resolve('dgx-h100', 8)!.usdPerHourTotal, 38);
  assert.equal(p.perGpu('dgx-h100')!.usdPerHourTotal, 4.75);
  // DCGM's modelName
  const g = p.resolve('NVIDIA H100 80GB HBM3', 1)!;
  assert.equal(g.name, 'h100-80gb');
  assert.equal(p.resolve('NVIDIA A40', 1)!.name, 'a40-48gb');
  assert.equal(p.resolve('NVIDIA A100-SXM4-80GB', 2)!.usdPerHourTotal, 4.4);
  assert.equal(p.resolve('tpu-v5'), undefined);
  const o = p.withOverrides(['dgx-h100=40', 'h100-80gb=2.5', 'my-box=3'], 0.2);
  assert.equal(o.resolve('dgx-h100')!.usdPerHourTotal, 40);
  assert.equal(o.resolve('dgx-h100')!.kind, 'user');
  assert.equal(o.resolve('NVIDIA H100 PCIe', 1)!.usdPerHourTotal, 2.5);
  assert.equal(o.resolve('my-box')!.usdPerHourTotal, 3);
  assert.equal(o.electricity.usdPerKwh, 0.2);
  assert.equal(p.machines.get('dgx-h100')!.usdPerHour, 38, 'overrides make a new table');
  assert.throws(
    () => p.withOverrides(['dgx-h100']),
    (e: unknown) => e instanceof ConfigError && /^--price: /.test(e.message),
  );
  assert.throws(() => p.withOverrides(['dgx-h100=abc']), ConfigError);
});

test('a bad price file names the file, line and field', () => {
  const text =
    'machines:\n  x:\n    usdPerHour: -1\n    gpus: 1\n    source: s\n    date: 2024\n    kind: on-demand\nelectricity: { usdPerKwh: 0.1, source: s, date: 2024, kind: assumption }\n';
  assert.throws(
    () => parsePrices(text, 'p.yaml'),
    (e: unknown) => e instanceof ConfigError && /^p\.yaml:3: machines\.x\.usdPerHour: /.test(e.message),
  );
  assert.throws(() => parsePrices('machines: [\n', 'q.yaml'), /q\.yaml:\d+: invalid YAML/);
});

test('counterEnergy interpolates at the span ends and clips to the series', () => {
  const pts = [
    { t: 0, energyJ: 0 },
    { t: 10, energyJ: 1000 },
    { t: 20, energyJ: 1500 },
  ];
  assert.deepEqual(counterEnergy(pts, 5, 15), { joules: 750, coveredS: 10 });
  assert.deepEqual(counterEnergy(pts, -5, 100), { joules: 1500, coveredS: 20 });
  assert.deepEqual(counterEnergy(pts, 30, 40), { joules: 0, coveredS: 0 });
  assert.deepEqual(counterEnergy([], 0, 1), { joules: 0, coveredS: 0 });
});

test('costFigures: provisioned cost, per-pool shares that add up, energy cost', () => {
  const c = costFigures({
    machines: [
      { pool: 'prompt', pricePerHour: 36 },
      { pool: 'prompt', pricePerHour: 36 },
      { pool: 'token', pricePerHour: 18 },
    ],
    spanS: 1800,
    inputTokens: 2_000_000,
    outputTokens: 500_000,
    okRequests: 1000,
    goodRequests: 900,
    energyJ: 3.6e7,
    energyByPoolJ: { prompt: 2.7e7, token: 0.9e7 },
    usdPerKwh: 0.1,
  });
  assert.equal(c.dollars, 45);
  assert.equal(c.machineHours, 1.5);
  assert.equal(c.dollarsPerMOutputTokens, 90);
  assert.equal(c.dollarsPerMInputTokens, 22.5);
  assert.equal(c.dollarsPerRequest, 0.045);
  assert.equal(c.dollarsPerGoodRequest, 0.05);
  assert.equal(c.energyDollars, 1);
  assert.equal(c.pools.prompt!.dollars, 36);
  assert.equal(c.pools.prompt!.dollarsPerMOutputTokens! + c.pools.token!.dollarsPerMOutputTokens!, 90);
  assert.ok(Math.abs(c.pools.token!.energyDollars! - 0.25) < 1e-12);
  const none = costFigures({ machines: [{ pool: 'm', pricePerHour: 1 }], spanS: 3600, inputTokens: 0, outputTokens: 0, okRequests: 0 });
  assert.equal(none.dollars, 1);
  assert.equal(none.dollarsPerMOutputTokens, undefined);
  assert.equal(none.energyDollars, undefined);
});
