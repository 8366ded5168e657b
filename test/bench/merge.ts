/**
 * Bench: `mergeShards` of 4 shard stores (default 100k request rows each, with token-time blobs; set
 * SPLITBENCH_BENCH_MERGE_ROWS to change) into a new store. Prints wall and CPU seconds and rows/s.
 * Run alone: node dist/test/bench/merge.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeShards } from '../../src/scale/index.js';
import { openStore } from '../../src/store/index.js';
import { connectionOf } from '../../src/store/store.js';

const SHARDS = 4;
const ROWS = Number(process.env.SPLITBENCH_BENCH_MERGE_ROWS ?? 100_000);

function makeShard(file: string, index: number): void {
  const store = openStore(file);
  const w = store.createRun({ kind: 'live', traceSha256: 'bench', options: {}, startWallMs: 1_700_000_000_000 });
  w.finish('completed');
  // Rows through SQL (fast to generate); shapes like a replay's, blob included.
  connectionOf(store)
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO requests (run_id, shard, seq, trace_id, arrival, prompt_tokens, output_tokens, scheduled, send, first_token, "end", lag,
         status, tokens_received, ttft, tpot, e2e, token_times)
       SELECT ?, ?, i, 'r' || (i * ${SHARDS} + ?), i * 0.01, 512, 128, i * 0.01, i * 0.01 + 0.0002, i * 0.01 + 0.1, i * 0.01 + 3, 0.0002,
         'ok', 128, 0.1, 0.023, 2.9, randomblob(200) FROM n`,
    )
    .run(ROWS - 1, w.runId, index, index);
  connectionOf(store)
    .prepare(
      `INSERT INTO shards (run_id, run_uuid, shard_index, shard_count, host, start_at_ms, t0_local_ms, time_ref, offset_start_ms, rtt_start_ms, offset_end_ms, rtt_end_ms, late_ms, late)
       VALUES (?, 'bench', ?, ?, 'h', 1700000000000, 1700000000000, 'http://x/time', 0.01, 0.1, 0.01, 0.1, -5, 0)`,
    )
    .run(w.runId, index, SHARDS);
  store.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-bench-merge-'));
  try {
    const files = Array.from({ length: SHARDS }, (_, i) => path.join(dir, `s${i}.db`));
    files.forEach((f, i) => {
      makeShard(f, i);
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await mergeShards(files, { out: path.join(dir, 'out.db') });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    console.log(
      `merge: ${SHARDS} shards × ${ROWS} rows = ${r.requests} rows in ${wall.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU (${Math.round(r.requests / wall)} rows/s wall); sha256 and checks included`,
    );
    const t1 = performance.now();
    const again = await mergeShards(files, { out: path.join(dir, 'out.db') });
    console.log(`re-merge (no-op, changed=${again.changed}): ${((performance.now() - t1) / 1000).toFixed(2)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
