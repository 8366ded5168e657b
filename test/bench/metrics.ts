/**
 * Metrics benchmark: summarize a large constructed run (200,000 requests, 64 one-token chunks each) and
 * print rows/s and heap growth — without slowdowns, with the performance-model reference (llama2-70b on a
 * DGX-A100), and merging 4 shard accumulators. Figures only; nothing passes or fails on time.
 *   node dist/test/bench/metrics.js [requests]
 */
import { performance } from 'node:perf_hooks';
import fs from 'node:fs';
import { encodeChunks } from '../../src/store/codec.js';
import { accumulate, findRun, requestRecords, resolveReference, summarizeRun } from '../../src/metrics/index.js';
import { insertRun, makeStore, tmpDir } from '../metrics/helpers.js';

const N = Number(process.argv[2] ?? 200_000);
const TOKENS = 64;
const dir = tmpDir('sb-bench-metrics-');
const { db, file, store } = makeStore(dir);
const runId = insertRun(db, { name: 'bench', model: 'llama2-70b' });

let t0 = performance.now();
const ins = db.prepare(
  `INSERT INTO requests (run_id, seq, trace_id, arrival, prompt_tokens, output_tokens, scheduled, send, first_token, end, lag,
     status, tokens_received, ttft, e2e, pool, token_times) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
);
db.transaction(() => {
  for (let i = 0; i < N; i++) {
    const send = i * 0.01;
    const ttft = 0.1 + (i % 1000) / 1000;
    const gap = 0.03 + (i % 7) / 1000;
    const chunks = Array.from({ length: TOKENS }, (_, k) => ({ t: ttft + k * gap, tokens: 1 }));
    const e2e = ttft + (TOKENS - 1) * gap;
    const prompt = 128 + (i % 32) * 64;
    ins.run(
      runId,
      i,
      String(i),
      send,
      prompt,
      TOKENS,
      send,
      send,
      send + ttft,
      send + e2e,
      0,
      'ok',
      TOKENS,
      ttft,
      e2e,
      i % 2 ? 'prompt' : 'token',
      encodeChunks(chunks),
    );
  }
})();
const insertS = (performance.now() - t0) / 1000;
const mb = fs.statSync(file).size / 1e6;
process.stdout.write(`metrics bench: ${N} requests × ${TOKENS} chunks, store ${mb.toFixed(1)} MB, built in ${insertS.toFixed(1)} s\n`);

function measure(label: string, f: () => void): void {
  const heap0 = process.memoryUsage().heapUsed;
  const t = performance.now();
  f();
  const s = (performance.now() - t) / 1000;
  const heap = (process.memoryUsage().heapUsed - heap0) / 1e6;
  process.stdout.write(`  ${label.padEnd(44)} ${s.toFixed(2)} s  ${Math.round(N / s).toLocaleString('en-US')} requests/s  heap +${heap.toFixed(1)} MB\n`);
}

measure('summarizeRun (no slowdown)', () => {
  summarizeRun(store, runId);
});
const reference = await resolveReference(store, findRun(store, runId), { required: true });
measure('summarizeRun + model slowdowns', () => {
  summarizeRun(store, runId, { reference: reference! });
});
measure('4 shard accumulators + merge', () => {
  const parts = [0, 1, 2, 3].map(() => accumulate([], false));
  let i = 0;
  for (const r of requestRecords(store, runId)) parts[i++ % 4]!.add(r);
  const all = parts.reduce((a, b) => a.merge(b));
  if (all.counts.ok !== N) throw new Error('merge lost rows');
});
t0 = performance.now();
db.close();
fs.rmSync(dir, { recursive: true, force: true });
