/** Fake GPU telemetry for the tests: an `nvidia-smi` script, a DCGM exporter and a vLLM-style /metrics on loopback. */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/**
 * Writes `<dir>/nvidia-smi`, a node script that behaves by FAKE_NVSMI_MODE:
 * - `normal`: every -lms N ms prints `index, power.draw, total_energy_consumption` (mJ) for GPUs 0 and 1 at
 *   300 W / 200 W; the counters restart from zero after tick 4 (a driver reload); after tick FAKE_NVSMI_TICKS
 *   (default 8) it prints an error to stderr and exits 1 (a GPU host going away mid-run);
 * - `noenergy`: refuses `total_energy_consumption` like drivers that do not know it, and prints `index, power.draw`
 *   (100 W) until killed.
 */
export function writeFakeNvidiaSmi(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'nvidia-smi');
  writeFileSync(
    file,
    `#!${process.execPath}
const args = process.argv.slice(2);
const q = (args.find((a) => a.startsWith('--query-gpu=')) || '').slice(12);
const ms = Number(args[args.indexOf('-lms') + 1]) || 100;
const mode = process.env.FAKE_NVSMI_MODE || 'normal';
const last = Number(process.env.FAKE_NVSMI_TICKS || 8);
if (mode === 'noenergy' && q.includes('total_energy_consumption')) {
  process.stderr.write('Field "total_energy_consumption" is not a valid field to query.\\n');
  process.exit(2);
}
let tick = 0;
const counters = [5e6, 7e6];
const watts = [300, 200];
setInterval(() => {
  tick++;
  if (mode === 'normal' && tick > last) {
    process.stderr.write('Unable to determine the device handle for GPU0000:41:00.0: GPU is lost.\\n');
    process.exit(1);
  }
  let out = '';
  for (let i = 0; i < 2; i++) {
    if (mode === 'noenergy') { out += i + ', 100.00\\n'; continue; }
    if (tick === 5) counters[i] = 0;
    counters[i] += watts[i] * ms;
    out += i + ', ' + watts[i].toFixed(2) + ', ' + Math.round(counters[i]) + '\\n';
  }
  process.stdout.write(out);
}, ms);
`,
  );
  chmodSync(file, 0o755);
  return file;
}

export interface FakeServer {
  readonly url: string;
  readonly hits: () => number;
  close(): Promise<void>;
}

function serve(handler: (n: number, res: http.ServerResponse) => void): Promise<FakeServer> {
  let n = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    n++;
    handler(n, res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        hits: () => n,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

/**
 * A DCGM exporter for host d1 with two H100s at 400 W each; the energy counter (mJ) grows with wall time, is reset
 * (exporter restart) at scrape `resetAt`, and from scrape `dieAfter` on the exporter answers HTTP 500.
 */
export function fakeDcgm(opts: { resetAt?: number; dieAfter?: number } = {}): Promise<FakeServer> {
  const start = performance.now();
  let base = start;
  const resetAt = opts.resetAt ?? 3;
  const dieAfter = opts.dieAfter ?? 6;
  return serve((n, res) => {
    if (n > dieAfter) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('dcgm: connection to the host engine lost');
      return;
    }
    const now = performance.now();
    if (n === resetAt) base = now - 10; // restarted 10 ms ago
    const mj = 400 * (now - base); // W × ms = mJ
    const lines = ['# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).', '# TYPE DCGM_FI_DEV_POWER_USAGE gauge'];
    for (const g of [0, 1])
      lines.push(`DCGM_FI_DEV_POWER_USAGE{gpu="${g}",UUID="GPU-d1-${g}",device="nvidia${g}",modelName="NVIDIA H100 80GB HBM3",Hostname="d1"} 400.000000`);
    lines.push(
      '# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).',
      '# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter',
    );
    for (const g of [0, 1])
      lines.push(
        `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="${g}",UUID="GPU-d1-${g}",device="nvidia${g}",modelName="NVIDIA H100 80GB HBM3",Hostname="d1"} ${Math.round(mj)}`,
      );
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
}

/** A vLLM-style /metrics whose counters and TTFT histogram grow with every scrape. */
export function fakeVllmMetrics(): Promise<FakeServer> {
  return serve((n, res) => {
    const l = 'model_name="llama",engine="0"';
    const body = [
      '# TYPE vllm:num_requests_running gauge',
      `vllm:num_requests_running{${l}} ${n % 5}`,
      `vllm:num_requests_waiting{${l}} 1`,
      `vllm:kv_cache_usage_perc{${l}} 0.5`,
      '# TYPE vllm:prompt_tokens counter',
      `vllm:prompt_tokens_total{${l}} ${n * 100}`,
      `vllm:generation_tokens_total{${l}} ${n * 10}`,
      '# TYPE vllm:time_to_first_token_seconds histogram',
      `vllm:time_to_first_token_seconds_bucket{${l},le="0.5"} ${n}`,
      `vllm:time_to_first_token_seconds_bucket{${l},le="+Inf"} ${2 * n}`,
      `vllm:time_to_first_token_seconds_sum{${l}} ${n * 0.75}`,
      `vllm:time_to_first_token_seconds_count{${l}} ${2 * n}`,
    ];
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${body.join('\n')}\n`);
  });
}
