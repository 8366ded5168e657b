// The one seeded rate generator (src/trace/rate.ts): `replay --rate`, `sim --rate` and `trace synth` draw the
// same requests for one seed. Needs the compiled CLI (build first) for `trace synth`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { rateSchedule } from '../../src/load/replay.js';
import { flagValues } from '../../src/flagspec.js';
import { REPLAY_FLAGS, resolveReplayOptions } from '../../src/load/options.js';
import { resolveSimOptions, SIM_FLAGS } from '../../src/sim/options.js';
import { simRequests } from '../../src/sim/run.js';
import { openTrace, rateRequests, sizeSamplerFromArrays, traceRequests, type RequestSpec } from '../../src/trace/index.js';
import { runCli } from '../cli/helpers.js';
import { collect, tmpDir } from './helpers.js';

const sizesAndTimes = (rs: readonly RequestSpec[]): [number, number, number][] => rs.map((r) => [r.arrival, r.promptTokens, r.outputTokens]);

for (const arrivals of ['poisson', 'gamma:2']) {
  test(`replay --rate, sim --rate and trace synth agree request by request (seed 7, ${arrivals})`, async () => {
    const flags = { trace: 'coding', rate: 4, arrivals, duration: 60, seed: 7 };
    // replay: the schedule its runner sends, cut where the runner stops (--duration).
    const ro = resolveReplayOptions(flagValues(REPLAY_FLAGS, flags), {});
    assert.equal(ro.shape.kind, 'rate');
    const replay: RequestSpec[] = [];
    if (ro.shape.kind === 'rate') {
      for await (const s of rateSchedule(traceRequests({ trace: ro.trace, transforms: ro.transforms }).requests, ro.shape.rate, ro.shape.arrivals, ro.seed)) {
        if (s.scheduledS >= ro.durationS!) break;
        assert.equal(s.scheduledS, s.spec.arrival);
        replay.push(s.spec);
      }
    }
    // sim: the requests it feeds the engine.
    const sim = [
      ...((await simRequests(resolveSimOptions(flagValues(SIM_FLAGS, { ...flags, db: path.join(tmpDir(), 'x.db') })))).requests as Iterable<RequestSpec>),
    ];
    // trace synth: the file it writes (Azure CSV: timestamps to the microsecond), read back.
    const out = path.join(tmpDir(), 'synth.csv');
    const r = await runCli(['trace', 'synth', '--like', 'coding', '--rate', '4', '--arrivals', arrivals, '--duration', '60', '--seed', '7', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const synth = await collect(openTrace(out));

    assert.ok(sim.length > 150 && sim.length < 330, `${sim.length} requests in 60 s at 4 req/s`);
    assert.deepEqual(
      replay.map((x) => x.id),
      sim.map((x) => x.id),
    );
    assert.deepEqual(sizesAndTimes(replay), sizesAndTimes(sim));
    assert.equal(synth.length, sim.length);
    for (let i = 0; i < sim.length; i++) {
      const [a, b] = [synth[i]!, sim[i]!];
      assert.deepEqual([a.promptTokens, a.outputTokens], [b.promptTokens, b.outputTokens], `request ${i}: sizes`);
      assert.ok(Math.abs(a.arrival - b.arrival) <= 1e-6, `request ${i}: arrival ${a.arrival} vs ${b.arrival}`);
    }
  });
}

test('rateRequests: joint pairs or independent sizes, duration and request caps, checked loads', () => {
  const sampler = sizeSamplerFromArrays([10, 20, 30], [1, 2, 3]);
  const joint = [...rateRequests(sampler, { rate: 50, durationS: 20, seed: 3 })];
  assert.ok(joint.length > 800 && joint.length < 1200, String(joint.length));
  assert.ok(joint.every((r) => r.outputTokens * 10 === r.promptTokens));
  assert.ok(joint.every((r) => r.arrival < 20));
  assert.deepEqual(
    joint.slice(0, 3).map((r) => r.id),
    ['r0', 'r1', 'r2'],
  );
  const indep = [...rateRequests(sampler, { rate: 50, durationS: 20, seed: 3, draw: 'independent' })];
  assert.deepEqual(
    indep.map((r) => r.arrival),
    joint.map((r) => r.arrival),
  );
  assert.ok(indep.some((r) => r.outputTokens * 10 !== r.promptTokens));
  assert.equal([...rateRequests(sampler, { rate: 50, maxRequests: 7, seed: 3 })].length, 7);
  const constant = [...rateRequests(sampler, { rate: 4, arrivals: 'constant', durationS: 1, seed: 0 })];
  assert.deepEqual(
    constant.map((r) => r.arrival),
    [0, 0.25, 0.5, 0.75],
  );
  for (const [load, flag] of [
    [{ rate: 0, seed: 0 }, '--rate'],
    [{ rate: 1, durationS: -1, seed: 0 }, '--duration'],
    [{ rate: 1, maxRequests: 1.5, seed: 0 }, '--max-requests'],
    [{ rate: 1, arrivals: 'zipf', seed: 0 }, '--arrivals'],
  ] as const) {
    assert.throws(
      () => [...rateRequests(sampler, load)],
      (e: unknown) => e instanceof ConfigError && e.path === flag,
    );
  }
});
