import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyBuilder } from '../../src/load/prompt.js';

test('token-id prompts have exactly the asked length, differ per request from the first block, and are deterministic', () => {
  const b = new BodyBuilder({ endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 1 });
  for (const n of [1, 5, 16, 17, 1000, 5000]) {
    const body = JSON.parse(b.build({ seq: 3, promptTokens: n, outputTokens: 7 })) as Record<string, unknown>;
    const ids = body.prompt as number[];
    assert.equal(ids.length, n);
    assert.ok(ids.every((x) => Number.isInteger(x) && x >= 1000 && x < 30000));
  }
  const a = JSON.parse(b.build({ seq: 1, promptTokens: 64, outputTokens: 1 })).prompt as number[];
  const c = JSON.parse(b.build({ seq: 2, promptTokens: 64, outputTokens: 1 })).prompt as number[];
  assert.notDeepEqual(a.slice(0, 16), c.slice(0, 16));
  const again = new BodyBuilder({ endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 1 });
  assert.deepEqual(JSON.parse(again.build({ seq: 1, promptTokens: 64, outputTokens: 1 })).prompt, a);
});

test('a body is the same whether its output length was asked before or not (the built tail per length)', () => {
  const opts = { endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 4, extraBody: { temperature: 0 } } as const;
  const warm = new BodyBuilder(opts);
  const lengths = [7, 300, 7, 1, 300, 7, 4100];
  for (const [seq, out] of lengths.entries()) warm.build({ seq: 100 + seq, promptTokens: 20, outputTokens: out });
  for (const [seq, out] of lengths.entries()) {
    const r = { seq, promptTokens: 20 + seq, outputTokens: out };
    const body = warm.build(r);
    assert.equal(body, new BodyBuilder(opts).build(r));
    const o = JSON.parse(body) as Record<string, unknown>;
    assert.equal(o.max_tokens, out);
    assert.equal(o.min_tokens, out);
    assert.equal((o.prompt as number[]).length, 20 + seq);
  }
  const chat = new BodyBuilder({ ...opts, endpoint: 'chat' });
  chat.build({ seq: 0, promptTokens: 8, outputTokens: 9 });
  assert.equal(JSON.parse(chat.build({ seq: 1, promptTokens: 8, outputTokens: 5 })).max_tokens, 5);
});

test('warming a builder before the clock starts changes none of the bodies it builds', () => {
  for (const opts of [
    { endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 2 },
    { endpoint: 'completions', prompt: 'text', model: 'm', seed: 2 },
    { endpoint: 'chat', prompt: 'tokens', model: 'm', seed: 2, vocabSize: 5000 },
  ] as const) {
    const warm = new BodyBuilder(opts);
    warm.warm(300);
    const cold = new BodyBuilder(opts);
    for (const [seq, n] of [1, 17, 299, 300, 301, 5000].entries()) {
      const r = { seq, promptTokens: n, outputTokens: 3 };
      assert.equal(warm.build(r), cold.build(r), `${opts.endpoint}/${opts.prompt}, ${n} prompt tokens`);
    }
  }
});

test('bodies ask for exactly the output: max_tokens = min_tokens, ignore_eos, streaming with usage; extra body merged last', () => {
  const b = new BodyBuilder({ endpoint: 'completions', prompt: 'tokens', model: 'llama', seed: 0, extraBody: { temperature: 0, ignore_eos: false } });
  const body = JSON.parse(b.build({ seq: 0, promptTokens: 3, outputTokens: 42 }));
  assert.equal(body.model, 'llama');
  assert.equal(body.max_tokens, 42);
  assert.equal(body.min_tokens, 42);
  assert.equal(body.stream, true);
  assert.deepEqual(body.stream_options, { include_usage: true, continuous_usage_stats: true });
  assert.equal(body.temperature, 0);
  assert.equal(body.ignore_eos, false);
});

test('text prompts: about one word per token; chat bodies carry one user message', () => {
  const b = new BodyBuilder({ endpoint: 'chat', prompt: 'text', model: 'm', seed: 0 });
  const body = JSON.parse(b.build({ seq: 9, promptTokens: 200, outputTokens: 5 }));
  assert.equal(body.messages.length, 1);
  assert.equal(body.messages[0].role, 'user');
  const words = (body.messages[0].content as string).split(' ').length;
  assert.ok(words >= 190 && words <= 210, `words ${words}`);
  assert.match(body.messages[0].content, /^Request 9:/);
});

test('prefix block hashes: shared leading hashes give identical prompt prefixes, exact length, unique tail', () => {
  const b = new BodyBuilder({ endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 3 });
  const ids = (seq: number, n: number, hashIds: number[]): number[] =>
    JSON.parse(b.build({ seq, promptTokens: n, outputTokens: 1, hashIds })).prompt as number[];
  const a = ids(0, 1200, [7, 8, 9]);
  const c = ids(1, 1100, [7, 8, 5]);
  const d = ids(2, 1500, [7, 8]);
  assert.equal(a.length, 1200);
  assert.equal(c.length, 1100);
  assert.equal(d.length, 1500);
  assert.deepEqual(a.slice(0, 1024), c.slice(0, 1024), 'blocks 7 and 8 shared');
  assert.deepEqual(a.slice(0, 1024), d.slice(0, 1024));
  assert.notDeepEqual(a.slice(1024, 1100), c.slice(1024, 1100), 'block 9 differs from block 5');
  assert.notDeepEqual(d.slice(1024, 1100), a.slice(1024, 1100), 'past its blocks a prompt is its own');
  const short = ids(3, 100, [7, 8]);
  assert.deepEqual(short, a.slice(0, 100), 'a prompt shorter than its blocks is cut');
  assert.ok([...a, ...c, ...d].every((x) => Number.isInteger(x) && x >= 1000 && x < 30000));
});
