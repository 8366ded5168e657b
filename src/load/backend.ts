/**
 * The embedded target: `splitbench serve` started as a separate child process (never on the load
 * generator's event loop, whose timing it would distort) on a free loopback port. The child prints
 * `splitbench serve: listening on http://HOST:PORT` as its first stdout line; we wait for it, then hand
 * the URL to the replay. `stop()` sends SIGTERM, then SIGKILL after a grace period.
 *
 * The child runs in its own session and process group (detached), so a Ctrl-C in the terminal or a group
 * signal (`kill -INT -- -PGID`, `timeout`, a batch scheduler) reaches only the replay, which then lets its
 * in-flight requests finish before it stops the backend. The child still dies with the replay: it watches
 * its stdin pipe, which closes when the replay dies for any reason (SIGKILL included).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ConfigError, ExitCode, TargetError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

export interface BackendOptions {
  readonly deployment: string;
  readonly model?: string | undefined;
  readonly timeScale: number;
  /** How long to wait for the listening line (ms). */
  readonly startTimeoutMs?: number;
  /** Extra arguments for `serve`. */
  readonly extraArgs?: readonly string[];
}

export interface Backend {
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the child exits, with what ended it and whether `stop()` asked for it. */
  readonly exited: Promise<BackendExit>;
}

export interface BackendExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** true when `stop()` had been called: an exit the replay asked for. */
  readonly stopped: boolean;
  /** The last lines the child wrote on stderr. */
  readonly stderrTail: string;
}

const LISTENING = /^splitbench serve: listening on (http:\/\/\S+)/;

export function startBackend(opts: BackendOptions): Promise<Backend> {
  const bin = path.join(PACKAGE_ROOT, 'bin', 'splitbench.js');
  const args = [
    bin,
    'serve',
    '--deployment',
    opts.deployment,
    ...(opts.model ? ['--model', opts.model] : []),
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--time-scale',
    String(opts.timeScale),
    // A loopback child needs no key, whatever SPLITBENCH_API_KEY says (the replay may send another one).
    '--api-key',
    '',
    ...(opts.extraArgs ?? []),
  ];
  // stdin stays an open pipe that closes when this process dies (even by SIGKILL), so the child can notice.
  // detached: its own session and process group, out of reach of the terminal's and the group's signals.
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderrTail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderrTail = (stderrTail + s).slice(-2000);
  });
  let exited = false;
  let stopped = false;
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = { code, signal };
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const stop = async (graceMs = 5000): Promise<void> => {
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, graceMs);
      await exitPromise;
      clearTimeout(t);
    }
  };
  const what = `the reference backend (splitbench serve --deployment ${opts.deployment})`;
  const lastLine = (): string => stderrTail.trim().split('\n').slice(-3).join(' | ');
  return new Promise<Backend>((resolve, reject) => {
    let out = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      void stop(1000);
      reject(new TargetError(`${what} did not report its address within ${(opts.startTimeoutMs ?? 30000) / 1000} s${stderrTail ? `: ${lastLine()}` : ''}`));
    }, opts.startTimeoutMs ?? 30000);
    child.stdout!.setEncoding('utf8');
    const onData = (s: string): void => {
      if (done) return;
      out += s;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const first = out.slice(0, nl).trim();
      const m = LISTENING.exec(first);
      done = true;
      clearTimeout(timer);
      if (!m) {
        void stop(1000);
        reject(new TargetError(`${what} printed an unexpected first line: ${first.slice(0, 200)}`));
        return;
      }
      // Keep draining the child's stdout so it never blocks on a full pipe.
      child.stdout!.removeListener('data', onData);
      child.stdout!.resume();
      const exitedInfo = exitPromise.then((): BackendExit => ({ ...exitInfo, stopped, stderrTail: lastLine() }));
      resolve({ url: m[1]!, pid: child.pid!, stop, exited: exitedInfo });
    };
    child.stdout!.on('data', onData);
    void exitPromise.then(() => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === ExitCode.usage) {
        // `serve` rejected its input (an unknown deployment, a bad YAML file): a usage error here too.
        reject(new ConfigError(`the reference backend refused it: ${lastLine() || 'no message'}`, { path: '--deployment' }));
        return;
      }
      reject(
        new TargetError(`${what} exited before it started listening (exit code ${child.exitCode ?? child.signalCode})${stderrTail ? `: ${lastLine()}` : ''}`, {
          hint: 'check the --deployment name or file; `splitbench serve --help` lists the options',
        }),
      );
    });
  });
}
