/**
 * Regression: errors found when the cluster is built (an unknown model or machine type, a model that
 * does not fit a machine) name the deployment file and the line of the field, or the flag that set it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCluster, VirtualClock } from '../../src/engine/index.js';
import { configErrorOf } from './helpers.js';
import { loadDeployment, loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-origins-'));
function file(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

for (const compat of [undefined, 'splitwise'] as const) {
  const build = (dep: ReturnType<typeof loadDeployment>) => createCluster(dep, { clock: new VirtualClock(), data, ...(compat ? { compat } : {}) });
  test(`unknown model and machine name file and line (${compat ?? 'realistic'} mode)`, () => {
    const m = file('m.yaml', 'kind: monolithic\nmodel: gpt-9\npools:\n  mixed: { machine: dgx-a100, count: 1 }\n');
    assert.match(configErrorOf(() => build(loadDeployment(m))).message, new RegExp(`^${m.replace(/[.\\/]/g, '\\$&')}:2: model: unknown model 'gpt-9'`));
    const k = file('k.yaml', 'kind: split\nmodel: llama2-70b\npools:\n  prompt: { machine: dgx-a100, count: 1 }\n  token: { machine: tpu-v9, count: 1 }\n');
    assert.match(configErrorOf(() => build(loadDeployment(k))).message, /k\.yaml:5: pools\.token\.machine: unknown machine type 'tpu-v9'/);
  });
}

test('a model that does not fit names the machine field with its line, and the model field in the hint', () => {
  const f = file('nofit.yaml', 'kind: monolithic\nmodel: bloom-176b\npools:\n  mixed: { machine: h200-1, count: 1 }\n');
  const e = configErrorOf(() => createCluster(loadDeployment(f), { clock: new VirtualClock(), data }));
  assert.match(e.message, /nofit\.yaml:4: pools\.mixed\.machine: bloom-176b \(352\.4 GB of weights\) does not fit in h200-1's memory/);
  assert.match(e.hint!, /nofit\.yaml:2: model/);
  // Set by a flag: the flag is named, not the file's line.
  const e2 = configErrorOf(() => createCluster(loadDeployment('llama3-8b-h200', { model: 'bloom-176b' }), { clock: new VirtualClock(), data }));
  assert.match(e2.hint!, /\(--model\)/);
});
