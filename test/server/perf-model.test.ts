/** `serve --perf-model`: the backend builds its cluster on the chosen performance model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend } from '../../src/server/backend.js';
import { runCli } from '../cli/helpers.js';

function modelName(o: { perfModel?: string; model?: string }): string {
  const b = createBackend({ deployment: 'baseline-h100', timeScale: 1, ...o });
  try {
    return b.perfModelFor('dgx-h100')!.name;
  } finally {
    b.clock.close();
  }
}

test("serve --perf-model: roofline, profile, auto, or the deployment's perfModel", () => {
  assert.match(modelName({ perfModel: 'roofline' }), /^roofline:bloom-176b\/h100-80gb\/tp8$/);
  const profiled = modelName({});
  assert.doesNotMatch(profiled, /^roofline:/);
  assert.equal(modelName({ perfModel: 'profile' }), profiled);
  assert.equal(modelName({ perfModel: 'auto' }), profiled);
  // No bundled profile for llama3-70b on H100: auto falls back to the roofline; the deployment's 'profile' refuses.
  assert.match(modelName({ model: 'llama3-70b', perfModel: 'auto' }), /^roofline:llama3-70b\//);
  assert.throws(() => modelName({ model: 'llama3-70b' }), /no measured profile for llama3-70b/);
  assert.throws(() => createBackend({ deployment: 'baseline-h100', perfModel: 'roofline', compat: 'splitwise' }), /not with --compat splitwise/);
});

test('serve --perf-model: a bad value or the real engine exits 2 before listening', async () => {
  const bad = await runCli(['serve', '--deployment', 'baseline-h100', '--perf-model', 'measured', '--port', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Choices: "auto", "profile", "roofline"/);
  const real = await runCli(['serve', '--engine', 'real', '--deployment', 'mono', '--perf-model', 'roofline', '--port', '0']);
  assert.equal(real.code, 2);
  assert.match(real.stderr, /--perf-model: only with --engine emulated/);
});
