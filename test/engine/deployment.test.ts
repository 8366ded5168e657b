import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCluster } from '../../src/engine/cluster.js';
import { VirtualClock } from '../../src/engine/clock.js';
import { configErrorOf } from './helpers.js';
import { listDeployments, loadDeployment, parseDeployment, loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();

test('every bundled deployment loads and builds a cluster', () => {
  const names = listDeployments();
  for (const n of ['baseline-a100', 'baseline-h100', 'splitwise-aa', 'splitwise-hh', 'splitwise-ha', 'splitwise-hhcap']) {
    assert.ok(names.includes(n), n);
    assert.ok(names.includes(`${n}-paper`), `${n}-paper`);
  }
  for (const n of names) {
    const d = loadDeployment(n);
    assert.equal(d.name, n);
    const c = createCluster(d, { clock: new VirtualClock(), data });
    assert.ok(c.machines().length > 0);
  }
  const hh = loadDeployment('splitwise-hh-paper');
  assert.deepEqual(
    hh.pools.map((p) => [p.role, p.machine, p.count]),
    [
      ['prompt', 'dgx-h100', 25],
      ['token', 'dgx-h100', 15],
    ],
  );
  assert.equal(loadDeployment('baseline-a100-paper').pools[0]!.count, 70);
  assert.equal(loadDeployment('baseline-h100-paper').pools[0]!.count, 40);
  const ha = loadDeployment('splitwise-ha');
  assert.equal(ha.pools[0]!.machine, 'dgx-h100');
  assert.equal(ha.pools[1]!.machine, 'dgx-a100');
});

test('overrides replace model, scheduler and pool counts', () => {
  const d = loadDeployment('splitwise-hh', { model: 'llama2-70b', scheduler: 'round-robin', counts: { token: 3 } });
  assert.equal(d.model, 'llama2-70b');
  assert.equal(d.scheduler, 'round-robin');
  assert.equal(d.pools.find((p) => p.role === 'token')!.count, 3);
  assert.equal(d.pools[0]!.limits.maxBatchTokens, 2048);
});

test('errors name the file, line and field', () => {
  const yaml = [
    'kind: split',
    'model: bloom-176b',
    'pools:',
    '  prompt: { machine: dgx-h100, count: -1 }',
    '  token: { machine: dgx-h100, count: 1 }',
    '',
  ].join('\n');
  const e = configErrorOf(() => parseDeployment(yaml, 'dep.yaml'));
  assert.match(e.message, /^dep\.yaml:4: pools\.prompt\.count: /);

  const e2 = configErrorOf(() =>
    parseDeployment('kind: split\nscheduler: fastest\npools:\n  prompt: {machine: a, count: 1}\n  token: {machine: a, count: 1}\n', 'x.yaml'),
  );
  assert.match(e2.message, /x\.yaml:2: scheduler: unknown scheduler 'fastest'/);
  assert.match(e2.hint!, /jsq-tokens, splitwise-mixed-pool, round-robin, random/);

  const e3 = configErrorOf(() => parseDeployment('kind: monolithic\npools:\n  mixed: {machine: a, count: 1}\nbogus: 1\n', 'y.yaml'));
  assert.match(e3.message, /y\.yaml:1: \(top level\): Unrecognized key.*bogus/);

  const e4 = configErrorOf(() => parseDeployment('kind: split\npools:\n  prompt: {machine: a, count: 2}\n', 'z.yaml'));
  assert.match(e4.message, /z\.yaml:3: pools\.token: a split deployment needs a token pool/);

  const e5 = configErrorOf(() => parseDeployment('kind: [\n', 'bad.yaml'));
  assert.match(e5.message, /^bad\.yaml:\d+: invalid YAML/);

  const e6 = configErrorOf(() => loadDeployment('no-such-deployment'));
  assert.match(e6.hint!, /baseline-a100/);
});

test('unknown machine types and models are named with the known ones', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-dep-'));
  const f = path.join(dir, 'd.yaml');
  fs.writeFileSync(f, 'kind: monolithic\nmodel: gpt-9\npools:\n  mixed: {machine: dgx-a100, count: 1}\n');
  const e = configErrorOf(() => createCluster(loadDeployment(f), { clock: new VirtualClock(), data }));
  assert.match(e.message, /unknown model 'gpt-9'/);
  assert.match(e.hint!, /bloom-176b/);
  fs.writeFileSync(f, 'kind: monolithic\npools:\n  mixed: {machine: tpu-v9, count: 1}\n');
  const e2 = configErrorOf(() => createCluster(loadDeployment(f), { clock: new VirtualClock(), data }));
  assert.match(e2.message, /pools\.mixed\.machine.*unknown machine type 'tpu-v9'/);
  fs.rmSync(dir, { recursive: true });
});
