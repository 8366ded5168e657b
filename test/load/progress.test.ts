/** The replay's progress line: where a trace replay stands (sent/total, ETA) and the plan its scan counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressView, scanPlan } from '../../src/load/progress.js';
import { flagValues } from '../../src/flagspec.js';
import { REPLAY_FLAGS, resolveReplayOptions } from '../../src/load/options.js';
import { applyTransforms, openTrace } from '../../src/trace/index.js';

test('a trace replay without --duration or --max-requests: the bar moves with sent/total, the ETA is the schedule ahead', () => {
  const opts = resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', timeScale: 10 }), {});
  const plan = { requests: 200, lastArrivalS: 100 };
  // Before the plan is known nothing moves (what the bar did for every trace replay before).
  assert.equal(progressView(opts, 50, 2, undefined).frac, undefined);
  const v = progressView(opts, 50, 2, plan);
  assert.equal(v.frac, 0.25);
  assert.equal(v.sent, '50/200');
  assert.equal(v.etaS, (100 - 2 * 10) / 10);
  const end = progressView(opts, 200, 12, plan);
  assert.equal(end.frac, 1);
  assert.equal(end.etaS, 0);
});

test('rate runs keep the --duration / --max-requests rule', () => {
  const rate = resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', rate: 2, duration: 60 }), {});
  const v = progressView(rate, 10, 15, { requests: 1, lastArrivalS: 1 });
  assert.equal(v.frac, 0.25);
  assert.equal(v.etaS, 45);
  const unbounded = progressView(resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', rate: 2, maxRequests: 40 }), {}), 10, 5);
  assert.equal(unbounded.sent, '10/40');
  assert.equal(unbounded.frac, 0.25);
});

test('scanPlan counts what the run sends: the transformed trace within --duration and --max-requests', async () => {
  const all = resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', limit: 300 }), {});
  let n = 0;
  let last = 0;
  for await (const s of applyTransforms(openTrace(all.trace), all.transforms)) {
    n++;
    last = s.arrival;
  }
  assert.equal(n, 300);
  assert.deepEqual(await scanPlan(all), { requests: 300, lastArrivalS: last });
  const capped = await scanPlan(resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', limit: 300, maxRequests: 40 }), {}));
  assert.equal(capped.requests, 40);
  const window = await scanPlan(resolveReplayOptions(flagValues(REPLAY_FLAGS, { trace: 'coding', duration: 30 }), {}));
  assert.ok(window.requests > 0 && window.lastArrivalS < 30, JSON.stringify(window));
});
