/** `splitbench sim` end to end: rows and tables in the store, determinism, trace-events export, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../cli/helpers.js';
import { jsonResult } from '../json-output.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sim-'));
const RANDOM_DEP = path.join(tmp, 'random.yaml');
fs.writeFileSync(
  RANDOM_DEP,
  [
    'name: small-random',
    'kind: split',
    'model: bloom-176b',
    'scheduler: random',
    'pools:',
    '  prompt: { machine: dgx-h100, count: 2 }',
    '  token: { machine: dgx-a100, count: 2 }',
    '',
  ].join('\n'),
);

type Row = Record<string, unknown>;
function rows(db: string, runName: string): Row[] {
  const d = new Database(db, { readonly: true });
  try {
    const id = (d.prepare('SELECT id FROM runs WHERE name = ?').get(runName) as { id: number }).id;
    return d.prepare('SELECT * FROM requests WHERE run_id = ? ORDER BY seq').all(id) as Row[];
  } finally {
    d.close();
  }
}
const strip = (r: Row): Row => {
  const { run_id: _id, ...rest } = r;
  return rest;
};

test('sim writes a sim run with per-request rows, machines, power and timeline samples', async () => {
  const db = path.join(tmp, 'a.db');
  const r = await runCli(['sim', '--trace', 'coding', '--limit', '120', '--deployment', 'splitwise-hh', '--db', db, '--name', 'a', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = jsonResult(r.stdout) as { runId: number; summary: { counts: { ok: number } } };
  assert.equal(out.summary.counts.ok, 120);
  const d = new Database(db, { readonly: true });
  try {
    const run = d.prepare('SELECT * FROM runs WHERE id = ?').get(out.runId) as Row;
    assert.equal(run['kind'], 'sim');
    assert.equal(run['status'], 'completed');
    const reqs = d.prepare('SELECT * FROM requests WHERE run_id = ? ORDER BY seq').all(out.runId) as Row[];
    assert.equal(reqs.length, 120);
    for (const q of reqs) {
      assert.equal(q['status'], 'ok');
      assert.equal(q['send'], q['scheduled']);
      assert.equal(q['send'], q['arrival']);
      assert.ok((q['ttft'] as number) > 0 && (q['e2e'] as number) >= (q['ttft'] as number));
      assert.equal(q['tokens_received'], q['output_tokens']);
      assert.ok(q['token_times'] instanceof Buffer && (q['token_times'] as Buffer).length > 0);
      assert.ok(typeof q['prompt_machine'] === 'string' && typeof q['token_machine'] === 'string');
    }
    const machines = d.prepare('SELECT * FROM machines WHERE run_id = ?').all(out.runId) as Row[];
    assert.deepEqual(machines.map((m) => m['machine_id']).sort(), ['prompt-0', 'prompt-1', 'prompt-2', 'token-0']);
    const power = d
      .prepare('SELECT machine_id, count(*) n, min(watts) lo, max(watts) hi FROM power_samples WHERE run_id = ? GROUP BY machine_id')
      .all(out.runId) as Row[];
    assert.equal(power.length, 4);
    for (const p of power) assert.ok((p['n'] as number) > 10 && (p['hi'] as number) > (p['lo'] as number), JSON.stringify(p));
    const names = (d.prepare('SELECT DISTINCT name FROM timeline_samples WHERE run_id = ?').all(out.runId) as Row[]).map((x) => x['name']);
    assert.ok(names.includes('in_flight') && names.includes('queue_depth'), names.join(','));
  } finally {
    d.close();
  }
});

test('two sims with one seed give identical request rows; another seed does not', async () => {
  const db = path.join(tmp, 'det.db');
  const common = ['sim', '--trace', 'conversation', '--rate', '6', '--duration', '40', '--deployment', RANDOM_DEP, '--db', db, '--sample-interval', '0'];
  for (const [name, seed] of [
    ['s1', '7'],
    ['s2', '7'],
    ['s3', '8'],
  ] as const) {
    const r = await runCli([...common, '--seed', seed, '--name', name]);
    assert.equal(r.code, 0, r.stderr);
  }
  const a = rows(db, 's1').map(strip);
  const b = rows(db, 's2').map(strip);
  const c = rows(db, 's3').map(strip);
  assert.ok(a.length > 150, `${a.length} requests`);
  assert.deepEqual(b, a);
  assert.notDeepEqual(c, a);
});

test('--trace-events writes Chrome trace JSON with batches on every machine, prompts, KV transfers and arrivals', async () => {
  const file = path.join(tmp, 'timeline.json');
  const r = await runCli(['sim', '--trace', 'coding', '--limit', '60', '--deployment', RANDOM_DEP, '--db', path.join(tmp, 'te.db'), '--trace-events', file]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { traceEvents: Row[] };
  const ev = doc.traceEvents;
  const threadNames = new Map<string, string>();
  for (const e of ev) if (e['ph'] === 'M' && e['name'] === 'thread_name') threadNames.set(`${e['pid']}/${e['tid']}`, (e['args'] as { name: string }).name);
  const batchesOn = new Set<string>();
  for (const e of ev) {
    if (e['ph'] !== 'X') continue;
    assert.ok(typeof e['ts'] === 'number' && typeof e['dur'] === 'number' && (e['dur'] as number) >= 0);
    const thread = threadNames.get(`${e['pid']}/${e['tid']}`);
    assert.ok(thread, `X event on a named thread: ${JSON.stringify(e)}`);
    if (/batches$/.test(thread!)) {
      batchesOn.add(thread!.split(' ')[0]!);
      const args = e['args'] as { batchSize: number; promptTokens: number; decodes: number };
      assert.ok(args.batchSize >= 1 && args.promptTokens >= 0 && args.decodes >= 0);
    }
  }
  assert.deepEqual([...batchesOn].sort(), ['prompt-0', 'prompt-1', 'token-0', 'token-1']);
  assert.equal(ev.filter((e) => e['ph'] === 'i' && e['name'] === 'arrival').length, 60);
  assert.equal(ev.filter((e) => e['name'] === 'prefill' && /prompts$/.test(threadNames.get(`${e['pid']}/${e['tid']}`) ?? '')).length, 60);
  assert.ok(
    ev.some((e) => e['name'] === 'kv'),
    'KV transfers',
  );
});

test('bad input: a clear one-line error and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['sim', '--trace', 'coding', '--rate', '5'], /--rate: needs --duration/],
    [['sim', '--trace', 'coding', '--compat', 'vidur'], /--compat: unknown mode 'vidur'/],
    [['sim', '--trace', 'coding', '--deployment', 'nope'], /unknown deployment 'nope'/],
    [['sim', '--trace', path.join(tmp, 'missing.csv')], /missing\.csv/],
    [['sweep', '--trace', 'coding', '--rates', '9:3:1'], /--rates/],
    [['provision', '--trace', 'coding', '--design', 'splitwise-xx', '--objective', 'iso-power', '--rate', '3'], /--design: unknown design 'splitwise-xx'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli([...args, '--db', path.join(tmp, 'bad.db')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('compatible-mode KV deadlock: the run ends, every stuck request is stored as never-completed, exit 4', async () => {
  // 40 requests of 3000 + 3000 tokens at once on one DGX-A100: the prompts' KV fills the memory their
  // decodes need, and SplitwiseSim semantics never retry (the Splitwise notes, 2.8).
  const trace = path.join(tmp, 'deadlock.csv');
  const lines = ['TIMESTAMP,ContextTokens,GeneratedTokens'];
  for (let i = 0; i < 40; i++) lines.push(`2023-11-16 18:00:0${Math.floor(i / 10)}.${String((i % 10) * 1_000_000).padStart(7, '0')},3000,3000`);
  fs.writeFileSync(trace, `${lines.join('\n')}\n`);
  const dep = path.join(tmp, 'one-a100.yaml');
  fs.writeFileSync(dep, 'name: one-a100\nkind: monolithic\nmodel: bloom-176b\npools:\n  mixed: { machine: dgx-a100, count: 1 }\n');
  const db = path.join(tmp, 'deadlock.db');
  const r = await runCli(['sim', '--trace', trace, '--deployment', dep, '--compat', 'splitwise', '--db', db, '--name', 'dl']);
  assert.equal(r.code, 4, r.stderr);
  const all = rows(db, 'dl');
  assert.equal(all.length, 40);
  assert.ok(
    all.every((q) => q['status'] === 'never-completed'),
    'all stuck',
  );
  assert.ok(
    all.some((q) => q['first_token'] !== null),
    'some prompts ran before the deadlock',
  );
});

test('sim --perf-model: roofline, profile and auto (the profile where one exists, else the roofline)', async () => {
  const db = path.join(tmp, 'perf-model.db');
  const sim = (name: string, extra: string[]) =>
    runCli(['sim', '--trace', 'coding', '--limit', '40', '--deployment', 'baseline-h100', '--db', db, '--name', name, '--json', ...extra]);
  const ttfts = (name: string): number[] => rows(db, name).map((r) => r['ttft'] as number);
  // bloom-176b on H100 has a bundled profile: auto picks it; roofline gives other timings.
  for (const [name, extra] of [
    ['dep', []],
    ['profile', ['--perf-model', 'profile']],
    ['auto', ['--perf-model', 'auto']],
    ['roofline', ['--perf-model', 'roofline']],
  ] as const) {
    const r = await sim(name, [...extra]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
  assert.deepEqual(ttfts('profile'), ttfts('dep'));
  assert.deepEqual(ttfts('auto'), ttfts('profile'));
  assert.notDeepEqual(ttfts('roofline'), ttfts('profile'));
  // llama3-70b on H100 has none: the deployment's `perfModel: profile` refuses, naming the flag; auto runs on the roofline.
  const none = await sim('l70-dep', ['--model', 'llama3-70b']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no measured profile for llama3-70b on h100-80gb/);
  assert.match(none.stderr, /--perf-model roofline/);
  assert.equal((await sim('l70-auto', ['--model', 'llama3-70b', '--perf-model', 'auto'])).code, 0);
  assert.equal((await sim('l70-roof', ['--model', 'llama3-70b', '--perf-model', 'roofline'])).code, 0);
  assert.deepEqual(ttfts('l70-auto'), ttfts('l70-roof'));
  const bad = await sim('bad', ['--perf-model', 'measured']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /perf-model.*"measured".*Choices: "auto", "profile", "roofline"/s);
  const compat = await sim('compat', ['--perf-model', 'roofline', '--compat', 'splitwise']);
  assert.equal(compat.code, 2);
  assert.match(compat.stderr, /--perf-model: not with --compat splitwise/);
});
