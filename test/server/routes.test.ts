/** The HTTP layer over a fake cluster: routes, stream shapes, the extension object, usage. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RealClock } from '../../src/wallclock.js';
import { startServer, TOKEN_TEXT, type RunningServer } from '../../src/server/index.js';
import { FakeCluster } from './fake-cluster.js';
import { call, post, promValue, sse } from './helpers.js';

const MODEL = { name: 'fake-model', maxContextTokens: 2048 };

describe('server routes: several tokens per engine iteration', () => {
  it('one chunk per iteration carries all its tokens; continuous usage says how many', async () => {
    const clock = new RealClock(1);
    const cluster = new FakeCluster(clock, { ttft: 0.005, itl: 0.005, tokensPerChunk: 3 });
    const srv = await startServer({ cluster, clock, model: MODEL, port: 0 });
    try {
      const r = await post(srv.url, '/v1/completions', {
        prompt: [1, 2],
        max_tokens: 7,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true, continuous_usage_stats: true },
      });
      const ev = sse(r.text) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
      const withChoices = ev.filter((e) => e !== '[DONE]' && e.choices.length > 0);
      assert.deepEqual(
        withChoices.map((c) => [c.choices[0].text, c.usage.completion_tokens, c.choices[0].finish_reason]),
        [
          [TOKEN_TEXT.repeat(3), 3, null],
          [TOKEN_TEXT.repeat(3), 6, null],
          [TOKEN_TEXT, 7, 'length'],
        ],
      );
    } finally {
      await srv.close();
    }
  });
});

describe('server routes (fake cluster)', () => {
  let srv: RunningServer;
  let cluster: FakeCluster;
  let base: string;
  before(async () => {
    const clock = new RealClock(1);
    cluster = new FakeCluster(clock, { ttft: 0.02, itl: 0.005 });
    srv = await startServer({ cluster, clock, model: MODEL, host: '127.0.0.1', port: 0 });
    base = srv.url;
  });
  after(async () => {
    await srv.close();
  });

  it('GET /health answers ok', async () => {
    const r = await call(base, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).status, 'ok');
  });

  it('GET /v1/models lists the served model with its context length', async () => {
    const r = await call(base, 'GET', '/v1/models');
    assert.equal(r.status, 200);
    const b = JSON.parse(r.text);
    assert.equal(b.object, 'list');
    assert.deepEqual(
      b.data.map((m: { id: string; max_model_len: number }) => [m.id, m.max_model_len]),
      [['fake-model', 2048]],
    );
  });

  it('streams /v1/completions in the vLLM shape with extension and usage', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => i);
    const r = await post(base, '/v1/completions', {
      model: 'fake-model',
      prompt: ids,
      max_tokens: 5,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /text\/event-stream/);
    const ev = sse(r.text);
    assert.equal(ev.at(-1), '[DONE]');
    const chunks = ev.slice(0, -1) as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    assert.equal(withChoices.length, 5, 'one chunk per engine iteration');
    for (const c of withChoices) {
      assert.equal(c.object, 'text_completion');
      assert.equal(c.model, 'fake-model');
      assert.equal(c.choices[0].text, TOKEN_TEXT);
      assert.equal(c.choices[0].logprobs, null);
      assert.equal(c.usage, null);
    }
    assert.deepEqual(
      withChoices.map((c) => c.choices[0].finish_reason),
      [null, null, null, null, 'length'],
    );
    const last = withChoices.at(-1)!;
    assert.deepEqual(Object.keys(last.splitbench).sort(), [
      'decode_s',
      'decode_wait_s',
      'emit_delay_max_s',
      'emit_delay_mean_s',
      'kv_transfer_s',
      'pool',
      'preemptions',
      'prefill_s',
      'prompt_machine',
      'queue_s',
      'token_machine',
    ]);
    assert.equal(last.splitbench.prefill_s, 0.02);
    assert.equal(last.splitbench.prompt_machine, 'fake-0');
    assert.ok(withChoices.slice(0, -1).every((c) => c.splitbench === undefined));
    const usage = chunks.at(-1)!;
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, { prompt_tokens: 100, completion_tokens: 5, total_tokens: 105 });
    assert.equal(cluster.submitted.at(-1)!.promptTokens, 100);
    assert.equal(cluster.submitted.at(-1)!.outputTokens, 5);
  });

  it('streams /v1/chat/completions: role chunk, content chunks, finish chunk, usage chunk, [DONE]', async () => {
    const r = await post(base, '/v1/chat/completions', {
      messages: [
        { role: 'system', content: 'abcd' },
        { role: 'user', content: [{ type: 'text', text: 'efgh' }] },
      ],
      max_completion_tokens: 3,
      min_tokens: 3,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    assert.equal(r.status, 200);
    const ev = sse(r.text) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(ev.at(-1), '[DONE]');
    assert.equal(ev[0].object, 'chat.completion.chunk');
    assert.deepEqual(ev[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.equal(ev[0].usage.completion_tokens, 0);
    const content = ev.slice(1, -2);
    assert.equal(content.length, 3);
    assert.deepEqual(
      content.map((c) => [c.choices[0].delta.content, c.usage.completion_tokens, c.choices[0].finish_reason]),
      [
        [TOKEN_TEXT, 1, null],
        [TOKEN_TEXT, 2, null],
        [TOKEN_TEXT, 3, 'length'],
      ],
    );
    assert.equal(content[2].splitbench.token_machine, 'fake-0');
    // 8 characters of text → 2 prompt tokens.
    assert.deepEqual(ev.at(-2).usage, { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    assert.deepEqual(ev.at(-2).choices, []);
  });

  it('answers non-streaming completions and chat with text, usage and the extension', async () => {
    const r = await post(base, '/v1/completions', { prompt: 'hello world!', max_tokens: 4, ignore_eos: true });
    assert.equal(r.status, 200);
    const b = JSON.parse(r.text);
    assert.equal(b.object, 'text_completion');
    assert.equal(b.choices[0].text, TOKEN_TEXT.repeat(4));
    assert.equal(b.choices[0].finish_reason, 'length');
    assert.deepEqual(b.usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    assert.equal(b.splitbench.pool, 'mixed');
    const c = JSON.parse((await post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, ignore_eos: true })).text);
    assert.equal(c.object, 'chat.completion');
    assert.deepEqual(c.choices[0].message, { role: 'assistant', content: TOKEN_TEXT.repeat(2) });
    assert.equal(c.usage.completion_tokens, 2);
    assert.equal(typeof c.splitbench.decode_s, 'number');
  });

  it('serves a batch of prompts as one choice each', async () => {
    const r = await post(base, '/v1/completions', {
      prompt: [
        [1, 2, 3],
        [4, 5],
      ],
      max_tokens: 2,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    const ev = sse(r.text) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const finishes = ev.filter((e) => e !== '[DONE]' && e.choices.length > 0 && e.choices[0].finish_reason);
    assert.deepEqual(finishes.map((e) => e.choices[0].index).sort(), [0, 1]);
    assert.ok(finishes.every((e) => e.splitbench));
    assert.deepEqual(ev.at(-2).usage, { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 });
  });

  it('without ignore_eos, output length is deterministic, within [min_tokens, max_tokens]', async () => {
    const body = { prompt: 'the same prompt every time', max_tokens: 50, min_tokens: 10 };
    const a = JSON.parse((await post(base, '/v1/completions', body)).text);
    const b = JSON.parse((await post(base, '/v1/completions', body)).text);
    const n = a.usage.completion_tokens;
    assert.equal(b.usage.completion_tokens, n);
    assert.ok(n >= 10 && n <= 50, `length ${n}`);
    assert.equal(a.choices[0].finish_reason, n === 50 ? 'length' : 'stop');
  });

  it('exposes machine, vLLM-style, DCGM-style and emission-delay series on /metrics', async () => {
    const r = await call(base, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /text\/plain/);
    const t = r.text;
    for (const name of [
      'splitbench_queue_depth',
      'splitbench_running_requests',
      'splitbench_batch_size',
      'splitbench_kv_used_fraction',
      'splitbench_power_watts',
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
    ]) {
      assert.notEqual(promValue(t, name, { pool: 'mixed' }), undefined, name);
    }
    assert.ok(promValue(t, 'splitbench_prompt_tokens_total', { machine: 'fake-0' })! >= 100);
    assert.ok(promValue(t, 'vllm:generation_tokens_total', { model_name: 'fake-model', engine: 'fake-0' })! >= 5);
    assert.equal(promValue(t, 'splitbench_power_watts', { machine: 'fake-0' }), 400);
    assert.equal(promValue(t, 'DCGM_FI_DEV_POWER_USAGE', { Hostname: 'fake-0', gpu: '7' }), 50);
    assert.ok(promValue(t, 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', { Hostname: 'fake-0', gpu: '0' })! > 0);
    assert.ok(promValue(t, 'splitbench_emit_delay_seconds_count')! > 0);
    assert.notEqual(promValue(t, 'splitbench_emit_delay_seconds', { quantile: '0.99' }), undefined);
  });
});
