/**
 * A small P/D proxy for the tests, following the documented behaviour of vLLM's disaggregated-serving proxy
 * (tests/v1/kv_connector/nixl_integration/toy_proxy_server.py; see docs/backend.md, "Prefill and decode endpoints"):
 *
 * 1. a new X-Request-Id shared by both legs; the Authorization header is passed on;
 * 2. round-robin pick of a prefill endpoint; a copy of the body with `kv_transfer_params` =
 *    {do_remote_decode: true, do_remote_prefill: false, remote_*: null}, `stream: false`, `max_tokens: 1`
 *    (and `max_completion_tokens: 1` when given), `stream_options` deleted, `min_tokens` popped; POST to the same
 *    path; the reply's `kv_transfer_params` are taken;
 * 3. round-robin pick of a decode endpoint; the original body plus those `kv_transfer_params`, POSTed to the
 *    same path, and the decode endpoint's bytes streamed back unchanged, as `application/json` (as the toy proxy
 *    does, SSE included);
 * 4. any failure before the first byte: a bare HTTP 500.
 * `GET /healthcheck` answers the numbers of prefill and decode endpoints. Beyond the toy proxy, `GET /v1/models` is
 * passed to the first decode endpoint (as SGLang's router and vLLM's Router do), for replay's preflight.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { startServe, type ServeProcess } from './serve-cli.js';

export interface PdProxy {
  readonly url: string;
  /** Requests that failed in the proxy (500). */
  readonly failures: string[];
  close(): Promise<void>;
}

export async function startPdProxy(prefill: readonly string[], decode: readonly string[]): Promise<PdProxy> {
  let pi = 0;
  let di = 0;
  const failures: string[] = [];
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      failures.push((e as Error).message);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('Internal Server Error');
      } else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET' && path === '/healthcheck') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', prefill_instances: prefill.length, decode_instances: decode.length }));
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      req.resume();
      const r = await request(decode[0]! + path);
      res.writeHead(r.statusCode, { 'Content-Type': 'application/json' });
      res.end(await r.body.text());
      return;
    }
    if (req.method !== 'POST' || (path !== '/v1/completions' && path !== '/v1/chat/completions')) {
      req.resume();
      res.writeHead(404);
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': randomUUID() };
    if (typeof req.headers.authorization === 'string') headers.authorization = req.headers.authorization;

    const p: Record<string, unknown> = {
      ...body,
      kv_transfer_params: {
        do_remote_decode: true,
        do_remote_prefill: false,
        remote_engine_id: null,
        remote_block_ids: null,
        remote_host: null,
        remote_port: null,
      },
      stream: false,
      max_tokens: 1,
    };
    if ('max_completion_tokens' in p) p.max_completion_tokens = 1;
    delete p.stream_options;
    delete p.min_tokens;
    delete p.min_completion_tokens;
    const pUrl = prefill[pi++ % prefill.length]!;
    const pr = await request(pUrl + path, { method: 'POST', headers, body: JSON.stringify(p) });
    const pText = await pr.body.text();
    if (pr.statusCode !== 200) throw new Error(`prefill ${pUrl} answered ${pr.statusCode}: ${pText}`);
    const kv = (JSON.parse(pText) as { kv_transfer_params?: unknown }).kv_transfer_params;

    const d = { ...body, ...(kv ? { kv_transfer_params: kv } : {}) };
    const dUrl = decode[di++ % decode.length]!;
    const dr = await request(dUrl + path, { method: 'POST', headers, body: JSON.stringify(d) });
    res.writeHead(dr.statusCode, { 'Content-Type': 'application/json' });
    for await (const c of dr.body) res.write(c as Buffer);
    res.end();
  }

  server.on('connection', (s) => s.setNoDelay(true));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    failures,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** `serve --role prefill` and `serve --role decode` of one split deployment, with a P/D proxy in front. */
export interface PdSetup {
  readonly prefill: ServeProcess;
  readonly decode: ServeProcess;
  readonly proxy: PdProxy;
  close(): Promise<void>;
}

export async function startPdSetup(deployment: string, timeScale: number): Promise<PdSetup> {
  const role = (r: string): Promise<ServeProcess> =>
    startServe(['--deployment', deployment, '--role', r, '--port', '0', '--time-scale', String(timeScale)], { stdin: 'pipe' });
  const [prefill, decode] = await Promise.all([role('prefill'), role('decode')]);
  const proxy = await startPdProxy([prefill.url], [decode.url]);
  return {
    prefill,
    decode,
    proxy,
    async close() {
      await proxy.close();
      for (const s of [prefill, decode]) s.child.kill('SIGTERM');
      await Promise.all([prefill.exited, decode.exited]);
    },
  };
}
