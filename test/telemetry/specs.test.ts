import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { parsePowerSpec, parseScrapeSpec } from '../../src/telemetry/specs.js';
import { parseTelemetryFlags } from '../../src/telemetry/run.js';

test('power specs', () => {
  assert.deepEqual(parsePowerSpec('model'), { kind: 'model', text: 'model' });
  assert.equal((parsePowerSpec('model=http://127.0.0.1:8000') as { url: string }).url, 'http://127.0.0.1:8000/metrics');
  assert.deepEqual(parsePowerSpec('prefill:nvidia-smi'), { kind: 'nvidia-smi', role: 'prefill', text: 'prefill:nvidia-smi' });
  assert.deepEqual(parsePowerSpec('decode:nvidia-smi@gpu-node-3,type=h100-80gb'), {
    kind: 'nvidia-smi',
    role: 'decode',
    host: 'gpu-node-3',
    type: 'h100-80gb',
    text: 'decode:nvidia-smi@gpu-node-3,type=h100-80gb',
  });
  const d = parsePowerSpec('prefill:dcgm=http://p1:9400');
  assert.equal(d.kind, 'dcgm');
  assert.equal((d as { url: string }).url, 'http://p1:9400/metrics');
  const p = parsePowerSpec('token:prometheus=http://h:9100/metrics,metric=node_power_watts,energy=node_energy,energy-unit=mJ,unit=mW');
  assert.equal(p.kind, 'prometheus');
  assert.equal((p as { metric: string }).metric, 'node_power_watts');
  assert.equal((p as { wattsScale: number }).wattsScale, 1e-3);
  assert.equal((p as { energyScale: number }).energyScale, 1e-3);
});

test('bad power specs are usage errors naming the flag', () => {
  for (const s of [
    'nvidia-smi',
    'pre fill:nvidia-smi',
    'x:dcgm=ftp://a',
    'x:prometheus=http://a',
    'x:bogus',
    'x:nvidia-smi@-oProxy=x',
    'x:dcgm=http://a,zzz=1',
    'x:prometheus=http://a,metric=m,unit=GW',
  ]) {
    assert.throws(
      () => parsePowerSpec(s),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith('--power: '),
      s,
    );
  }
});

test('scrape specs', () => {
  assert.deepEqual(parseScrapeSpec('http://d1:8200,decode'), { url: 'http://d1:8200/metrics', role: 'decode', text: 'http://d1:8200,decode' });
  assert.deepEqual(parseScrapeSpec('http://d1:8200/metrics'), { url: 'http://d1:8200/metrics', text: 'http://d1:8200/metrics' });
  assert.throws(() => parseScrapeSpec('nope'), /--scrape/);
});

test('replay flags: defaults, none, every problem at once', () => {
  const p: string[] = [];
  const a = parseTelemetryFlags({}, false, p);
  assert.equal(p.length, 0);
  assert.deepEqual(a.telemetry.power, [{ kind: 'model', text: 'model' }]);
  assert.equal(a.telemetry.intervalMs, 1000);
  assert.deepEqual(parseTelemetryFlags({}, true, p).telemetry.power, []);
  assert.deepEqual(parseTelemetryFlags({ power: ['none'] }, false, p).telemetry.power, []);
  const b = parseTelemetryFlags({ power: ['x:bogus'], powerInterval: 1, price: ['dgx-h100'], priceKwh: -1, target: 'tgi', scrape: ['x'] }, false, p);
  assert.equal(p.length, 6, p.join('\n'));
  assert.equal(b.target, undefined);
  assert.ok(p.some((m) => m.startsWith('--power-interval')));
  assert.ok(p.some((m) => m.startsWith('--price: ')));
  assert.ok(p.some((m) => m.startsWith('--price-kwh')));
  assert.ok(p.some((m) => m.startsWith('--target: unknown')));
});
