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
 * every rep, for each client, and their ratio splitbench ÷ undici, twice (a client that achieves under half a
 * rung's rate is not run at the rungs above it, which would fail and take minutes to drain):
 *   - `ladder`: the highest rung that meets the rule. The ladder's steps of √2 quantise the ratio (800 ÷ 1131
 *     reads 0.71 where the capacities are 0.88 apart);
 *   - `refined`: then, for each client and each rule, `--refine N` (default 2) bisection steps between its
 *     ladder figure and the rung above it, which failed: each step runs the client at the geometric mean of
 *     the two, `--reps` times under the same rule (a rep that fails ends the step), and the rate becomes the
 *     new passing or failing bound. Two steps narrow a √2 bracket to 2^(1/8) (9%). Each step's runs are
 *     printed (`refine …` lines); the figure is the last passing rate, with the failing bound beside it. A
 *     client that met the rule at the top of the ladder is not refined (its figure may be higher: the ratio
 *     is then a bound, and says which); `--refine 0` prints the ladder's figure only.
 *
 * `--cpu-prof DIR` runs each replay process under `node --cpu-prof`, its profiles written to DIR (one
 * `.cpuprofile` per run; in closed mode, per long run; sum the self time per function to see where the
 * client's CPU goes).
 *
 * `--closed C` measures instead each client's CPU per request in a closed loop of C in flight (see
 * `closedCpu`): the cost per request without the sleeper's spin between sends, main thread and all threads.
 *
 *   node dist/test/bench/loadgen.js [--duration 10] [--reps 2] [--tokens 32,256]
 *        [--rates 283,400,566,800,1131,1600,2263,3200,4525,6400] [--refine 2] [--prompt 128] [--seed 0]
 *        [--cpu-prof DIR] [--closed C [--requests 4000,500]]
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
  // The kernel caps the backlog at net.core.somaxconn. Node's default of 511 overflows past the server's
  // capacity; a connection dropped from a full accept queue is reset minutes later, which stretches an
  // overloaded rung from seconds to minutes (and fails it anyway).
  server.listen({ port: 0, host: '127.0.0.1', backlog: 65_535 }, () => process.send!({ port: (server.address() as AddressInfo).port }));
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
  /** The same, of its main thread alone (Linux; NaN elsewhere). */
  mainCpuS: number;
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
  const send = (target: number, ended?: () => void): void => {
    const sendMs = performance.now();
    lags.push((sendMs - target) / 1000);
    inFlight++;
    const done = (good: boolean): void => {
      if (good) ok++;
      lastEnd = performance.now();
      if (--inFlight === 0) drained?.();
      ended?.();
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
  const concurrency = Number(flag('concurrency', '0'));
  let behind = 0;
  if (concurrency > 0) {
    // Closed loop (--closed): `concurrency` in flight, `max-requests` in all, each sent as one ends.
    const n = Number(flag('max-requests', '1000'));
    let started = 0;
    const worker = async (): Promise<void> => {
      while (started < n) {
        started++;
        await new Promise<void>((r) => send(performance.now(), r));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  for (const t of concurrency > 0 ? [] : arrivalProcess('poisson', rate, createRng(seed))) {
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
  const out: Omit<Point, 'cpuS' | 'mainCpuS'> = {
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
const CPU_PRELOAD =
  "data:text/javascript,import{readFileSync}from'node:fs';process.on('exit',()=>{const u=process.cpuUsage();let m=-1;" +
  "try{const f=readFileSync('/proc/self/task/'+process.pid+'/stat','utf8').split(') ')[1].split(' ');m=Number(f[11])+Number(f[12])}catch{}" +
  "process.stderr.write('\\nCPU_US '+(u.user+u.system)+' '+m+'\\n')})";

/** Linux clock ticks per second (the unit of /proc's utime and stime). */
const TICKS_PER_S = 100;

function runChild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; cpuS: number; mainCpuS: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', CPU_PRELOAD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => {
      const m = /\nCPU_US (\d+) (-?\d+)\n/.exec(stderr);
      const main = m ? Number(m[2]) : -1;
      resolve({ code, stdout, stderr, cpuS: m ? Number(m[1]) / 1e6 : Number.NaN, mainCpuS: main >= 0 ? main / TICKS_PER_S : Number.NaN });
    });
  });
}

/** An open loop at a rate for a duration, or a closed loop (`--closed`): so many in flight, so many in all. */
type Load = { readonly rate: number; readonly durationS: number } | { readonly concurrency: number; readonly requests: number };

function loadArgs(l: Load): string[] {
  return 'rate' in l
    ? ['--rate', String(l.rate), '--duration', String(l.durationS)]
    : ['--concurrency', String(l.concurrency), '--max-requests', String(l.requests)];
}

async function bareRun(url: string, load: Load, tokens: number, promptTokens: number, seed: number): Promise<Point> {
  const r = await runChild([
    here,
    '--bare',
    '--url',
    url,
    ...loadArgs(load),
    '--tokens',
    String(tokens),
    '--prompt',
    String(promptTokens),
    '--seed',
    String(seed),
  ]);
  if (r.code !== 0) throw new Error(`bare client failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<Point, 'cpuS' | 'mainCpuS'>), cpuS: r.cpuS, mainCpuS: r.mainCpuS };
}

/** One replay run into the store `db`, removed afterwards. */
async function replayRun(url: string, trace: string, db: string, load: Load, seed: number, profDir: string): Promise<Point> {
  try {
    return await replayPoint(url, trace, db, load, seed, profDir);
  } finally {
    for (const f of [db, `${db}-wal`, `${db}-shm`]) rmSync(f, { force: true });
  }
}

async function replayPoint(url: string, trace: string, db: string, load: Load, seed: number, profDir: string): Promise<Point> {
  const r = await runChild([
    ...(profDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]),
    bin,
    'replay',
    '--url',
    url,
    '--trace',
    trace,
    ...loadArgs(load),
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
    mainCpuS: r.mainCpuS,
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

type Client = 'bare' | 'sb';
const NAME: Record<Client, string> = { bare: 'undici', sb: 'splitbench' };
/** Interleaved: which client goes first alternates from rep to rep (and from bisection step to step). */
const order = (k: number): Client[] => (k % 2 === 0 ? ['bare', 'sb'] : ['sb', 'bare']);

const sustained = (p: Point, rate: number): boolean => achieved(p) >= 0.95 * rate;
const lag10 = (p: Point): boolean => p.lagP99S < 0.01;

interface Criterion {
  readonly short: string;
  readonly what: string;
  readonly good: (p: Point, rate: number) => boolean;
}

/** The two figures per output length; a rate meets one where every rep of it does. */
const CRITERIA: readonly Criterion[] = [
  { short: 'sustained', what: 'highest sustained rate (≥ 95% achieved in every rep)', good: sustained },
  { short: 'lag p99 < 10 ms', what: 'highest rate with lag p99 < 10 ms in every rep', good: lag10 },
];

/** A point's achieved rate, lag p50/p99 and CPU per request, as the table's columns (the rate column `w` wide). */
const columns = (p: Point, w = 12): string => `${achieved(p).toFixed(0).padStart(w)}  ${ms(p.lagP50S)}    ${ms(p.lagP99S)}  ${cpuPerReq(p)}`;

/**
 * Whether every request the replay sent ended ok with the token count asked; those that did not are named
 * (failed ones are recorded too, with their error code: a rung past the server's capacity times out connects).
 */
const recorded = (s: Point): string =>
  `  ${s.ok}/${s.sent}, ${s.mismatches}${s.ok === s.sent ? '' : `  (${s.sent - s.ok} FAILED)`}${s.mismatches === 0 ? '' : '  (TOKEN COUNTS DIFFER)'}${s.errors === '' ? '' : ` errors: ${s.errors}`}`;

/**
 * `--closed C`: CPU per request of each client in a closed loop (C in flight, no sleeping, so no spin
 * between sends counts), as the difference of a long and a short run (start-up and the closing summary
 * cancel out) over the difference of their ok requests: of the main thread (the dispatch loop, Linux) and
 * of all threads. Printed per rep, then the medians and their ratio splitbench ÷ undici.
 */
async function closedCpu(
  url: string,
  trace: string,
  dir: string,
  o: { tokens: number; promptTokens: number; seed: number; concurrency: number; counts: number[]; reps: number; profDir: string },
): Promise<void> {
  const [long, short] = o.counts as [number, number];
  console.log(`\n${o.tokens} output tokens, closed loop of ${o.concurrency}, ${long} − ${short} requests`);
  console.log('   rep  undici main µs/req  all threads | splitbench main µs/req  all threads  recorded (ok/sent, token-count mismatches)');
  const run = async (client: Client, requests: number): Promise<Point> => {
    const load = { concurrency: o.concurrency, requests };
    if (client === 'bare') return bareRun(url, load, o.tokens, o.promptTokens, o.seed);
    // Profiled (--cpu-prof): the long run only, so each rep leaves one profile.
    return replayRun(url, trace, path.join(dir, `closed-${o.tokens}-${requests}.db`), load, o.seed, requests === long ? o.profDir : '');
  };
  const marginal = async (client: Client): Promise<{ main: number; all: number; long: Point }> => {
    const a = await run(client, long);
    const b = await run(client, short);
    const n = a.ok - b.ok;
    return { main: ((a.mainCpuS - b.mainCpuS) / n) * 1e6, all: ((a.cpuS - b.cpuS) / n) * 1e6, long: a };
  };
  const main: { bare: number[]; sb: number[] } = { bare: [], sb: [] };
  const all: { bare: number[]; sb: number[] } = { bare: [], sb: [] };
  for (let rep = 0; rep < o.reps; rep++) {
    const got: Partial<Record<Client, { main: number; all: number; long: Point }>> = {};
    for (const c of order(rep)) got[c] = await marginal(c);
    const b = got.bare!;
    const s = got.sb!;
    for (const c of ['bare', 'sb'] as const) {
      main[c].push(got[c]!.main);
      all[c].push(got[c]!.all);
    }
    const us = (x: number, w: number): string => x.toFixed(0).padStart(w);
    console.log(`${String(rep + 1).padStart(6)}  ${us(b.main, 18)}  ${us(b.all, 11)} | ${us(s.main, 22)}  ${us(s.all, 11)}${recorded(s.long)}`);
  }
  const med = (v: number[]): number => v.slice().sort((x, y) => x - y)[v.length >> 1]!;
  console.log(
    `${o.tokens} tokens, closed loop: CPU per request splitbench ÷ undici, median of ${o.reps}: main thread ${(med(main.sb) / med(main.bare)).toFixed(2)} (${med(main.sb).toFixed(0)} ÷ ${med(main.bare).toFixed(0)} µs), all threads ${(med(all.sb) / med(all.bare)).toFixed(2)} (${med(all.sb).toFixed(0)} ÷ ${med(all.bare).toFixed(0)} µs)`,
  );
}

async function main(): Promise<void> {
  const durationS = Number(flag('duration', '10'));
  const reps = Number(flag('reps', '2'));
  const seed = Number(flag('seed', '0'));
  const promptTokens = Number(flag('prompt', '128'));
  const lengths = numbers('tokens', '32,256');
  const rates = numbers('rates', '283,400,566,800,1131,1600,2263,3200,4525,6400');
  const profDir = flag('cpu-prof', '');
  const refine = Number(flag('refine', '2'));
  if (!Number.isInteger(refine) || refine < 0) {
    process.stderr.write(`loadgen: --refine takes a number of bisection steps (0 or more), got '${flag('refine', '')}'\n`);
    process.exit(2);
  }
  const closed = Number(flag('closed', '0'));
  const closedCounts = numbers('requests', '4000,500');
  if (!Number.isInteger(closed) || closed < 0 || closedCounts.length !== 2 || closedCounts[0]! <= closedCounts[1]!) {
    process.stderr.write('loadgen: --closed takes a number of requests in flight, --requests two counts (more, fewer)\n');
    process.exit(2);
  }
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
      // (A closed loop sends the trace's rows in order: as many rows as requests, a millisecond apart.)
      const rows = closed > 0 ? Math.max(...closedCounts) : 16;
      const at = (i: number): string =>
        new Date(Date.UTC(2023, 10, 16, 18, 17) + (closed > 0 ? i : i * 1000)).toISOString().replace('T', ' ').replace('Z', '0000');
      writeFileSync(
        trace,
        `TIMESTAMP,ContextTokens,GeneratedTokens\n${Array.from({ length: rows }, (_, i) => `${at(i)},${promptTokens},${tokens}`).join('\n')}\n`,
      );
      if (closed > 0) {
        await closedCpu(url, trace, dir, { tokens, promptTokens, seed, concurrency: closed, counts: closedCounts, reps, profDir });
        if (profDir !== '') reportProfiles(profDir, profSeen, `${tokens} tokens, closed loop of ${closed}`);
        continue;
      }
      console.log(`\n${tokens} output tokens`);
      console.log(
        '   rate  rep  undici req/s  lag p50 ms  lag p99 ms  CPU µs/req | splitbench req/s  lag p50 ms  lag p99 ms  CPU µs/req  recorded (ok/sent, token-count mismatches)',
      );
      /** Every point measured, per client and rate: the ladder's and the refinement's. */
      const res: Record<Client, Map<number, Point[]>> = { bare: new Map(), sb: new Map() };
      const measure = async (c: Client, rate: number, rep: number): Promise<Point> => {
        const p =
          c === 'bare'
            ? await bareRun(url, { rate, durationS }, tokens, promptTokens, seed + rep)
            : await replayRun(url, trace, path.join(dir, `r-${tokens}-${rate}-${rep}.db`), { rate, durationS }, seed + rep, profDir);
        const e = res[c].get(rate) ?? [];
        e.push(p);
        res[c].set(rate, e);
        if (c === 'sb' && profDir !== '') reportProfiles(profDir, profSeen, `${tokens} tokens, rate ${rate}, rep ${rep + 1}`);
        return p;
      };
      const ladder = [...new Set(rates)].sort((x, y) => x - y);
      /** Per client, the lowest rung where it achieved under half the rate: the rungs above it are not run. */
      const overloaded: Partial<Record<Client, number>> = {};
      const skip = `${'—'.padStart(12)}  ${'—'.padStart(8)}    ${'—'.padStart(8)}  ${'—'.padStart(10)}`;
      for (let rep = 0; rep < reps; rep++) {
        for (const rate of ladder) {
          // Interleaved: which client goes first alternates from rep to rep.
          const got: Partial<Record<Client, Point>> = {};
          for (const c of order(rep)) {
            if (rate > (overloaded[c] ?? Infinity)) continue;
            const p = await measure(c, rate, rep);
            got[c] = p;
            if (achieved(p) < 0.5 * rate) overloaded[c] = Math.min(rate, overloaded[c] ?? Infinity);
          }
          const b = got.bare;
          const s = got.sb;
          if (b === undefined && s === undefined) continue;
          console.log(
            `${String(rate).padStart(7)}  ${String(rep + 1).padStart(3)}  ${b === undefined ? skip : columns(b)} | ${s === undefined ? `    ${skip}` : `${columns(s, 16)}${recorded(s)}`}`,
          );
        }
      }
      for (const c of ['bare', 'sb'] as const)
        if (overloaded[c] !== undefined)
          console.log(`  ${NAME[c]} achieved under half the rate at ${overloaded[c]} req/s: the rungs above it were not run (they fail)`);
      const highest = (c: Client, good: Criterion['good']): number => {
        let best = 0;
        for (const rate of ladder) {
          // Every rep, each measured (a rung skipped in a later rep, above one that rep overloaded, fails).
          const ps = res[c].get(rate) ?? [];
          if (ps.length >= reps && ps.every((p) => good(p, rate))) best = rate;
        }
        return best;
      };
      const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');
      for (const crit of CRITERIA) {
        // The ladder's figure, then bisection (geometric) between it and the rung above it, which failed.
        const lo = { bare: highest('bare', crit.good), sb: highest('sb', crit.good) };
        const hi: Record<Client, number | undefined> = { bare: ladder.find((r) => r > lo.bare), sb: ladder.find((r) => r > lo.sb) };
        const passes = async (c: Client, rate: number): Promise<boolean> => {
          for (let rep = 0; rep < reps; rep++) {
            const known = res[c].get(rate)?.[rep];
            const p = known ?? (await measure(c, rate, rep));
            if (known === undefined)
              console.log(
                `  refine ${crit.short}: ${NAME[c].padEnd(10)} ${String(rate).padStart(6)}  ${String(rep + 1).padStart(3)}  ${columns(p)}${c === 'sb' ? recorded(p) : ''}`,
              );
            // (A point that failed one rep fails the rule: no more reps of it.)
            if (!crit.good(p, rate)) return false;
          }
          return true;
        };
        for (let step = 0; step < refine; step++) {
          for (const c of order(step)) {
            const top = hi[c];
            if (top === undefined || lo[c] === 0) continue;
            const mid = Math.round(Math.sqrt(lo[c] * top));
            if (mid <= lo[c] || mid >= top) continue;
            if (await passes(c, mid)) lo[c] = mid;
            else hi[c] = mid;
          }
        }
        const fig = (c: Client): string =>
          lo[c] === 0 ? '0 (below the ladder)' : hi[c] === undefined ? `${lo[c]} (top of the ladder)` : `${lo[c]} (fails at ${hi[c]})`;
        // At the top of the ladder a client's true figure may be higher: the ratio is then a bound.
        const bound =
          hi.bare === undefined && hi.sb === undefined
            ? ' (both at the top of the ladder)'
            : hi.bare === undefined
              ? ' (at most: undici at the top of the ladder)'
              : hi.sb === undefined
                ? ' (at least: splitbench at the top of the ladder)'
                : '';
        const [lb, ls] = [highest('bare', crit.good), highest('sb', crit.good)];
        console.log(`${tokens} tokens: ${crit.what}, ladder:  undici ${lb}, splitbench ${ls}: ratio ${ratio(ls, lb)}`);
        console.log(
          `${tokens} tokens: ${crit.what}, refined: undici ${fig('bare')}, splitbench ${fig('sb')}: ratio ${ratio(lo.sb, lo.bare)}${bound} (${refine} bisection step${refine === 1 ? '' : 's'})`,
        );
      }
      // CPU per request, where both kept up: steadier than the rates on a loaded machine.
      const cpu: number[] = [];
      for (const rate of ladder)
        for (let rep = 0; rep < reps; rep++) {
          const b = res.bare.get(rate)?.[rep];
          const s = res.sb.get(rate)?.[rep];
          if (b !== undefined && s !== undefined && sustained(b, rate) && sustained(s, rate)) cpu.push(s.cpuS / s.ok / (b.cpuS / b.ok));
        }
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
