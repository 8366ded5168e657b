import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrateRoofline, rooflineMape } from '../../../src/engine/perf/roofline.js';
import { createPerfModel } from '../../../src/engine/perf/registry.js';
import type { RooflinePerfModel } from '../../../src/engine/perf/roofline.js';
import { loadEngineData } from '../../../src/config/index.js';

const data = loadEngineData();

/** The documented bound (docs/engine.md, "Catalogs, performance models, power"): MAPE per profiled configuration. */
const MAPE_BOUND = 25;

test('roofline calibration: MAPE against every profile stays under the documented bound', (t) => {
  const { catalog, profiles } = data;
  const cal = calibrateRoofline(catalog, profiles);
  assert.deepEqual([...cal.keys()].sort(), ['a100-80gb', 'h100-80gb']);
  for (const [hw, r] of cal) {
    t.diagnostic(
      `${hw}: mfu ${r.factors.mfu.toFixed(3)} attnEff ${r.factors.attnEff.toFixed(3)} bwEff ${r.factors.bwEff.toFixed(3)} perLayer ${(r.factors.perLayerS * 1e3).toFixed(3)} ms (${r.points} points)`,
    );
    for (const [config, mape] of Object.entries(r.mapeByConfig)) {
      t.diagnostic(`MAPE ${config}: ${mape.toFixed(1)}%`);
      assert.ok(mape < MAPE_BOUND, `${config}: MAPE ${mape.toFixed(1)}% >= ${MAPE_BOUND}%`);
    }
  }
  // the capped H100 is not fitted: it uses the H100 factors and its slowdown, and still matches its own profile
  const h100 = cal.get('h100-80gb')!.factors;
  for (const { profile } of profiles.entries.filter((e) => e.profile.hardware === 'h100-80gb-cap')) {
    const mape = rooflineMape(catalog, profile, h100);
    t.diagnostic(`MAPE ${profile.model}/${profile.hardware}/tp${profile.tp} (H100 factors + cap): ${mape.toFixed(1)}%`);
    assert.ok(mape < MAPE_BOUND);
  }
});

test('hardware without a profile uses its rooflineFrom factors; calibration is deterministic and cached', () => {
  const { catalog, profiles } = data;
  const h200 = createPerfModel({ kind: 'roofline', model: 'llama3-70b', machine: 'dgx-h200', data }) as RooflinePerfModel;
  const h100 = createPerfModel({ kind: 'roofline', model: 'llama3-70b', machine: 'dgx-h100', data }) as RooflinePerfModel;
  assert.deepEqual(h200.factors, h100.factors);
  assert.equal(calibrateRoofline(catalog, profiles), calibrateRoofline(catalog, profiles));
  // more bandwidth: faster decode; more FLOP/s: faster prefill
  assert.ok(h200.decodeTime(32, 32 * 2000) < h100.decodeTime(32, 32 * 2000));
  const b200 = createPerfModel({ kind: 'roofline', model: 'llama3-70b', machine: 'dgx-b200', data });
  assert.ok(b200.prefillTime(4096) < h100.prefillTime(4096));
  const l40s = createPerfModel({ kind: 'roofline', model: 'llama3-70b', machine: 'l40s-8', data });
  assert.ok(l40s.prefillTime(4096) > h100.prefillTime(4096) && l40s.decodeTime(8, 8000) > h100.decodeTime(8, 8000));
});

test('roofline shape: grows with prompt tokens, batch and context; mixed costs at least its parts', () => {
  const m = createPerfModel({ kind: 'roofline', model: 'llama3-8b', machine: 'mi300x-8', tp: 1, data });
  let last = 0;
  for (const t of [1, 128, 1024, 4096, 16384]) {
    const v = m.prefillTime(t);
    assert.ok(v > last, `prefill(${t})`);
    last = v;
  }
  assert.ok(m.decodeTime(64, 64 * 4000) > m.decodeTime(64, 64 * 100));
  assert.ok(m.decodeTime(256, 256 * 1000) > m.decodeTime(1, 1000));
  const mixed = m.iterationTime({ promptTokens: [1000], decodes: 32, decodeContextTokens: 32 * 2000 });
  assert.ok(mixed >= m.prefillTime(1000) && mixed >= m.decodeTime(32, 32 * 2000));
  assert.equal(m.iterationTime({ promptTokens: [], decodes: 0, decodeContextTokens: 0 }), 0);
});
