/**
 * The streaming client's transport: it decodes the body as UTF-8 across reads (a byte-order mark at the
 * start is dropped, the first event still counts; a multi-byte character split between two writes
 * arrives whole; the server writes its pieces with pauses so they reach the client as separate reads),
 * and `warm(n)` opens connections that the run's requests then reuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoadClient } from '../../src/load/client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function serveBytes(pieces: readonly Buffer[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const p of pieces) {
        res.write(p);
        await sleep(30);
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const timeouts = { connectS: 5, firstTokenS: 5, betweenTokensS: 5, totalS: 10 };

test('a BOM split over two reads is dropped and the first event still counts', async () => {
  const ev = (i: number, finish: string | null): string =>
    `data: ${JSON.stringify({ choices: [{ index: 0, text: 'x', finish_reason: finish }], usage: { prompt_tokens: 1, completion_tokens: i } })}\n\n`;
  const body = Buffer.from('\uFEFF' + ev(1, null) + ev(2, 'length') + 'data: [DONE]\n\n', 'utf8');
  const s = await serveBytes([body.subarray(0, 2), body.subarray(2, 20), body.subarray(20)]);
  const client = new LoadClient({ url: s.url, headers: { 'content-type': 'application/json' }, timeouts });
  try {
    const r = await client.stream('/v1/completions', '{}', performance.now());
    assert.deepEqual(r.outcome, { kind: 'ok' });
    assert.equal(r.stream?.tokens, 2);
    assert.equal(r.stream?.chunkTokens.length, 2);
  } finally {
    await client.destroy();
    await s.close();
  }
});

test('a multi-byte character split between reads arrives whole (seen in the error excerpt)', async () => {
  const body = Buffer.from(`data: ${JSON.stringify({ error: { message: 'voilà ✓ done' } })}\n\n`, 'utf8');
  const at = body.indexOf(Buffer.from('✓', 'utf8')) + 1; // inside the three bytes of ✓
  const s = await serveBytes([body.subarray(0, at), body.subarray(at)]);
  const client = new LoadClient({ url: s.url, headers: { 'content-type': 'application/json' }, timeouts });
  try {
    const r = await client.stream('/v1/completions', '{}', performance.now());
    assert.equal(r.outcome.kind, 'error');
    assert.equal(r.outcome.kind === 'error' ? r.outcome.code : undefined, 'SB_TARGET_ERROR');
    assert.match(r.outcome.kind === 'error' ? r.outcome.message : '', /voilà ✓ done/);
  } finally {
    await client.destroy();
    await s.close();
  }
});

test('a multi-byte character split between reads after reads that each ended in ASCII arrives whole', async () => {
  const first = Buffer.from(`data: ${JSON.stringify({ choices: [{ index: 0, text: 'é', finish_reason: null }] })}\n\n`, 'utf8');
  const body = Buffer.from(`data: ${JSON.stringify({ error: { message: 'voilà ✓ done' } })}\n\n`, 'utf8');
  const at = body.indexOf(Buffer.from('✓', 'utf8')) + 2; // inside the three bytes of ✓
  const s = await serveBytes([first, body.subarray(0, at), body.subarray(at)]);
  const client = new LoadClient({ url: s.url, headers: { 'content-type': 'application/json' }, timeouts });
  try {
    const r = await client.stream('/v1/completions', '{}', performance.now());
    assert.equal(r.stream?.tokens, 1);
    assert.equal(r.outcome.kind === 'error' ? r.outcome.code : undefined, 'SB_TARGET_ERROR');
    assert.match(r.outcome.kind === 'error' ? r.outcome.message : '', /voilà ✓ done/);
  } finally {
    await client.destroy();
    await s.close();
  }
});

test('warm(n) opens n connections with GETs (no completion asked for) that the run then reuses', async () => {
  const sockets = new Set<unknown>();
  const warmSockets = new Set<unknown>();
  let onWarm = 0;
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    if (req.method === 'POST' && warmSockets.has(req.socket)) onWarm++;
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.method === 'GET') {
      // Answer once every warm-up GET is in: they must each hold a connection of their own.
      setTimeout(() => res.end('{"object":"list","data":[]}'), 50);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end('data: {"choices":[{"text":"x","finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\ndata: [DONE]\n\n');
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new LoadClient({ url, headers: { 'content-type': 'application/json' }, timeouts });
  try {
    await client.warm(4);
    assert.deepEqual(seen, Array(4).fill('GET /v1/models'));
    assert.equal(sockets.size, 4);
    for (const sk of sockets) warmSockets.add(sk);
    for (let k = 0; k < 3; k++) assert.equal((await client.stream('/v1/completions', '{}', performance.now())).outcome.kind, 'ok');
    // undici's pool may open one more for the first request after a burst; the rest reuse warm ones.
    assert.ok(onWarm >= 2, `${onWarm} of 3 requests went over a warm connection`);
  } finally {
    await client.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(() => r(undefined)));
  }
});
