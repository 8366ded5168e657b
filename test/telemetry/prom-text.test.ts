import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, parsePromValue, familyOf, PromParseError } from '../../src/telemetry/prom-text.js';

test('parses HELP/TYPE, labels with escapes, NaN/Inf and timestamps', () => {
  const text = [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    'vllm:num_requests_running{engine="0",model_name="llama"} 3',
    '# a plain comment',
    '# TYPE http_requests counter',
    'http_requests_total{path="/v1/a,b}c",quote="say \\"hi\\"",nl="x\\ny",bs="a\\\\b",} 1027 1395066363000',
    'weird_value NaN',
    'up +Inf',
    'down -Inf',
    'sci 1.5e3',
    '',
    '# TYPE ttft histogram',
    'ttft_bucket{le="0.1"} 2',
    'ttft_bucket{le="+Inf"} 5',
    'ttft_sum 1.25',
    'ttft_count 5',
  ].join('\n');
  const e = parsePromText(text);
  assert.equal(e.samples.length, 10);
  assert.deepEqual(e.samples[0], { name: 'vllm:num_requests_running', labels: { engine: '0', model_name: 'llama' }, value: 3 });
  const h = e.samples[1]!;
  assert.equal(h.name, 'http_requests_total');
  assert.deepEqual(h.labels, { path: '/v1/a,b}c', quote: 'say "hi"', nl: 'x\ny', bs: 'a\\b' });
  assert.equal(h.value, 1027);
  assert.equal(h.timestampMs, 1395066363000);
  assert.ok(Number.isNaN(e.samples[2]!.value));
  assert.equal(e.samples[3]!.value, Infinity);
  assert.equal(e.samples[4]!.value, -Infinity);
  assert.equal(e.samples[5]!.value, 1500);
  assert.equal(e.samples[7]!.labels.le, '+Inf');
  assert.equal(e.families.get('vllm:num_requests_running')?.type, 'gauge');
  assert.equal(e.families.get('vllm:num_requests_running')?.help, 'Number of requests in model execution batches.');
  assert.equal(familyOf('http_requests_total', e.families)?.type, 'counter');
  assert.equal(familyOf('ttft_bucket', e.families)?.type, 'histogram');
  assert.equal(familyOf('nope_total', e.families), undefined);
});

test('CRLF line ends, OpenMetrics EOF and exemplars', () => {
  const e = parsePromText('a 1\r\nb{x="1"} 2 # {trace_id="abc"} 1.0\r\n# EOF\r\nc 3\r\n');
  assert.deepEqual(
    e.samples.map((s) => [s.name, s.value]),
    [
      ['a', 1],
      ['b', 2],
    ],
  );
});

test('malformed lines name the line', () => {
  const bad = ['x{a=1} 2', 'x{a="1" 2', 'x 12abc', '{} 1', 'x{a="unterminated} 1', '# TYPE x bogus', 'x 1 notatime'];
  for (const b of bad) {
    assert.throws(
      () => parsePromText(`ok 1\n${b}\n`),
      (e: unknown) => e instanceof PromParseError && e.line === 2 && /^line 2: /.test(e.message),
      b,
    );
  }
});

test('parsePromValue', () => {
  assert.equal(parsePromValue('inf'), Infinity);
  assert.equal(parsePromValue('-1.5e-3'), -0.0015);
  assert.equal(parsePromValue('.5'), 0.5);
  assert.equal(parsePromValue('1,5'), undefined);
  assert.equal(parsePromValue(''), undefined);
});
