/**
 * `serve --compat splitwise` answers `max_tokens: 1` with exactly one token, streamed and not (the compatible
 * engine used to refuse a one-token request: HTTP 500, or a 200 with an empty stream). Also what replay's
 * preflight sends, so a replay against a compatible server needs it. A real `splitbench serve` process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { post, sse } from './helpers.js';
import { startServe, type ServeProcess } from './serve-cli.js';

describe('serve --compat splitwise: max_tokens 1', () => {
  let srv: ServeProcess;
  before(async () => {
    srv = await startServe(['--deployment', 'splitwise-hh-paper', '--compat', 'splitwise', '--host', '127.0.0.1', '--port', '0']);
  });
  after(async () => {
    srv?.child.kill('SIGTERM');
    await srv?.exited;
  });

  for (const route of ['/v1/completions', '/v1/chat/completions'] as const) {
    const body =
      route === '/v1/completions'
        ? { prompt: 'one two three four five', max_tokens: 1 }
        : { messages: [{ role: 'user', content: 'one two three' }], max_tokens: 1 };

    it(`${route}, not streamed: 200 with one token`, async () => {
      const r = await post(srv.url, route, { ...body, stream: false });
      assert.equal(r.status, 200, r.text);
      const j = JSON.parse(r.text);
      assert.equal(j.usage.completion_tokens, 1);
      assert.equal(j.choices.length, 1);
      assert.equal(j.choices[0].finish_reason, 'length');
      const text = route === '/v1/completions' ? j.choices[0].text : j.choices[0].message.content;
      assert.ok(typeof text === 'string' && text.length > 0, `one token of text, got ${JSON.stringify(text)}`);
    });

    it(`${route}, streamed: one token chunk, then the usage and [DONE]`, async () => {
      const r = await post(srv.url, route, { ...body, stream: true, stream_options: { include_usage: true } });
      assert.equal(r.status, 200, r.text);
      const ev = sse(r.text);
      assert.equal(ev.at(-1), '[DONE]');
      const chunks = ev.filter((e): e is Record<string, any> => e !== '[DONE]');
      const texts = chunks
        .filter((c) => c.choices.length > 0)
        .map((c) => (route === '/v1/completions' ? c.choices[0].text : c.choices[0].delta?.content))
        .filter((t) => typeof t === 'string' && t.length > 0);
      assert.equal(texts.length, 1, `one chunk with text: ${r.text}`);
      assert.equal(chunks.filter((c) => c.choices.length > 0).at(-1)!.choices[0].finish_reason, 'length');
      assert.equal(chunks.at(-1)!.usage.completion_tokens, 1);
    });
  }

  it('the server still serves a longer request afterwards', async () => {
    const r = await post(srv.url, '/v1/completions', { prompt: 'a b c', max_tokens: 4, ignore_eos: true });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).usage.completion_tokens, 4);
  });
});
