/**
 * Bench: what stalled request bodies cost `splitbench serve`. SOCKETS clients each send
 * SENT_MIB of a declared BODY_MIB body and then stall; the server (a child process, default limits unless
 * serve flags are given after the numbers) must refuse what passes its global cap of buffered bodies (503),
 * time out the rest (408, `--body-timeout`) and close every connection, while its resident memory stays
 * under idle RSS + `--max-buffered-mib` + 96 MiB (docs/backend.md). Linux only (reads /proc).
 *
 *   node dist/test/bench/serve-slow-bodies.js [SOCKETS=12] [SENT_MIB=30] [BODY_MIB=32] [serve flags…]
 */
import { slowBodies } from '../server/slow-bodies.js';

const sockets = Number(process.argv[2] ?? 12);
const sentMib = Number(process.argv[3] ?? 30);
const bodyMib = Number(process.argv[4] ?? 32);
const serveArgs = process.argv.slice(5);

const r = await slowBodies({ sockets, sentMib, bodyMib, serveArgs });
console.log(
  `serve-slow-bodies: ${sockets} sockets × ${sentMib} MiB of a ${bodyMib} MiB body, then stalled; serve flags: ${serveArgs.join(' ') || '(defaults)'}`,
);
console.log(
  `  RSS idle ${r.idleMib.toFixed(0)} MiB, peak ${r.peakMib.toFixed(0)} MiB (VmHWM), after ${r.afterMib.toFixed(0)} MiB; growth ${(r.peakMib - r.idleMib).toFixed(0)} MiB`,
);
const by = new Map<string, number[]>();
for (const o of r.outcomes) by.set(o.status, [...(by.get(o.status) ?? []), o.closedAfterS]);
for (const [status, ts] of by) console.log(`  ${ts.length} × HTTP ${status}, closed after ${Math.min(...ts).toFixed(1)}–${Math.max(...ts).toFixed(1)} s`);
console.log(`  /health afterwards: ${r.healthAfter}`);
