/**
 * Stalled request bodies against a `splitbench serve` child, shared by the bench
 * (test/bench/serve-slow-bodies.ts) and the e2e test: `sockets` clients each send `sentMib` of a declared
 * `bodyMib` body and then stall; returns the server's resident memory (idle, and its peak from VmHWM) and
 * each socket's HTTP status and when it was closed. Reads /proc, so Linux only.
 */
import fs from 'node:fs';
import net from 'node:net';
import { startServe } from './serve-cli.js';

const MIB = 1024 * 1024;

export function procMib(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

export interface SocketOutcome {
  /** The reply's HTTP status, or 'none'. */
  readonly status: string;
  readonly closedAfterS: number;
}

export interface SlowBodies {
  readonly idleMib: number;
  readonly peakMib: number;
  readonly afterMib: number;
  readonly outcomes: readonly SocketOutcome[];
  /** /health status once every socket was closed. */
  readonly healthAfter: number;
}

function stallingClient(url: URL, t0: number, sentMib: number, bodyMib: number): Promise<SocketOutcome> {
  return new Promise((resolve) => {
    const s = net.connect(Number(url.port), url.hostname);
    let got = '';
    let sent = 0;
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => undefined);
    s.once('connect', () => {
      s.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Math.round(bodyMib * MIB)}\r\n\r\n`);
      const block = Buffer.alloc(MIB / 4, 0x20);
      const pump = (): void => {
        while (sent < sentMib * MIB && !s.destroyed) {
          sent += block.length;
          if (!s.write(block)) return void s.once('drain', pump);
        }
      };
      pump();
    });
    s.once('close', () => resolve({ status: /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'none', closedAfterS: (performance.now() - t0) / 1000 }));
  });
}

export async function slowBodies(o: { sockets: number; sentMib: number; bodyMib: number; serveArgs: readonly string[] }): Promise<SlowBodies> {
  const srv = await startServe(['--deployment', 'splitwise-hh', '--port', '0', ...o.serveArgs]);
  const pid = srv.child.pid!;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const idleMib = procMib(pid, 'VmRSS');
    const t0 = performance.now();
    const url = new URL(srv.url);
    const outcomes = await Promise.all(Array.from({ length: o.sockets }, () => stallingClient(url, t0, o.sentMib, o.bodyMib)));
    const peakMib = procMib(pid, 'VmHWM');
    const afterMib = procMib(pid, 'VmRSS');
    const healthAfter = (await fetch(`${srv.url}/health`)).status;
    return { idleMib, peakMib, afterMib, outcomes, healthAfter };
  } finally {
    srv.child.kill('SIGTERM');
    await srv.exited;
  }
}
