/**
 * The reference backend's HTTP face (node:http, keep-alive, no Nagle): OpenAI-compatible routes over an
 * emulated cluster (`Cluster` from the engine), `/health` and `/metrics`. Bad requests get an OpenAI-style
 * HTTP error and the server keeps serving; nothing a client sends can crash it.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock, Cluster } from '../engine/index.js';
import { Generation } from './generation.js';
import { HttpError } from './http-error.js';
import { ServerMetrics } from './metrics.js';
import { CLOCK_CHECK_ANCHOR_MAX_AGE_MS, wallNowMs } from '../wallclock.js';
import { parseGeneration, parseJsonBody, type Endpoint, type ServedModel } from './openai.js';

export interface ServerOptions {
  readonly cluster: Cluster;
  /**
   * The cluster's clock (a RealClock): `timeScale` converts engine seconds to wall seconds, `realNow()`
   * reads the monotonic clock even inside callbacks (to measure emission delay), `close()` stops it.
   */
  readonly clock: ServerClock;
  readonly model: ServedModel;
  readonly host?: string;
  readonly port?: number;
  /** Engine requests in flight beyond which new requests get 429 (default DEFAULT_MAX_QUEUE). */
  readonly maxQueue?: number;
  /** Largest request body accepted (bytes). */
  readonly maxBodyBytes?: number;
  /** Wall milliseconds between energy-integration samples. */
  readonly energySampleMs?: number;
}

export type ServerClock = Clock & { readonly timeScale?: number; close?(): void; realNow?(): number };

export const DEFAULT_MAX_QUEUE = 10_000;
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Seconds a client told to back off (429) should wait. */
export const RETRY_AFTER_S = 1;

export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly metrics: ServerMetrics;
  /** Generations (HTTP requests) in flight. */
  activeRequests(): number;
  /** Stop accepting, end open streams (error event + [DONE]), close connections. Idempotent. */
  close(): Promise<void>;
}

type Method = 'GET' | 'POST';
const ROUTES: Record<string, Method> = {
  '/v1/completions': 'POST',
  '/v1/chat/completions': 'POST',
  '/v1/models': 'GET',
  '/health': 'GET',
  '/metrics': 'GET',
  '/time': 'GET',
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > limit) tooLarge = true;
      else parts.push(b);
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      if (tooLarge) reject(new HttpError(413, `request body larger than ${limit} bytes`, { code: 'body_too_large' }));
      else resolve(Buffer.concat(parts).toString('utf8'));
    });
    req.on('error', reject);
    // A client that goes away mid-body: settle, so nothing waits on it (the reply goes nowhere).
    req.on('close', () => {
      if (!ended) reject(new HttpError(400, 'client closed the connection before the body ended', { code: 'incomplete_body' }));
    });
  });
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { cluster, clock, model } = opts;
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const metrics = new ServerMetrics(cluster, clock, model.name);
  const active = new Set<Generation>();
  let closing = false;
  let closed: Promise<void> | undefined;

  const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      // Last line of defence: never let a request crash the process.
      const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`);
      if (!res.headersSent) sendJson(res, err.status, err.body(), err.headers as Record<string, string>);
      else if (!res.writableEnded) res.end();
    });
  });
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  server.requestTimeout = 0;
  server.on('connection', (s: Socket) => s.setNoDelay(true));
  server.on('clientError', (_e, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const route = ROUTES[path];
    const reply = (err: HttpError): void => {
      metrics.countHttp(route ? path : 'other', err.status);
      sendJson(res, err.status, err.body(), err.headers as Record<string, string>);
    };
    if (!route) {
      req.resume();
      return reply(new HttpError(404, `no route ${req.method} ${path}`, { type: 'not_found_error', code: 'not_found' }));
    }
    if (method !== route) {
      req.resume();
      return reply(
        new HttpError(405, `method ${req.method} not allowed on ${path}; use ${route}`, {
          code: 'method_not_allowed',
          headers: { Allow: route === 'GET' ? 'GET, HEAD' : route },
        }),
      );
    }
    if (closing) {
      req.resume();
      return reply(new HttpError(503, 'server shutting down', { code: 'server_shutdown', headers: { Connection: 'close' } }));
    }
    switch (path) {
      case '/time':
        // Clock reference for sharded replays (src/scale/clock.ts): this process's wall clock, epoch ms.
        metrics.countHttp(path, 200);
        return sendJson(res, 200, { wall_ms: wallNowMs(CLOCK_CHECK_ANCHOR_MAX_AGE_MS) }, { 'Cache-Control': 'no-store' });
      case '/health':
        metrics.countHttp(path, 200);
        return sendJson(res, 200, { status: 'ok', model: model.name, in_flight: cluster.inFlight() });
      case '/v1/models':
        metrics.countHttp(path, 200);
        return sendJson(res, 200, {
          object: 'list',
          data: [
            { id: model.name, object: 'model', created: 0, owned_by: 'splitbench', root: model.name, max_model_len: model.maxContextTokens },
          ],
        });
      case '/metrics': {
        const text = await metrics.render();
        metrics.countHttp(path, 200);
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(text) });
        return void res.end(text);
      }
    }
    const endpoint: Endpoint = path === '/v1/chat/completions' ? 'chat' : 'completions';
    let gen: Generation;
    try {
      const body = parseJsonBody(await readBody(req, maxBody));
      const parsed = parseGeneration(endpoint, body, model);
      const inFlight = cluster.inFlight();
      if (inFlight + parsed.prompts.length > maxQueue) {
        throw new HttpError(429, `server at capacity: ${inFlight} requests in flight (max queue ${maxQueue}); retry later`, {
          type: 'rate_limit_error',
          code: 'rate_limit_exceeded',
          headers: { 'Retry-After': String(RETRY_AFTER_S) },
        });
      }
      if (closing) throw new HttpError(503, 'server shutting down', { code: 'server_shutdown', headers: { Connection: 'close' } });
      if (res.destroyed || !res.socket || res.socket.destroyed) return; // the client left while we read its body
      gen = new Generation(parsed, res, cluster, clock, {
        onEmit: (d) => metrics.observeEmitDelay(d),
        onEnd: (_outcome, status) => {
          active.delete(gen);
          metrics.countHttp(path, status);
        },
      });
    } catch (e) {
      if (e instanceof HttpError) return reply(e);
      throw e;
    }
    active.add(gen);
    gen.start();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8000, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {
    /* post-listen socket errors are per connection; keep serving */
  });
  const sampler = setInterval(() => metrics.sampleEnergy(), opts.energySampleMs ?? 50);
  sampler.unref();

  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    metrics,
    activeRequests: () => active.size,
    close(): Promise<void> {
      if (closed) return closed;
      closing = true;
      clearInterval(sampler);
      closed = new Promise<void>((resolve) => {
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          clearTimeout(force);
          clock.close?.();
          resolve();
        };
        server.close(() => finish());
        for (const g of [...active]) g.shutdown();
        server.closeIdleConnections();
        // Connections still busy (a client slow to read its last bytes) get a short grace, then are cut.
        const force = setTimeout(() => {
          server.closeAllConnections();
          finish();
        }, 2000);
        force.unref();
      });
      return closed;
    },
  };
}
