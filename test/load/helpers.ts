/** Shared helpers of the load-generator tests: temp traces, running the compiled CLI, reading the store. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** The repository root (tests run from dist/test/load or test/load). */
export const ROOT = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '..', '..');
  return path.basename(up) === 'dist' ? path.resolve(up, '..') : up;
})();
export const BIN = path.join(ROOT, 'bin', 'splitbench.js');

export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'splitbench-load-'));
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

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return spawnCli(args, env).done;
}

export type Row = Record<string, unknown>;

export function readDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function runs(file: string): Row[] {
  return readDb(file, (db) => db.prepare('SELECT * FROM runs ORDER BY id').all() as Row[]);
}

export function requests(file: string, runId?: number): Row[] {
  return readDb(
    file,
    (db) =>
      (runId === undefined
        ? db.prepare('SELECT * FROM requests ORDER BY run_id, seq').all()
        : db.prepare('SELECT * FROM requests WHERE run_id = ? ORDER BY seq').all(runId)) as Row[],
  );
}

/**
 * Run a replay in this process (no CLI start-up cost): flags as yargs would hand them over (camelCase),
 * checked as the CLI does (the spec's check, then the replay's rules, every problem at once).
 */
export async function replayInProcess(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<{ exitCode: number; summary: import('../../src/load/index.js').ReplaySummary }> {
  const load = await import('../../src/load/index.js');
  const { parseFlags, Problems } = await import('../../src/flagspec.js');
  const problems = new Problems();
  const opts = load.resolveReplayOptions(parseFlags(load.REPLAY_FLAGS, flags, problems), env, problems);
  return load.runReplay(opts, { progress: false, log: () => undefined });
}

/** Child processes of `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Is process `pid` still running (signal 0 reaches it)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
