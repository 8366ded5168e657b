/**
 * End-to-end: the compiled CLI (`node bin/splitbench.js gate|summary`) against stores built through SQL;
 * exit codes, messages, slo_results rows, JUnit XML and Markdown files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { evenChunks, insertRequest, insertRun, makeStore, tmpDir } from './helpers.js';
import { parseXml, type XmlElement } from './xml.js';
import { jsonResult } from '../json-output.js';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'splitbench.js');

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** 100 ok requests, TTFT = scale × (100 + i) ms, 5 tokens 40·scale ms apart; trace ids t0..t99. */
function addRun(db: Database.Database, name: string, scale: number, o: { status?: 'completed' | 'interrupted'; lagFlagged?: boolean } = {}): number {
  const id = insertRun(db, { name, status: o.status ?? 'completed', lagFlagged: o.lagFlagged ?? false });
  for (let i = 0; i < 100; i++) {
    const ttft = (scale * (100 + i)) / 1000;
    const gap = scale * 0.04;
    insertRequest(db, id, {
      seq: i,
      traceId: `t${i}`,
      scheduled: i * 0.5,
      ttft,
      e2e: ttft + 4 * gap,
      tokens: 5,
      output: 5,
      chunks: evenChunks(5, ttft, gap),
    });
  }
  return id;
}

function setup(): { dir: string; file: string } {
  const dir = tmpDir('sb-gate-');
  const { db, file } = makeStore(dir);
  addRun(db, 'fast', 1); // id 1: ttft 100..199 ms, tpot 40 ms
  addRun(db, 'slow', 1.5); // id 2: ttft 150..298.5 ms, tpot 60 ms
  addRun(db, 'cut', 1, { status: 'interrupted' }); // id 3
  addRun(db, 'laggy', 1, { lagFlagged: true }); // id 4
  db.close();
  return { dir, file };
}

function writeSlo(dir: string, name: string, lines: string[]): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

const LIMITS = [
  'name: chat',
  'rules:',
  '  - ttft.p99 <= 250ms',
  '  - tpot.p50 <= 50ms',
  '  - error_rate <= 0.01',
  '  - goodput_fraction >= 0.9',
  'per_request:',
  '  - tpot <= 50ms',
];

const childrenNamed = (e: XmlElement, name: string): XmlElement[] => e.children.filter((c) => c.name === name);

test('gate: a run meeting its limits exits 0 and stores its verdicts', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const md = path.join(dir, 'summary.md');
  const r = cli(['gate', '--db', file, '--slo', slo, '--run', 'fast', '--markdown', md]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /PASS: all 4 rules hold/);
  assert.match(r.stdout, /ttft\.p99 <= 250ms\s+19\d\.\d ms\s+<= 250\.0 ms\s+pass/);
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT rule, metric, value, limit_value, op, passed FROM slo_results WHERE run_id = 1 ORDER BY rowid').all() as {
    rule: string;
    metric: string;
    value: number;
    limit_value: number;
    op: string;
    passed: number;
  }[];
  db.close();
  assert.equal(rows.length, 4);
  assert.ok(rows.every((x) => x.passed === 1));
  assert.equal(rows[0]!.metric, 'ttft.p99');
  assert.equal(rows[0]!.limit_value, 0.25);
  assert.ok(Math.abs(rows[0]!.value - 0.198) <= 0.198 / 1024);
  const mdText = fs.readFileSync(md, 'utf8');
  assert.match(mdText, /^### SLO gate: PASS/);
  assert.equal(mdText.split('\n').filter((l) => l.startsWith('| `')).length, 4);
});

test('gate: --markdown appends to the file (a CI job summary), never overwrites it', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const md = path.join(dir, 'step-summary.md');
  fs.writeFileSync(md, '## Earlier step\n');
  assert.equal(cli(['gate', '--db', file, '--slo', slo, '--run', 'fast', '--markdown', md]).code, 0);
  assert.equal(cli(['gate', '--db', file, '--slo', slo, '--run', 'slow', '--markdown', md]).code, 1);
  const text = fs.readFileSync(md, 'utf8');
  assert.match(text, /^## Earlier step\n\n### SLO gate: PASS/);
  assert.match(text, /\n\n### SLO gate: FAIL/);
  assert.equal(text.split('\n').filter((l) => l.startsWith('| `')).length, 8, 'both tables are kept');
});

test('gate: a run missing its limits exits 1 naming the failing rules; JUnit counts the failures', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const junit = path.join(dir, 'gate.xml');
  const r = cli(['gate', '--db', file, '--slo', slo, '--run', 'slow', '--junit', junit, '--json']);
  assert.equal(r.code, 1, r.stderr);
  // slow: ttft p99 = 1.5 × 198 ms = 297 ms > 250 ms; tpot 60 ms > 50 ms; no request meets tpot <= 50ms.
  assert.match(r.stderr, /SLO failed: ttft\.p99 <= 250ms; tpot\.p50 <= 50ms; goodput_fraction >= 0\.9/);
  const json = jsonResult(r.stdout) as { passed: boolean; failed: string[]; verdicts: { rule: string; passed: boolean }[] };
  assert.equal(json.passed, false);
  assert.deepEqual(json.failed, ['ttft.p99 <= 250ms', 'tpot.p50 <= 50ms', 'goodput_fraction >= 0.9']);
  const root = parseXml(fs.readFileSync(junit, 'utf8'));
  assert.equal(root.name, 'testsuites');
  assert.equal(root.attrs['failures'], '3');
  const suite = childrenNamed(root, 'testsuite')[0]!;
  const cases = childrenNamed(suite, 'testcase');
  assert.equal(cases.length, 4);
  const failures = cases.filter((c) => childrenNamed(c, 'failure').length === 1);
  assert.equal(failures.length, 3);
  assert.equal(suite.attrs['failures'], '3');
  assert.equal(failures[0]!.attrs['name'], 'ttft.p99 <= 250ms');
  assert.match(childrenNamed(failures[0]!, 'failure')[0]!.attrs['message']!, /ttft\.p99 = 29\d\.\d ms, limit <= 250\.0 ms/);
});

test('gate: an SLO syntax error or unknown metric exits 2 naming the file, line and rule', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'bad.yaml', ['rules:', '  - ttft.p99 <= 250ms', '  - ttft.p77 <= 1s']);
  const r = cli(['gate', '--db', file, '--slo', slo]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml:3: rule 'ttft\.p77 <= 1s': unknown metric 'ttft\.p77'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const yamlBad = writeSlo(dir, 'syntax.yaml', ['rules:', '  - ttft.p99 <= 250ms', '  - "unterminated']);
  const r2 = cli(['gate', '--db', file, '--slo', yamlBad]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /syntax\.yaml:3: YAML syntax error: Missing closing "quote \(in '- "unterminated'\)/);
  const nested = writeSlo(dir, 'nested.yaml', ['rules:', '  - ttft.p99 <= 250ms', '  - a: b: c', '  - e2e.p99 <= 1s']);
  const r4 = cli(['gate', '--db', file, '--slo', nested]);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /nested\.yaml:3: YAML syntax error: Nested mappings .* \(in '- a: b: c'\)/);
  const r3 = cli(['gate', '--db', file, '--slo', 'no-such-name']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /no SLO file 'no-such-name'/);
});

test('gate: an unwritable --junit path is a usage error naming the flag', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const r = cli(['gate', '--db', file, '--slo', slo, '--run', 'fast', '--junit', path.join(dir, 'missing', 'gate.xml')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--junit: cannot write .*missing.*gate\.xml/);
});

test('gate: an unusable run exits 3 (interrupted; lag-flagged unless --allow-lag)', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const cut = cli(['gate', '--db', file, '--slo', slo, '--run', 'cut']);
  assert.equal(cut.code, 3);
  assert.match(cut.stderr, /run 3 \(cut\) cannot be judged: its status is 'interrupted'/);
  const laggy = cli(['gate', '--db', file, '--slo', slo, '--run', 'laggy']);
  assert.equal(laggy.code, 3);
  assert.match(laggy.stderr, /flagged for schedule lag/);
  assert.equal(cli(['gate', '--db', file, '--slo', slo, '--run', 'laggy', '--allow-lag']).code, 0);
});

test('gate: an unusable run still writes its JUnit file, with one <error> naming why', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const junit = path.join(dir, 'unusable.xml');
  const md = path.join(dir, 'unusable.md');
  const r = cli(['gate', '--db', file, '--slo', slo, '--run', 'laggy', '--junit', junit, '--markdown', md]);
  assert.equal(r.code, 3);
  const root = parseXml(fs.readFileSync(junit, 'utf8'));
  assert.equal(root.attrs['errors'], '1');
  const suite = root.children[0]!;
  assert.equal(suite.children.length, 1);
  const err = suite.children[0]!.children[0]!;
  assert.equal(err.name, 'error');
  assert.equal(err.attrs['type'], 'unusable-run');
  assert.match(err.attrs['message']!, /run 4 \(laggy\) cannot be judged: it is flagged for schedule lag/);
  assert.match(fs.readFileSync(md, 'utf8'), /UNUSABLE RUN[\s\S]*flagged for schedule lag/);
});

test('gate: baseline rules compare with another run; missing --baseline is a usage error', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'reg.yaml', ['rules:', '  - e2e.p99 <= baseline * 1.05', '  - throughput.requests >= baseline * 0.95']);
  const noBase = cli(['gate', '--db', file, '--slo', slo, '--run', 'slow']);
  assert.equal(noBase.code, 2);
  assert.match(noBase.stderr, /reg\.yaml:2: rule 'e2e\.p99 <= baseline \* 1\.05' compares with a baseline run/);
  const regressed = cli(['gate', '--db', file, '--slo', slo, '--run', 'slow', '--baseline', 'fast']);
  assert.equal(regressed.code, 1);
  assert.match(regressed.stderr, /SLO failed: e2e\.p99 <= baseline \* 1\.05$/m);
  assert.equal(cli(['gate', '--db', file, '--slo', slo, '--run', 'fast', '--baseline', 'fast']).code, 0);
  const db = new Database(file, { readonly: true });
  const base = db.prepare('SELECT DISTINCT baseline_run_id AS b FROM slo_results WHERE run_id = 2').all() as { b: number }[];
  db.close();
  assert.deepEqual(base, [{ b: 1 }]);
});

test("gate: the bundled splitwise SLOs against a reference run (slowdown, strict '<')", () => {
  const { file } = setup();
  // slow vs fast: every request exactly 1.5× → TTFT slowdown 1.5 (< 2, < 3, < 6 pass); TBT/E2E 1.5
  // (p50 < 1.25 fails, p90 < 1.5 fails because the test is strict, p99 < 5 passes).
  const r = cli(['gate', '--db', file, '--slo', 'splitwise', '--run', 'slow', '--reference-run', 'fast', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const json = jsonResult(r.stdout) as { failed: string[] };
  assert.deepEqual(json.failed, ['slowdown.tbt.p50 < 1.25', 'slowdown.tbt.p90 < 1.5', 'slowdown.e2e.p50 < 1.25', 'slowdown.e2e.p90 < 1.5']);
});

test('summary: several runs side by side, and JSON', () => {
  const { dir, file } = setup();
  const slo = writeSlo(dir, 'chat.yaml', LIMITS);
  const t = cli(['summary', '--db', file, '--run', 'fast', '--run', 'slow']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^run\s+1 fast\s+2 slow$/m);
  assert.match(t.stdout, /^TPOT p50\s+40\.00 ms\s+60\.00 ms$/m);
  const j = cli(['summary', '--db', file, '--json', '--slo', slo]);
  assert.equal(j.code, 0, j.stderr);
  const arr = jsonResult(j.stdout) as { run: { id: number }; goodput: { good: number } }[];
  assert.equal(arr.length, 1);
  assert.equal(arr[0]!.run.id, 4, 'default: the latest run');
  assert.equal(arr[0]!.goodput.good, 100);
  const missing = cli(['summary', '--db', file, '--run', 'nope']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope/);
});
