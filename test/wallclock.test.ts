import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wallNowMs, wallMsOf } from '../src/wallclock.js';

test('wallNowMs agrees with Date.now() to within its millisecond, and tracks the monotonic clock', () => {
  for (let i = 0; i < 50; i++) {
    const before = Date.now();
    const w = wallNowMs();
    const after = Date.now();
    // Date.now() truncates to the millisecond; allow 0.5 ms of anchor error either side.
    assert.ok(w >= before - 0.5 && w < after + 1.5, `wall ${w} vs Date.now() ${before}..${after}`);
  }
  const p = performance.now();
  assert.ok(Math.abs(wallMsOf(p) + (performance.now() - p) - wallNowMs()) < 1);
});
