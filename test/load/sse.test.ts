import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser } from '../../src/load/sse.js';

function collect(pieces: readonly string[]): { events: [string, string][]; dangling: boolean } {
  const events: [string, string][] = [];
  const p = new SseParser({ onEvent: (t, d) => events.push([t, d]) });
  for (const s of pieces) p.push(s);
  const dangling = p.end();
  return { events, dangling };
}

const STREAM =
  ': keep-alive\n\n' +
  'data: {"a":1}\n\n' +
  'event: message\r\ndata: {"b":2}\r\n\r\n' +
  'data: line one\ndata: line two\n\n' +
  'data:no-space\rid: 7\rretry: 100\r\r' +
  'event: error\ndata: {"error":"boom"}\n\n' +
  'data: [DONE]\n\n';

const EXPECTED: [string, string][] = [
  ['message', '{"a":1}'],
  ['message', '{"b":2}'],
  ['message', 'line one\nline two'],
  ['message', 'no-space'],
  ['error', '{"error":"boom"}'],
  ['message', '[DONE]'],
];

test('parses a whole stream in one read: comments, CRLF, CR, multi-line data, event types, [DONE]', () => {
  const r = collect([STREAM]);
  assert.deepEqual(r.events, EXPECTED);
  assert.equal(r.dangling, false);
});

test('the same events whatever byte boundary splits the stream in two', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    const r = collect([STREAM.slice(0, i), STREAM.slice(i)]);
    assert.deepEqual(r.events, EXPECTED, `split at ${i}`);
  }
});

test('the same events fed one character at a time, and in three uneven pieces', () => {
  assert.deepEqual(collect([...STREAM]).events, EXPECTED);
  for (let i = 1; i < STREAM.length - 1; i += 7) {
    for (let j = i + 1; j < STREAM.length; j += 11) {
      assert.deepEqual(collect([STREAM.slice(0, i), STREAM.slice(i, j), STREAM.slice(j)]).events, EXPECTED, `split at ${i},${j}`);
    }
  }
});

test('a CR at the end of one read and LF at the start of the next is one line end', () => {
  const r = collect(['data: x\r', '\n\r', '\ndata: y\n\n']);
  assert.deepEqual(r.events, [
    ['message', 'x'],
    ['message', 'y'],
  ]);
});

test('several events in one read are each dispatched', () => {
  const many = Array.from({ length: 50 }, (_, i) => `data: ${i}\n\n`).join('');
  const r = collect([many]);
  assert.equal(r.events.length, 50);
  assert.deepEqual(r.events[49], ['message', '49']);
});

test('an event without its blank line is not dispatched and is reported as dangling', () => {
  const r = collect(['data: 1\n\ndata: partial']);
  assert.deepEqual(r.events, [['message', '1']]);
  assert.equal(r.dangling, true);
  const r2 = collect(['data: 1\n\ndata: complete-line-no-blank\n']);
  assert.deepEqual(r2.events, [['message', '1']]);
  assert.equal(r2.dangling, true);
});

test('a blank line without data dispatches nothing; a field without colon has an empty value', () => {
  const r = collect(['\n\nevent: ping\n\ndata\n\n']);
  assert.deepEqual(r.events, [['message', '']]);
});
