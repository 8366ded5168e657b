/**
 * The client decodes the body as UTF-8 across reads: a byte-order mark at the start is dropped (the first
 * event still counts) and a multi-byte character split between two writes arrives whole. The server
 * writes its pieces with pauses so they reach the client as separate reads.
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
    assert.equal(r.status, 'ok', r.error);
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
    assert.equal(r.status, 'error');
    assert.equal(r.errorCode, 'SB_TARGET_ERROR');
    assert.match(r.error ?? '', /voilà ✓ done/);
  } finally {
    await client.destroy();
    await s.close();
  }
});
