/**
 * Clock check: a shard's wall-clock offset to a reference, NTP-style.
 *
 * A sample is one `GET /time` over a kept-alive connection: local wall time t0 before, the reference's wall
 * time T in the answer, local t3 after. RTT = t3 − t0; offset θ = T − (t0 + t3)/2 (reference minus local).
 * Of `samples` exchanges (default 20) the one with the smallest RTT wins: its error is at most RTT/2.
 *
 * Only wall-clock instants use this (the shared start, cross-node timelines); per-request latencies are
 * differences on one process's monotonic clock and never need it. Local "wall time" is
 * the monotonic clock anchored once to `Date.now()` (src/wallclock.ts), plus a test-only fake
 * skew (`--clock-offset-ms`).
 *
 * The reference is any process serving `GET /time` → `{"wall_ms": <epoch ms>}`: the reference backend
 * (`splitbench serve`), the `--procs` parent, or `startTimeServer` here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'undici';
import { ConfigError, TargetError } from '../errors.js';
import { CLOCK_CHECK_ANCHOR_MAX_AGE_MS, wallNowMs as baseWallNowMs } from '../wallclock.js';

/** Local wall clock, ms since the epoch (monotonic, anchored once: src/wallclock.ts), shifted by a fake skew for tests. */
export function wallNowMs(skewMs = 0, maxAgeMs = Infinity): number {
  return baseWallNowMs(maxAgeMs) + skewMs;
}

export interface ClockSample {
  /** Reference minus local wall time (ms): add it to a local wall time to get reference time. */
  readonly offsetMs: number;
  /** Round trip of the winning sample (ms); the offset is exact within ±rttMs/2. */
  readonly rttMs: number;
  /** Local wall time (skew included) at the middle of the winning exchange. */
  readonly atLocalMs: number;
  readonly samples: number;
}

export interface MeasureOptions {
  /** Exchanges (default 20). */
  readonly samples?: number;
  /** Test-only skew added to this process's wall clock. */
  readonly skewMs?: number;
  /** Per-exchange timeout (ms, default 2000). */
  readonly timeoutMs?: number;
}

/** `http://host:port/time` from a base URL or a full /time URL. */
export function timeUrlOf(url: string, flag = '--time-url'): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`not a URL: '${url}'`, { path: flag });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`not an http(s) URL: '${url}'`, { path: flag });
  if (!u.pathname.endsWith('/time')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/time`;
  return u;
}

/** Measure the offset to the reference at `url` (min-RTT of `samples` exchanges). */
export async function measureOffset(url: string, opts: MeasureOptions = {}): Promise<ClockSample> {
  const u = timeUrlOf(url);
  const n = Math.max(1, opts.samples ?? 20);
  const skew = opts.skewMs ?? 0;
  const timeout = opts.timeoutMs ?? 2000;
  const client = new Client(u.origin, { connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout, pipelining: 1 });
  let best: ClockSample | undefined;
  try {
    // One exchange first to open the connection (its RTT includes the handshake); then the samples.
    // A fresh anchor before the exchanges (src/wallclock.ts: NTP slew moves Date.now() against the monotonic
    // clock), so t0 and t3 are wall time to a few µs for the whole series (tens of ms).
    wallNowMs(skew, 0);
    for (let i = 0; i <= n; i++) {
      const t0 = wallNowMs(skew);
      let body: unknown;
      let status: number;
      try {
        const res = await client.request({ path: u.pathname + u.search, method: 'GET' });
        status = res.statusCode;
        const text = await res.body.text();
        body = status === 200 ? JSON.parse(text) : text;
      } catch (e) {
        throw new TargetError(`clock check: cannot reach the time reference ${u.href}: ${(e as Error).message}`, {
          hint: 'give --time-url of a running `splitbench serve` (it serves /time), or leave it out on one host',
        });
      }
      const t3 = wallNowMs(skew);
      const wall = (body as { wall_ms?: unknown } | null)?.wall_ms;
      if (status !== 200 || typeof wall !== 'number' || !Number.isFinite(wall)) {
        throw new TargetError(`clock check: ${u.href} answered HTTP ${status} without {"wall_ms": number}; it is not a splitbench time reference`);
      }
      if (i === 0) continue;
      const rtt = t3 - t0;
      const mid = (t0 + t3) / 2;
      if (!best || rtt < best.rttMs) best = { offsetMs: wall - mid, rttMs: rtt, atLocalMs: mid, samples: n };
    }
  } finally {
    await client.close().catch(() => undefined);
  }
  return best!;
}

/** The `/time` answer body. */
export function timeBody(): { wall_ms: number } {
  return { wall_ms: wallNowMs(0, CLOCK_CHECK_ANCHOR_MAX_AGE_MS) };
}

export interface TimeServer {
  readonly url: string;
  close(): Promise<void>;
}

/** A tiny HTTP server answering `GET /time` (the `--procs` parent's reference clock). */
export function startTimeServer(opts: { host?: string; port?: number } = {}): Promise<TimeServer> {
  const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    req.resume();
    if (path !== '/time' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      const text = JSON.stringify({ error: { message: `no route ${req.method} ${path}; this server answers GET /time` } });
      res.writeHead(path === '/time' ? 405 : 404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const text = JSON.stringify(timeBody());
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}/time`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
