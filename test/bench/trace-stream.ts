/**
 * Bench: `splitbench trace stats` on a 20-million-row Azure CSV with 2024-style timestamps (generated into a
 * temp dir, streamed), run as a child process. Prints rows/s and the child's peak RSS (target: < 300 MB).
 * Run alone: `node dist/test/bench/trace-stream.js` (TRACE_BENCH_ROWS=N for another size).
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';

if (process.env.NODE_TEST_CONTEXT !== undefined) {
  // Picked up by `node --test` as a file under test/: a benchmark is not a test.
  console.log('trace-stream bench: skipped under node --test (run it with node directly)');
  process.exit(0);
}

const ROWS = Number(process.env.TRACE_BENCH_ROWS ?? 20_000_000);

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function writeUint(buf: Buffer, pos: number, v: number): number {
  if (v === 0) {
    buf[pos] = 48;
    return pos + 1;
  }
  let digits = 0;
  for (let x = v; x > 0; x = Math.floor(x / 10)) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    buf[pos + i] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  return pos + digits;
}

/** Writes the rows as bytes (string building would take longer than the read being measured). */
async function generate(file: string, rows: number): Promise<void> {
  const ws = createWriteStream(file, { highWaterMark: 1 << 22 });
  ws.write('TIMESTAMP,ContextTokens,GeneratedTokens\n');
  // 2024 trace style: varying fractional precision (4, 6 or 7 digits), +00:00; ~400 req/s from 2024-05-10.
  // Times are multiples of 100 µs, so every fraction written is exact and the rows are in order.
  const SUFFIX = Buffer.from('+00:00,');
  let us = 0;
  let state = 12345;
  let prefixS = -1;
  let prefix = Buffer.alloc(0);
  const BATCH = 50000;
  for (let i = 0; i < rows; i += BATCH) {
    const buf = Buffer.allocUnsafe(BATCH * 64);
    let p = 0;
    for (let k = i; k < Math.min(rows, i + BATCH); k++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      us += (state % 50) * 100;
      const s = Math.floor(us / 1e6);
      if (s !== prefixS) {
        prefixS = s;
        const day = 10 + Math.floor(s / 86400);
        const sod = s % 86400;
        prefix = Buffer.from(`2024-05-${pad(day, 2)} ${pad(Math.floor(sod / 3600), 2)}:${pad(Math.floor(sod / 60) % 60, 2)}:${pad(sod % 60, 2)}.`);
      }
      p += prefix.copy(buf, p);
      const frac = us % 1e6;
      const nd = k % 3 === 0 ? 6 : k % 3 === 1 ? 4 : 7;
      for (let d = 0, div = 100000; d < nd; d++, div /= 10) buf[p++] = d < 6 ? 48 + (Math.floor(frac / div) % 10) : 48;
      p += SUFFIX.copy(buf, p);
      p = writeUint(buf, p, ((state >>> 8) % 8000) + 1);
      buf[p++] = 44;
      p = writeUint(buf, p, (state >>> 4) % 500);
      buf[p++] = 10;
    }
    if (!ws.write(buf.subarray(0, p))) await new Promise<void>((res) => ws.once('drain', () => res()));
  }
  await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
}

const HOOK =
  "process.on('exit', () => { const u = process.resourceUsage(); process.stderr.write('MAXRSS_KB=' + u.maxRSS + ' CPU_US=' + (u.userCPUTime + u.systemCPUTime) + '\\n'); });";

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-bench-'));
  const file = path.join(dir, 'azure-2024.csv');
  try {
    const g0 = performance.now();
    await generate(file, ROWS);
    const genS = (performance.now() - g0) / 1000;
    const bytes = statSync(file).size;
    console.log(`generated ${ROWS} rows (${(bytes / 1e6).toFixed(0)} MB) in ${genS.toFixed(1)} s`);
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(HOOK)}`, path.join(PACKAGE_ROOT, 'bin', 'splitbench.js'), 'trace', 'stats', file, '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    const s = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`trace stats exited ${code}: ${err}`);
    const stats = (JSON.parse(out) as { result: { requests: number } }).result;
    const rssKb = Number(/MAXRSS_KB=(\d+)/.exec(err)?.[1] ?? NaN);
    const cpuS = Number(/CPU_US=(\d+)/.exec(err)?.[1] ?? NaN) / 1e6;
    console.log(
      `trace stats: ${stats.requests} requests in ${s.toFixed(1)} s = ${(stats.requests / s / 1e6).toFixed(2)} M rows/s (${(bytes / 1e6 / s).toFixed(0)} MB/s), peak RSS ${(rssKb / 1024).toFixed(0)} MB (target < 300 MB)`,
    );
    console.log(
      `  CPU time ${cpuS.toFixed(1)} s (all threads) = ${(stats.requests / cpuS / 1e6).toFixed(2)} M rows per CPU-second (wall figures depend on machine load)`,
    );
    if (stats.requests !== ROWS) throw new Error(`expected ${ROWS} requests, got ${stats.requests}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
