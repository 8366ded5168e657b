import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { PROFILE_FORMAT, ProfilePerfModel, type ProfileData } from '../../../src/engine/perf/profile.js';
import { createPerfModel, perfModelKinds } from '../../../src/engine/perf/registry.js';
import { loadEngineData, loadProfileFile, parseProfile } from '../../../src/config/index.js';

const data = loadEngineData();

const close = (a: number, b: number, eps = 1e-12): boolean => Math.abs(a - b) <= eps;

function profile(over: Partial<ProfileData> = {}): ProfileData {
  return {
    format: PROFILE_FORMAT,
    model: 'toy',
    hardware: 'toy-gpu',
    tp: 1,
    source: 'test',
    prefill: { tokens: [100, 200, 400], ms: [50, 70, 110] },
    decode: { curves: [{ contextTokens: 500, batch: [1, 2, 4], ms: [20, 22, 26] }], contextSweep: { batch: 1, contextTokens: [500, 1500], ms: [20, 21] } },
    ...over,
  };
}

test('profile prefill: exact at knots, linear between, extrapolated beyond', () => {
  const m = new ProfilePerfModel(profile());
  assert.ok(close(m.prefillTime(200), 0.07));
  assert.ok(close(m.prefillTime(300), 0.09));
  assert.ok(close(m.prefillTime(50), 0.04));
  assert.ok(close(m.prefillTime(800), 0.19));
  assert.ok(close(m.iterationTime({ promptTokens: [150, 150], decodes: 0, decodeContextTokens: 0 }), 0.09), 'several prompts: at their sum');
});

test('profile decode with one curve: batch curve plus the context slope fitted on the sweep', () => {
  const m = new ProfilePerfModel(profile());
  assert.ok(close(m.contextSlopeMs, 0.001));
  assert.ok(close(m.decodeTime(1, 500), 0.02));
  assert.ok(close(m.decodeTime(2, 1000), 0.022));
  assert.ok(close(m.decodeTime(2, 3000), 0.024));
  assert.ok(close(m.decodeTime(3, 1500), 0.024));
  assert.ok(close(m.decodeTime(8, 4000), 0.034), 'batch extrapolated with the last segment');
  assert.equal(m.decodeTime(0, 0), 0);
  assert.ok(close(m.iterationTime({ promptTokens: [], decodes: 2, decodeContextTokens: 3000 }), 0.024));
});

test('profile decode with several curves: bilinear in batch and mean context, extrapolated', () => {
  const m = new ProfilePerfModel(
    profile({
      decode: {
        curves: [
          { contextTokens: 500, batch: [1, 4], ms: [20, 26] },
          { contextTokens: 1500, batch: [1, 4], ms: [22, 32] },
        ],
      },
    }),
  );
  assert.ok(close(m.decodeTime(1, 1000), 0.021));
  assert.ok(close(m.decodeTime(4, 6000), 0.032));
  assert.ok(close(m.decodeTime(4, 10000), 0.038));
  assert.ok(close(m.decodeTime(2, 1000), 0.022), 'batch 2 at context 500: (20 + 2) on the first curve');
});

test("mixed batches: max(prefill(P + d), decode(d, 0)) + the decodes' context term; scale fitted from mixed points", () => {
  const m = new ProfilePerfModel(profile());
  // prefill(152) = 60.4 ms; decode(2, 0) = 22 - 0.001 x 1000 = 21 ms; context term 0.001 x 1000 = 1 ms
  assert.ok(close(m.iterationTime({ promptTokens: [150], decodes: 2, decodeContextTokens: 1000 }), 0.0614, 1e-12));
  const withMixed = new ProfilePerfModel(profile({ mixed: [{ promptTokens: 150, decodes: 2, contextTokens: 500, ms: 61.4 * 1.2 }] }));
  assert.ok(close(withMixed.mixedScale, 1.2, 1e-12));
  assert.ok(close(withMixed.iterationTime({ promptTokens: [150], decodes: 2, decodeContextTokens: 1000 }), 0.0614 * 1.2, 1e-12));
});

test('extrapolation never goes below 10% of the smallest measured time', () => {
  const m = new ProfilePerfModel(profile({ decode: { curves: [{ contextTokens: 500, batch: [2, 4], ms: [30, 20] }] } }));
  assert.ok(close(m.decodeTime(10, 5000), 0.002), String(m.decodeTime(10, 5000)));
});

test('profile files: read at the edge, used by createPerfModel; errors name file and field', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-profile-'));
  const good = path.join(dir, 'toy.profile.json');
  fs.writeFileSync(good, JSON.stringify(profile()));
  const m = createPerfModel({ kind: 'profile', profile: { file: good, profile: loadProfileFile(good) } });
  assert.ok(close(m.prefillTime(200), 0.07));
  assert.equal(m.name, 'profile:toy.profile.json');

  const bad = path.join(dir, 'bad.profile.json');
  fs.writeFileSync(bad, JSON.stringify({ ...profile(), prefill: { tokens: [100, 200], ms: [50] } }));
  assert.throws(
    () => loadProfileFile(bad),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${bad}: prefill: tokens and ms must have the same length`),
  );
  fs.writeFileSync(bad, JSON.stringify({ ...profile(), decode: { curves: [{ contextTokens: 1, batch: [1], ms: [-3] }] } }));
  assert.throws(
    () => loadProfileFile(bad),
    (e: unknown) => e instanceof ConfigError && e.message.includes('decode.curves.0.ms.0'),
  );
  fs.writeFileSync(bad, '{ nope');
  assert.throws(
    () => loadProfileFile(bad),
    (e: unknown) => e instanceof ConfigError && e.message.includes('not valid JSON'),
  );
  assert.throws(
    () => parseProfile({ ...profile(), format: 'other/9' }, 'x.json'),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('x.json: format:'),
  );
});

test('bundled profiles: knot values come back exactly; missing combinations and kinds are clear errors', () => {
  const bloom = createPerfModel({ kind: 'profile', model: 'bloom-176b', machine: 'dgx-a100', data });
  assert.equal(bloom.prefillTime(1024), 289.191399 / 1000);
  assert.ok(close(bloom.decodeTime(64, 64 * 576), 96.582975 / 1000));
  assert.equal(bloom.name, 'profile:bloom-176b/a100-80gb/tp8');
  const llamaTp2 = createPerfModel({ kind: 'profile', model: 'llama2-70b', machine: 'dgx-h100', tp: 2, data });
  assert.equal(llamaTp2.name, 'profile:llama2-70b/h100-80gb/tp2');
  assert.throws(
    () => createPerfModel({ kind: 'profile', model: 'llama3-8b', machine: 'dgx-h200', data }),
    (e: unknown) => e instanceof ConfigError && /no measured profile for llama3-8b on h200-141gb at TP8/.test(e.message) && /roofline/.test(e.hint ?? ''),
  );
  assert.throws(
    () => createPerfModel({ kind: 'magic', model: 'bloom-176b', machine: 'dgx-a100', data }),
    (e: unknown) => e instanceof ConfigError && e.message.includes(`known: ${perfModelKinds.join(', ')}`),
  );
  assert.throws(() => createPerfModel({ kind: 'roofline', model: 'bloom-176b', machine: 'dgx-a100', tp: 9, data }), ConfigError);
});

test('constant model: a + b x tokens for prompts, c for decodes, both for mixed', () => {
  const m = createPerfModel({ kind: 'constant', constant: { prefillBaseS: 0.1, prefillPerTokenS: 0.001, decodeS: 0.02 }, data });
  assert.ok(close(m.prefillTime(100), 0.2));
  assert.equal(m.decodeTime(5, 1000), 0.02);
  assert.ok(close(m.iterationTime({ promptTokens: [50, 50], decodes: 3, decodeContextTokens: 10 }), 0.22));
  assert.equal(m.iterationTime({ promptTokens: [], decodes: 0, decodeContextTokens: 0 }), 0);
  assert.throws(
    () => createPerfModel({ kind: 'constant', constant: { prefillBaseS: -1, prefillPerTokenS: 0, decodeS: 0 }, data }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('constant.prefillBaseS'),
  );
});
