/**
 * Prefill and decode endpoints (`serve --role prefill|decode`) behind a P/D proxy that follows vLLM's documented
 * proxy behaviour (pd-proxy.ts): the protocol legs and the refusals. The p50 agreement with the one-process split
 * deployment is pd-agreement.timing.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPdSetup, type PdProxy, type PdSetup } from './pd-proxy.js';
import { runServe, type ServeProcess } from './serve-cli.js';
import { call, post, promValue, sse } from './helpers.js';

const SCALE = 4;

describe('serve --role: bad combinations are refused up front', () => {
  it('a monolithic deployment, --compat and --engine real are refused, naming what and where', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['--deployment', 'baseline-h100', '--role', 'prefill'],
        /baseline-h100\.yaml: --role prefill needs a phase-split deployment; baseline-h100 is monolithic/,
      ],
      [['--deployment', 'splitwise-hh', '--role', 'decode', '--compat', 'splitwise'], /--role: --role and --compat splitwise cannot be combined/],
      [['--engine', 'real', '--deployment', 'split', '--role', 'decode'], /--role: only with --engine emulated/],
    ];
    for (const [args, re] of cases) {
      const r = await runServe([...args, '--port', '0']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('prefill and decode endpoints behind a P/D proxy', () => {
  let pd: PdSetup;
  let pre: ServeProcess;
  let dec: ServeProcess;
  let proxy: PdProxy;
  before(async () => {
    pd = await startPdSetup('splitwise-hh', SCALE);
    ({ prefill: pre, decode: dec, proxy } = pd);
  });
  after(() => pd.close());

  it('each endpoint refuses the other leg, naming kv_transfer_params', async () => {
    for (const [url, code] of [
      [pre.url, 'do_remote_decode'],
      [dec.url, 'do_remote_prefill'],
    ] as const) {
      const r = await post(url, '/v1/completions', { prompt: [1, 2, 3], max_tokens: 2 });
      assert.equal(r.status, 400);
      const e = JSON.parse(r.text).error;
      assert.equal(e.code, 'wrong_role');
      assert.equal(e.param, 'kv_transfer_params');
      assert.match(e.message, new RegExp(code));
    }
  });

  it('the prefill reply carries vLLM-shaped kv_transfer_params; the decode leg charges the KV transfer', async () => {
    const prompt = Array.from({ length: 600 }, (_, i) => i);
    const p = await post(pre.url, '/v1/completions', { prompt, max_tokens: 1, stream: false, kv_transfer_params: { do_remote_decode: true } });
    assert.equal(p.status, 200, p.text);
    const pj = JSON.parse(p.text);
    const kv = pj.kv_transfer_params;
    assert.equal(kv.do_remote_prefill, true);
    assert.equal(kv.do_remote_decode, false);
    assert.equal(kv.remote_block_ids.length, Math.ceil(600 / 16));
    assert.equal(kv.remote_host, '127.0.0.1');
    assert.equal(kv.remote_port, Number(new URL(pre.url).port));
    assert.equal(kv.tp_size, 8);
    assert.equal(typeof kv.remote_engine_id, 'string');
    assert.equal(pj.usage.completion_tokens, 1);
    const d = await post(dec.url, '/v1/completions', {
      prompt,
      max_tokens: 6,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
      kv_transfer_params: kv,
    });
    assert.equal(d.status, 200, d.text);
    const ev = sse(d.text).filter((e) => e !== '[DONE]') as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(ev.at(-1)!.usage.completion_tokens, 6);
    const ext = ev.find((e) => e.splitbench)!.splitbench;
    assert.ok(ext.kv_transfer_s > 0, JSON.stringify(ext));
    assert.equal(ext.prefill_s, 0, 'no prefill on the decode endpoint');
    assert.equal(ext.prompt_machine, kv.remote_engine_id);
  });

  it('through the proxy: the prefill leg gets one token, unstreamed; the client gets the whole stream', async () => {
    const before = promValue((await call(pre.url, 'GET', '/metrics')).text, 'vllm:request_generation_tokens_sum') ?? 0;
    const r = await post(proxy.url, '/v1/completions', {
      prompt: Array.from({ length: 300 }, (_, i) => i),
      max_tokens: 9,
      min_tokens: 9,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /application\/json/);
    const ev = sse(r.text).filter((e) => e !== '[DONE]') as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(ev.at(-1)!.usage.completion_tokens, 9);
    const after = promValue((await call(pre.url, 'GET', '/metrics')).text, 'vllm:request_generation_tokens_sum') ?? 0;
    assert.equal(after - before, 1);
    assert.deepEqual(proxy.failures, []);
  });
});
