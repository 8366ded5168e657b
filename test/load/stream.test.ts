import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionStream } from '../../src/load/stream.js';

const ev = (o: unknown): string => `data: ${JSON.stringify(o)}\n\n`;
const tok = (text: string, completion?: number, finish: string | null = null): string =>
  ev({
    choices: [{ index: 0, text, finish_reason: finish }],
    ...(completion === undefined ? {} : { usage: { prompt_tokens: 5, completion_tokens: completion } }),
  });
const final = (completion: number, extra: Record<string, unknown> = {}): string =>
  ev({ choices: [], usage: { prompt_tokens: 5, completion_tokens: completion }, ...extra });

test('continuous usage: chunk tokens are the usage increments; TTFT and stall from token-bearing chunks', () => {
  const s = new CompletionStream(100);
  s.push(': ping\n\n', 105); // a comment is not a token
  s.push(tok('a', 1), 110);
  s.push(tok('bc', 3), 115); // a two-token chunk
  s.push(tok('', 3), 118); // no new token
  s.push(tok('d', 4, 'length'), 140);
  s.push(`${final(4)}data: [DONE]\n\n`, 141);
  assert.equal(s.done, true);
  assert.equal(s.reconcile(), 'usage-continuous');
  assert.deepEqual(s.chunkMs, [110, 115, 140]);
  assert.deepEqual(s.chunkTokens, [1, 2, 1]);
  assert.equal(s.tokens, 4);
  assert.equal(s.firstTokenMs, 110);
  assert.equal(s.lastTokenMs, 140);
  assert.equal(s.maxStallMs, 25);
  assert.equal(s.usagePrompt, 5);
});

test('no continuous usage: one token per content chunk, scaled up to the final usage when it says more', () => {
  const s = new CompletionStream(0);
  s.push(tok('a') + tok('b') + tok('c'), 10);
  s.push(tok('d', undefined, 'length'), 20);
  s.push(final(8), 21);
  s.push('data: [DONE]\n\n', 22);
  assert.equal(s.reconcile(), 'usage-final');
  assert.equal(s.tokens, 8);
  assert.deepEqual(s.chunkTokens, [2, 2, 2, 2]);
  assert.equal(
    s.chunkTokens.reduce((a, b) => a + b, 0),
    8,
  );
});

test('no usage at all: counted from chunks', () => {
  const s = new CompletionStream(0);
  s.push(`${tok('a') + tok('b')}data: [DONE]\n\n`, 5);
  assert.equal(s.reconcile(), 'chunks');
  assert.equal(s.tokens, 2);
  assert.equal(s.usageCompletion, undefined);
});

test('chat deltas count like completion text', () => {
  const s = new CompletionStream(0);
  s.push(ev({ choices: [{ index: 0, delta: { role: 'assistant' } }] }), 1); // role-only chunk: no token
  s.push(ev({ choices: [{ index: 0, delta: { content: 'hi' } }] }), 2);
  s.push(`${ev({ choices: [{ index: 0, delta: { content: '!' }, finish_reason: 'stop' }] })}data: [DONE]\n\n`, 3);
  assert.equal(s.tokens, 2);
  assert.equal(s.firstTokenMs, 2);
  assert.equal(s.finished, true);
});

test('error object, error event and malformed JSON are failures with a code', () => {
  const a = new CompletionStream(0);
  a.push(tok('x', 1) + ev({ error: { message: 'overloaded' } }), 1);
  assert.equal(a.failure?.code, 'SB_TARGET_ERROR');
  assert.match(a.failure!.message, /overloaded/);
  const b = new CompletionStream(0);
  b.push('event: error\ndata: went wrong\n\n', 1);
  assert.equal(b.failure?.code, 'SB_TARGET_ERROR');
  const c = new CompletionStream(0);
  c.push('data: {nope\n\n', 1);
  assert.equal(c.failure?.code, 'SB_STREAM');
  const d = new CompletionStream(0);
  d.push(ev({ choices: 'x' }), 1);
  assert.equal(d.failure?.code, 'SB_STREAM');
});

test('the splitbench breakdown object is read from the final chunk', () => {
  const s = new CompletionStream(0);
  s.push(
    tok('a', 1, 'length') +
      final(1, {
        splitbench: {
          queue_s: 0.5,
          prefill_s: 0.1,
          kv_transfer_s: 0.01,
          decode_wait_s: 0.02,
          decode_s: 0,
          prompt_machine: 'p0',
          token_machine: 't1',
          pool: 'prompt',
          preemptions: 0,
        },
      }),
    1,
  );
  assert.deepEqual(s.breakdown, {
    queue: 0.5,
    prefill: 0.1,
    kvTransfer: 0.01,
    decodeWait: 0.02,
    decode: 0,
    promptMachine: 'p0',
    tokenMachine: 't1',
    pool: 'prompt',
    preemptions: 0,
  });
});

test('coalescing: token chunks that arrive in one read with the one before are counted', () => {
  const s = new CompletionStream(0);
  s.push(tok('a'), 10); // first token: nothing before it
  s.push(tok('b') + tok('c') + tok('d'), 20); // three chunks in one read: two of them coalesced
  s.push(tok('e'), 30); // a read of its own
  s.push(`${tok('f', undefined, 'length')}data: [DONE]\n\n`, 40);
  assert.equal(s.chunkMs.length, 6);
  assert.equal(s.coalesced, 2);
});

test('the splitbench object carries the server emission delay', () => {
  const s = new CompletionStream(0);
  s.push(
    ev({
      choices: [{ index: 0, text: 'a', finish_reason: 'length' }],
      splitbench: { queue_s: 0, prefill_s: 0.1, kv_transfer_s: 0, decode_wait_s: 0, decode_s: 0, emit_delay_max_s: 0.004, emit_delay_mean_s: 0.001 },
    }),
    5,
  );
  assert.equal(s.breakdown?.emitDelayMax, 0.004);
  assert.equal(s.breakdown?.emitDelayMean, 0.001);
});
