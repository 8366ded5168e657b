/**
 * Speed of the performance models (the simulator calls iterationTime once per iteration, the metrics call
 * referenceLatency once per request) and of the roofline calibration. Prints figures; asserts nothing.
 * Run alone: node dist/test/bench/perf-model.js
 */

import { calibrateRoofline } from '../../src/engine/perf/roofline.js';
import { createPerfModel } from '../../src/engine/perf/registry.js';
import { referenceLatency } from '../../src/engine/perf/reference.js';
import { loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();
let t0 = performance.now();
calibrateRoofline(data.catalog, data.profiles);
console.log(`roofline calibration (all profiled hardware): ${(performance.now() - t0).toFixed(1)} ms`);

const N = 1_000_000;
for (const kind of ['profile', 'roofline', 'splitwise']) {
  const m = createPerfModel({ kind, model: 'bloom-176b', machine: 'dgx-a100', data });
  let sink = 0;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const d = i % 64;
    sink += m.iterationTime({ promptTokens: i % 3 === 0 ? [512 + (i % 1500)] : [], decodes: d, decodeContextTokens: d * 1200 });
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`${kind.padEnd(9)} iterationTime: ${(N / s / 1e6).toFixed(2)} M calls/s (checksum ${sink.toFixed(0)})`);
}

for (const mode of ['realistic', 'splitwise'] as const) {
  const R = 100_000;
  let sink = 0;
  t0 = performance.now();
  for (let i = 0; i < R; i++) {
    // conversation-like sizes: ~1000 prompt, ~200 output tokens
    sink += referenceLatency({ model: 'bloom-176b', promptTokens: 200 + (i % 1800), outputTokens: 10 + (i % 400), mode, data }).e2e;
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`referenceLatency ${mode}: ${(R / s / 1e3).toFixed(1)} k requests/s (mean output 210 tokens; checksum ${sink.toFixed(0)})`);
}
