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
          hint: 'give --time-url of a running `splitbench time-server` (or `splitbench serve`; both serve /time), or leave it out on one host',
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

/** How long a shard started for a start barrier waits for its time server to answer at all (ms). */
export const REFERENCE_WAIT_MS = 300_000;

/**
 * Wait until the time reference at `url` answers one `GET /time` (a shard can start before its time
 * server: Kubernetes schedules pods in any order); a TargetError naming it after `waitMs`.
 */
export async function waitForReference(url: string, waitMs = REFERENCE_WAIT_MS, log: (l: string) => void = () => undefined): Promise<void> {
  const since = wallNowMs();
  let said = 0;
  for (;;) {
    try {
      await measureOffset(url, { samples: 1, timeoutMs: 2000 });
      return;
    } catch (e) {
      const waited = wallNowMs() - since;
      if (waited >= waitMs) throw e;
      if (waited - said >= 10_000) {
        said = waited;
        log(`clock check: waiting for the time reference ${url} (${(waited / 1000).toFixed(0)} s): ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The `/time` answer body. */
export function timeBody(): { wall_ms: number } {
  return { wall_ms: wallNowMs(0, CLOCK_CHECK_ANCHOR_MAX_AGE_MS) };
}

export interface TimeServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The start barrier of a time server (`time-server --barrier N`). */
export interface BarrierOptions {
  /** Shards that must arrive before the start instant is fixed. */
  readonly count: number;
  /** Start instant = the last arrival + this (ms). */
  readonly leadMs: number;
  /** Give up this long after the first arrival (ms): every waiting and later shard gets HTTP 504. */
  readonly timeoutMs: number;
  /** How long one request is held before a `202 waiting` answer (ms; the shard asks again). */
  readonly holdMs?: number;
}

/** The `/barrier` answer once every shard arrived. */
export interface BarrierAnswer {
  readonly start_at_ms: number;
}

/**
 * The start barrier: `GET /barrier?shard=i` from every shard 0..count-1; once all arrived, every one of them
 * (and any later asker) gets the same `{"start_at_ms"}` — on this server's clock, the reference the shards
 * correct theirs to. Held requests are answered `202 {"waiting": k, "of": N}` after `holdMs` (ask again).
 */
class Barrier {
  private readonly arrived = new Set<number>();
  private firstAt: number | undefined;
  private startAt: number | undefined;
  private readonly waiters = new Set<{ send(status: number, body: unknown): void }>();
  private giveUp: NodeJS.Timeout | undefined;

  constructor(private readonly o: BarrierOptions) {}

  private failure(): { error: { message: string } } {
    const missing = Array.from({ length: this.o.count }, (_, i) => i).filter((i) => !this.arrived.has(i));
    return {
      error: {
        message: `start barrier: ${this.arrived.size} of ${this.o.count} shards arrived within ${(this.o.timeoutMs / 1000).toFixed(0)} s of the first; missing shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      },
    };
  }

  handle(query: URLSearchParams, send: (status: number, body: unknown) => void): void {
    const raw = query.get('shard') ?? '';
    const i = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(i >= 0 && i < this.o.count)) {
      send(400, { error: { message: `start barrier: expected ?shard=i with i in 0..${this.o.count - 1}, got '${raw}'` } });
      return;
    }
    if (this.startAt !== undefined) {
      send(200, { start_at_ms: this.startAt } satisfies BarrierAnswer);
      return;
    }
    const now = wallNowMs();
    if (this.firstAt !== undefined && now - this.firstAt > this.o.timeoutMs) {
      send(504, this.failure());
      return;
    }
    this.firstAt ??= now;
    this.giveUp ??= setTimeout(() => {
      for (const w of this.waiters) w.send(504, this.failure());
      this.waiters.clear();
    }, this.o.timeoutMs);
    this.giveUp.unref();
    this.arrived.add(i);
    if (this.arrived.size === this.o.count) {
      clearTimeout(this.giveUp);
      this.startAt = wallNowMs() + this.o.leadMs;
      const body = { start_at_ms: this.startAt } satisfies BarrierAnswer;
      send(200, body);
      for (const w of this.waiters) w.send(200, body);
      this.waiters.clear();
      return;
    }
    const w = {
      send: (status: number, b: unknown): void => {
        clearTimeout(hold);
        send(status, b);
      },
    };
    const hold = setTimeout(() => {
      this.waiters.delete(w);
      send(202, { waiting: this.arrived.size, of: this.o.count });
    }, this.o.holdMs ?? 20_000);
    this.waiters.add(w);
  }

  close(): void {
    clearTimeout(this.giveUp);
    for (const w of this.waiters) w.send(503, { error: { message: 'start barrier: the time server is stopping' } });
    this.waiters.clear();
  }
}

/** A tiny HTTP server answering `GET /time` (the clock reference) and, with a barrier, `GET /barrier`. */
export function startTimeServer(opts: { host?: string; port?: number; barrier?: BarrierOptions } = {}): Promise<TimeServer> {
  const barrier = opts.barrier ? new Barrier(opts.barrier) : undefined;
  const server = http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    const [path, search] = (req.url ?? '/').split('?') as [string, string | undefined];
    req.resume();
    const send = (status: number, body: unknown): void => {
      if (res.writableEnded || res.destroyed) return;
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(text);
    };
    const routes = barrier ? ['/time', '/barrier'] : ['/time'];
    if (!routes.includes(path) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      send(routes.includes(path) ? 405 : 404, { error: { message: `no route ${req.method} ${path}; this server answers GET ${routes.join(' and GET ')}` } });
      return;
    }
    if (path === '/barrier') barrier!.handle(new URLSearchParams(search ?? ''), send);
    else send(200, timeBody());
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
            barrier?.close();
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * Wait at the start barrier of the time server at `timeUrl` (its `/barrier`) as shard `index`; the shared
 * start instant (epoch ms, reference clock) once every shard has arrived.
 */
export async function awaitBarrier(
  timeUrl: string,
  index: number,
  log: (l: string) => void = () => undefined,
  connectWaitMs = REFERENCE_WAIT_MS,
): Promise<number> {
  const since = wallNowMs();
  const u = timeUrlOf(timeUrl);
  u.pathname = u.pathname.replace(/\/time$/, '/barrier');
  u.search = `?shard=${index}`;
  const client = new Client(u.origin, { connect: { timeout: 10_000 }, headersTimeout: 120_000, bodyTimeout: 120_000 });
  try {
    for (;;) {
      let status: number;
      let body: Record<string, unknown>;
      try {
        const res = await client.request({ path: u.pathname + u.search, method: 'GET' });
        status = res.statusCode;
        const text = await res.body.text();
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { error: { message: text.slice(0, 200) } };
        }
      } catch (e) {
        // The time server may start after the shards (pods are scheduled in any order): retry a while.
        if (wallNowMs() - since < connectWaitMs) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        throw new TargetError(`start barrier: cannot reach ${u.href} for ${(connectWaitMs / 1000).toFixed(0)} s: ${(e as Error).message}`, {
          hint: 'the time server (`splitbench time-server --barrier N`) must run and be reachable from every shard',
        });
      }
      if (status === 200 && typeof body.start_at_ms === 'number') return body.start_at_ms;
      if (status === 202) {
        log(`start barrier: ${String(body.waiting)} of ${String(body.of)} shards arrived; waiting`);
        continue;
      }
      const msg = (body.error as { message?: string } | undefined)?.message ?? `HTTP ${status}`;
      throw new TargetError(status === 404 ? `start barrier: ${u.href} has no /barrier (start the time server with --barrier N)` : msg);
    }
  } finally {
    await client.close().catch(() => undefined);
  }
}
