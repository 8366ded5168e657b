import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnergyAccumulator } from '../../src/telemetry/energy.js';

test('counter deltas; a decrease is a reset that starts a new segment', () => {
  const a = new EnergyAccumulator();
  assert.equal(a.add(0, 100, 5000), 0); // baseline
  assert.equal(a.add(1, 100, 5100), 100);
  assert.equal(a.add(2, 100, 5300), 300);
  // reset: the counter restarted from zero and reads 40 J since then
  assert.equal(a.add(3, 100, 40), 340);
  assert.equal(a.add(4, 100, 140), 440);
  assert.equal(a.resets, 1);
  assert.equal(a.method, 'counter');
});

test('trapezoid without a counter; a gap is not bridged', () => {
  const a = new EnergyAccumulator();
  a.add(0, 100);
  assert.equal(a.add(2, 200), 300); // (100+200)/2 × 2
  a.gap(3);
  assert.equal(a.add(4, 400), 300); // nothing across the gap
  assert.equal(a.add(5, 600), 800); // (400+600)/2 × 1
  assert.equal(a.gaps, 1);
  assert.equal(a.method, 'trapezoid');
});

test('a counter keeps counting across a gap', () => {
  const a = new EnergyAccumulator();
  a.add(0, 50, 1000);
  a.gap(1);
  assert.equal(a.add(2, 50, 1100), 100);
});

test('null watts with no counter is a gap reading', () => {
  const a = new EnergyAccumulator();
  a.add(0, 100);
  a.add(1, null);
  assert.equal(a.add(2, 100), 0);
  assert.equal(a.gaps, 1);
});
