/** Spawn `node bin/splitbench.js serve …` and read its listening line (shared by the e2e tests and the bench). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root, from test/server (tsx) or dist/test/server (compiled). */
export const ROOT = path.basename(path.resolve(here, '..', '..')) === 'dist' ? path.resolve(here, '..', '..', '..') : path.resolve(here, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'splitbench.js');

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly firstLine: string;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or signal name) when the child exits. */
  readonly exited: Promise<number | string>;
}

export function startServe(
  args: readonly string[],
  opts: { timeoutMs?: number; stdin?: 'ignore' | 'pipe'; env?: NodeJS.ProcessEnv } = {},
): Promise<ServeProcess> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (err += s));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not print its listening line in time; stderr: ${err}`));
    }, timeoutMs);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      if (out.includes('\n')) return;
      out += s;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const firstLine = out.slice(0, nl);
      const m = /^splitbench serve: listening on (http:\/\/\S+)$/.exec(firstLine);
      if (!m) {
        child.kill('SIGKILL');
        reject(new Error(`unexpected first line: ${firstLine}`));
        return;
      }
      resolve({ child, url: m[1]!, firstLine, stderr: () => err, exited });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening; stderr: ${err}`));
    });
  });
}

/** Run `splitbench serve …` expecting it to exit by itself; returns its exit code and output. */
export function runServe(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}
