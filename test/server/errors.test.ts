/** Bad requests, admission control, disconnects, engine failures and shutdown, over a fake cluster. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { RealClock } from '../../src/wallclock.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { FakeCluster } from './fake-cluster.js';
import { call, post, sse } from './helpers.js';

const MODEL = { name: 'fake-model', maxContextTokens: 1000 };

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Open a streaming completion with node:http; resolves once the first body bytes arrived. */
function openStream(base: string, body: unknown): Promise<{ req: http.ClientRequest; res: http.IncomingMessage; first: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.setEncoding('utf8');
      res.once('data', (d: string) => resolve({ req, res, first: d }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('server errors (fake cluster)', () => {
  let srv: RunningServer;
  let cluster: FakeCluster;
  let base: string;
  before(async () => {
    const clock = new RealClock(1);
    cluster = new FakeCluster(clock, { ttft: 0.01, itl: 0.01, failOverPromptTokens: 500 });
    srv = await startServer({ cluster, clock, model: MODEL, port: 0, maxQueue: 3, maxBodyBytes: 100_000 });
    base = srv.url;
  });
  after(async () => {
    await srv.close();
  });

  const cases: [string, string, unknown, string | null, string][] = [
    ['malformed JSON', '/v1/completions', '{"prompt": [1,2', null, 'invalid_json'],
    ['body not an object', '/v1/completions', '[1,2,3]', null, 'invalid_type'],
    ['missing prompt', '/v1/completions', { max_tokens: 3 }, 'prompt', 'missing_field'],
    ['prompt of the wrong type', '/v1/completions', { prompt: 42 }, 'prompt', 'invalid_type'],
    ['negative token id', '/v1/completions', { prompt: [1, -2] }, 'prompt[1]', 'invalid_value'],
    ['empty prompt array', '/v1/completions', { prompt: [] }, 'prompt', 'invalid_value'],
    ['fractional token id', '/v1/completions', { prompt: [[1], [2.5]] }, 'prompt[1][0]', 'invalid_value'],
    ['token id 1e300 (an integer to JavaScript)', '/v1/completions', '{"prompt": [1, 2, 1e300]}', 'prompt[2]', 'invalid_value'],
    ['token id past int32', '/v1/completions', { prompt: [[1], [0, 2 ** 31]] }, 'prompt[1][1]', 'invalid_value'],
    ['mixed prompt array', '/v1/completions', { prompt: ['a', [1]] }, 'prompt[1]', 'invalid_type'],
    ['max_tokens as a string', '/v1/completions', { prompt: 'x', max_tokens: '5' }, 'max_tokens', 'invalid_type'],
    ['max_tokens 0', '/v1/completions', { prompt: 'x', max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    ['max_tokens fractional', '/v1/completions', { prompt: 'x', max_tokens: 2.5 }, 'max_tokens', 'invalid_type'],
    ['stream not a boolean', '/v1/completions', { prompt: 'x', stream: 'yes' }, 'stream', 'invalid_type'],
    ['unknown model', '/v1/completions', { prompt: 'x', model: 'gpt-9' }, 'model', 'model_not_found'],
    ['prompt longer than the context', '/v1/completions', { prompt: Array(1000).fill(1) }, 'prompt', 'context_length_exceeded'],
    ['prompt + max_tokens over the context', '/v1/completions', { prompt: Array(900).fill(1), max_tokens: 200 }, 'max_tokens', 'context_length_exceeded'],
    ['stream_options without stream', '/v1/completions', { prompt: 'x', stream_options: { include_usage: true } }, 'stream_options', 'invalid_value'],
    ['n > 1', '/v1/completions', { prompt: 'x', n: 2 }, 'n', 'invalid_value'],
    ['chat without messages', '/v1/chat/completions', { max_tokens: 3 }, 'messages', 'missing_field'],
    ['chat with empty messages', '/v1/chat/completions', { messages: [] }, 'messages', 'invalid_value'],
    ['chat message content of the wrong type', '/v1/chat/completions', { messages: [{ role: 'user', content: 7 }] }, 'messages[0].content', 'invalid_type'],
    [
      'chat max_completion_tokens 0',
      '/v1/chat/completions',
      { messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 0 },
      'max_completion_tokens',
      'invalid_value',
    ],
    [
      'chat prompt longer than the context',
      '/v1/chat/completions',
      { messages: [{ role: 'user', content: 'x'.repeat(4000) }] },
      'messages',
      'context_length_exceeded',
    ],
  ];
  for (const [name, path, body, param, code] of cases) {
    it(`400 on ${name}`, async () => {
      const r = typeof body === 'string' ? await call(base, 'POST', path, undefined, body) : await post(base, path, body);
      assert.equal(r.status, 400, r.text);
      const e = JSON.parse(r.text).error;
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, param);
      assert.equal(e.code, code);
      assert.equal(typeof e.message, 'string');
      if (param) assert.ok(e.message.includes(param.split('[')[0]!), e.message);
    });
  }

  it('413 on a body over the limit', async () => {
    const r = await post(base, '/v1/completions', { prompt: Array(30_000).fill(12345) });
    assert.equal(r.status, 413);
    assert.equal(JSON.parse(r.text).error.code, 'body_too_large');
  });

  it('keeps serving after bad requests', async () => {
    assert.equal((await call(base, 'GET', '/health')).status, 200);
  });

  it('404 on an unknown route, 405 with Allow on a wrong method', async () => {
    const a = await call(base, 'GET', '/v1/nothing');
    assert.equal(a.status, 404);
    assert.equal(JSON.parse(a.text).error.code, 'not_found');
    const b = await call(base, 'GET', '/v1/completions');
    assert.equal(b.status, 405);
    assert.equal(b.headers['allow'], 'POST');
    const c = await call(base, 'POST', '/metrics', {});
    assert.equal(c.status, 405);
    assert.equal(c.headers['allow'], 'GET, HEAD');
  });

  it('429 with Retry-After past --max-queue, and admits again once requests finish', async () => {
    const body = { prompt: [1, 2], max_tokens: 30, ignore_eos: true };
    const running = [post(base, '/v1/completions', body), post(base, '/v1/completions', body), post(base, '/v1/completions', body)];
    await until(() => cluster.inFlight() === 3);
    const r = await post(base, '/v1/completions', body);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(JSON.parse(r.text).error.code, 'rate_limit_exceeded');
    for (const x of await Promise.all(running)) assert.equal(x.status, 200);
    assert.equal((await post(base, '/v1/completions', { ...body, max_tokens: 1 })).status, 200);
  });

  it('a client that disconnects mid-stream cancels its engine request', async () => {
    const before = cluster.cancelled;
    const { req, res, first } = await openStream(base, { prompt: [1, 2, 3], max_tokens: 500, ignore_eos: true, stream: true });
    assert.match(first, /^data: /);
    assert.equal(cluster.inFlight(), 1);
    res.destroy();
    req.destroy();
    await until(() => cluster.inFlight() === 0);
    assert.equal(cluster.cancelled, before + 1);
    await until(() => srv.activeRequests() === 0);
  });

  it('an engine failure ends the stream with an error event and [DONE], and is a 503 when not streaming', async () => {
    const r = await post(base, '/v1/completions', { prompt: Array(600).fill(1), max_tokens: 2, stream: true });
    assert.equal(r.status, 200);
    const ev = sse(r.text) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(ev[0].error.code, 'engine_failed');
    assert.equal(ev.at(-1), '[DONE]');
    const n = await post(base, '/v1/completions', { prompt: Array(600).fill(1), max_tokens: 2 });
    assert.equal(n.status, 503);
    assert.equal(JSON.parse(n.text).error.type, 'server_error');
  });
});

describe('server shutdown', () => {
  it('close() ends open streams with an error event and [DONE], cancels engine work, refuses new connections', async () => {
    const clock = new RealClock(1);
    const cluster = new FakeCluster(clock, { ttft: 0.01, itl: 0.01 });
    const srv = await startServer({ cluster, clock, model: MODEL, port: 0 });
    const { res, first } = await openStream(srv.url, { prompt: [1], max_tokens: 900, ignore_eos: true, stream: true });
    let rest = first;
    res.on('data', (d: string) => (rest += d));
    const ended = new Promise<void>((r) => res.on('end', () => r()));
    await srv.close();
    await ended;
    const ev = sse(rest) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(ev.at(-2).error.code, 'server_shutdown');
    assert.equal(ev.at(-1), '[DONE]');
    assert.equal(cluster.inFlight(), 0);
    await assert.rejects(call(srv.url, 'GET', '/health'));
  });
});
