// End-to-end: the compiled CLI (build first), as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { tmpDir, tmpFile } from './helpers.js';
import { jsonResult } from '../json-output.js';

const run = promisify(execFile);
const BIN = path.join(PACKAGE_ROOT, 'bin', 'splitbench.js');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { cwd: PACKAGE_ROOT, maxBuffer: 1 << 24 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

test('trace stats on the bundled traces', async () => {
  const code = await cli('trace', 'stats', 'workloads/coding.csv', '--json');
  assert.equal(code.code, 0, code.stderr);
  const s = jsonResult(code.stdout);
  assert.equal(s.format, 'azure');
  assert.equal(s.requests, 8819);
  assert.equal(s.promptTokens.p50, 1469);
  assert.equal(s.outputTokens.p50, 13);
  assert.equal(s.skipped, 0);
  const conv = await cli('trace', 'stats', 'conversation', '--json');
  assert.equal(conv.code, 0, conv.stderr);
  assert.equal(jsonResult(conv.stdout).requests, 19366);
  const text = await cli('trace', 'stats', 'coding', '--window', '0:600');
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^requests\s+\d+$/m);
  assert.match(text.stdout, /^prompt\s+/m);
});

test('trace synth: same seed, identical bytes; the rate is what was asked for (600 s)', async () => {
  const d = tmpDir();
  const a = path.join(d, 'a.csv'),
    b = path.join(d, 'b.csv'),
    c = path.join(d, 'c.csv');
  for (const out of [a, b]) {
    const r = await cli('trace', 'synth', '--like', 'coding', '--rate', '20', '--duration', '600', '--seed', '5', '--out', out);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(readFileSync(a).equals(readFileSync(b)));
  const r3 = await cli('trace', 'synth', '--like', 'coding', '--rate', '20', '--duration', '600', '--seed', '6', '--out', c);
  assert.equal(r3.code, 0, r3.stderr);
  assert.ok(!readFileSync(a).equals(readFileSync(c)));
  const s = jsonResult((await cli('trace', 'stats', a, '--json')).stdout);
  assert.ok(Math.abs(s.meanRatePerS / 20 - 1) < 0.05, `rate ${s.meanRatePerS}`);
  assert.ok(s.spanS <= 600 && s.spanS > 590);
  assert.ok(Math.abs(s.interArrival.cv - 1) < 0.05, `cv ${s.interArrival.cv}`);
  // sizes come from the coding trace: its median prompt is 1469
  assert.ok(Math.abs(s.promptTokens.p50 / 1469 - 1) < 0.1, `p50 ${s.promptTokens.p50}`);
  const g = path.join(d, 'g.jsonl');
  const rg = await cli(
    'trace',
    'synth',
    '--like',
    'conversation',
    '--rate',
    '20',
    '--duration',
    '600',
    '--arrivals',
    'gamma:2',
    '--format',
    'mooncake',
    '--out',
    g,
  );
  assert.equal(rg.code, 0, rg.stderr);
  const sg = jsonResult((await cli('trace', 'stats', g, '--json')).stdout);
  assert.equal(sg.format, 'mooncake');
  assert.ok(Math.abs(sg.meanRatePerS / 20 - 1) < 0.05, `rate ${sg.meanRatePerS}`);
  assert.ok(Math.abs(sg.interArrival.cv - 2) < 0.2, `cv ${sg.interArrival.cv}`);
});

test('trace convert round trip through splitwise and mooncake keeps the requests', async () => {
  const d = tmpDir();
  const sw = path.join(d, 'code.csv'),
    mc = path.join(d, 'code.jsonl');
  assert.equal((await cli('trace', 'convert', 'coding', '--to', 'splitwise', '--out', sw)).code, 0);
  const r = await cli('trace', 'convert', sw, '--to', 'mooncake', '--limit', '100', '--json', '--out', mc);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(jsonResult(r.stdout).written, 100);
  const s = jsonResult((await cli('trace', 'stats', sw, '--json')).stdout);
  assert.equal(s.requests, 8819);
  assert.equal(s.promptTokens.p50, 1469);
  const same = await cli('trace', 'convert', sw, '--to', 'azure', '--out', sw);
  assert.equal(same.code, 2);
});

test('malformed traces: one line naming file:line:field, exit code 2', async () => {
  const AZ = 'TIMESTAMP,ContextTokens,GeneratedTokens\n';
  const cases: [string, string, string][] = [
    ['ooo.csv', `${AZ}2023-11-16 18:17:03.9799600,1,1\n2023-11-16 18:17:02.0,1,1\n`, ':3:TIMESTAMP: out of time order'],
    ['nan.csv', `${AZ}2023-11-16 18:17:03.9799600,abc,1\n`, ':2:ContextTokens: not a number'],
    ['neg.csv', `${AZ}2023-11-16 18:17:03.9799600,1,-4\n`, ':2:GeneratedTokens: negative value'],
    ['col.csv', 'TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.9799600,1\n', ':1:GeneratedTokens: missing column'],
    ['empty.csv', '', ':1: empty file'],
    ['bad.jsonl', '{"timestamp":0,"input_length":1,"output_length":1}\n{"timestamp":1,"input_length":\n', ':2: bad JSON'],
    ['sw.csv', 'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n0,2,0,0,1,1,x\n', ':2:token_size: not a number'],
  ];
  await Promise.all(
    cases.map(async ([name, text, expect]) => {
      const f = tmpFile(name, text);
      const r = await cli('trace', 'stats', f);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      const first = r.stderr.split('\n')[0]!;
      assert.ok(first.startsWith(`splitbench: ${f}${expect}`), `${name}: ${first}`);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/); // no stack trace
    }),
  );
  const lenient = await cli(
    'trace',
    'stats',
    tmpFile('l.csv', `${AZ}2023-11-16 18:17:03,1,1\n2023-11-16 18:17:02,1,1\n2023-11-16 18:17:05,1,1\n`),
    '--lenient',
    '--json',
  );
  assert.equal(lenient.code, 0, lenient.stderr);
  assert.equal(jsonResult(lenient.stdout).skipped, 1);
  assert.match(lenient.stderr, /skipped 1 bad row .*:3:TIMESTAMP/);
  const badFlag = await cli('trace', 'stats', 'coding', '--format', 'parquet');
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /--format: unknown trace format 'parquet'; known: azure, mooncake, splitwise/);
  const badSynth = await cli('trace', 'synth', '--like', 'coding', '--rate', '-3', '--duration', '10', '--out', path.join(tmpDir(), 'x.csv'));
  assert.equal(badSynth.code, 2);
  assert.match(badSynth.stderr, /--rate: /);
});

test('trace synth --sessions: a mooncake session trace; session flags checked at the edge', async () => {
  const out = path.join(tmpDir(), 's.jsonl');
  const ok = await cli('trace', 'synth', '--like', 'coding', '--sessions', '5', '--rate', '1', '--turns', '2', '--json', '--out', out);
  assert.equal(ok.code, 0, ok.stderr);
  const r = jsonResult(ok.stdout) as { format: string; sessions: number; requests: number; turnsMean: number; thinkMeanS: number };
  assert.equal(r.format, 'mooncake');
  assert.equal(r.sessions, 5);
  assert.equal(r.turnsMean, 2);
  assert.equal(r.thinkMeanS, 10, 'the default think time');
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { session_id: string });
  assert.equal(lines.length, r.requests);
  assert.equal(new Set(lines.map((l) => l.session_id)).size, 5);
  const cases: [string[], RegExp][] = [
    [['--rate', '1', '--duration', '5', '--turns', '3'], /^splitbench: --turns: only applies with --sessions N/],
    [['--rate', '1', '--sessions', '3', '--format', 'azure'], /^splitbench: --format: session traces are written as mooncake/],
    [['--rate', '1', '--sessions', '0'], /^splitbench: --sessions: must be a whole number of sessions ≥ 1/],
    [['--rate', '1', '--sessions', '2', '--think', '-1'], /^splitbench: --think: must be a non-negative number of seconds/],
    [['--rate', '1'], /^splitbench: --duration: missing/],
  ];
  for (const [args, expect] of cases) {
    const bad = await cli('trace', 'synth', '--like', 'coding', ...args, '--out', path.join(tmpDir(), 'x.jsonl'));
    assert.equal(bad.code, 2, args.join(' '));
    assert.match(bad.stderr, expect);
    assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/);
  }
});
