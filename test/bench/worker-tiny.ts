/**
 * Real-inference figures for the tiny generated model (4 layers, 256 wide) on the CPU at 1 thread:
 * prefill tokens/s, decode tokens/s at batch 1 and 8, KV-state bytes per token, and the KV transfer
 * (save the state, send it over loopback TCP to a token worker process and get the ack, load it there)
 * per MB. Prints figures; passes or fails on nothing. Run alone: `node dist/test/bench/worker-tiny.js`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceEngine } from '../../src/worker/engine.js';
import { RealCluster, type TokenIdObserver } from '../../src/worker/cluster.js';
import { makeModel, TINY_SHAPE } from '../../src/worker/model.js';
import type { RequestBreakdown } from '../../src/engine/index.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'splitbench-bench-worker-'));
const modelFile = path.join(dir, 'tiny.gguf');
makeModel({ shape: TINY_SHAPE, seed: 1, out: modelFile });
const prompt = (n: number, salt = 0): number[] => Array.from({ length: n }, (_, i) => 3 + ((i * 131 + salt * 977) % 509));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const line = (label: string, value: string): void => void process.stdout.write(`${label.padEnd(44)} ${value}\n`);

const REPS = 5;
const engine = await InferenceEngine.open({ modelFile, slots: 8, contextSize: 1024, threads: 1, gpu: 'none' });
line('device', `${engine.device}, 1 thread, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`);
// Warm up.
await engine.generate(prompt(64), 8, { onToken: () => {} });

// Prefill: a 512-token prompt, one output token.
{
  const rates: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t = await engine.generate(prompt(512, r), 1, { onToken: () => {} });
    rates.push(512 / t.prefillS);
  }
  line('prefill, 512-token prompt (tokens/s, median)', median(rates).toFixed(0));
}

// Decode: batch 1 and batch 8, 128 tokens each after a 64-token prompt.
for (const batch of [1, 8]) {
  const rates: number[] = [];
  for (let r = 0; r < 3; r++) {
    const runs = await Promise.all(Array.from({ length: batch }, (_, i) => engine.generate(prompt(64, i + r * 8), 129, { onToken: () => {} })));
    const slowest = Math.max(...runs.map((x) => x.decodeS));
    rates.push((batch * 128) / slowest);
  }
  line(`decode, batch ${batch} (output tokens/s, median)`, median(rates).toFixed(0));
}

// KV state size per token.
{
  const a = await engine.prefill(prompt(100), { onToken: () => {} });
  const b = await engine.prefill(prompt(900), { onToken: () => {} });
  line('KV state, bytes per token', ((b.state.length - a.state.length) / 800).toFixed(0));
  line('KV state, fixed bytes', (a.state.length - 100 * ((b.state.length - a.state.length) / 800)).toFixed(0));
}
await engine.close();

// KV transfer through real worker processes (1 prompt worker, 1 token worker), one request at a time.
{
  const cluster = await RealCluster.start({ modelFile, deployment: 'split', slots: 8, contextSize: 2048, gpu: 'none' });
  const run = (n: number): Promise<RequestBreakdown> =>
    new Promise((resolve, reject) => {
      const obs: TokenIdObserver = { onTokens: () => {}, onDone: (b) => resolve(b), onFailed: (r) => reject(new Error(r)) };
      cluster.submit({ id: `b${n}`, promptTokens: n, outputTokens: 2 }, obs);
    });
  await run(16);
  const bytesPerToken = 2 * TINY_SHAPE.layers * TINY_SHAPE.kvHeads * TINY_SHAPE.headDim * 2;
  const pts: { mb: number; s: number }[] = [];
  for (const n of [32, 256, 1024, 2000]) {
    const xs: number[] = [];
    for (let r = 0; r < REPS; r++) xs.push((await run(n)).kvTransfer);
    const s = median(xs);
    pts.push({ mb: (n * bytesPerToken) / 1e6, s });
    line(`KV transfer, ${String(n).padStart(4)}-token prompt (ms, median)`, `${(s * 1000).toFixed(2)} (${((n * bytesPerToken) / 1e6).toFixed(2)} MB)`);
  }
  // Least-squares slope and intercept of time over size.
  const mx = pts.reduce((a, p) => a + p.mb, 0) / pts.length;
  const my = pts.reduce((a, p) => a + p.s, 0) / pts.length;
  const slope = pts.reduce((a, p) => a + (p.mb - mx) * (p.s - my), 0) / pts.reduce((a, p) => a + (p.mb - mx) ** 2, 0);
  line('KV transfer per MB (ms, fitted slope)', (slope * 1000).toFixed(2));
  line('KV transfer fixed cost (ms, fitted intercept)', ((my - slope * mx) * 1000).toFixed(2));
  await cluster.close();
}
fs.rmSync(dir, { recursive: true, force: true });
