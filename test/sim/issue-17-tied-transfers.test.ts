/**
 * Regression (issue 17): on the stress case of the issue (Splitwise-HH, 12 prompt + 2 token DGX-H100, the
 * conversation trace at 70 req/s for 60 s, BLOOM-176B, compatible mode), seed 96 has three KV transfers that
 * start together and end at the same instant (t = 2.892831 s). Their order decides which decode reaches its
 * token machine first, and from there 3,225 of the 4,165 requests (up to 13.8 s of E2E). SplitwiseSim runs
 * them in the order its heap gives with every trace arrival in it; fed from outside the heap (as the
 * simulator did before) they ran as r193, r187, r192, in the heap as r187, r192, r193.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../cli/helpers.js';
import { jsonResult } from '../json-output.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-issue17-'));

test('issue 17: three KV transfers ending at one instant finish in SplitwiseSim heap order', async () => {
  const dep = path.join(tmp, 'hh-12p2t.yaml');
  fs.writeFileSync(
    dep,
    [
      'name: hh-12p2t',
      'kind: split',
      'model: bloom-176b',
      'perfModel: profile',
      'scheduler: splitwise-mixed-pool',
      'pools:',
      '  prompt: { machine: dgx-h100, count: 12 }',
      '  token: { machine: dgx-h100, count: 2 }',
      '',
    ].join('\n'),
  );
  const events = path.join(tmp, 'events.json');
  const r = await runCli([
    'sim',
    '--trace',
    'conversation',
    '--deployment',
    dep,
    '--rate',
    '70',
    '--duration',
    '60',
    '--seed',
    '96',
    '--compat',
    'splitwise',
    '--sample-interval',
    '0',
    '--db',
    path.join(tmp, 'r.db'),
    '--trace-events',
    events,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = jsonResult(r.stdout) as { summary: { counts: { total: number; ok: number } } };
  assert.equal(res.summary.counts.total, 4165);
  assert.equal(res.summary.counts.ok, 4165);
  const doc = JSON.parse(fs.readFileSync(events, 'utf8')) as { traceEvents: { name: string; ts: number; dur?: number; args?: { request?: string } }[] };
  const tied = doc.traceEvents.filter((e) => e.name === 'kv' && e.dur !== undefined && Math.abs((e.ts + e.dur) / 1e6 - 2.892831) < 1e-6);
  assert.deepEqual(
    tied.map((e) => e.args?.request),
    ['r187', 'r192', 'r193'],
  );
});
