/** Helpers of the scale-out tests: temp folders, synthetic shard stores, the compiled CLI, reading stores. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type RequestRow } from '../../src/store/index.js';
import { connectionOf } from '../../src/store/store.js';

export const ROOT = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '..', '..');
  return path.basename(up) === 'dist' ? path.resolve(up, '..') : up;
})();
export const BIN = path.join(ROOT, 'bin', 'splitbench.js');

export function tempDir(prefix = 'splitbench-scale-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface ShardFixture {
  readonly uuid: string;
  readonly index: number;
  readonly count: number;
  /** TTFT (s) of each request; request i is scheduled at `i * gapS`. */
  readonly ttfts: readonly number[];
  readonly gapS?: number;
  /** Global index of the first request (trace ids are `req-<global>`). */
  readonly firstId?: number;
  readonly idStride?: number;
  readonly offsetMs?: number | null;
  readonly rttMs?: number;
  readonly late?: boolean;
  readonly status?: 'completed' | 'running' | 'interrupted';
  readonly host?: string;
  readonly t0LocalMs?: number;
  readonly traceSha?: string;
  readonly name?: string;
  /** The shared start instant (epoch ms; default 1_700_000_000_000 for every shard). */
  readonly startAtMs?: number;
  /** Extra stored options (merged over the defaults). */
  readonly options?: Record<string, unknown>;
  readonly target?: string;
  readonly timeRef?: string;
}

/** A shard store as `replay --shard` writes it: one run, its `shards` row, request rows. */
export function makeShard(file: string, f: ShardFixture): void {
  const store = openStore(file);
  const t0 = f.t0LocalMs ?? 1_700_000_000_000;
  const w = store.createRun({
    kind: 'live',
    name: f.name ?? 'sharded',
    target: f.target ?? 'http://127.0.0.1:1',
    traceSha256: f.traceSha ?? 'abc123',
    tracePath: 'trace.csv',
    options: { lagFlagS: 0.01, shard: `${f.index}/${f.count}`, db: file, host: f.host ?? 'host-a', transforms: { window: [0, 300] }, ...f.options },
    startWallMs: t0,
  });
  const gap = f.gapS ?? 0.1;
  f.ttfts.forEach((ttft, i) => {
    const scheduled = i * gap;
    const row: RequestRow = {
      shard: f.index,
      seq: i,
      traceId: `req-${(f.firstId ?? f.index) + i * (f.idStride ?? f.count)}`,
      arrival: scheduled,
      promptTokens: 100,
      outputTokens: 3,
      scheduled,
      send: scheduled + 0.0005,
      status: 'ok',
      tokensReceived: 3,
      chunks: [
        { t: ttft, tokens: 1 },
        { t: ttft + 0.02, tokens: 1 },
        { t: ttft + 0.04, tokens: 1 },
      ],
    };
    w.addRequest(row);
  });
  w.addTimelineSample({ t: 0.5, source: 'client', name: 'in_flight', value: 1 });
  w.finish(f.status === 'running' ? 'completed' : (f.status ?? 'completed'));
  if (f.status === 'running') store.setRunStatus(w.runId, 'running');
  const off = f.offsetMs === undefined ? 0.01 : f.offsetMs;
  connectionOf(store)
    .prepare(
      `INSERT INTO shards (run_id, run_uuid, shard_index, shard_count, host, start_at_ms, t0_local_ms, time_ref, offset_start_ms, rtt_start_ms, offset_end_ms, rtt_end_ms, late_ms, late)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      w.runId,
      f.uuid,
      f.index,
      f.count,
      f.host ?? 'host-a',
      f.startAtMs ?? 1_700_000_000_000,
      t0,
      off === null ? null : (f.timeRef ?? 'http://127.0.0.1:9/time'),
      off,
      off === null ? null : (f.rttMs ?? 0.1),
      off,
      off === null ? null : (f.rttMs ?? 0.1),
      f.late ? 12.5 : -3,
      f.late ? 1 : 0,
    );
  store.close();
}

// The read-only store helpers are the load tests' (one copy).
export { readDb, type Row } from '../load/helpers.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function spawnCli(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; cmd?: readonly string[]; stdin?: boolean } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const cmd = opts.cmd ?? [process.execPath, BIN];
  const child = spawn(cmd[0]!, [...cmd.slice(1), ...args], {
    env: { ...process.env, ...(opts.env ?? {}) },
    cwd: opts.cwd ?? ROOT,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

export function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return spawnCli(args, opts).done;
}

/** A SplitwiseSim-format trace: rows of [arrival s, prompt tokens, output tokens]. */
export function writeTrace(dir: string, rows: readonly (readonly [number, number, number])[], name = 'trace.csv'): string {
  const file = path.join(dir, name);
  const lines = ['request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size'];
  rows.forEach(([t, p, o], i) => {
    lines.push(`${i},0,0,${t},1,${p},${o}`);
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Start `splitbench serve` on a free loopback port; resolves with its URL and a stop function. */
export async function startServe(args: readonly string[] = []): Promise<{ url: string; stop(): Promise<void> }> {
  const { child } = spawnCli(['serve', '--host', '127.0.0.1', '--port', '0', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (s: string) => {
      out += s;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.once('exit', (c) => reject(new Error(`serve exited ${c}: ${out}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}
