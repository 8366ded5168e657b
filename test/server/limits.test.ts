/**
 * Regression: the HTTP layer's inbound limits and key. Slow headers, stalled bodies, oversized bodies
 * and many half-sent bodies at once are refused and their connections closed; responses are never timed;
 * `/v1/*` can require `Authorization: Bearer KEY`; a non-loopback bind warns on stderr.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { RealClock } from '../../src/wallclock.js';
import { startServer, type ServerOptions, type RunningServer } from '../../src/server/index.js';
import { FakeCluster } from './fake-cluster.js';
import { call, sse } from './helpers.js';
import { startServe } from './serve-cli.js';
import { slowBodies } from './slow-bodies.js';

const MODEL = { name: 'fake-model', maxContextTokens: 2048 };

async function withServer(opts: Partial<ServerOptions>, f: (srv: RunningServer, cluster: FakeCluster) => Promise<void>): Promise<void> {
  const clock = new RealClock(1);
  const cluster = new FakeCluster(clock, { ttft: 0.01, itl: 0.01 });
  const srv = await startServer({ cluster, clock, model: MODEL, host: '127.0.0.1', port: 0, ...opts });
  try {
    await f(srv, cluster);
  } finally {
    await srv.close();
  }
}

interface RawConn {
  readonly socket: net.Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves with the milliseconds from connect to close. */
  readonly closed: Promise<number>;
}

function connect(url: string): Promise<RawConn> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const socket = net.connect(Number(u.port), u.hostname);
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => (got += s));
    socket.on('error', () => undefined); // a reset after the reply is what some tests expect
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - t0)));
    socket.once('connect', () => resolve({ socket, received: () => got, closed }));
    socket.once('error', reject);
  });
}

/** The status and JSON body of the first HTTP response in raw text. */
function firstResponse(raw: string): { status: number; headers: string; body: any } {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
  assert.ok(m, `not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  const len = /content-length: (\d+)/i.exec(m[2]!);
  const text = len ? m[3]!.slice(0, Number(len[1])) : m[3]!;
  return { status: Number(m[1]), headers: m[2]!, body: text === '' ? undefined : JSON.parse(text) };
}

const postHead = (length: number): string => `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe('serve limits: slow and stalled clients', { timeout: 120_000 }, () => {
  it('a socket trickling one header line at a time is answered 408 and closed after the header timeout', async () => {
    await withServer({ headerTimeoutMs: 600 }, async (srv) => {
      const c = await connect(srv.url);
      c.socket.write('GET /health HTTP/1.1\r\n');
      const drip = setInterval(() => c.socket.writable && c.socket.write('X-Slow: 1\r\n'), 150);
      try {
        const ms = await c.closed;
        // Cut by the server, not by the test's own timeout: 600 ms plus the 1 s check interval, with slack
        // for a loaded host (before the fix this socket stayed open 80 s).
        assert.ok(ms < 15_000, `closed after ${ms} ms`);
        assert.match(c.received(), /^HTTP\/1\.1 408 /);
      } finally {
        clearInterval(drip);
      }
    });
  });

  it('a connection that sends nothing is closed after the header timeout', async () => {
    await withServer({ headerTimeoutMs: 500 }, async (srv) => {
      const c = await connect(srv.url);
      const ms = await c.closed;
      assert.ok(ms < 15_000, `closed after ${ms} ms`);
    });
  });

  it('a body that stalls part-way gets 408 body_timeout and the connection is closed', async () => {
    await withServer({ bodyTimeoutMs: 500 }, async (srv, cluster) => {
      const c = await connect(srv.url);
      c.socket.write(`${postHead(1000)}{"prompt": [1, 2, 3`);
      const ms = await c.closed;
      assert.ok(ms < 15_000, `closed after ${ms} ms`);
      const r = firstResponse(c.received());
      assert.equal(r.status, 408);
      assert.equal(r.body.error.code, 'body_timeout');
      assert.equal(cluster.submitted.length, 0);
    });
  });

  it('a streaming response that outlasts both timeouts is not cut (only the inbound side is timed)', async () => {
    const clock = new RealClock(1);
    const cluster = new FakeCluster(clock, { ttft: 0.05, itl: 0.05 });
    const srv = await startServer({ cluster, clock, model: MODEL, host: '127.0.0.1', port: 0, headerTimeoutMs: 200, bodyTimeoutMs: 200 });
    try {
      // 40 tokens × 50 ms ≈ 2 s, ten times either timeout and past node's 1 s connection check.
      const r = await call(srv.url, 'POST', '/v1/completions', { prompt: [1, 2, 3], max_tokens: 40, ignore_eos: true, stream: true });
      assert.equal(r.status, 200);
      const ev = sse(r.text);
      assert.equal(ev.at(-1), '[DONE]');
      const tokens = ev.filter((e) => e !== '[DONE]' && e.choices?.length > 0).length;
      assert.equal(tokens, 40);
    } finally {
      await srv.close();
    }
  });
});

describe('serve limits: request bytes', { timeout: 120_000 }, () => {
  it('a body declared larger than the limit gets 413 before it is sent', async () => {
    await withServer({ maxBodyBytes: 1000 }, async (srv) => {
      const c = await connect(srv.url);
      c.socket.write(postHead(5000));
      await c.closed;
      const r = firstResponse(c.received());
      assert.equal(r.status, 413);
      assert.equal(r.body.error.code, 'body_too_large');
    });
  });

  it('a chunked body gets 413 as soon as it passes the limit, without waiting for its end', async () => {
    await withServer({ maxBodyBytes: 1000, bodyTimeoutMs: 60_000 }, async (srv) => {
      const c = await connect(srv.url);
      const chunk = 'x'.repeat(1500);
      c.socket.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      // The body never ends and the body timeout is a minute away: only the size check can answer.
      await c.closed;
      const r = firstResponse(c.received());
      assert.equal(r.status, 413);
    });
  });

  it('bodies that together pass the global cap get 503 server_busy; the budget is released afterwards', async () => {
    const KiB = 1024;
    await withServer({ maxBodyBytes: 64 * KiB, maxBufferedBytes: 100 * KiB, bodyTimeoutMs: 1500 }, async (srv, cluster) => {
      // Four clients each send 40 KiB of a 60 KiB body and stall: two fit in 100 KiB, the third passes it.
      const conns: RawConn[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await connect(srv.url);
        c.socket.write(postHead(60 * KiB) + ' '.repeat(40 * KiB));
        conns.push(c);
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(conns.map((c) => c.closed));
      const statuses = conns.map((c) => firstResponse(c.received()).status);
      assert.deepEqual(statuses, [408, 408, 503, 503]);
      const busy = firstResponse(conns[2]!.received());
      assert.equal(busy.body.error.code, 'server_busy');
      assert.match(busy.headers, /retry-after: 1/i);
      // Every held byte was given back: a 50 KiB body (more than the 20 KiB a leak of the two stalled
      // bodies would leave) still gets through. Unknown fields are ignored, so padding makes it large.
      const ok = await call(srv.url, 'POST', '/v1/completions', { prompt: [1, 2, 3], max_tokens: 2, pad: 'x'.repeat(50 * KiB) });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(cluster.submitted.length, 1);
    });
  });
});

describe('serve --api-key', { timeout: 120_000 }, () => {
  it('/v1/* needs Authorization: Bearer KEY (401 with an OpenAI-style body otherwise); /health and /metrics stay open', async () => {
    await withServer({ apiKey: 'sekret-1' }, async (srv) => {
      const none = await call(srv.url, 'GET', '/v1/models');
      assert.equal(none.status, 401);
      const body = JSON.parse(none.text);
      assert.equal(body.error.code, 'invalid_api_key');
      assert.equal(body.error.type, 'invalid_request_error');
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      const wrong = await fetch(`${srv.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sekret-2', 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: [1], max_tokens: 1 }),
      });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${srv.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sekret-1', 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: [1], max_tokens: 1 }),
      });
      assert.equal(right.status, 200);
      assert.equal((await call(srv.url, 'GET', '/health')).status, 200);
      assert.equal((await call(srv.url, 'GET', '/metrics')).status, 200);
    });
  });
});

describe('serve: the bind warning and the key from the environment', { timeout: 120_000 }, () => {
  it('`serve --host 0.0.0.0` warns on stderr and takes its key from SPLITBENCH_API_KEY', async () => {
    const s = await startServe(['--deployment', 'baseline-a100', '--host', '0.0.0.0', '--port', '0'], {
      env: { ...process.env, SPLITBENCH_API_KEY: 'from-env' },
    });
    try {
      const url = s.url.replace('0.0.0.0', '127.0.0.1');
      assert.equal((await fetch(`${url}/v1/models`)).status, 401);
      assert.equal((await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer from-env' } })).status, 200);
      assert.match(s.stderr(), /warning: listening on 0\.0\.0\.0, which is not a loopback address.*need the API key/);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  it('a replay sends the key (SPLITBENCH_API_KEY, as OpenAI clients send theirs) and is refused without it', async () => {
    const { runCli } = await import('../cli/helpers.js');
    const os = await import('node:os');
    const path = await import('node:path');
    const s = await startServe(['--deployment', 'baseline-a100', '--port', '0', '--time-scale', '20'], {
      env: { ...process.env, SPLITBENCH_API_KEY: 'k-replay' },
    });
    try {
      const db = path.join(os.tmpdir(), `sb-key-${process.pid}.db`);
      const base = ['replay', '--url', s.url, '--trace', 'conversation', '--window', '0:5', '--time-scale', '20', '--db', db];
      const without = await runCli(base, { env: { SPLITBENCH_API_KEY: '' } });
      assert.equal(without.code, 5, without.stderr);
      assert.match(without.stderr, /401/);
      const withKey = await runCli(base, { env: { SPLITBENCH_API_KEY: 'k-replay' } });
      assert.equal(withKey.code, 0, withKey.stderr);
      assert.match(withKey.stdout + withKey.stderr, /completed/);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});

describe('serve: stalled bodies, end to end (12 sockets, scaled down)', { timeout: 120_000 }, () => {
  it('12 sockets each sending 7.5 MiB of an 8 MiB body then stalling are all answered and closed; RSS stays under idle + cap + 96 MiB', async () => {
    // The full-size figure (12 × 30 of 32 MiB at the defaults) comes from test/bench/serve-slow-bodies.ts.
    const cap = 32;
    const r = await slowBodies({
      sockets: 12,
      sentMib: 7.5,
      bodyMib: 8,
      serveArgs: ['--max-body-mib', '8', '--max-buffered-mib', String(cap), '--body-timeout', '2'],
    });
    const statuses = r.outcomes.map((o) => o.status).sort();
    // Four bodies fit in 32 MiB and time out; the other eight pass the cap and are refused.
    assert.deepEqual(statuses, [...Array(4).fill('408'), ...Array(8).fill('503')]);
    assert.ok(
      r.peakMib - r.idleMib < cap + 96,
      `RSS grew ${(r.peakMib - r.idleMib).toFixed(0)} MiB (idle ${r.idleMib.toFixed(0)}, peak ${r.peakMib.toFixed(0)})`,
    );
    assert.equal(r.healthAfter, 200);
  });
});
