/**
 * The figures of a real report: four simulated runs (monolithic and phase-split, two seeds each, written
 * by `sim --seeds 2`) and one rate sweep. Every chart with data exists as PNG, SVG and PDF with its CSV;
 * three charts' CSV values are recomputed here straight from the SQLite file (plain SQL, none of the
 * report's or the metrics' code); labels, per-chart formats and several --chart names work.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CHART_NAMES } from '../../src/report/index.js';
import { tempDir } from './fixture.js';
import { jsonResult } from '../json-output.js';
import { runCli, type CliResult } from '../cli/helpers.js';

const cli = (args: readonly string[]): Promise<CliResult> => runCli(args);

/** CSV → rows of cells (the report writes no quoted commas in these three charts' numeric columns). */
function readCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const split = (l: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < l.length; i++) {
      const c = l[i]!;
      if (q) {
        if (c === '"' && l[i + 1] === '"') {
          cur += '"';
          i++;
        } else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ',') {
        out.push(cur);
        cur = '';
      } else cur += c;
    }
    out.push(cur);
    return out;
  };
  return { header: split(lines[0]!), rows: lines.slice(1).map(split) };
}

/** Linear-interpolated quantile of ascending values (the report's stated definition). */
function q(sorted: readonly number[], p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

let dir: string;
let db: string;
let out: string;
let sweepIds: number[];
let report: { charts: { name: string; files: string[] }[]; skipped: { name: string; reason: string }[] };

before(async () => {
  dir = tempDir();
  db = path.join(dir, 'runs.db');
  const sim = ['sim', '--trace', 'coding', '--rate', '4', '--duration', '20', '--db', db, '--seeds', '2', '--json'];
  for (const [dep, name] of [
    ['baseline-h100', 'mono'],
    ['splitwise-hh', 'split'],
  ] as const) {
    const r = await cli([...sim, '--deployment', dep, '--name', name]);
    assert.equal(r.code, 0, r.stderr);
    const j = jsonResult(r.stdout) as { runs: { seed: number; name: string }[] };
    assert.deepEqual(
      j.runs.map((x) => [x.seed, x.name]),
      [
        [0, `${name}-s0`],
        [1, `${name}-s1`],
      ],
    );
  }
  const sw = await cli(['sweep', '--trace', 'coding', '--deployment', 'splitwise-hh', '--rates', '1,2,3', '--duration', '20', '--db', db, '--json']);
  assert.equal(sw.code, 0, sw.stderr);
  sweepIds = (jsonResult(sw.stdout) as { points: { runId: number }[] }).points.map((p) => p.runId);
  assert.ok(sweepIds.length >= 2, 'the sweep ran two or more rates');
  out = path.join(dir, 'report');
  const r = await cli([
    'report',
    '--db',
    db,
    '--out',
    out,
    '--slo',
    'splitwise',
    '--format',
    'png,svg,pdf',
    '--json',
    ...['mono-s0', 'mono-s1', 'split-s0', 'split-s1', ...sweepIds.map(String)].flatMap((x) => ['--run', x]),
    '--label',
    'mono-s0=Mono seed 0',
    '--label',
    'mono-s1=Mono seed 1',
    '--label',
    'splitwise-hh=Splitwise-HH',
  ]);
  assert.equal(r.code, 0, r.stderr);
  report = jsonResult(r.stdout) as typeof report;
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('every chart with data exists as PNG, SVG and PDF with its CSV; the rest say why not', () => {
  // Sims send at the scheduled instant (no lag), there is no provisioning search, and the splitwise SLO
  // file has no per-request limits (no goodput), no deployment caches prefixes: nothing else may be missing.
  assert.deepEqual(report.skipped.map((s) => s.name).sort(), ['goodput', 'lag-histogram', 'prefix-cache', 'provision-heatmap']);
  assert.equal(report.charts.length, CHART_NAMES.length - 4);
  for (const c of report.charts) {
    for (const ext of ['png', 'svg', 'pdf', 'csv']) assert.ok(fs.existsSync(path.join(out, `${c.name}.${ext}`)), `${c.name}.${ext}`);
    const pdf = fs.readFileSync(path.join(out, `${c.name}.pdf`));
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-', `${c.name}.pdf header`);
    assert.match(pdf.subarray(-16).toString('latin1'), /%%EOF\s*$/, `${c.name}.pdf trailer`);
    // vector text: the bundled font embedded (as a subset), no page-sized raster image
    assert.match(pdf.toString('latin1'), /\/FontFile2/, `${c.name}.pdf embeds its font`);
    assert.doesNotMatch(pdf.toString('latin1'), /\/Subtype\s*\/Image/, `${c.name}.pdf has no raster image`);
    const csv = readCsv(path.join(out, `${c.name}.csv`));
    assert.ok(csv.header.length >= 2 && csv.rows.length >= 1, `${c.name}.csv has data`);
    assert.ok(
      csv.rows.every((r) => r.length === csv.header.length),
      `${c.name}.csv rows as wide as the header`,
    );
  }
  const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
  for (const c of report.charts)
    for (const ext of ['png', 'svg', 'pdf', 'csv']) assert.ok(html.includes(`href="${c.name}.${ext}"`), `index.html links ${c.name}.${ext}`);
  for (const col of ['model', 'trace and window', 'time scale', 'flags', 'version']) assert.ok(html.includes(`<th>${col}</th>`), `runs table has ${col}`);
  assert.match(html, /bloom-176b|llama/i, 'the model is shown');
});

test("cdf-ttft.csv: the seed groups' mean, min and max quantiles, recomputed from the requests table", () => {
  const d = new Database(db, { readonly: true });
  try {
    const ttfts = (name: string): number[] => {
      const id = (d.prepare('SELECT id FROM runs WHERE name = ?').get(name) as { id: number }).id;
      const rows = d
        .prepare("SELECT first_token - send AS t FROM requests WHERE run_id = ? AND status = 'ok' AND warmup = 0 AND first_token IS NOT NULL")
        .all(id) as { t: number }[];
      return rows.map((r) => r.t).sort((a, b) => a - b);
    };
    const csv = readCsv(path.join(out, 'cdf-ttft.csv'));
    const unit = csv.header[3]!.includes('(ms)') ? 1000 : 1;
    // The two mono runs are one series; its name is their label less the seed.
    const mono = [ttfts('mono-s0'), ttfts('mono-s1')];
    const split = [ttfts('split-s0'), ttfts('split-s1')];
    let checked = 0;
    for (const [series, runs] of [
      ['Mono (2 seeds)', mono],
      ['split (2 seeds)', split],
    ] as const) {
      const rows = csv.rows.filter((r) => r[0] === series);
      assert.ok(rows.length > 50, `${series} has rows (${rows.length})`);
      for (const r of rows) {
        const p = Number(r[2]);
        const qs = runs.map((v) => q(v, p) * unit);
        close(Number(r[3]), (qs[0]! + qs[1]!) / 2, `${series} mean at ${p}`);
        close(Number(r[4]), Math.min(...qs), `${series} min at ${p}`);
        close(Number(r[5]), Math.max(...qs), `${series} max at ${p}`);
        checked++;
      }
    }
    assert.ok(checked > 100);
  } finally {
    d.close();
  }
});

test('kv-transfer.csv: p50 and p99 of kv_transfer_s per half-octave of prompt length, from the requests table', () => {
  const d = new Database(db, { readonly: true });
  try {
    const csv = readCsv(path.join(out, 'kv-transfer.csv'));
    const unit = csv.header[5]!.includes('(ms)') ? 1000 : 1;
    assert.ok(!csv.rows.some((r) => r[0]!.startsWith('Mono')), 'monolithic runs ship no KV cache');
    const ids = (csv.rows.find((r) => r[0] === 'split (2 seeds)') ?? assert.fail('split series present'))[1]!.split(' ').map(Number);
    const rows = csv.rows.filter((r) => r[0] === 'split (2 seeds)');
    for (const r of rows) {
      const [lo, hi] = [Number(r[2]), Number(r[3])];
      const last = r === rows[rows.length - 1];
      const v = (
        d
          .prepare(
            `SELECT kv_transfer_s AS v FROM requests WHERE run_id IN (${ids.join(',')}) AND status = 'ok' AND warmup = 0 AND kv_transfer_s > 0 AND prompt_tokens >= ? AND (prompt_tokens < ? OR (? AND prompt_tokens <= ?))`,
          )
          .all(lo, hi, last ? 1 : 0, hi) as { v: number }[]
      )
        .map((x) => x.v)
        .sort((a, b) => a - b);
      assert.equal(Number(r[4]), v.length, `requests in [${lo}, ${hi})`);
      close(Number(r[5]), q(v, 0.5) * unit, `p50 in [${lo}, ${hi})`);
      close(Number(r[6]), q(v, 0.99) * unit, `p99 in [${lo}, ${hi})`);
    }
    assert.ok(rows.length >= 4, `several prompt-length bins (${rows.length})`);
  } finally {
    d.close();
  }
});

test('batch-size.csv: sample counts per batch size and pool, from the timeline samples', () => {
  const d = new Database(db, { readonly: true });
  try {
    const csv = readCsv(path.join(out, 'batch-size.csv'));
    const groups = new Map<string, string[][]>();
    for (const r of csv.rows) {
      const k = `${r[1]}|${r[2]}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    assert.ok(groups.size >= 3, 'several series × pools');
    for (const [k, rows] of groups) {
      const [ids, pool] = k.split('|') as [string, string];
      const counts = d
        .prepare(
          `SELECT value AS v, COUNT(*) AS n FROM timeline_samples WHERE run_id IN (${ids.split(' ').map(Number).join(',')}) AND name = 'batch_size' AND role = ? AND value > 0 GROUP BY value ORDER BY value`,
        )
        .all(pool) as { v: number; n: number }[];
      assert.deepEqual(
        rows.map((r) => [Number(r[3]), Number(r[4])]),
        counts.map((c) => [c.v, c.n]),
        `${k}: values and counts`,
      );
      const total = counts.reduce((s, c) => s + c.n, 0);
      let acc = 0;
      rows.forEach((r, i) => {
        acc += counts[i]!.n;
        close(Number(r[5]), acc / total, `${k} cumulative fraction`);
      });
    }
  } finally {
    d.close();
  }
});

test('legends use --label; sweep lines take the deployment label', () => {
  const tp = readCsv(path.join(out, 'throughput.csv'));
  assert.ok(
    tp.rows.some((r) => r[0] === 'Mono (2 seeds)' && r[2] === '2'),
    'mono seeds grouped under their label',
  );
  const load = readCsv(path.join(out, 'load-ttft.csv'));
  assert.ok(load.rows.length > 0 && load.rows.every((r) => r[0] === 'Splitwise-HH'), 'the sweep is labelled by its deployment');
});

test('--chart takes several names; --format NAME=pdf+svg overrides one chart; a bad --label names the runs', async () => {
  const o = path.join(dir, 'two');
  const r = await cli([
    'report',
    '--db',
    db,
    '--run',
    'mono-s0',
    '--run',
    'split-s0',
    '--chart',
    'cdf-ttft,slowdown',
    '--chart',
    'throughput',
    '--format',
    'png',
    '--format',
    'slowdown=pdf+svg',
    '--out',
    o,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(o).sort(), [
    'cdf-ttft.csv',
    'cdf-ttft.png',
    'slowdown.csv',
    'slowdown.pdf',
    'slowdown.svg',
    'throughput.csv',
    'throughput.png',
  ]);
  const bad = await cli(['report', '--db', db, '--run', 'mono-s0', '--label', 'nosuch=X', '--out', path.join(dir, 'bad')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--label: 'nosuch' is none of the reported runs/);
  assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/, 'no stack trace');
  const badFmt = await cli(['report', '--db', db, '--run', 'mono-s0', '--format', 'cdf-ttft=jpeg']);
  assert.equal(badFmt.code, 2);
  assert.match(badFmt.stderr, /--format: unknown format 'jpeg'/);
});

test('provision-heatmap.csv: per prompt × token count, the highest rate whose every verdict passed, from the runs and slo_results tables', async () => {
  const pdb = path.join(dir, 'prov.db');
  const p = await cli([
    'provision',
    '--trace',
    'coding',
    '--design',
    'splitwise-hh',
    '--objective',
    'iso-power',
    '--rate',
    '4',
    '--budget-like',
    'baseline-h100:4',
    '--duration',
    '20',
    '--db',
    pdb,
    '--json',
  ]);
  assert.equal(p.code, 0, p.stderr);
  const d = new Database(pdb, { readonly: true });
  try {
    const runs = d.prepare('SELECT id, offered_rate AS rate, options_json AS o FROM runs ORDER BY id').all() as { id: number; rate: number; o: string }[];
    const o = path.join(dir, 'prov');
    const r = await cli([
      'report',
      '--db',
      pdb,
      ...runs.flatMap((x) => ['--run', String(x.id)]),
      '--chart',
      'provision-heatmap',
      '--format',
      'pdf',
      '--out',
      o,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const want = new Map<string, number | null>();
    for (const run of runs) {
      const c = (JSON.parse(run.o) as { counts?: { prompt?: number; token?: number } }).counts;
      if (c?.prompt === undefined || c.token === undefined) continue;
      const v = d.prepare('SELECT COUNT(*) AS n, SUM(passed) AS ok FROM slo_results WHERE run_id = ?').get(run.id) as { n: number; ok: number };
      const k = `${c.prompt}x${c.token}`;
      const best = want.get(k) ?? null;
      want.set(k, v.n > 0 && v.ok === v.n && (best === null || run.rate > best) ? run.rate : best);
    }
    assert.ok(want.size >= 3, 'the search tried several splits of the budget');
    const csv = readCsv(path.join(o, 'provision-heatmap.csv'));
    const got = new Map(csv.rows.map((row) => [`${row[1]}x${row[2]}`, row[4] === '' ? null : Number(row[4])]));
    assert.deepEqual(got, want);
  } finally {
    d.close();
  }
});

test('sweep --seeds 2 runs the search once per seed, tagged; experiment --seeds 2 reports mean and min–max per design', async () => {
  const sdb = path.join(dir, 'seeds.db');
  const sw = await cli([
    'sweep',
    '--trace',
    'coding',
    '--deployment',
    'baseline-h100',
    '--rates',
    '1,2',
    '--duration',
    '10',
    '--seeds',
    '2',
    '--db',
    sdb,
    '--json',
  ]);
  assert.equal(sw.code, 0, sw.stderr);
  const res = jsonResult(sw.stdout) as { seeds: { seed: number; points: { runId: number }[] }[] };
  assert.deepEqual(
    res.seeds.map((s) => s.seed),
    [0, 1],
  );
  const d = new Database(sdb, { readonly: true });
  try {
    for (const s of res.seeds) {
      for (const p of s.points) {
        const row = d.prepare('SELECT seed, tags_json FROM runs WHERE id = ?').get(p.runId) as { seed: number; tags_json: string };
        assert.equal(row.seed, s.seed);
        assert.equal((JSON.parse(row.tags_json) as { seed: string }).seed, String(s.seed));
      }
    }
  } finally {
    d.close();
  }
  const out2 = path.join(dir, 'exp');
  const ex = await cli(['experiment', 'splitwise', '--quick', '--mode', 'compat', '--trace', 'coding', '--seeds', '2', '--out', out2, '--json']);
  assert.equal(ex.code, 0, ex.stderr);
  const rows = (jsonResult(ex.stdout) as { rows: { maxRate: number | null; seeds?: number; maxRateMin?: number; maxRateMax?: number }[] }).rows;
  assert.equal(rows.length, 12);
  for (const r of rows) {
    assert.equal(r.seeds, 2, JSON.stringify(r));
    assert.ok(r.maxRateMin! <= r.maxRate! && r.maxRate! <= r.maxRateMax!, JSON.stringify(r));
    close(r.maxRate!, (r.maxRateMin! + r.maxRateMax!) / 2, 'the mean of two seeds is the midpoint');
  }
  const fig = readCsv(path.join(out2, 'splitwise-compat-iso-power.csv'));
  assert.ok(
    fig.rows.every((r) => r[2] === '2'),
    'the figure data names two seeds per design',
  );
});
