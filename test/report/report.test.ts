/**
 * End to end: the compiled CLI against a temp store of constructed runs. Every chart is drawn in both
 * formats with valid PNG/SVG; the same data renders to identical bytes, different data to different ones.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CHART_NAMES } from '../../src/report/index.js';
import { buildReport } from '../../src/report/build.js';
import { makeStore, tempDir, type RunSpec } from './fixture.js';
import { jsonResult } from '../json-output.js';
import { runCli, type CliResult } from '../cli/helpers.js';

const cli = (args: readonly string[]): Promise<CliResult> => runCli(args);

/** PNG signature and IHDR width/height. */
function pngSize(buf: Buffer): { width: number; height: number } {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

function assertSvg(text: string, file: string): void {
  assert.match(text.slice(0, 200), /^(<\?xml[^>]*\?>\s*)?<svg[\s>]/, `${file} starts with <svg`);
  assert.ok(text.trimEnd().endsWith('</svg>'), `${file} ends with </svg>`);
  assert.match(text, /width="700"/);
  // text is converted to paths: no font needed to view it
  assert.doesNotMatch(text, /<text[\s>]/, `${file} has no <text> elements`);
}

// Two runs of one deployment at different rates (a sweep of two points), one monolithic and one split:
// different data, and every chart has something to draw.
const RUNS: RunSpec[] = [
  { name: 'run-a', design: 'mono', rate: 10, n: 220, seed: 1, deployment: 'cluster-x', kind: 'live', options: {} },
  { name: 'run-b', design: 'split', rate: 20, n: 220, seed: 2, deployment: 'cluster-x', kind: 'live', options: {} },
];
/** What these constructed runs lack: a model (slowdowns), KV and batch samples, a provisioning search. */
const NOT_DRAWN = ['slowdown', 'timeline-kv', 'batch-size', 'batch-tokens', 'prefix-cache', 'provision-heatmap'];
const DRAWN = CHART_NAMES.filter((n) => !NOT_DRAWN.includes(n));

let dir: string;
let db: string;
let slo: string;

before(() => {
  dir = tempDir();
  db = makeStore(dir, RUNS);
  slo = path.join(dir, 'slo.yaml');
  fs.writeFileSync(slo, 'name: test\nrules:\n  - ttft.p99 <= 2s\n  - tpot.p50 <= 40ms\n  - e2e.p99 <= 20s\nper_request:\n  - ttft <= 1s\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('report draws every chart with data in PNG and SVG with its CSV, plus index.html and report.md', async () => {
  const out = path.join(dir, 'full');
  const r = await cli(['report', '--db', db, '--run', 'run-a', '--run', 'run-b', '--slo', slo, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = jsonResult(r.stdout) as { charts: { name: string }[]; skipped: { name: string; reason: string }[] };
  assert.deepEqual(
    res.skipped.map((s) => s.name),
    NOT_DRAWN,
  );
  assert.deepEqual(
    res.charts.map((c) => c.name),
    DRAWN,
  );
  for (const name of DRAWN) {
    const png = fs.readFileSync(path.join(out, `${name}.png`));
    const { width, height } = pngSize(png);
    assert.equal(width, 1400, `${name}.png width (700 CSS px at 2x)`);
    if (name !== 'slo-matrix') assert.equal(height, 880, `${name}.png height`);
    assert.ok(fs.readFileSync(path.join(out, `${name}.csv`), 'utf8').split('\n').length > 2, `${name}.csv has rows`);
    assertSvg(fs.readFileSync(path.join(out, `${name}.svg`), 'utf8'), `${name}.svg`);
  }
  const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.equal((html.match(/<svg[\s>]/g) ?? []).length, DRAWN.length, 'one inline SVG per chart');
  assert.doesNotMatch(html, /src="(?!data:)/, 'self-contained: no external images');
  const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  for (const name of DRAWN) assert.ok(md.includes(`](${name}.png)`) && md.includes(`](${name}.csv)`), `report.md links ${name}.png and .csv`);
  assert.match(md, /\| TTFT p99 \|/);
  assert.match(md, /\| goodput \|/);

  // determinism: the same data renders to the same bytes (in-process this time)
  const again = path.join(dir, 'again');
  await buildReport({ db, runs: ['run-a', 'run-b'], formats: ['png', 'svg'], outDir: again, slo });
  for (const f of fs.readdirSync(out)) {
    assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(again, f))), `${f} identical on a second render`);
  }
});

test('different data renders to different files', async () => {
  const dir2 = tempDir();
  try {
    const db2 = makeStore(dir2, [RUNS[0]!, { ...RUNS[1]!, latencyScale: 1.6 }]);
    const a = path.join(dir2, 'a');
    const b = path.join(dir2, 'b');
    const charts = ['cdf-ttft', 'cdf-tbt', 'ttft-breakdown', 'slo-matrix'] as const;
    for (const chart of charts) {
      await buildReport({ db, runs: ['run-a', 'run-b'], formats: ['png', 'svg'], outDir: a, charts: [chart] });
      await buildReport({ db: db2, runs: ['run-a', 'run-b'], formats: ['png', 'svg'], outDir: b, charts: [chart] });
      for (const ext of ['png', 'svg']) {
        const fa = fs.readFileSync(path.join(a, `${chart}.${ext}`));
        const fb = fs.readFileSync(path.join(b, `${chart}.${ext}`));
        assert.ok(!fa.equals(fb), `${chart}.${ext} differs when the data differs`);
      }
    }
  } finally {
    fs.rmSync(dir2, { recursive: true, force: true });
  }
});

test('--chart draws just one chart, no pages', async () => {
  const out = path.join(dir, 'one');
  const r = await cli(['report', '--db', db, '--run', 'run-a', '--run', 'run-b', '--chart', 'cdf-e2e', '--format', 'svg', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(out).sort(), ['cdf-e2e.csv', 'cdf-e2e.svg']);
  assert.match(r.stdout, /wrote 1 chart/);
  // the same chart drawn alone or after the others: identical bytes (SVG ids numbered per file)
  const alone = fs.readFileSync(path.join(out, 'cdf-e2e.svg'));
  assert.ok(alone.equals(fs.readFileSync(path.join(dir, 'full', 'cdf-e2e.svg'))), 'cdf-e2e.svg alone = in the full report');
  assert.match(alone.toString('utf8'), /id="cdf-e2e-0"/);
});

test('--chart with an unknown name lists the charts; a chart without data says why; exit 2', async () => {
  const r = await cli(['report', '--db', db, '--run', 'run-a', '--chart', 'pie']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--chart: unknown chart 'pie'/);
  assert.match(r.stderr, /cdf-ttft, cdf-tpot/);
  const g = await cli(['report', '--db', db, '--run', 'run-a', '--chart', 'goodput', '--out', path.join(dir, 'none')]);
  assert.equal(g.code, 2);
  assert.match(g.stderr, /chart goodput has nothing to draw/);
  assert.doesNotMatch(g.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('a report without SLO verdicts, sweeps or power (and a run with no requests) says which charts it left out and why', async () => {
  const dir3 = tempDir();
  try {
    const db3 = makeStore(dir3, [
      { name: 'bare', design: 'mono', rate: 5, n: 40, seed: 9, extras: false },
      { name: 'empty', design: 'split', rate: 5, n: 0, seed: 9, extras: false },
    ]);
    const out = path.join(dir3, 'r');
    const r = await cli(['report', '--db', db3, '--run', 'bare', '--run', 'empty', '--out', out, '--format', 'png']);
    assert.equal(r.code, 0, r.stderr);
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    assert.match(md, /## Charts not drawn/);
    for (const name of ['load-ttft', 'goodput', 'cost', 'energy', 'timeline-power', 'timeline-queue', 'slo-matrix']) {
      assert.match(md, new RegExp(`\\*\\*${name}\\*\\*`), `${name} listed as not drawn`);
      assert.ok(!fs.existsSync(path.join(out, `${name}.png`)));
    }
    assert.ok(fs.existsSync(path.join(out, 'cdf-ttft.png')));
    assert.ok(!fs.existsSync(path.join(out, 'cdf-ttft.svg')), '--format png writes no SVG');
  } finally {
    fs.rmSync(dir3, { recursive: true, force: true });
  }
});

test('--compare prints ratios B/A with better/worse and the SLO verdicts that moved, and writes them', async () => {
  const out = path.join(dir, 'cmp');
  const r = await cli(['report', '--db', db, '--compare', 'run-a', 'run-b', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /B = run-b .* A = run-a/);
  assert.match(r.stdout, /TTFT p99 .*×[\d.]+\s+↓ better/);
  assert.match(r.stdout, /\$ per 1M output tokens .*↑ worse/);
  assert.match(r.stdout, /FAIL → pass\s+ttft\.p99 <= 2s/);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'compare.json'), 'utf8')) as {
    metrics: { key: string; ratio: number; verdict: string; a: number; b: number }[];
    slo: { rule: string; change: string }[];
  };
  const ttft = json.metrics.find((m) => m.key === 'ttftP99S')!;
  assert.ok(Math.abs(ttft.ratio - ttft.b / ttft.a) < 1e-12);
  assert.equal(json.slo.find((s) => s.rule === 'ttft.p99 <= 2s')!.change, 'fail→pass');
  assert.match(fs.readFileSync(path.join(out, 'compare.md'), 'utf8'), /\| TTFT p99 \|/);
  const bad = await cli(['report', '--db', db, '--compare', 'run-a']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--compare: needs exactly two runs/);
});
