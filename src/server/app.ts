/**
 * The reference backend's HTTP face (node:http, keep-alive, no Nagle): OpenAI-compatible routes over an
 * emulated cluster (`Cluster` from the engine), `/health` and `/metrics`. Bad requests get an OpenAI-style
 * HTTP error and the server keeps serving; nothing a client sends can crash it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock, Cluster, IterationEvent } from '../engine/index.js';
import { Generation, type GenerationHooks } from './generation.js';
import { badRequest, HttpError } from './http-error.js';
import { ServerMetrics } from './metrics.js';
import { CLOCK_CHECK_ANCHOR_MAX_AGE_MS, wallNowMs } from '../wallclock.js';
import { parseGeneration, parseJsonBody, type Endpoint, type GenerationRequest, type ServedModel } from './openai.js';

/** Tokens per KV block in the transfer parameters' `remote_block_ids` (vLLM's default block size). */
const KV_BLOCK_TOKENS = 16;

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
  /** Largest request body accepted (bytes); larger gets 413 (default DEFAULT_MAX_BODY_BYTES). */
  readonly maxBodyBytes?: number;
  /**
   * Request-body bytes buffered across all connections at once beyond which a body gets 503 `server_busy`
   * (default DEFAULT_MAX_BUFFERED_BYTES): the bound on memory held by bodies still arriving.
   */
  readonly maxBufferedBytes?: number;
  /** Milliseconds from a request's first byte until its headers must be complete (default DEFAULT_HEADER_TIMEOUT_MS). */
  readonly headerTimeoutMs?: number;
  /** Milliseconds from the end of the headers until the body must be complete (default DEFAULT_BODY_TIMEOUT_MS). */
  readonly bodyTimeoutMs?: number;
  /** When set, `/v1/*` routes need `Authorization: Bearer <apiKey>` (401 otherwise). */
  readonly apiKey?: string;
  /** Wall milliseconds between energy-integration samples. */
  readonly energySampleMs?: number;
  /** The GPU product name of a machine type (DCGM's `modelName` label); default: the machine type. */
  readonly gpuModel?: (machineType: string) => string;
  /**
   * One endpoint of a disaggregated deployment (vLLM's `kv_transfer_params` protocol): `prefill` serves the
   * prefill leg (`do_remote_decode`) and answers with the transfer parameters; `decode` serves the decode leg
   * (`do_remote_prefill`), its KV coming from a `promptMachine` (machine type). Absent: an ordinary server.
   */
  readonly role?: { readonly role: 'prefill' | 'decode'; readonly promptMachine?: string };
  /** What serves the requests, for failure messages (default "the emulated cluster"). */
  readonly engineLabel?: string;
  /** Where the cluster's iterations can be watched (vLLM's `iteration_tokens_total`); absent: not observed. */
  readonly onIteration?: (listener: (e: IterationEvent) => void) => void;
}

export type ServerClock = Clock & { readonly timeScale?: number; close?(): void; realNow?(): number };

export const DEFAULT_MAX_QUEUE = 10_000;
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_BUFFERED_BYTES = 128 * 1024 * 1024;
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** How often node:http checks connections against the header timeout (its default is 30 s). */
const CONNECTION_CHECK_MS = 1000;
/** After an error reply to a request whose body did not arrive in full, the connection is cut this much later. */
const CLOSE_GRACE_MS = 1000;
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

/** Request-body bytes held across all connections. */
interface BodyBudget {
  used: number;
  readonly cap: number;
}

/**
 * Read a request body into memory, refusing it as soon as it is too large (413), as soon as the bytes held by
 * all bodies arriving at once would pass the global cap (503), or when it is not complete `timeoutMs` after
 * the headers (408). Refusals stop buffering at once; the caller replies and cuts the connection.
 */
function readBody(req: IncomingMessage, limit: number, budget: BodyBudget, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new HttpError(413, `request body larger than ${limit} bytes (Content-Length ${declared})`, { code: 'body_too_large' }));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: HttpError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      budget.used -= size;
      req.off('data', onData);
      if (err) {
        parts.length = 0;
        // Whatever still arrives is read and dropped (the connection is closed after the reply): not reading
        // it would make closing reset the connection, and the client could lose the reply.
        req.resume();
        reject(err);
      } else resolve(Buffer.concat(parts).toString('utf8'));
    };
    const onData = (b: Buffer): void => {
      if (size + b.length > limit) {
        settle(new HttpError(413, `request body larger than ${limit} bytes`, { code: 'body_too_large' }));
        return;
      }
      if (budget.used + b.length > budget.cap) {
        settle(
          new HttpError(503, `server busy: the request bodies being received would pass ${budget.cap} bytes (--max-buffered-mib); retry later`, {
            code: 'server_busy',
            headers: { 'Retry-After': String(RETRY_AFTER_S) },
          }),
        );
        return;
      }
      size += b.length;
      budget.used += b.length;
      parts.push(b);
    };
    const timer = setTimeout(() => {
      settle(new HttpError(408, `request body not complete within ${timeoutMs / 1000} s of its headers`, { code: 'body_timeout' }));
    }, timeoutMs);
    timer.unref();
    req.on('data', onData);
    req.on('end', () => settle(undefined));
    req.on('error', () => settle(new HttpError(400, 'the request body could not be read', { code: 'incomplete_body' })));
    // A client that goes away mid-body: settle, so nothing waits on it (the reply goes nowhere).
    req.on('close', () => settle(new HttpError(400, 'client closed the connection before the body ended', { code: 'incomplete_body' })));
  });
}

/** SHA-256 of a key, so comparing two keys takes the same time whatever they hold. */
const keyDigest = (k: string): Buffer => createHash('sha256').update(k, 'utf8').digest();

/** Whether `authorization` is `Bearer <the key>` (compared in constant time). */
function authorized(authorization: string | undefined, digest: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return m !== null && timingSafeEqual(keyDigest(m[1]!.trim()), digest);
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { cluster, clock, model } = opts;
  const maxQueue = opts.maxQueue ?? DEFAULT_MAX_QUEUE;
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const budget: BodyBudget = { used: 0, cap: opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES };
  const headerTimeoutMs = opts.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const keyHash = opts.apiKey === undefined || opts.apiKey === '' ? undefined : keyDigest(opts.apiKey);
  const metrics = new ServerMetrics(cluster, clock, model.name, {
    maxModelLen: model.maxContextTokens,
    ...(opts.gpuModel ? { gpuModel: opts.gpuModel } : {}),
  });
  opts.onIteration?.((e) => metrics.observeIteration(e));
  const active = new Set<Generation>();
  let closing = false;
  let closed: Promise<void> | undefined;

  // Only the inbound side is timed: node:http stops both timers once a request has arrived in full, so a
  // long streaming response is never cut. `requestTimeout` is the backstop for bodies no route reads.
  const server = http.createServer(
    {
      noDelay: true,
      keepAlive: true,
      headersTimeout: headerTimeoutMs,
      requestTimeout: headerTimeoutMs + bodyTimeoutMs,
      connectionsCheckingInterval: CONNECTION_CHECK_MS,
    },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        // Last line of defence: never let a request crash the process.
        const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`);
        if (!res.headersSent) sendJson(res, err.status, err.body(), err.headers as Record<string, string>);
        else if (!res.writableEnded) res.end();
      });
    },
  );
  server.keepAliveTimeout = 75_000;
  // (node:http's header timer also runs on a connection that has sent nothing yet.)
  server.on('connection', (s: Socket) => s.setNoDelay(true));
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
    const status =
      e.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : e.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroySoon();
    const cut = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    cut.unref();
  });

  /**
   * After an error reply to a request whose body did not arrive in full, close the connection: a lingering
   * close, as web servers do. The reply goes out without `Connection: close` (with it, node:http would
   * close the socket the moment the reply is written, while the client is still sending, and the reset
   * that causes can make the client lose the reply); then our side is shut (FIN) and what still arrives
   * is read and dropped for CLOSE_GRACE_MS, after which the socket is destroyed.
   */
  function closeAfterReply(req: IncomingMessage, res: ServerResponse): void {
    if (req.complete) return;
    res.once('finish', () => {
      if (req.complete) return; // the rest arrived meanwhile: the connection is in step, keep it
      const sock = req.socket;
      req.resume();
      sock.end();
      const cut = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS);
      cut.unref();
      sock.once('close', () => clearTimeout(cut));
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const route = ROUTES[path];
    const reply = (err: HttpError): void => {
      metrics.countHttp(route ? path : 'other', err.status);
      closeAfterReply(req, res);
      sendJson(res, err.status, err.body(), err.headers as Record<string, string>);
    };
    if (keyHash && path.startsWith('/v1/') && !authorized(req.headers.authorization, keyHash)) {
      req.resume();
      const given = req.headers.authorization === undefined ? 'no Authorization header' : 'a wrong API key';
      return reply(
        new HttpError(401, `this server needs an API key (Authorization: Bearer KEY); the request had ${given}`, {
          code: 'invalid_api_key',
          headers: { 'WWW-Authenticate': 'Bearer' },
        }),
      );
    }
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
            {
              id: model.name,
              object: 'model',
              created: 0,
              owned_by: 'splitbench',
              root: model.name,
              max_model_len: model.maxContextTokens,
              // Not in vLLM's list: a real model's vocabulary, so a load generator keeps token ids below it.
              ...(model.vocabSize === undefined ? {} : { vocab_size: model.vocabSize }),
            },
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
      const body = parseJsonBody(await readBody(req, maxBody, budget, bodyTimeoutMs));
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
      const pd = roleHooks(parsed);
      if (res.destroyed || !res.socket || res.socket.destroyed) return; // the client left while we read its body
      gen = new Generation(parsed, res, cluster, clock, {
        ...pd,
        ...(opts.engineLabel ? { engineLabel: opts.engineLabel } : {}),
        onEmit: (d) => metrics.observeEmitDelay(d),
        onFinished: (stats) => metrics.observeRequest(stats),
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

  /** The role endpoint's checks and hooks for one request (none on an ordinary server). */
  function roleHooks(parsed: GenerationRequest): Pick<GenerationHooks, 'remote' | 'kvReply'> {
    const role = opts.role?.role;
    if (!role) return {};
    const kv = parsed.kvTransfer;
    if (role === 'prefill') {
      if (!kv?.doRemoteDecode) {
        throw badRequest(
          'kv_transfer_params.do_remote_decode: this server is the prefill endpoint of a disaggregated deployment; it serves prefill requests (kv_transfer_params: {do_remote_decode: true}) from a P/D proxy',
          'kv_transfer_params',
          'wrong_role',
        );
      }
      if (parsed.stream) throw badRequest('stream: the prefill leg of a disaggregated request is not streamed (stream: false)', 'stream', 'wrong_role');
      if (parsed.prompts.length !== 1) throw badRequest('prompt: the prefill endpoint takes one prompt per request', 'prompt', 'wrong_role');
      return {
        kvReply: (ext, promptTokens, id) => {
          const machine = ext ? cluster.machines().find((m) => m.id === ext.prompt_machine) : undefined;
          return {
            do_remote_prefill: true,
            do_remote_decode: false,
            // Unique across endpoints: machine ids repeat from one role endpoint to another.
            remote_engine_id: ext ? `${boundHost}:${boundPort}/${ext.prompt_machine}` : null,
            remote_block_ids: Array.from({ length: Math.ceil(promptTokens / KV_BLOCK_TOKENS) }, (_, i) => i),
            remote_host: boundHost,
            remote_port: boundPort,
            remote_request_id: id,
            tp_size: machine?.gpus ?? 1,
            splitbench_prefill_s: ext?.prefill_s ?? 0,
            splitbench_machine_type: machine?.type ?? null,
          };
        },
      };
    }
    if (!kv?.doRemotePrefill) {
      throw badRequest(
        "kv_transfer_params.do_remote_prefill: this server is the decode endpoint of a disaggregated deployment; it serves decode requests carrying the prefill endpoint's kv_transfer_params (do_remote_prefill: true) from a P/D proxy",
        'kv_transfer_params',
        'wrong_role',
      );
    }
    const from = kv.machineType ?? opts.role?.promptMachine;
    if (!from) throw badRequest('kv_transfer_params.splitbench_machine_type: the prompt machine type is unknown', 'kv_transfer_params', 'invalid_value');
    return {
      remote: {
        fromMachine: from,
        ...(kv.prefillS !== undefined ? { prefillSeconds: kv.prefillS } : {}),
        ...(kv.remoteEngineId !== undefined ? { promptMachine: kv.remoteEngineId } : {}),
      },
    };
  }
  let boundHost = '';
  let boundPort = 0;
  if (opts.role?.role === 'decode' && !cluster.submitPrefilled) {
    throw new Error('a decode endpoint needs a cluster that takes remote-prefilled requests');
  }

  warmUpRequestPath(model);
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
  boundHost = addr.address;
  boundPort = addr.port;
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

/**
 * Parse and validate a few long synthetic requests before listening, so the first real request pays less JIT
 * warm-up of the JSON and validation path inside its TTFT. Measured with a warm client, first request of a fresh
 * server (BLOOM-176B on baseline-h100, 4,096 ids, 32 tokens, ×1): 13–16 ms above the engine's prefill without it,
 * 8–16 ms with it; the rest is HTTP, SSE and event-loop time the summary shows as the TTFT overhead component.
 */
function warmUpRequestPath(model: ServedModel): void {
  const n = Math.max(1, Math.min(4096, model.maxContextTokens - 32));
  const prompt = Array.from({ length: n }, (_, i) => 1000 + ((i * 7919) % 20000)).map((id) => (model.vocabSize === undefined ? id : id % model.vocabSize));
  const completion = JSON.stringify({ model: model.name, prompt, max_tokens: 16, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
  const chat = JSON.stringify({ model: model.name, messages: [{ role: 'user', content: 'word '.repeat(n) }], max_tokens: 16, stream: true });
  for (let i = 0; i < 20; i++) {
    try {
      parseGeneration('completions', parseJsonBody(completion), model);
      parseGeneration('chat', parseJsonBody(chat), model);
    } catch {
      return; // a model this warm-up does not fit (e.g. a tiny context): nothing to warm
    }
  }
}
