/**
 * Real tokens over HTTP (`serve --engine real`, tiny generated model): the prompt's token ids reach the model,
 * the stream carries the model's token ids and texts, so monolithic and phase-split can be compared from the
 * outside; ids outside the vocabulary are refused naming their index; a dead token worker fails only what
 * needs it, saying which worker died.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashIds, planOutput } from '../../src/server/tokens.js';
import { startRealServer } from '../../src/worker/serve.js';
import { TINY_SHAPE } from '../../src/worker/model.js';
import { post, sse } from '../server/helpers.js';
import { cleanup, prompt, tinyModel } from './helpers.js';

type Server = Awaited<ReturnType<typeof startRealServer>>;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OUT = 6;

async function ids(base: string, p: number[], stream: boolean): Promise<{ ids: number[]; text: string }> {
  const r = await post(base, '/v1/completions', {
    prompt: p,
    max_tokens: OUT,
    ignore_eos: true,
    stream,
    return_token_ids: true,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  });
  assert.equal(r.status, 200, r.text);
  if (!stream) {
    const c = (JSON.parse(r.text) as Json).choices[0];
    assert.deepEqual(c.prompt_token_ids, p);
    return { ids: c.token_ids, text: c.text };
  }
  const ev = sse(r.text).filter((e) => e !== '[DONE]') as Json[];
  const withChoices = ev.filter((e) => e.choices.length > 0);
  return { ids: withChoices.flatMap((e) => e.choices[0].token_ids), text: withChoices.map((e) => e.choices[0].text).join('') };
}

describe('real tokens over HTTP (tiny model, 1 thread per worker)', () => {
  let mono: Server;
  let split: Server;
  before(async () => {
    const modelFile = tinyModel();
    const common = { modelFile, host: '127.0.0.1', port: 0, maxQueue: 64, threads: 1, slots: 4, contextSize: 256, gpu: 'none' as const };
    [mono, split] = await Promise.all([
      startRealServer({ ...common, deployment: 'mono' }),
      startRealServer({ ...common, deployment: 'split', promptWorkers: 1, tokenWorkers: 1 }),
    ]);
  });
  after(async () => {
    await Promise.all([mono?.close(), split?.close()]);
    cleanup();
  });

  it('monolithic and split return identical token ids (and texts) for ten prompts, greedy', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const p = prompt(8 + 5 * i, i);
      const stream = i % 2 === 1;
      const [a, b] = await Promise.all([ids(mono.server.url, p, stream), ids(split.server.url, p, stream)]);
      assert.equal(a.ids.length, OUT);
      assert.deepEqual(b.ids, a.ids, `prompt ${i}`);
      assert.equal(b.text, a.text, `prompt ${i}`);
      for (const id of a.ids) assert.ok(Number.isInteger(id) && id >= 0 && id < TINY_SHAPE.vocab);
      assert.notEqual(a.text, ' tok'.repeat(OUT), "the model's text, not the emulator's");
      seen.add(a.ids.join(','));
    }
    // The prompt's ids reach the model: prompts of one length but other ids give other outputs.
    assert.ok(seen.size > 1, 'outputs depend on the prompt ids');
    const [x, y] = await Promise.all([ids(mono.server.url, prompt(12, 1), false), ids(mono.server.url, prompt(12, 2), false)]);
    assert.notDeepEqual(x.ids, y.ids, 'same length, other ids: other tokens');
  });

  it("logprobs when asked: the sampled tokens' log-probabilities, the same from monolithic and split", async () => {
    const p = prompt(20, 3);
    const body = { prompt: p, max_tokens: OUT, ignore_eos: true, logprobs: 0, return_token_ids: true };
    const [a, b] = await Promise.all([post(mono.server.url, '/v1/completions', body), post(split.server.url, '/v1/completions', body)]);
    const ca = (JSON.parse(a.text) as Json).choices[0];
    const cb = (JSON.parse(b.text) as Json).choices[0];
    assert.deepEqual(cb.token_ids, ca.token_ids);
    const la = ca.logprobs;
    assert.equal(la.token_logprobs.length, OUT);
    assert.equal(la.tokens.join(''), ca.text);
    assert.deepEqual(la.text_offset[0], 0);
    for (const x of la.token_logprobs) assert.ok(x <= 0 && x > -20, `logprob ${x}`);
    cb.logprobs.token_logprobs.forEach((x: number, i: number) => {
      assert.ok(Math.abs(x - la.token_logprobs[i]) < 1e-3, `token ${i}: ${x} vs ${la.token_logprobs[i]}`);
    });
    // Streamed, every chunk carries its token's; without logprobs asked, null.
    const st = await post(split.server.url, '/v1/completions', { ...body, stream: true });
    const chunks = (sse(st.text).filter((e) => e !== '[DONE]') as Json[]).filter((e) => e.choices.length > 0);
    assert.deepEqual(chunks.flatMap((e) => e.choices[0].logprobs.token_logprobs).length, OUT);
    const plain = await post(mono.server.url, '/v1/completions', { prompt: p, max_tokens: 2 });
    assert.equal((JSON.parse(plain.text) as Json).choices[0].logprobs, null);
    // Chat shape.
    const chat = await post(mono.server.url, '/v1/chat/completions', {
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 3,
      ignore_eos: true,
      logprobs: true,
    });
    const content = (JSON.parse(chat.text) as Json).choices[0].logprobs.content as Json[];
    assert.equal(content.length, 3);
    for (const t of content) assert.ok(typeof t.token === 'string' && t.logprob <= 0 && Array.isArray(t.bytes));
  });

  it('without ignore_eos the output length is the one rule both engines share', async () => {
    for (let i = 0; i < 4; i++) {
      const p = prompt(10 + i, 40 + i);
      const r = await post(mono.server.url, '/v1/completions', { prompt: p, max_tokens: 12, min_tokens: 2 });
      assert.equal(r.status, 200, r.text);
      const j = JSON.parse(r.text) as Json;
      const plan = planOutput(12, 2, false, hashIds(p));
      assert.equal(j.usage.completion_tokens, plan.tokens);
      assert.equal(j.choices[0].finish_reason, plan.finishReason);
    }
  });

  it('an id outside the vocabulary is refused with 400 naming its index', async () => {
    const p = prompt(5);
    p[3] = TINY_SHAPE.vocab;
    const r = await post(mono.server.url, '/v1/completions', { prompt: p, max_tokens: 2 });
    assert.equal(r.status, 400);
    const e = (JSON.parse(r.text) as Json).error;
    assert.equal(e.param, 'prompt[3]');
    assert.match(e.message, new RegExp(`token id ${TINY_SHAPE.vocab} is outside the model's vocabulary \\(ids 0 to ${TINY_SHAPE.vocab - 1}\\)`));
  });

  it('a dead token worker: one-token requests still served by the prompt worker; longer ones refused naming the dead worker', async () => {
    const pid = split.cluster.workerPids().get('token-0');
    assert.ok(pid, 'token-0 runs');
    process.kill(pid!, 'SIGKILL');
    for (let i = 0; i < 100 && split.cluster.workerPids().has('token-0'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!split.cluster.workerPids().has('token-0'), 'token-0 seen dead');
    const one = await post(split.server.url, '/v1/completions', { prompt: prompt(12), max_tokens: 1, return_token_ids: true });
    assert.equal(one.status, 200, one.text);
    assert.equal((JSON.parse(one.text) as Json).choices[0].token_ids.length, 1);
    const two = await post(split.server.url, '/v1/completions', { prompt: prompt(12), max_tokens: 2, ignore_eos: true });
    assert.equal(two.status, 503, two.text);
    const msg = (JSON.parse(two.text) as Json).error.message as string;
    assert.match(msg, /^the real-inference workers could not serve the request: no token workers left \(token-0 exited \(SIGKILL\)\)/);
    assert.doesNotMatch(msg, /emulated|prompt and token/);
  });
});
