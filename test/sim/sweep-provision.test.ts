/** Sweeps, provisioning and the Splitwise experiment on small clusters with short traces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../cli/helpers.js';
import { DESIGNS, Evaluator, evaluatorRunner, provisionSearch, provisioned, simRateRunner } from '../../src/sim/index.js';
import { traceSampler } from '../../src/trace/index.js';
import { loadSlo } from '../../src/metrics/index.js';
import { openStore } from '../../src/store/index.js';
import { jsonResult } from '../json-output.js';
import { loadEngineData } from '../../src/config/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sweep-'));

test('sweep finds the max rate under the Splitwise SLOs, one tagged run per rate with its offered rate', async () => {
  const db = path.join(tmp, 'sweep.db');
  const r = await runCli([
    'sweep',
    '--trace',
    'coding',
    '--deployment',
    'splitwise-hh',
    '--rates',
    '2,5,8,11',
    '--duration',
    '40',
    '--tolerance',
    '0.1',
    '--db',
    db,
    '--json',
  ]);
  assert.ok(r.code === 0, r.stderr);
  const out = jsonResult(r.stdout) as { sweep: string; maxRate: number; firstFail: number; points: { rate: number; runId: number; passed: boolean }[] };
  assert.ok(out.maxRate !== undefined && out.firstFail !== undefined, JSON.stringify(out));
  assert.ok(out.maxRate < out.firstFail && (out.firstFail - out.maxRate) / out.maxRate < 0.1 + 1e-9, `bracket ${out.maxRate}..${out.firstFail}`);
  for (const p of out.points) assert.equal(p.passed, p.rate <= out.maxRate, `rate ${p.rate}`);
  const d = new Database(db, { readonly: true });
  try {
    const runs = d.prepare('SELECT id, offered_rate, tags_json, kind FROM runs ORDER BY id').all() as {
      id: number;
      offered_rate: number;
      tags_json: string;
      kind: string;
    }[];
    assert.equal(runs.length, out.points.length);
    for (const run of runs) {
      assert.equal(run.kind, 'sim');
      assert.equal(JSON.parse(run.tags_json).sweep, out.sweep);
      assert.ok(out.points.some((p) => p.runId === run.id && p.rate === run.offered_rate));
    }
    const verdicts = d.prepare('SELECT count(*) n FROM slo_results').get() as { n: number };
    assert.equal(verdicts.n, 9 * runs.length, 'the nine SLO verdicts of every run are stored');
  } finally {
    d.close();
  }
});

test('provision: iso-power on a 3-machine budget tries the budget line and picks the best; cost-opt finds the cheapest passing baseline', async () => {
  const slo = loadSlo('splitwise');
  const { sampler, source } = await traceSampler({ trace: 'coding' }, 0);
  const store = openStore(path.join(tmp, 'prov.db'));
  try {
    const data = loadEngineData({ splitwise: false });
    const runner = evaluatorRunner(simRateRunner, { store, data, sampler, durationS: 30, seed: 0, compat: undefined, tracePath: source.path });
    const ev = new Evaluator({ store, runner, slo, compat: undefined, tags: {}, tolerance: 0.2 });
    const iso = await provisionSearch(
      ev,
      {
        design: DESIGNS['splitwise-hh']!,
        objective: 'iso-power',
        budgetLike: { design: DESIGNS['baseline-h100']!, counts: { mixed: 3 } },
        rate: 3,
        maxMachines: 10,
      },
      data.catalog,
      () => undefined,
    );
    assert.deepEqual(iso.candidates.map((c) => c.config).sort(), ['1P+2T', '2P+1T']);
    for (const c of iso.candidates) assert.equal(c.power, provisioned(DESIGNS['baseline-h100']!, { mixed: 3 }, data.catalog).power);
    const best = Math.max(...iso.candidates.map((c) => c.maxRate ?? 0));
    assert.ok(iso.winner && iso.winner.maxRate === best && best > 0);
    assert.ok(iso.reference?.maxRate !== undefined && iso.ratios?.throughput === best / iso.reference.maxRate);

    const opt = await provisionSearch(
      ev,
      {
        design: DESIGNS['baseline-h100']!,
        objective: 'cost-opt',
        budgetLike: { design: DESIGNS['baseline-h100']!, counts: { mixed: 3 } },
        rate: 4,
        maxMachines: 6,
      },
      data.catalog,
      () => undefined,
    );
    assert.ok(opt.winner, 'some baseline size meets the SLOs at 4 req/s');
    const n = opt.winner.counts.mixed!;
    for (const c of opt.candidates) assert.equal(c.passed, c.counts.mixed! >= n, `${c.config} passed=${c.passed} but the winner is ${n}`);
    assert.ok(opt.candidates.length <= 4, `bisection over 1..6 tries at most 4 sizes, tried ${opt.candidates.length}`);
  } finally {
    store.close();
  }
});

test('experiment splitwise --quick writes the normalized table, CSV and charts', async () => {
  const out = path.join(tmp, 'exp');
  const r = await runCli(['experiment', 'splitwise', '--quick', '--mode', 'compat', '--trace', 'coding', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = jsonResult(r.stdout) as {
    rows: { design: string; provisioning: string; maxRate: number | null; throughputX: number | null; powerX: number; costX: number }[];
  };
  assert.equal(res.rows.length, 12);
  for (const row of res.rows) {
    assert.ok(row.maxRate !== null && row.maxRate > 0, JSON.stringify(row));
    if (row.design === 'baseline-a100') assert.deepEqual([row.throughputX, row.powerX, row.costX], [1, 1, 1]);
  }
  for (const f of ['splitwise.md', 'splitwise.csv', 'splitwise.json', 'splitwise-compat-iso-power.png', 'splitwise-compat-iso-cost.png']) {
    assert.ok(fs.statSync(path.join(out, f)).size > 100, f);
  }
  assert.equal(fs.readFileSync(path.join(out, 'splitwise-compat-iso-power.png')).subarray(1, 4).toString(), 'PNG');
  // Figure 18: the same figure as SVG and PDF, its numbers as CSV, and the SLO that binds first per design
  for (const ext of ['svg', 'pdf', 'csv']) assert.ok(fs.statSync(path.join(out, `splitwise-compat-iso-power.${ext}`)).size > 100, ext);
  const fig = fs.readFileSync(path.join(out, 'splitwise-compat-iso-cost.csv'), 'utf8').trim().split('\n');
  assert.equal(fig.length, 7, 'header + six designs');
  const binding = (res.rows as { binding?: string | null }[]).map((r) => r.binding);
  assert.ok(
    binding.every((b) => typeof b === 'string' && /^slowdown\.(ttft|tbt|e2e)\.p\d+ </.test(b)),
    `every design's search hit a failing rate and names its rule: ${binding.join(', ')}`,
  );
  assert.equal(fs.readFileSync(path.join(out, 'splitwise.csv'), 'utf8').trim().split('\n').length, 13);
  // The paper's four ratios beside ours, computed from the rows.
  const ratios = (jsonResult(r.stdout) as { ratios: { claim: string; paper: number; ours: number | null; costRatio: number }[] }).ratios;
  assert.deepEqual(
    ratios.map((x) => x.paper),
    [2.15, 1.18, 1.4, 0.75],
  );
  const row = (prov: string, d: string) => res.rows.find((x) => x.provisioning === prov && x.design === d)!;
  assert.equal(ratios[0]!.ours, row('iso-power', 'splitwise-aa').maxRate! / row('iso-power', 'baseline-a100').maxRate!);
  assert.equal(ratios[2]!.ours, row('iso-cost', 'splitwise-aa').maxRate! / row('iso-cost', 'baseline-h100').maxRate!);
  // The fourth: the least-power HHcap meeting the SLOs at Baseline-H100's max rate, by the power-opt search.
  const po = (jsonResult(r.stdout) as { powerOpt: { mode: string; rate: number; config: string | null; powerX: number | null }[] }).powerOpt;
  assert.equal(po.length, 1);
  assert.equal(po[0]!.rate, row('iso-power', 'baseline-h100').maxRate);
  assert.ok(po[0]!.config !== null && po[0]!.powerX! > 0, JSON.stringify(po));
  assert.equal(ratios[3]!.ours, po[0]!.powerX);
  assert.match(
    fs.readFileSync(path.join(out, 'splitwise.md'), 'utf8'),
    /## The paper's ratios beside ours[\s\S]*\| compat \| Splitwise-AA vs Baseline-A100, iso-power \| throughput \| 2\.15x \|/,
  );
});

test('experiment splitwise --duration: the traces are that long; a bad value is refused', async () => {
  const out = path.join(tmp, 'exp-10');
  const ok = await runCli(['experiment', 'splitwise', '--quick', '--mode', 'compat', '--trace', 'coding', '--duration', '10', '--out', out, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((jsonResult(ok.stdout) as { durationS: number }).durationS, 10);
  const db = new Database(path.join(out, 'experiment.db'), { readonly: true });
  try {
    const last = db.prepare('SELECT max(arrival) AS a, count(DISTINCT run_id) AS runs FROM requests').get() as { a: number; runs: number };
    assert.ok(last.runs > 10 && last.a < 10 && last.a > 8, JSON.stringify(last));
  } finally {
    db.close();
  }
  const bad = await runCli(['experiment', 'splitwise', '--quick', '--duration', '-5', '--out', path.join(tmp, 'exp-bad')]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--duration/);
  assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/, 'no stack trace');
});
