/**
 * The streaming HTTP client: one undici Pool per target (pipelining 1, as many connections as
 * requests in flight), one POST per request, the SSE body parsed as it arrives.
 *
 * Every request ends in a `StreamResult` (STYLE 6: failure is data) whose `outcome` (src/run/outcome.ts) is
 * `ok`, `error` (HTTP status and body excerpt, connection refused/reset, mid-stream disconnect, malformed
 * stream, server error event), `timeout` (per phase: connect, first token, between tokens, total) or
 * `cancelled` (the run's AbortSignal fired). Nothing here throws for a single request's failure.
 *
 * Phase timeouts use one lazily re-armed timer per request (not one per chunk): when it fires it checks
 * the deadlines against the last token's time and re-arms for the nearest one.
 */
import { StringDecoder } from 'node:string_decoder';
import { Pool } from 'undici';
import { RequestErrorCode, systemErrorCode, type TimeoutPhase } from '../errors.js';
import { OK, type RequestOutcome } from '../run/outcome.js';
import { CompletionStream, excerpt, type StreamFailure, warmStreamCode, type CountMethod } from './stream.js';

export interface Timeouts {
  /** Seconds (wall), 0 = none. */
  readonly connectS: number;
  readonly firstTokenS: number;
  readonly betweenTokensS: number;
  readonly totalS: number;
}

export interface StreamResult {
  /** How the request ended (a live request is never `never-completed`). */
  readonly outcome: RequestOutcome;
  /** Monotonic ms when the request was handed to the client. */
  readonly sendMs: number;
  /** Monotonic ms of the last token (ok) or of the failure. */
  readonly endMs: number;
  readonly countMethod?: CountMethod;
  /** Present once response headers arrived (may hold partial chunks for failed requests). */
  readonly stream?: CompletionStream;
}

export interface ClientOptions {
  /** Base URL of the target (scheme, host, port; a path prefix is kept). */
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly timeouts: Timeouts;
  /** Most connections to open (peak concurrency). */
  readonly connections?: number;
}

/** A stream parser's failure as an outcome (its code is one of the table's). */
function streamFailure(f: StreamFailure): RequestOutcome {
  return { kind: 'error', code: f.code, httpStatus: 200, message: f.message };
}

function errorMessage(e: unknown): string {
  const err = e as { message?: unknown; cause?: { message?: unknown } };
  const m = typeof err?.message === 'string' ? err.message : String(e);
  const c = err?.cause && typeof err.cause.message === 'string' ? ` (${err.cause.message})` : '';
  return excerpt(m + c, 300);
}

/**
 * The handlers of the requests in flight on one AbortSignal (a run's), called when it fires: one listener on
 * the signal for all of them, since adding and removing an EventTarget listener per request costs
 * microseconds on the dispatch loop and a Set costs nanoseconds.
 */
const inFlightBySignal = new WeakMap<AbortSignal, Set<() => void>>();

function abortHandlers(signal: AbortSignal): Set<() => void> {
  let set = inFlightBySignal.get(signal);
  if (set === undefined) {
    const handlers = new Set<() => void>();
    set = handlers;
    inFlightBySignal.set(signal, handlers);
    signal.addEventListener(
      'abort',
      () => {
        for (const f of [...handlers]) f();
        handlers.clear();
      },
      { once: true },
    );
  }
  return set;
}

export class LoadClient {
  readonly base: URL;
  private readonly pool: Pool;
  private readonly opts: ClientOptions;
  private readonly prefix: string;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    this.base = new URL(opts.url);
    this.prefix = this.base.pathname.replace(/\/+$/, '');
    // A base URL ending in /v1 is accepted too: routes are given with their /v1 prefix.
    if (this.prefix.endsWith('/v1')) this.prefix = this.prefix.slice(0, -3);
    const connectMs = opts.timeouts.connectS > 0 ? opts.timeouts.connectS * 1000 : undefined;
    this.pool = new Pool(this.base.origin, {
      connections: opts.connections ?? null,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
      ...(connectMs === undefined ? {} : { connect: { timeout: connectMs } }),
    });
  }

  path(route: string): string {
    return this.prefix + route;
  }

  /** GET a JSON document (preflight); throws on HTTP or network errors. */
  async getJson(route: string, timeoutMs: number): Promise<{ status: number; body: string }> {
    const res = await this.pool.request({
      path: this.path(route),
      method: 'GET',
      headers: this.opts.headers,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.body.text();
    return { status: res.statusCode, body };
  }

  /**
   * Before a run's clock starts: open up to `connections` connections to the target (that many GETs of
   * `route` at once, answers read and discarded; no inference is asked for) and run the stream parser's
   * code over a few synthetic events, so the first second of a fast open loop pays neither for connection
   * set-up nor for cold code. Never throws: a failing GET is the run's own requests' to report.
   */
  async warm(connections: number, route = '/v1/models', timeoutMs = 5000): Promise<void> {
    warmStreamCode();
    const n = Math.max(0, Math.floor(connections));
    await Promise.all(
      Array.from({ length: n }, () =>
        this.pool
          .request({ path: this.path(route), method: 'GET', headers: this.opts.headers, signal: AbortSignal.timeout(timeoutMs) })
          .then((res) => res.body.dump())
          .catch(() => undefined),
      ),
    );
  }

  /**
   * POST `body` to `route` and consume the SSE stream. `sendMs` is the caller's monotonic send time
   * (taken immediately before this call). Never rejects.
   */
  stream(route: string, body: string, sendMs: number, signal?: AbortSignal): Promise<StreamResult> {
    const t = this.opts.timeouts;
    return new Promise<StreamResult>((resolve) => {
      let settled = false;
      let stream: CompletionStream | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let timedOut: string | undefined;
      let cancelled = false;
      /** undici's abort for this request (set once it is on a connection). */
      let abortFn: ((err?: Error) => void) | undefined;
      /** A non-200 answer: its body (the first 64 KiB) for the error excerpt, and its retry-after. */
      let errStatus = 0;
      let errBody: Buffer[] | undefined;
      let errBytes = 0;
      let retryAfter: string | undefined;
      // undici hands over raw body bytes: decode here (a streaming decoder keeps UTF-8 sequences split
      // across reads intact; node's StringDecoder costs a fraction of TextDecoder's stream mode). A
      // byte-order mark at the start of the body is dropped, as the event-stream spec says.
      let decoder: StringDecoder | undefined;
      let atStart = true;
      const abortRequest = (): void => {
        abortFn?.(new Error('request ended by splitbench'));
      };
      const onAbort = (): void => {
        if (settled) return;
        cancelled = true;
        finish({
          outcome: { kind: 'cancelled', message: 'cancelled by the run (second interrupt or grace period over)' },
          sendMs,
          endMs: performance.now(),
          ...(stream ? { stream } : {}),
        });
        abortRequest();
      };
      const finish = (r: StreamResult): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (onAborts) onAborts.delete(onAbort);
        resolve(r);
      };
      const fail = (outcome: RequestOutcome): void => {
        finish({ outcome, sendMs, endMs: performance.now(), ...(stream ? { stream } : {}) });
        abortRequest();
      };
      const check = (): void => {
        timer = undefined;
        if (settled) return;
        const now = performance.now();
        let deadline = Infinity;
        let phase: TimeoutPhase = 'total';
        let limit = 0;
        if (t.totalS > 0) {
          deadline = sendMs + t.totalS * 1000;
          phase = 'total';
          limit = t.totalS;
        }
        const last = stream?.lastTokenMs;
        if (last === undefined) {
          if (t.firstTokenS > 0 && sendMs + t.firstTokenS * 1000 < deadline) {
            deadline = sendMs + t.firstTokenS * 1000;
            phase = 'first-token';
            limit = t.firstTokenS;
          }
        } else if (t.betweenTokensS > 0 && last + t.betweenTokensS * 1000 < deadline) {
          deadline = last + t.betweenTokensS * 1000;
          phase = 'between-tokens';
          limit = t.betweenTokensS;
        }
        if (deadline === Infinity) return;
        if (now >= deadline) {
          timedOut = phase;
          fail({ kind: 'timeout', phase, limitS: limit });
          return;
        }
        timer = setTimeout(check, Math.max(1, deadline - now));
      };
      let onAborts: Set<() => void> | undefined;
      if (signal) {
        if (signal.aborted) {
          onAbort();
          return;
        }
        onAborts = abortHandlers(signal);
        onAborts.add(onAbort);
      }
      check();
      // undici's dispatch handler (the interface its own request() is built on): the body's bytes come
      // straight to onData, with no Readable stream and no AbortController per request.
      this.pool.dispatch(
        { path: this.path(route), method: 'POST', headers: this.opts.headers, body },
        {
          onConnect: (abort: (err?: Error) => void): void => {
            abortFn = abort;
            if (settled) abort(new Error('request ended by splitbench'));
          },
          onHeaders: (statusCode: number, rawHeaders: Buffer[]): boolean => {
            if (settled || statusCode < 200) return true; // 1xx: the real headers follow
            if (statusCode !== 200) {
              errStatus = statusCode;
              errBody = [];
              for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
                if (String(rawHeaders[i]).toLowerCase() === 'retry-after') {
                  retryAfter = String(rawHeaders[i + 1]);
                  break;
                }
              }
              return true;
            }
            stream = new CompletionStream(sendMs);
            decoder = new StringDecoder('utf8');
            return true;
          },
          onData: (buf: Buffer): boolean => {
            if (settled) return true;
            if (errBody) {
              if (errBytes < 65536) {
                errBody.push(buf);
                errBytes += buf.length;
              }
              return true;
            }
            const s = stream!;
            const now = performance.now();
            const hadFirst = s.lastTokenMs !== undefined;
            let text = decoder!.write(buf);
            if (atStart && text.length > 0) {
              atStart = false;
              if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
            }
            s.push(text, now);
            if (s.failure) {
              fail(streamFailure(s.failure));
              return true;
            }
            if (s.done) {
              const countMethod = s.reconcile();
              finish({ outcome: OK, sendMs, endMs: s.lastTokenMs ?? now, countMethod, stream: s });
              return true;
            }
            // The first token moves the deadline from first-token to between-tokens.
            if (!hadFirst && s.lastTokenMs !== undefined) {
              if (timer) clearTimeout(timer);
              check();
            }
            return true;
          },
          onComplete: (): void => {
            if (settled) return;
            if (errBody) {
              finishHttpError();
              return;
            }
            const s = stream;
            if (!s) return; // (not reached: a completed request had headers)
            const dangling = s.end();
            if (s.failure) {
              fail(streamFailure(s.failure));
            } else if (s.finished && !dangling) {
              // Some servers end the stream after the finish_reason without a [DONE] line.
              const countMethod = s.reconcile();
              finish({ outcome: OK, sendMs, endMs: s.lastTokenMs ?? performance.now(), countMethod, stream: s });
            } else {
              fail({
                kind: 'error',
                code: RequestErrorCode.truncated,
                httpStatus: 200,
                message: `stream ended before [DONE] after ${s.tokens} token(s)${dangling ? ' (inside an event)' : ''}`,
              });
            }
          },
          onError: (e: Error): void => {
            if (settled) return;
            if (cancelled || timedOut) return;
            if (errBody) {
              // The error answer broke off: report it with what arrived of its body.
              finishHttpError();
              return;
            }
            if (stream) {
              fail({ kind: 'error', code: systemErrorCode(e), httpStatus: 200, message: `stream broke after ${stream.tokens} token(s): ${errorMessage(e)}` });
              return;
            }
            const code = systemErrorCode(e);
            if (code === 'UND_ERR_CONNECT_TIMEOUT') {
              fail({ kind: 'timeout', phase: 'connect', limitS: t.connectS });
              return;
            }
            fail({ kind: 'error', code, message: errorMessage(e) });
          },
        },
      );
      function finishHttpError(): void {
        const text = Buffer.concat(errBody!).toString('utf8');
        const retry = retryAfter === undefined ? '' : ` (retry-after ${retryAfter})`;
        finish({
          outcome: { kind: 'error', code: RequestErrorCode.http, httpStatus: errStatus, message: `HTTP ${errStatus}${retry}: ${excerpt(text)}` },
          sendMs,
          endMs: performance.now(),
        });
      }
    });
  }

  /** Let in-flight requests finish, then close the connections. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Abort everything now. */
  async destroy(): Promise<void> {
    await this.pool.destroy();
  }
}
