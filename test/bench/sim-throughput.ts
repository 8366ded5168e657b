/**
 * Simulator benchmark (prints figures; never passes or fails on time).
 *
 * 1. Throughput: the conversation trace resampled at 130 req/s for 600 s (~78,000 requests, Poisson
 *    arrivals, sizes drawn from the trace) on the paper's 40-machine Splitwise-HH cluster
 *    (splitwise-hh-paper), rows stored in a temp results store; realistic and SplitwiseSim-compatible
 *    modes. Figure: simulated requests per wall second (target: the 78,000 in < 5 s).
 * 2. Memory: a week-long-size synthetic stream (default 17,000,000 requests: the coding trace's sizes at
 *    its week-long average rate, 27.8 req/s) on the same cluster, simulated in a child process with
 *    results discarded; figure: peak RSS (target < 1 GB), sampled as the run goes.
 *    SIM_BENCH_WEEK_REQUESTS=N changes the request count (the run takes minutes at 17 M).
 *
 * Run alone: `node dist/test/bench/sim-throughput.js` (`--week-child N` is the child's entry).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/index.js';
import { simulate } from '../../src/sim/index.js';
import { rateRequests, traceSampler } from '../../src/trace/index.js';
import { loadDeployment, loadEngineData } from '../../src/config/index.js';

async function throughput(compat: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-sim-'));
  const store = openStore(path.join(dir, 'bench.db'));
  try {
    const dep = loadDeployment('splitwise-hh-paper');
    const { sampler } = await traceSampler({ trace: 'conversation' }, 0);
    const writer = store.createRun({ kind: 'sim', name: 'bench', options: { compat } }, { bulk: true }); // as `splitbench sim` writes
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await simulate({
      data: loadEngineData(),
      deployment: dep,
      requests: rateRequests(sampler, { rate: 130, durationS: 600, seed: 0 }),
      ...(compat ? { compat: 'splitwise' as const } : {}),
      sink: writer,
    });
    writer.finish('completed');
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const n = store.requestCounts(writer.runId).total;
    console.log(
      `${compat ? 'compat   ' : 'realistic'}: ${r.submitted} requests (${n} rows stored, ${r.neverCompleted} never completed) to t=${r.endTime.toFixed(0)} s in ${wall.toFixed(2)} s wall, ` +
        `${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU: ${(r.submitted / wall).toFixed(0)} simulated req/s (wall)`,
    );
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function weekChild(n: number): Promise<void> {
  const dep = loadDeployment('splitwise-hh-paper');
  const { sampler } = await traceSampler({ trace: 'coding' }, 0);
  let peak = 0;
  let rows = 0;
  const t0 = performance.now();
  let nextReport = 1_000_000;
  const r = await simulate({
    data: loadEngineData(),
    deployment: dep,
    requests: rateRequests(sampler, { rate: 27.8, maxRequests: n, seed: 0 }),
    sink: { addRequest: () => void rows++ },
    sampleIntervalS: 0,
    onProgress: (p) => {
      const rss = process.memoryUsage.rss();
      if (rss > peak) peak = rss;
      if (p.submitted >= nextReport) {
        nextReport += 1_000_000;
        process.stdout.write(
          `  ${p.submitted} submitted, t=${p.virtualTime.toFixed(0)} s, in flight ${p.inFlight}, RSS ${(rss / 2 ** 20).toFixed(0)} MiB, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
        );
      }
    },
  });
  peak = Math.max(peak, process.memoryUsage.rss());
  process.stdout.write(
    `week: ${r.submitted} requests, ${rows} rows handed over, virtual ${(r.endTime / 86400).toFixed(2)} days in ${((performance.now() - t0) / 1000).toFixed(0)} s wall; peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB\n`,
  );
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--week-child');
  if (i >= 0) return weekChild(Number(process.argv[i + 1]));
  console.log('sim-throughput: conversation at 130 req/s for 600 s on splitwise-hh-paper (40 DGX-H100), rows stored');
  await throughput(false);
  await throughput(true);
  const n = Number(process.env['SIM_BENCH_WEEK_REQUESTS'] ?? 17_000_000);
  console.log(`sim-throughput: peak RSS of a ${n}-request week-long-size stream (coding sizes, 27.8 req/s) on splitwise-hh-paper, in a child process`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--week-child', String(n)], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`week child exited ${code}`))));
  });
}

await main();
