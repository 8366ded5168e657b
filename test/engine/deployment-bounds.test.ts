/**
 * Regression: absurd deployments (a pool of 100,000,000 machines, a huge batch) are a validation error
 * naming the file, the line, the field and the bound, before anything is allocated, not a heap exhaustion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../cli/helpers.js';
import { configErrorOf } from './helpers.js';
import { defineDeployment, parseDeployment } from '../../src/config/index.js';

/** The documented bound (docs/engine.md; DEPLOYMENT_BOUNDS.machines), written out so this file also runs against older code. */
const MAX_MACHINES = 10_000;

const mono = (pool: string, extra = ''): string => `kind: monolithic\nmodel: llama2-70b\npools:\n  mixed: ${pool}\n${extra}`;

test('a pool count past the bound names file, line, field and the bound', () => {
  const e = configErrorOf(() => parseDeployment(mono('{ machine: dgx-h100, count: 100000000 }'), 'huge.yaml'));
  assert.match(e.message, /^huge\.yaml:4: pools\.mixed\.count: must be at most 10,000 \(the bound for this field\)/);
  // The bound itself is accepted.
  assert.equal(parseDeployment(mono(`{ machine: dgx-h100, count: ${MAX_MACHINES} }`), 'ok.yaml').pools[0]!.count, MAX_MACHINES);
});

test('all pools together are bounded too', () => {
  const yaml = 'kind: split\npools:\n  prompt: { machine: dgx-h100, count: 6000 }\n  token: { machine: dgx-h100, count: 6000 }\n';
  const e = configErrorOf(() => parseDeployment(yaml, 'two.yaml'));
  assert.match(e.message, /^two\.yaml:3: pools: 12,000 machines in all: at most 10,000/);
});

test('a count given as an override is bounded the same way', () => {
  const e = configErrorOf(() => defineDeployment({ kind: 'monolithic', pools: { mixed: { machine: 'dgx-h100', count: 1 } } }, { counts: { mixed: 1e8 } }));
  assert.match(e.message, /pools\.mixed\.count: 100000000 machines: must be an integer from 0 to 10,000/);
});

test('batch, block, interconnect and pending-token fields have bounds; infinities are refused', () => {
  const cases: [string, RegExp][] = [
    [mono('{ machine: dgx-h100, count: 1, instance: { maxBatchSize: 1000000000 } }'), /:4: pools\.mixed\.instance\.maxBatchSize: must be at most 65,536/],
    [mono('{ machine: dgx-h100, count: 1 }', 'instance: { maxBatchTokens: 100000000 }\n'), /:5: instance\.maxBatchTokens: must be at most 1,048,576/],
    [mono('{ machine: dgx-h100, count: 1 }', 'instance: { blockTokens: 1000000 }\n'), /:5: instance\.blockTokens: must be at most 4,096/],
    [mono('{ machine: dgx-h100, count: 1 }', 'interconnect: { bandwidthGbps: .inf }\n'), /:5: interconnect\.bandwidthGbps: /],
    [mono('{ machine: dgx-h100, count: 1 }', 'promptMaxPendingTokens: 1e300\n'), /:5: promptMaxPendingTokens: must be at most 1,000,000,000/],
  ];
  for (const [yaml, re] of cases) assert.match(configErrorOf(() => parseDeployment(yaml, 'b.yaml')).message, re, yaml);
});

test('`sim` with a 100,000,000-machine pool exits 2 at once with the file, line and bound', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bounds-'));
  const f = path.join(dir, 'huge.yaml');
  fs.writeFileSync(f, mono('{ machine: dgx-h100, count: 100000000 }'));
  const r = await runCli(['sim', '--trace', 'conversation', '--limit', '5', '--deployment', f, '--db', path.join(dir, 'x.db')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /huge\.yaml:4: pools\.mixed\.count: must be at most 10,000/);
  assert.doesNotMatch(r.stderr, /heap| {4}at /);
});

test('`provision` refuses a --max-machines grid and a --budget-like cluster past the bounds', async () => {
  const base = ['provision', '--trace', 'conversation', '--design', 'splitwise-hh', '--rate', '1', '--db', path.join(os.tmpdir(), 'sb-bounds-never.db')];
  const a = await runCli([...base, '--objective', 'cost-opt', '--max-machines', '100000']);
  assert.equal(a.code, 2, a.stderr);
  assert.match(a.stderr, /--max-machines: must be <= 1000, got 100000/);
  const b = await runCli([...base, '--objective', 'iso-power', '--budget-like', 'baseline-h100:100000000']);
  assert.equal(b.code, 2, b.stderr);
  assert.match(b.stderr, /--budget-like: 100000000 machines: a reference cluster has at most 10000/);
});

test('a machine with an absurd GPU count (its tensor-parallel degree) is refused in the catalog, naming file and line', async () => {
  const { DEFAULT_CATALOG_DIR, loadCatalog } = await import('../../src/config/catalog.js');
  const MAX_MACHINE_GPUS = 1024; // catalog.ts MAX_MACHINE_GPUS, the documented bound
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-catalog-'));
  for (const f of ['hardware.yaml', 'models.yaml']) fs.copyFileSync(path.join(DEFAULT_CATALOG_DIR, f), path.join(dir, f));
  const machines = fs.readFileSync(path.join(DEFAULT_CATALOG_DIR, 'machines.yaml'), 'utf8');
  const line = machines.split('\n').findIndex((l) => /^\s+gpus: 8\s*$/.test(l));
  assert.ok(line >= 0);
  const lines = machines.split('\n');
  lines[line] = lines[line]!.replace('gpus: 8', 'gpus: 100000000');
  fs.writeFileSync(path.join(dir, 'machines.yaml'), lines.join('\n'));
  const e = configErrorOf(() => loadCatalog(dir));
  assert.match(e.message, new RegExp(`machines\\.yaml:${line + 1}: .*gpus: must be at most ${MAX_MACHINE_GPUS}`));
});
