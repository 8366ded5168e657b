import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WORKLOADS_DIR } from '../../src/paths.js';
import { runCli } from '../cli/helpers.js';

test('sim with a prefix cache: summary hit rates and the prefix-cache chart agree', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitbench-pcc-'));
  const dep = path.join(dir, 'cache.yaml');
  fs.writeFileSync(
    dep,
    'kind: monolithic\nmodel: bloom-176b\nprefixCache: true\nscheduler: prefix-affinity\npools:\n  mixed: { machine: dgx-h100, count: 2 }\n',
  );
  const db = path.join(dir, 'r.db');
  const trace = path.join(WORKLOADS_DIR, 'mooncake', 'conversation_trace.jsonl');
  const sim = await runCli(['sim', '--trace', trace, '--deployment', dep, '--limit', '150', '--max-prompt', '30000', '--db', db, '--name', 'pc', '--json']);
  assert.equal(sim.code, 0, sim.stderr);
  const pc = JSON.parse(sim.stdout).result.summary.prefixCache;
  assert.ok(pc.tokenHitRate > 0.05 && pc.tokenHitRate < 1, `token hit rate ${pc.tokenHitRate}`);
  assert.equal(pc.requests, 150);
  assert.ok(pc.ttftHitS.p50 > 0);
  assert.deepEqual(Object.keys(pc.machines), ['mixed-0', 'mixed-1']);
  const out = path.join(dir, 'rep');
  const rep = await runCli(['report', '--db', db, '--run', 'pc', '--chart', 'prefix-cache', '--format', 'png', '--out', out]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.ok(fs.statSync(path.join(out, 'prefix-cache.png')).size > 5000);
  const csv = fs.readFileSync(path.join(out, 'prefix-cache.csv'), 'utf8').trim().split('\n');
  const cells = csv[1]!.split(',');
  assert.ok(Math.abs(Number(cells[3]) - pc.tokenHitRate * 100) < 1e-4, csv[1]);
  assert.ok(Math.abs(Number(cells[4]) - pc.requestHitRate * 100) < 1e-4, csv[1]);
});
