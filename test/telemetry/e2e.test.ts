/**
 * replay end to end with every power source at once: the reference backend's power model, a fake nvidia-smi on
 * PATH (counter reset, dies mid-run), a fake DCGM exporter (counter reset, HTTP 500 mid-run) and a fake vLLM
 * /metrics scraped into timeline samples; then summary and report show energy and cost per pool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readDb, runCli, tempDir, writeTrace, type Row } from '../load/helpers.js';
import { fakeDcgm, fakeVllmMetrics, writeFakeNvidiaSmi } from './fakes.js';
import { jsonResult } from '../json-output.js';

test('replay --power model/nvidia-smi/dcgm --scrape --price: samples per role, resets and failures handled, cost per pool', async () => {
  const dir = tempDir();
  const bin = path.join(dir, 'bin');
  writeFakeNvidiaSmi(bin);
  const trace = writeTrace(
    dir,
    Array.from({ length: 12 }, (_, i) => [i * 0.3, 200 + 50 * i, 20] as const),
  );
  const db = path.join(dir, 'r.db');
  const dcgm = await fakeDcgm({ resetAt: 3, dieAfter: 6 });
  const vllm = await fakeVllmMetrics();
  try {
    const r = await runCli(
      [
        'replay',
        '--trace',
        trace,
        '--db',
        db,
        '--json',
        '--power',
        'model',
        '--power',
        'prefill:nvidia-smi,type=h100-80gb',
        '--power',
        `decode:dcgm=${dcgm.url}`,
        '--scrape',
        `${vllm.url},decode`,
        '--power-interval',
        '100',
        '--price',
        'h100-80gb=2',
        '--price-kwh',
        '0.5',
      ],
      { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_NVSMI_TICKS: '8' },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /telemetry source prefill:nvidia-smi.* failed .*GPU is lost/);
    assert.match(r.stderr, /telemetry source decode:dcgm=.* failed .*HTTP 500/);
    const out = jsonResult(r.stdout) as { runId: number; metrics: Record<string, any> };

    const power = readDb(db, (d) => d.prepare('SELECT * FROM power_samples ORDER BY machine_id, t').all() as Row[]);
    const roles = new Set(power.map((p) => `${p.role}/${p.source}`));
    for (const want of ['prefill/nvidia-smi', 'decode/dcgm', 'prompt/model', 'token/model']) assert.ok(roles.has(want), `${want} in ${[...roles].join(', ')}`);

    // nvidia-smi: both GPUs, reset-safe energy, then a gap when it died.
    const host = os.hostname();
    for (const g of ['gpu0', 'gpu1']) {
      const rows = power.filter((p) => p.machine_id === `${host}/${g}`);
      assert.ok(rows.length >= 6, `${g}: ${rows.length} rows`);
      const valid = rows.filter((p) => p.watts !== null);
      for (let i = 1; i < valid.length; i++) assert.ok((valid[i]!.energy_j as number) >= (valid[i - 1]!.energy_j as number), 'monotone across the reset');
      // 8 readings 100 ms apart at 300/200 W: 7 intervals of energy = 7 x W x 0.1 s (the reset is counted, not lost)
      const w = g === 'gpu0' ? 300 : 200;
      assert.ok(Math.abs((valid[valid.length - 1]!.energy_j as number) - 7 * w * 0.1) < 1e-6, `${g} energy ${valid[valid.length - 1]!.energy_j}`);
      assert.equal(rows[rows.length - 1]!.watts, null, 'the death is a NULL-watts row');
    }

    // DCGM: counter reset handled (monotone energy close to 400 W × elapsed), then HTTP 500s become a gap.
    const d0 = power.filter((p) => p.machine_id === 'd1/gpu0');
    const dv = d0.filter((p) => p.watts !== null);
    assert.ok(dv.length >= 4 && d0.some((p) => p.watts === null));
    for (let i = 1; i < dv.length; i++) assert.ok((dv[i]!.energy_j as number) >= (dv[i - 1]!.energy_j as number));
    const span = (dv[dv.length - 1]!.t as number) - (dv[0]!.t as number);
    const e = dv[dv.length - 1]!.energy_j as number;
    // At 400 W: what the counter measured, less at most the one interval that the reset swallowed.
    let maxGap = 0;
    for (let i = 1; i < dv.length; i++) maxGap = Math.max(maxGap, (dv[i]!.t as number) - (dv[i - 1]!.t as number));
    assert.ok(e <= 400 * span * 1.05 + 2 && e >= 400 * (span - maxGap) * 0.95 - 2, `dcgm energy ${e} J over ${span} s (largest gap ${maxGap} s)`);

    const notes = readDb(db, (d) => JSON.parse((d.prepare('SELECT notes_json FROM runs WHERE id = ?').get(out.runId) as Row).notes_json as string));
    const src = (k: string) => (notes.telemetry.sources as Row[]).find((s) => String(s.source).includes(k))!;
    assert.equal(src('nvidia-smi').counterResets, 2);
    assert.match(String(src('nvidia-smi').ended), /exited/);
    assert.ok((src('dcgm').counterResets as number) >= 2 && (src('dcgm').failures as number) >= 1);
    assert.equal(src('dcgm').energyMethod, 'counter');
    assert.equal(notes.cost.usdPerKwh, 0.5);

    // Machines: sampled GPUs priced by type (type= or DCGM's modelName) with the override; emulated DGX-H100s at 38.
    const machines = readDb(db, (d) => d.prepare('SELECT * FROM machines').all() as Row[]);
    const m = (id: string) => machines.find((x) => x.machine_id === id)!;
    assert.equal(m(`${host}/gpu0`).price_per_hour, 2);
    assert.equal(m(`${host}/gpu0`).pool, 'prefill');
    assert.equal(m('d1/gpu1').price_per_hour, 2);
    assert.equal(m('d1/gpu1').machine_type, 'NVIDIA H100 80GB HBM3');
    assert.equal(m('prompt-0').price_per_hour, 38);

    // Server metrics from the fake vLLM.
    const tl = readDb(
      db,
      (d) => d.prepare("SELECT name, role, sum(value) AS s, count(*) AS n FROM timeline_samples WHERE role = 'decode' GROUP BY name").all() as Row[],
    );
    const names = Object.fromEntries(tl.map((x) => [x.name, x]));
    for (const n of ['running', 'queue_depth', 'kv_used_frac', 'prompt_tokens', 'generation_tokens', 'ttft_seconds_count', 'ttft_seconds_bucket'])
      assert.ok(names[n], `${n} in ${Object.keys(names).join(', ')}`);
    // Increases add up to the counter's growth between the first and last scrape.
    assert.equal(names.generation_tokens!.s, 10 * (names.generation_tokens!.n as number));

    // Summary: energy per output token and $ per 1M tokens per pool, energy cost.
    const mtr = out.metrics;
    for (const pool of ['prefill', 'decode', 'prompt']) {
      assert.ok(mtr.power.pools[pool].energyPerOutputTokenJ > 0, `energy/token ${pool}`);
      assert.ok(mtr.cost.pools[pool].dollarsPerMOutputTokens > 0, `$/1M ${pool}`);
    }
    const poolSum = Object.values(mtr.cost.pools as Record<string, { dollarsPerMOutputTokens?: number }>).reduce(
      (s, p) => s + (p.dollarsPerMOutputTokens ?? 0),
      0,
    );
    assert.ok(Math.abs(poolSum - mtr.cost.dollarsPerMOutputTokens) < 1e-6 * poolSum);
    assert.ok(mtr.cost.energyDollars > 0 && mtr.cost.usdPerKwh === 0.5);
    assert.ok(mtr.cost.dollarsPerMInputTokens > 0 && mtr.cost.dollarsPerRequest > 0);

    const text = await runCli(['summary', '--db', db, '--run', String(out.runId)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /pool decode: energy per output token\s+[\d.]+ J/);
    assert.match(text.stdout, /pool prefill: \$ per 1M output tokens\s+\$[\d.]+/);
    assert.match(text.stdout, /energy cost\s+\$[\d.]+ at \$0\.5\/kWh/);

    const rep = path.join(dir, 'report');
    const rr = await runCli(['report', '--db', db, '--run', String(out.runId), '--out', rep, '--format', 'svg']);
    assert.equal(rr.code, 0, rr.stderr);
    const md = readFileSync(path.join(rep, 'report.md'), 'utf8');
    assert.match(md, /\| \$ per 1M output tokens, pool decode \| \$[\d.]+ \|/);
    assert.match(md, /\| energy per output token, pool prefill \| [\d.]+ J\/tok \|/);
    assert.ok(readFileSync(path.join(rep, 'cost.svg'), 'utf8').length > 1000, 'the cost chart is drawn');
  } finally {
    await dcgm.close();
    await vllm.close();
  }
});

test('replay rejects bad telemetry flags before starting anything (exit 2, one line per problem)', async () => {
  const dir = tempDir();
  const trace = writeTrace(dir, [[0, 10, 2]]);
  const r = await runCli([
    'replay',
    '--trace',
    trace,
    '--db',
    path.join(dir, 'r.db'),
    '--power',
    'gpu:nvidia',
    '--price',
    'dgx-h100=cheap',
    '--power-interval',
    '0',
  ]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /3 problems: --power: 'gpu:nvidia': unknown power source 'nvidia'.*--power-interval: expected milliseconds.*--price: expected NAME=USD_PER_HOUR/,
  );
});
