/**
 * Load generator against a bare undici client: one replay process (the real `splitbench replay` CLI,
 * recording every request and token into a results store) and a bare undici client (no recording, no SSE
 * parsing) drive the same open-loop Poisson schedule against the same minimal streaming server, rate by
 * rate, interleaved, each point `--reps` times. The ratio of the two, measured in the same run, is the
 * figure; absolute rates depend on the machine and on what else runs on it.
 *
 * The server runs in its own child process (this file with `--serve`): one process, exactly `max_tokens`
 * tokens per request, one SSE event per token (with per-chunk usage when the request asks for
 * `continuous_usage_stats`, as splitbench's bodies do), then the usage block and `[DONE]`. Each client run
 * is its own process too (`--bare` for the undici client), so neither shares the other's event loop or heap.
 *
 * Printed per output length and rate: achieved rate (ok requests ÷ seconds from t0 until the last one
 * ended) and dispatch lag p50/p99 (send − scheduled) for both clients, in every rep; then per length:
 * the highest rate sustained (≥ 95% achieved in every rep) and the highest rate with lag p99 < 10 ms in
 * every rep, for each client, and their ratio splitbench ÷ undici.
 *
 * `--cpu-prof DIR` runs each replay process under `node --cpu-prof`, its profiles written to DIR (one
 * `.cpuprofile` per run; sum the self time per function to see where the client's CPU goes).
 *
 *   node dist/test/bench/loadgen.js [--duration 10] [--reps 2] [--tokens 32,256]
 *        [--rates 283,400,566,800,1131,1600,2263,3200,4525,6400] [--prompt 128] [--seed 0] [--cpu-prof DIR]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { Sleeper } from '../../src/load/schedule.js';
import { arrivalProcess, createRng } from '../../src/trace/index.js';

const here = fileURLToPath(import.meta.url);
const bin = path.resolve(path.dirname(here), '../../../bin/splitbench.js');
const MODEL = 'bench-model';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v === undefined ? def : v;
}

function numbers(name: string, def: string): number[] {
  const raw = flag(name, def);
  const out = raw.split(',').map(Number);
  if (out.some((n) => !Number.isFinite(n) || n <= 0)) {
    process.stderr.write(`loadgen: --${name} must be a comma-separated list of positive numbers, got '${raw}'\n`);
    process.exit(2);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The minimal streaming server (child process).

function serve(): void {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model' }] }));
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
        max_tokens: number;
        prompt: unknown[];
        stream_options?: { include_usage?: boolean; continuous_usage_stats?: boolean };
      };
      const n = body.max_tokens;
      const p = Array.isArray(body.prompt) ? body.prompt.length : 0;
      const perChunk = body.stream_options?.continuous_usage_stats === true;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (let i = 1; i <= n; i++) {
        const usage = perChunk ? `{"prompt_tokens":${p},"completion_tokens":${i},"total_tokens":${p + i}}` : 'null';
        res.write(
          `data: {"id":"cmpl-bench","object":"text_completion","created":0,"model":"${MODEL}","choices":[{"index":0,"text":" tok","logprobs":null,"finish_reason":${i === n ? '"length"' : 'null'}}],"usage":${usage}}\n\n`,
        );
      }
      const tail = body.stream_options?.include_usage
        ? `data: {"id":"cmpl-bench","object":"text_completion","created":0,"model":"${MODEL}","choices":[],"usage":{"prompt_tokens":${p},"completion_tokens":${n},"total_tokens":${p + n}}}\n\n`
        : '';
      res.end(`${tail}data: [DONE]\n\n`);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
}

// ---------------------------------------------------------------------------------------------------------
// The bare undici client (child process): same schedule, same bodies, no parsing, no recording.

interface Point {
  sent: number;
  ok: number;
  /** Seconds from t0 until the last request ended. */
  spanS: number;
  lagP50S: number;
  lagP99S: number;
  /** CPU seconds (user + system, all threads) the client process used, start-up included. */
  cpuS: number;
  /** ok requests whose recorded token count differs from the one asked (the replay; 0 for the bare client). */
  mismatches: number;
  /** The failed requests' error codes and counts (the replay; empty when none failed). */
  errors: string;
}

function pct(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)]!;
}

async function bare(): Promise<void> {
  const url = flag('url', '');
  const rate = Number(flag('rate', '100'));
  const durationS = Number(flag('duration', '10'));
  const tokens = Number(flag('tokens', '32'));
  const promptTokens = Number(flag('prompt', '128'));
  const seed = Number(flag('seed', '0'));
  const pool = new Pool(url, { connections: null, pipelining: 1, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
  const prompt = Array.from({ length: promptTokens }, (_, i) => 1000 + i);
  const bodyOf = (): string =>
    JSON.stringify({
      model: MODEL,
      prompt,
      max_tokens: tokens,
      min_tokens: tokens,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream' };
  const lags: number[] = [];
  let ok = 0;
  let inFlight = 0;
  let lastEnd = 0;
  let drained: (() => void) | undefined;
  const sleeper = new Sleeper();
  const t0 = performance.now();
  const send = (target: number): void => {
    const sendMs = performance.now();
    lags.push((sendMs - target) / 1000);
    inFlight++;
    const done = (good: boolean): void => {
      if (good) ok++;
      lastEnd = performance.now();
      if (--inFlight === 0) drained?.();
    };
    pool.request({ path: '/v1/completions', method: 'POST', headers, body: bodyOf() }).then(
      (res) => {
        const b = res.body;
        b.on('data', () => {});
        b.on('end', () => done(res.statusCode === 200));
        b.on('error', () => done(false));
      },
      () => done(false),
    );
  };
  let behind = 0;
  for (const t of arrivalProcess('poisson', rate, createRng(seed))) {
    if (t >= durationS) break;
    const target = t0 + t * 1000;
    if (performance.now() < target) {
      behind = 0;
      await sleeper.until(target);
    } else if (++behind % 16 === 0) await new Promise((r) => setImmediate(r));
    send(target);
  }
  if (inFlight > 0) await new Promise<void>((r) => (drained = r));
  await pool.close();
  const sorted = Float64Array.from(lags).sort();
  const out: Omit<Point, 'cpuS'> = {
    sent: lags.length,
    ok,
    spanS: (lastEnd - t0) / 1000,
    lagP50S: pct(sorted, 50),
    lagP99S: pct(sorted, 99),
    mismatches: 0,
    errors: '',
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// The orchestrator.

/** Preloaded into each client process: its CPU time (all threads) on stderr at exit. */
const CPU_PRELOAD = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\nCPU_US '+(u.user+u.system)+'\\n')})`;

function runChild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; cpuS: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', CPU_PRELOAD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => {
      const m = /\nCPU_US (\d+)\n/.exec(stderr);
      resolve({ code, stdout, stderr, cpuS: m ? Number(m[1]) / 1e6 : Number.NaN });
    });
  });
}

async function bareRun(url: string, rate: number, durationS: number, tokens: number, promptTokens: number, seed: number): Promise<Point> {
  const r = await runChild([
    here,
    '--bare',
    '--url',
    url,
    '--rate',
    String(rate),
    '--duration',
    String(durationS),
    '--tokens',
    String(tokens),
    '--prompt',
    String(promptTokens),
    '--seed',
    String(seed),
  ]);
  if (r.code !== 0) throw new Error(`bare client failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<Point, 'cpuS'>), cpuS: r.cpuS };
}

async function replayRun(url: string, trace: string, db: string, rate: number, durationS: number, seed: number, profDir: string): Promise<Point> {
  const r = await runChild([
    ...(profDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]),
    bin,
    'replay',
    '--url',
    url,
    '--trace',
    trace,
    '--rate',
    String(rate),
    '--duration',
    String(durationS),
    '--seed',
    String(seed),
    '--db',
    db,
    '--json',
  ]);
  // Exit 4: the run finished but some requests failed; the row says which (errors), the ratio counts only ok ones.
  if (r.code !== 0 && r.code !== 4) throw new Error(`splitbench replay failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  const s = (JSON.parse(r.stdout) as { result: unknown }).result as {
    elapsedWallS: number;
    requests: { sent: number; ok: number };
    errorCodes: Record<string, number>;
    lag: { p50S: number; p99S: number };
    outputMismatch: { fewer: number; more: number };
  };
  return {
    sent: s.requests.sent,
    ok: s.requests.ok,
    spanS: s.elapsedWallS,
    lagP50S: s.lag.p50S,
    lagP99S: s.lag.p99S,
    cpuS: r.cpuS,
    mismatches: s.outputMismatch.fewer + s.outputMismatch.more,
    errors: Object.entries(s.errorCodes)
      .map(([code, n]) => `${code} ×${n}`)
      .join(', '),
  };
}

/** Self time per function (name file:line) of a V8 `.cpuprofile`, as shares of the busy (not idle) samples, largest first. */
function selfTimes(file: string): { name: string; share: number }[] {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
  };
  const nameOf = new Map<number, string>();
  for (const n of prof.nodes) {
    const f = n.callFrame;
    const where = f.url === '' ? '' : ` ${path.basename(f.url)}:${f.lineNumber + 1}`;
    nameOf.set(n.id, `${f.functionName || '(anonymous)'}${where}`);
  }
  const counts = new Map<string, number>();
  let total = 0;
  for (const id of prof.samples) {
    const name = nameOf.get(id) ?? '?';
    if (name === '(idle)') continue;
    total++;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, c]) => ({ name, share: c / total })).sort((a, b) => b.share - a.share);
}

/** Print the top self-time entries of the profiles in `dir` not seen before. */
function reportProfiles(dir: string, seen: Set<string>, label: string): void {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.cpuprofile') || seen.has(f)) continue;
    seen.add(f);
    const top = selfTimes(path.join(dir, f)).slice(0, 15);
    console.log(`  profile ${label} (${f}), self time, share of busy samples:`);
    for (const e of top) console.log(`    ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`);
  }
}

const achieved = (p: Point): number => p.ok / p.spanS;
const cpuPerReq = (p: Point): string => ((p.cpuS / Math.max(1, p.ok)) * 1e6).toFixed(0).padStart(10);
const ms = (s: number): string => (s * 1e3).toFixed(2).padStart(8);

async function main(): Promise<void> {
  const durationS = Number(flag('duration', '10'));
  const reps = Number(flag('reps', '2'));
  const seed = Number(flag('seed', '0'));
  const promptTokens = Number(flag('prompt', '128'));
  const lengths = numbers('tokens', '32,256');
  const rates = numbers('rates', '283,400,566,800,1131,1600,2263,3200,4525,6400');
  const profDir = flag('cpu-prof', '');
  const profSeen = new Set<string>();
  if (profDir !== '') mkdirSync(profDir, { recursive: true });
  const server: ChildProcess = spawn(process.execPath, [here, '--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => server.once('message', (m: { port: number }) => resolve(m.port)));
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-bench-loadgen-'));
  console.log(
    `load generator vs bare undici: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, node ${process.version}; ` +
      `server in a child process, one SSE event per token with per-chunk usage, ${promptTokens} prompt tokens, ${durationS} s per rate, ${reps} rep(s), interleaved`,
  );
  try {
    for (const tokens of lengths) {
      const trace = path.join(dir, `t${tokens}.csv`);
      writeFileSync(
        trace,
        'TIMESTAMP,ContextTokens,GeneratedTokens\n' +
          Array.from({ length: 16 }, (_, i) => `2023-11-16 18:17:${String(i).padStart(2, '0')}.0000000,${promptTokens},${tokens}`).join('\n') +
          '\n',
      );
      console.log(`\n${tokens} output tokens`);
      console.log(
        '   rate  rep  undici req/s  lag p50 ms  lag p99 ms  CPU µs/req | splitbench req/s  lag p50 ms  lag p99 ms  CPU µs/req  recorded (ok/sent, token-count mismatches)',
      );
      const res = new Map<number, { bare: Point[]; sb: Point[] }>();
      for (let rep = 0; rep < reps; rep++) {
        for (const rate of rates) {
          const db = path.join(dir, `r-${tokens}-${rate}-${rep}.db`);
          // Interleaved: which client goes first alternates from rep to rep.
          let b: Point;
          let s: Point;
          if (rep % 2 === 0) {
            b = await bareRun(url, rate, durationS, tokens, promptTokens, seed + rep);
            s = await replayRun(url, trace, db, rate, durationS, seed + rep, profDir);
          } else {
            s = await replayRun(url, trace, db, rate, durationS, seed + rep, profDir);
            b = await bareRun(url, rate, durationS, tokens, promptTokens, seed + rep);
          }
          rmSync(db, { force: true });
          rmSync(`${db}-wal`, { force: true });
          rmSync(`${db}-shm`, { force: true });
          const e = res.get(rate) ?? { bare: [], sb: [] };
          e.bare.push(b);
          e.sb.push(s);
          res.set(rate, e);
          console.log(
            `${String(rate).padStart(7)}  ${String(rep + 1).padStart(3)}  ${achieved(b).toFixed(0).padStart(12)}  ${ms(b.lagP50S)}    ${ms(b.lagP99S)}  ${cpuPerReq(b)} | ${achieved(s).toFixed(0).padStart(16)}  ${ms(s.lagP50S)}    ${ms(s.lagP99S)}  ${cpuPerReq(s)}  ${s.ok}/${s.sent}, ${s.mismatches}${s.ok === s.sent && s.mismatches === 0 ? '' : '  (NOT ALL RECORDED)'}${s.errors === '' ? '' : ` errors: ${s.errors}`}`,
          );
          if (profDir !== '') reportProfiles(profDir, profSeen, `${tokens} tokens, rate ${rate}, rep ${rep + 1}`);
        }
      }
      const highest = (pick: (e: { bare: Point[]; sb: Point[] }) => Point[], good: (p: Point, rate: number) => boolean): number => {
        let best = 0;
        for (const [rate, e] of res) if (pick(e).every((p) => good(p, rate))) best = Math.max(best, rate);
        return best;
      };
      const sustained = (p: Point, rate: number): boolean => achieved(p) >= 0.95 * rate;
      const lag10 = (p: Point): boolean => p.lagP99S < 0.01;
      const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');
      const bs = highest((e) => e.bare, sustained);
      const ss = highest((e) => e.sb, sustained);
      const bl = highest((e) => e.bare, lag10);
      const sl = highest((e) => e.sb, lag10);
      console.log(`${tokens} tokens: highest sustained rate (≥ 95% achieved in every rep): undici ${bs}, splitbench ${ss}: ratio ${ratio(ss, bs)}`);
      console.log(`${tokens} tokens: highest rate with lag p99 < 10 ms in every rep:     undici ${bl}, splitbench ${sl}: ratio ${ratio(sl, bl)}`);
      // CPU per request, where both kept up: steadier than the rates on a loaded machine.
      const cpu: number[] = [];
      for (const [rate, e] of res)
        e.bare.forEach((b, i) => {
          const s = e.sb[i]!;
          if (sustained(b, rate) && sustained(s, rate)) cpu.push(s.cpuS / s.ok / (b.cpuS / b.ok));
        });
      cpu.sort((a, b) => a - b);
      console.log(
        cpu.length === 0
          ? `${tokens} tokens: CPU per request: no point where both sustained the rate`
          : `${tokens} tokens: CPU per request splitbench ÷ undici, where both sustained the rate: median ${cpu[cpu.length >> 1]!.toFixed(2)} (${cpu[0]!.toFixed(2)}–${cpu[cpu.length - 1]!.toFixed(2)}, ${cpu.length} points)`,
      );
    }
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve')) serve();
else if (process.argv.includes('--bare')) await bare();
else await main();
