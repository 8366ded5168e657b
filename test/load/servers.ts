/**
 * In-process OpenAI-compatible streaming servers on 127.0.0.1:0 that misbehave on purpose, for the
 * load generator's fault tests. Knobs (per request, from a function of the request number so the
 * preflight probe — request 0 — can be served normally):
 *   ttftMs, itlMs       delay before the first token and between tokens
 *   status              answer this HTTP status (with a JSON error body) instead of streaming
 *   retryAfter          Retry-After header value on error answers
 *   failAfterTokens     after N tokens: send an error object (or reset, with resetMidStream)
 *   resetMidStream      destroy the socket after failAfterTokens tokens
 *   stallMs             pause this long after failAfterTokens (or the first) token, then continue
 *   garbage             send a malformed SSE data line after the first token
 *   dropUsage           no usage anywhere in the stream
 *   finalUsageOnly      usage only in the final chunk (no continuous usage)
 *   neverAnswer         accept the request and never answer
 *   tokensPerChunk      tokens per content chunk (default 1)
 *   extraTokens         stream this many tokens more than asked (negative: fewer)
 *   breakdown           add the `splitbench` breakdown object to the final chunk
 *   endWithoutDone      end the body after the last token, without usage/[DONE]
 *   endAfterTokens      end the body cleanly after N tokens (no finish_reason, no [DONE])
 * The server also counts requests in flight (`maxInFlight`) and logs each finished stream with its
 * prompt length and the epoch ms it ended (`completions`), for tests that cross process boundaries.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Knobs {
  ttftMs?: number;
  itlMs?: number;
  status?: number;
  retryAfter?: string;
  failAfterTokens?: number;
  resetMidStream?: boolean;
  stallMs?: number;
  garbage?: boolean;
  dropUsage?: boolean;
  finalUsageOnly?: boolean;
  neverAnswer?: boolean;
  tokensPerChunk?: number;
  extraTokens?: number;
  breakdown?: boolean;
  endWithoutDone?: boolean;
  endAfterTokens?: number;
}

export interface ReceivedRequest {
  readonly index: number;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

export interface Completion {
  readonly promptLength: number;
  /** performance.timeOrigin + performance.now() when the last byte was written. */
  readonly endEpochMs: number;
}

export interface TestServer {
  readonly url: string;
  readonly received: ReceivedRequest[];
  readonly completions: Completion[];
  /** Most requests in flight at once. */
  readonly maxInFlight: () => number;
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startServer(knobs: Knobs | ((index: number, body: Record<string, unknown>) => Knobs) = {}, model = 'test-model'): Promise<TestServer> {
  const received: ReceivedRequest[] = [];
  const completions: Completion[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<Socket>();
  let closing = false;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model' }] }));
      return;
    }
    if (req.method === 'GET' && req.url === '/health') {
      res.writeHead(200).end('ok');
      return;
    }
    if (req.method !== 'POST' || (req.url !== '/v1/completions' && req.url !== '/v1/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json"}}');
        return;
      }
      const index = received.length;
      received.push({ index, path: req.url!, headers: req.headers, body });
      const k = typeof knobs === 'function' ? knobs(index, body) : knobs;
      inFlight++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      res.on('close', () => inFlight--);
      void serve(req, res, body, k, req.url === '/v1/chat/completions');
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>, k: Knobs, chat: boolean): Promise<void> {
    if (k.neverAnswer) return;
    if (k.status !== undefined && k.status !== 200) {
      const h: Record<string, string> = { 'content-type': 'application/json' };
      if (k.retryAfter !== undefined) h['retry-after'] = k.retryAfter;
      res.writeHead(k.status, h).end(JSON.stringify({ error: { message: `injected status ${k.status}`, type: 'test' } }));
      return;
    }
    const asked = Number(body.max_tokens ?? 16);
    const total = Math.max(0, asked + (k.extraTokens ?? 0));
    const promptTokens = Array.isArray(body.prompt) ? body.prompt.length : 10;
    const per = Math.max(1, k.tokensPerChunk ?? 1);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': keep-alive comment\n\n');
    let gone = false;
    res.on('close', () => (gone = true));
    const chunk = (text: string, produced: number, finish: string | null): string => {
      const c: Record<string, unknown> = {
        id: 'cmpl-test',
        object: chat ? 'chat.completion.chunk' : 'text_completion',
        model,
        choices: [chat ? { index: 0, delta: { content: text }, finish_reason: finish } : { index: 0, text, finish_reason: finish }],
      };
      if (!k.dropUsage && !k.finalUsageOnly) c.usage = { prompt_tokens: promptTokens, completion_tokens: produced, total_tokens: promptTokens + produced };
      return `data: ${JSON.stringify(c)}\n\n`;
    };
    if (k.ttftMs) await sleep(k.ttftMs);
    let produced = 0;
    let sinceStall = 0;
    while (produced < total) {
      if (gone || closing) return;
      const n = Math.min(per, total - produced);
      produced += n;
      res.write(chunk(' tok'.repeat(n), produced, produced >= total ? 'length' : null));
      if (k.garbage && produced === n) res.write('data: {this is not json\n\n');
      if (k.endAfterTokens !== undefined && produced >= k.endAfterTokens) {
        res.end();
        return;
      }
      if (k.failAfterTokens !== undefined && produced >= k.failAfterTokens && sinceStall === 0 && k.stallMs === undefined) {
        if (k.resetMidStream) {
          await sleep(20); // let the tokens reach the client first
          req.socket.resetAndDestroy();
          return;
        }
        res.write(`data: ${JSON.stringify({ error: { message: 'injected failure mid-stream', code: 500 } })}\n\n`);
        res.end();
        return;
      }
      if (k.stallMs !== undefined && sinceStall === 0 && produced >= (k.failAfterTokens ?? 1)) {
        sinceStall = 1;
        await sleep(k.stallMs);
        continue;
      }
      if (k.itlMs) await sleep(k.itlMs);
      else if (produced % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    if (gone || closing) return;
    if (k.endWithoutDone) {
      res.end();
      return;
    }
    const final: Record<string, unknown> = { id: 'cmpl-test', object: 'text_completion', model, choices: [] };
    if (!k.dropUsage) final.usage = { prompt_tokens: promptTokens, completion_tokens: produced, total_tokens: promptTokens + produced };
    if (k.breakdown) {
      final.splitbench = {
        queue_s: 0.001,
        prefill_s: 0.02,
        kv_transfer_s: 0.003,
        decode_wait_s: 0.004,
        decode_s: 0.5,
        prompt_machine: 'prompt-0',
        token_machine: 'token-1',
        pool: 'prompt',
        preemptions: 0,
      };
    }
    res.write(`data: ${JSON.stringify(final)}\n\ndata: [DONE]\n\n`);
    res.end(() => completions.push({ promptLength: promptTokens, endEpochMs: performance.timeOrigin + performance.now() }));
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    completions,
    maxInFlight: () => maxInFlight,
    close: async () => {
      closing = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Serve the preflight probe (request 0) normally, then `knobs` for every later request. */
export function afterProbe(knobs: Knobs | ((index: number) => Knobs)): (index: number) => Knobs {
  return (i) => (i === 0 ? {} : typeof knobs === 'function' ? knobs(i) : knobs);
}
