import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SloSpecError } from '../../src/errors.js';
import { listSloNames, loadSlo, parsePerRequestRule, parseRule, parseSlo, resolveSloPath } from '../../src/metrics/index.js';

test('every run-level rule form parses to metric, stat, op and limit in base units', () => {
  const cases: [string, Partial<ReturnType<typeof parseRule>>][] = [
    ['ttft.p99 <= 2s', { base: 'ttft', stat: 'p99', op: '<=', limit: { kind: 'value', value: 2 } }],
    ['tpot.p50 <= 50ms', { base: 'tpot', stat: 'p50', limit: { kind: 'value', value: 0.05 } }],
    ['tbt.p99 < 100ms', { base: 'tbt', op: '<', limit: { kind: 'value', value: 0.1 } }],
    ['e2e.p90 <= 10s', { base: 'e2e', stat: 'p90' }],
    ['e2e.p99.9 <= 12s', { base: 'e2e', stat: 'p99.9' }],
    ['lag.p99 <= 10ms', { base: 'lag', limit: { kind: 'value', value: 0.01 } }],
    ['lag.max <= 250us', { base: 'lag', stat: 'max', limit: { kind: 'value', value: 0.00025 } }],
    ['kv_transfer.mean < 30ms', { base: 'kv_transfer', stat: 'mean' }],
    ['slowdown.ttft.p90 <= 3', { base: 'slowdown.ttft', stat: 'p90', unit: 'ratio', limit: { kind: 'value', value: 3 } }],
    ['slowdown.e2e.p50 < 1.25x', { base: 'slowdown.e2e', limit: { kind: 'value', value: 1.25 } }],
    ['goodput >= 5', { base: 'goodput', unit: 'rate', op: '>=', limit: { kind: 'value', value: 5 } }],
    ['goodput_fraction >= 0.9', { base: 'goodput_fraction', limit: { kind: 'value', value: 0.9 } }],
    ['goodput_fraction >= 90%', { limit: { kind: 'value', value: 0.9 } }],
    ['error_rate <= 0.01', { base: 'error_rate', unit: 'fraction' }],
    ['throughput.output_tokens >= 1500', { base: 'throughput.output_tokens', limit: { kind: 'value', value: 1500 } }],
    ['e2e.p99 <= baseline * 1.05', { base: 'e2e', limit: { kind: 'baseline', factor: 1.05, offset: 0 } }],
    ['ttft.p50 <= baseline + 20ms', { limit: { kind: 'baseline', factor: 1, offset: 0.02 } }],
    ['throughput.requests >= baseline', { limit: { kind: 'baseline', factor: 1, offset: 0 } }],
    ['cost_per_mtok <= 3.5', { unit: 'dollar' }],
  ];
  for (const [text, want] of cases) {
    const r = parseRule(text);
    for (const [k, v] of Object.entries(want)) assert.deepEqual((r as unknown as Record<string, unknown>)[k], v, `${text}: ${k}`);
    assert.equal(r.text, text);
  }
});

test('run-level rule errors say what is wrong', () => {
  assert.throws(() => parseRule('ttft.p99 <= 2'), /needs a unit/);
  assert.throws(() => parseRule('ttft.p42 <= 2s'), /unknown metric 'ttft.p42'/);
  assert.throws(() => parseRule('ttft <= 2s'), /needs a statistic/);
  assert.throws(() => parseRule('latency.p99 <= 2s'), /unknown metric 'latency.p99'/);
  assert.throws(() => parseRule('ttft.p99 == 2s'), /expected '<metric> <op> <limit>'/);
  assert.throws(() => parseRule('error_rate <= 2ms'), /unit 'ms' does not fit/);
  assert.throws(() => parseRule('ttft.p99 <= 2 hours'), /not a number|unknown time unit/);
});

test('per-request limits', () => {
  assert.deepEqual(parsePerRequestRule('ttft <= 2s', 4), { text: 'ttft <= 2s', line: 4, metric: 'ttft', unit: 'time', op: '<=', limit: 2 });
  assert.equal(parsePerRequestRule('tpot <= 100ms').limit, 0.1);
  assert.equal(parsePerRequestRule('slowdown.ttft < 3').metric, 'slowdown.ttft');
  assert.throws(() => parsePerRequestRule('ttft.p99 <= 2s'), /unknown per-request metric 'ttft.p99'/);
  assert.throws(() => parsePerRequestRule('e2e <= baseline'), /baseline/);
});

test('a file parses with line numbers; errors name file, line and rule', () => {
  const text = ['name: chat', 'rules:', '  - ttft.p99 <= 2s', '  - e2e.p90 <= 10s', 'per_request:', '  - tpot <= 100ms', ''].join('\n');
  const s = parseSlo(text, 'chat.yaml');
  assert.equal(s.name, 'chat');
  assert.deepEqual(
    s.rules.map((r) => r.line),
    [3, 4],
  );
  assert.equal(s.perRequest[0]!.line, 6);

  const bad = ['rules:', '  - ttft.p99 <= 2s', '  - tpot.p50 <= 50', ''].join('\n');
  assert.throws(
    () => parseSlo(bad, 'bad.yaml'),
    (e: unknown) => e instanceof SloSpecError && /^bad\.yaml:3: rule 'tpot\.p50 <= 50': .*unit/.test(e.message) && e.exitCode === 2,
  );
  const unknown = ['rules:', '  - ttft.p99 <= 2s', '', '  - frobs.p99 < 3', ''].join('\n');
  assert.throws(() => parseSlo(unknown, 'u.yaml'), /^SloSpecError: u\.yaml:4: rule 'frobs\.p99 < 3': unknown metric/);
  const syntax = ['rules:', '  - ttft.p99 <= 2s', '  - [unclosed', ''].join('\n');
  assert.throws(() => parseSlo(syntax, 's.yaml'), /s\.yaml:\d+: YAML syntax error/);
  assert.throws(() => parseSlo('rulez:\n  - ttft.p99 <= 2s\n', 'k.yaml'), /k\.yaml:1: unknown key 'rulez'/);
  assert.throws(() => parseSlo('rules:\n  - {a: 1}\n', 'm.yaml'), /m\.yaml:2: each entry/);
  assert.throws(() => parseSlo('name: x\n', 'e.yaml'), /no rules/);
  assert.throws(() => parseSlo('rules:\n  - goodput >= 5\n', 'g.yaml'), /g\.yaml:2: rule 'goodput >= 5': goodput needs per-request limits/);
});

test('the bundled SLO files load by bare name', () => {
  assert.ok(listSloNames().includes('splitwise'));
  assert.ok(listSloNames().includes('interactive'));
  const sw = loadSlo('splitwise');
  assert.equal(sw.rules.length, 9);
  assert.ok(sw.rules.every((r) => r.op === '<' && r.base.startsWith('slowdown.')));
  const lim = Object.fromEntries(sw.rules.map((r) => [r.metric, (r.limit as { value: number }).value]));
  assert.deepEqual(lim, {
    'slowdown.ttft.p50': 2,
    'slowdown.ttft.p90': 3,
    'slowdown.ttft.p99': 6,
    'slowdown.tbt.p50': 1.25,
    'slowdown.tbt.p90': 1.5,
    'slowdown.tbt.p99': 5,
    'slowdown.e2e.p50': 1.25,
    'slowdown.e2e.p90': 1.5,
    'slowdown.e2e.p99': 5,
  });
  const ia = loadSlo('interactive');
  assert.ok(ia.perRequest.length >= 2);
  assert.throws(() => resolveSloPath('no-such-slo'), /no SLO file 'no-such-slo'.*|splitwise/);
});
