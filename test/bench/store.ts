/**
 * Results-store benchmark: writer throughput (rows/s through RunWriter, batched transactions), file size
 * per request, token_times bytes per chunk, streaming read and export throughput, and the heap growth
 * while exporting (it must not grow with the run's size). Run alone: `node dist/test/bench/store.js [ROWS]`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { exportRequests, openStore, type Chunk } from '../../src/store/index.js';
import { connectionOf } from '../../src/store/store.js';

const ROWS = Number(process.argv[2] ?? 100_000);
const CHUNKS = 50;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-bench-store-'));
try {
  const file = path.join(tmp, 'bench.db');
  const store = openStore(file);
  const chunks: Chunk[] = Array.from({ length: CHUNKS }, (_, i) => ({ t: 0.2 + i * 0.031337, tokens: i % 7 === 0 ? 2 : 1 }));
  const tokens = chunks.reduce((a, c) => a + c.tokens, 0);
  const w = store.createRun({ kind: 'sim', name: 'bench', options: {} });
  let t0 = performance.now();
  for (let i = 0; i < ROWS; i++) {
    const send = i * 0.01;
    w.addRequest({
      seq: i,
      traceId: String(i),
      arrival: send,
      promptTokens: 1000 + (i % 500),
      outputTokens: tokens,
      scheduled: send,
      send: send + 0.0001,
      status: 'ok',
      tokensReceived: tokens,
      chunks,
      breakdown: { queue: 0.01, prefill: 0.1, kvTransfer: 0.005, decodeWait: 0.01, decode: 1.5 },
      promptMachine: `prompt-${i % 8}`,
      tokenMachine: `token-${i % 8}`,
      pool: 'prompt',
    });
  }
  w.finish('completed');
  const writeS = (performance.now() - t0) / 1000;
  store.close();
  const size = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);

  const reader = openStore(file, { readonly: true });
  const runId = reader.findRun('bench').id;
  const blob = connectionOf(reader).prepare('SELECT avg(length(token_times)) AS b FROM requests WHERE run_id = ?').get(runId) as { b: number };
  t0 = performance.now();
  let n = 0;
  for (const r of reader.requests(runId)) n += r.chunks.length > 0 ? 1 : 0;
  const readS = (performance.now() - t0) / 1000;

  const results: string[] = [];
  for (const format of ['jsonl', 'csv'] as const) {
    let bytes = 0;
    const sink = new Writable({
      highWaterMark: 1 << 16,
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        setImmediate(cb); // an asynchronous consumer, so back-pressure is exercised
      },
    });
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    let heapMax = heap0;
    const probe = setInterval(() => (heapMax = Math.max(heapMax, process.memoryUsage().heapUsed)), 20);
    t0 = performance.now();
    const rows = await exportRequests(reader, runId, format, sink);
    const s = (performance.now() - t0) / 1000;
    clearInterval(probe);
    results.push(
      `export ${format.padEnd(5)}: ${rows} rows in ${s.toFixed(2)} s = ${Math.round(rows / s)} rows/s, ` +
        `${(bytes / 1e6).toFixed(1)} MB, heap growth ≤ ${((heapMax - heap0) / 1e6).toFixed(1)} MB`,
    );
  }
  reader.close();

  console.log(`rows: ${ROWS}, chunks per request: ${CHUNKS}`);
  console.log(`write:  ${writeS.toFixed(2)} s = ${Math.round(ROWS / writeS)} rows/s (RunWriter, derived columns, batched commits)`);
  console.log(`file:   ${(size / 1e6).toFixed(1)} MB = ${Math.round(size / ROWS)} bytes per request`);
  console.log(`token_times: ${blob.b.toFixed(1)} bytes per request = ${(blob.b / CHUNKS).toFixed(2)} bytes per chunk`);
  console.log(`read:   ${readS.toFixed(2)} s = ${Math.round(n / readS)} rows/s (requests() with chunks decoded)`);
  for (const r of results) console.log(r);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
