/** Request fields the emulated server takes from vLLM (return_token_ids, logprobs, kv_transfer_params) over a fake cluster. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RealClock } from '../../src/wallclock.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { FakeCluster } from './fake-cluster.js';
import { post, sse } from './helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('vLLM request fields on the emulated server', () => {
  let srv: RunningServer;
  before(async () => {
    const clock = new RealClock(1);
    srv = await startServer({
      cluster: new FakeCluster(clock, { ttft: 0.002, itl: 0.001 }),
      clock,
      model: { name: 'fake-model', maxContextTokens: 2048 },
      port: 0,
    });
  });
  after(async () => {
    await srv.close();
  });

  it('return_token_ids and logprobs: null, since the emulator has no token ids nor a model', async () => {
    const r = await post(srv.url, '/v1/completions', { prompt: [5, 6, 7], max_tokens: 3, ignore_eos: true, return_token_ids: true, logprobs: 1 });
    assert.equal(r.status, 200, r.text);
    const c = (JSON.parse(r.text) as Json).choices[0];
    assert.equal(c.token_ids, null);
    assert.deepEqual(c.prompt_token_ids, [5, 6, 7]);
    assert.equal(c.logprobs, null);
    const s = await post(srv.url, '/v1/completions', { prompt: [5, 6, 7], max_tokens: 3, ignore_eos: true, return_token_ids: true, stream: true });
    for (const e of sse(s.text).filter((x) => x !== '[DONE]') as Json[]) assert.equal(e.choices[0].token_ids, null);
  });

  it('kv_transfer_params of the wrong shape is refused naming the field; on an ordinary server it is otherwise ignored', async () => {
    const bad = await post(srv.url, '/v1/completions', { prompt: [1], max_tokens: 1, kv_transfer_params: { do_remote_decode: 'yes' } });
    assert.equal(bad.status, 400);
    assert.equal((JSON.parse(bad.text) as Json).error.param, 'kv_transfer_params.do_remote_decode');
    const neg = await post(srv.url, '/v1/completions', {
      prompt: [1],
      max_tokens: 1,
      kv_transfer_params: { do_remote_prefill: true, splitbench_prefill_s: -1 },
    });
    assert.equal(neg.status, 400);
    assert.match((JSON.parse(neg.text) as Json).error.message, /splitbench_prefill_s must be ≥ 0/);
    const ok = await post(srv.url, '/v1/completions', { prompt: [1, 2], max_tokens: 2, ignore_eos: true, kv_transfer_params: { do_remote_decode: true } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((JSON.parse(ok.text) as Json).kv_transfer_params, undefined);
  });

  it('chat logprobs must be a boolean', async () => {
    const r = await post(srv.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, logprobs: 3 });
    assert.equal(r.status, 400);
    assert.equal((JSON.parse(r.text) as Json).error.param, 'logprobs');
  });
});
