/**
 * `splitbench sim` end to end, as a user runs it (prints figures; never passes or fails on time): the CLI
 * in a child process, start-up, simulation, row storage (per-token chunks, a file store) and the printed
 * summary included. Per case: wall seconds, CPU seconds (user + system, every thread) and peak RSS, the
 * median of SIM_SPEED_REPS runs (default 3), each rep listed.
 *
 * Cases: start-up alone (the same command cut to one request); the conversation trace resampled at 70 req/s for 600 s (~42,000 requests, Poisson arrivals,
 * BLOOM-176B) on the paper's Baseline-H100 ×40 (baseline-h100-paper) and Splitwise-HH 25+15
 * (splitwise-hh-paper), SplitwiseSim-compatible mode then the realistic engine; then a week-size stream
 * (default 17,000,000 requests at 70 req/s, compatible mode, which queues every arrival before its loop,
 * on baseline-h100-paper, stored to a file, power samples every 60 virtual s), once. SIM_SPEED_STREAM_REQUESTS=N changes its size (0: skip;
 * at 17 M it takes tens of minutes of CPU).
 *
 * The child's usage comes from `process.resourceUsage()` at its exit (a preloaded module writes it to a
 * file), so no `time` binary is needed. SIM_SPEED_CLI=PATH runs another checkout's bin/splitbench.js instead.
 * SIM_SPEED_BASELINE=PATH times that checkout's CLI too, in the same sitting: each rep runs both, in turn
 * (which goes first alternates), and each case prints both medians and the median of the reps' ratios
 * (this ÷ baseline, wall and CPU): on a machine whose speed drifts by tens of percent from minute to
 * minute, the paired ratio is the figure to compare, as the load-generator bench's is.
 * Run alone: `npx tsc && SIM_SPEED_REPS=3 node dist/test/bench/sim-speed.js`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// SIM_SPEED_CLI: another checkout's bin/splitbench.js (its before figures, in the same sitting).
const cli = process.env['SIM_SPEED_CLI'] ?? path.join(root, 'bin', 'splitbench.js');
const baseline = process.env['SIM_SPEED_BASELINE'];
const reps = Math.max(1, Number(process.env['SIM_SPEED_REPS'] ?? 3) || 1);
const streamRequests = Math.max(0, Math.floor(Number(process.env['SIM_SPEED_STREAM_REQUESTS'] ?? 17_000_000) || 0));

interface Usage {
  readonly wallS: number;
  readonly cpuS: number;
  readonly rssMiB: number;
}

/** Preloaded into the child: its resource usage, written at exit to the file named by SIM_SPEED_USAGE. */
const PRELOAD = `import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  const u = process.resourceUsage();
  writeFileSync(process.env.SIM_SPEED_USAGE, JSON.stringify({ cpuUs: u.userCPUTime + u.systemCPUTime, maxRssKiB: u.maxRSS }));
});
`;

async function runCli(dir: string, args: readonly string[], bin = cli): Promise<Usage> {
  const usageFile = path.join(dir, 'usage.json');
  const db = path.join(dir, 'bench.db');
  for (const f of [usageFile, db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  const env = { ...process.env, SIM_SPEED_USAGE: usageFile };
  const preload = pathToFileURL(path.join(dir, 'usage.mjs')).href;
  const t0 = performance.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', preload, bin, 'sim', ...args, '--db', db], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  const wallS = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`sim ${args.join(' ')} exited ${code}: ${stderr.trim()}`);
  const u = JSON.parse(fs.readFileSync(usageFile, 'utf8')) as { cpuUs: number; maxRssKiB: number };
  return { wallS, cpuS: u.cpuUs / 1e6, rssMiB: u.maxRssKiB / 1024 };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const fmt = (u: Usage): string => `${u.wallS.toFixed(2)} s wall, ${u.cpuS.toFixed(2)} s CPU, ${u.rssMiB.toFixed(0)} MiB peak RSS`;

const medianOf = (runs: readonly Usage[]): Usage => ({
  wallS: median(runs.map((r) => r.wallS)),
  cpuS: median(runs.map((r) => r.cpuS)),
  rssMiB: median(runs.map((r) => r.rssMiB)),
});

const repsOf = (runs: readonly Usage[]): string => runs.map((r) => `${r.wallS.toFixed(2)}/${r.cpuS.toFixed(2)}/${r.rssMiB.toFixed(0)}`).join(', ');

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-bench-simspeed-'));
  fs.writeFileSync(path.join(dir, 'usage.mjs'), PRELOAD);
  try {
    const conv = ['--trace', 'conversation', '--rate', '70', '--duration', '600'];
    // Start-up alone (CLI, catalogs, profiles, the trace's size sampler, store, summary): one request.
    const cases: [string, string[]][] = [
      ['start-up  1 request, compat     ', [...conv, '--max-requests', '1', '--deployment', 'baseline-h100-paper', '--compat', 'splitwise']],
    ];
    for (const [mode, extra] of [
      ['compat', ['--compat', 'splitwise']],
      ['realistic', []],
    ] as const) {
      for (const [label, dep] of [
        ['Baseline-H100 x40', 'baseline-h100-paper'],
        ['Splitwise-HH 25+15', 'splitwise-hh-paper'],
      ] as const) {
        cases.push([`${mode.padEnd(9)} ${label.padEnd(18)}`, [...conv, '--deployment', dep, ...extra]]);
      }
    }
    console.log(`sim, conversation trace at 70 req/s for 600 s, BLOOM-176B, rows with per-token chunks in a file store; median of ${reps}`);
    if (baseline) console.log(`baseline: ${baseline}, run in turn with each rep`);
    for (const [label, args] of cases) {
      const runs: Usage[] = [];
      const base: Usage[] = [];
      for (let i = 0; i < reps; i++) {
        if (baseline && i % 2 === 0) base.push(await runCli(dir, args, baseline));
        runs.push(await runCli(dir, args));
        if (baseline && i % 2 === 1) base.push(await runCli(dir, args, baseline));
      }
      console.log(`${label}: ${fmt(medianOf(runs))}   (reps: ${repsOf(runs)})`);
      if (baseline) {
        const wall = median(runs.map((r, i) => r.wallS / base[i]!.wallS));
        const cpu = median(runs.map((r, i) => r.cpuS / base[i]!.cpuS));
        console.log(`${'  baseline'.padEnd(label.length)}: ${fmt(medianOf(base))}   (reps: ${repsOf(base)})`);
        console.log(`${'  this ÷ baseline'.padEnd(label.length)}: wall ${wall.toFixed(3)}, CPU ${cpu.toFixed(3)} (medians of the reps' ratios)`);
      }
    }
    if (streamRequests > 0) {
      // 70 req/s: the duration is a bound only; --max-requests makes the count.
      const dur = Math.ceil((streamRequests / 70) * 1.2) + 60;
      const args = ['--trace', 'conversation', '--rate', '70', '--duration', String(dur), '--max-requests', String(streamRequests)];
      const u = await runCli(dir, [...args, '--deployment', 'baseline-h100-paper', '--compat', 'splitwise', '--sample-interval', '60']);
      console.log(
        `stream    ${streamRequests} requests, compat, baseline-h100-paper: ${fmt(u)} (${((u.rssMiB * 1024 * 1024) / streamRequests).toFixed(0)} B/request)`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
