/**
 * `replay --procs P`: P shard processes on this machine, then one merged run.
 *
 * The parent starts what the shards share — the reference backend (when no --url is given), a clock
 * reference (`GET /time`) — then spawns `splitbench replay ... --shard i/P --start-at stdin` children,
 * each writing its own store under `<db>.shards/<run uuid>/`. Each child prints a ready line once its
 * trace, target and clock check are done; when all are ready the parent sends every child the same start
 * instant (now + a short lead). When all have exited, it merges their stores into --db.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, InterruptedError, TargetError } from '../errors.js';
import type { ReplayOptions } from '../load/index.js';
import { PACKAGE_ROOT } from '../paths.js';
import { startTimeServer, wallNowMs } from './clock.js';
import { mergeShards, type MergeResult } from './merge.js';
import type { ScaleOptions } from './options.js';
import { HELD_WORD, READY_LINE } from './session.js';
import { newRunUuid } from './shard.js';
import { printJson } from '../envelope.js';

/** Flags the parent owns (stripped from the children's arguments); value: takes a value. */
const PARENT_FLAGS: Record<string, boolean> = { procs: true, db: true, 'metrics-port': true, 'run-uuid': true, 'time-url': true, json: false };

function kebab(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The replay arguments without the parent's own flags. */
export function childArgs(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i]!;
    const m = /^--(no-)?([^=]+)(=.*)?$/.exec(t);
    if (!m) {
      out.push(t);
      continue;
    }
    const name = kebab(m[2]!);
    const takesValue = PARENT_FLAGS[name];
    if (takesValue === undefined) {
      out.push(t);
      continue;
    }
    if (takesValue && m[3] === undefined && !m[1]) i++; // skip the value
  }
  return out;
}

export interface ProcsResult {
  readonly exitCode: number;
  readonly runUuid: string;
  readonly merge?: MergeResult;
  readonly shardExitCodes: readonly number[];
  readonly shardDir: string;
}

interface Child {
  readonly index: number;
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly exit: Promise<number>;
  stderrTail: string;
}

/** Lead between "all ready" and the shared start (ms). */
const PROCS_LEAD_MS = 300;

export async function runProcs(
  rawArgs: readonly string[],
  opts: ReplayOptions,
  scale: ScaleOptions,
  log: (l: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<ProcsResult> {
  const P = scale.procs!;
  const runUuid = scale.runUuid ?? newRunUuid();
  const shardDir = path.join(`${opts.db}.shards`, runUuid);
  mkdirSync(shardDir, { recursive: true });
  const time = await startTimeServer();
  let backend: { url: string; stop(ms?: number): Promise<void> } | undefined;
  const children: Child[] = [];
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    stopping = true;
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let url = opts.url;
    if (url === undefined) {
      const { startBackend } = await import('../load/index.js');
      backend = await startBackend({ deployment: opts.deployment!, model: opts.model, timeScale: opts.timeScale });
      url = backend.url;
    }
    const base = childArgs(rawArgs);
    const bin = path.join(PACKAGE_ROOT, 'bin', 'splitbench.js');
    for (let i = 0; i < P; i++) {
      const args = [
        bin,
        ...base,
        '--shard',
        `${i}/${P}`,
        '--start-at',
        'stdin',
        '--run-uuid',
        runUuid,
        '--time-url',
        time.url,
        '--db',
        path.join(shardDir, `shard-${i}.db`),
        ...(opts.url === undefined ? ['--url', url] : []),
        ...(scale.metricsPort !== undefined ? ['--metrics-port', String(scale.metricsPort === 0 ? 0 : scale.metricsPort + i)] : []),
      ];
      // detached (own process group): a terminal's Ctrl-C or a group signal reaches the shards once, through
      // this process's forwarding, not twice (which would cancel their in-flight requests at once). They
      // still stop when this process dies: they watch the stdin pipe it holds.
      const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      let readyResolve!: () => void;
      let readyReject!: (e: Error) => void;
      const ready = new Promise<void>((res, rej) => {
        readyResolve = res;
        readyReject = rej;
      });
      ready.catch(() => undefined);
      const child: Child = {
        index: i,
        proc,
        ready,
        exit: new Promise<number>((res) => {
          proc.once('exit', (code, sig) => {
            readyReject(new Error(`exited (${sig ?? code}) before it was ready`));
            res(code ?? (sig ? ExitCode.interrupted : ExitCode.internal));
          });
          proc.once('error', (e) => {
            readyReject(e);
            res(ExitCode.internal);
          });
        }),
        stderrTail: '',
      };
      proc.stdin!.on('error', () => undefined); // a shard that already exited: its exit is handled below
      proc.stdout!.resume(); // each shard's own summary; the merged one is printed at the end
      let buf = '';
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (s: string) => {
        child.stderrTail = (child.stderrTail + s).slice(-4000);
        buf += s;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith(READY_LINE)) readyResolve();
          else if (line.trim() !== '') log(`[shard ${i}] ${line}`);
        }
      });
      children.push(child);
    }
    // All ready → one start instant for all.
    try {
      await Promise.all(children.map((c) => c.ready));
    } catch {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
      const codes = await Promise.all(children.map((c) => c.exit));
      const bad = children.find((c, k) => codes[k] !== 0 && !c.stderrTail.includes(READY_LINE)) ?? children[0]!;
      const msg = bad.stderrTail
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith(READY_LINE))
        .slice(-2)
        .join(' | ');
      if (stopping) throw new InterruptedError('interrupted before the run started; nothing was merged');
      throw new TargetError(`shard ${bad.index}/${P} failed before the start: ${msg || `exit code ${codes[bad.index]}`}`);
    }
    const startAt = wallNowMs() + PROCS_LEAD_MS + 20 * P;
    // The pipes stay open for the whole run: a shard whose pipe closes knows this process is gone (even
    // after a SIGKILL) and stops at once instead of going on unsupervised.
    for (const c of children) c.proc.stdin!.write(`${startAt} ${HELD_WORD}\n`);
    const codes = await Promise.all(children.map((c) => c.exit));
    let exitCode: number = Math.max(0, ...codes.filter((c) => c !== ExitCode.interrupted));
    if (codes.includes(ExitCode.interrupted)) exitCode = ExitCode.interrupted;
    const files = children.map((c) => path.join(shardDir, `shard-${c.index}.db`));
    const merge = await mergeShards(files, { out: opts.db, runUuid, ...(opts.name ? { name: opts.name } : {}) });
    log(`splitbench replay: merged ${P} shards (${merge.requests} requests) into run ${merge.runId} of ${opts.db}; shard stores in ${shardDir}`);
    return { exitCode, runUuid, merge, shardExitCodes: codes, shardDir };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const c of children) {
      c.proc.stdin?.end();
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    }
    await backend?.stop(5000);
    await time.close();
  }
}

/** `replay --procs`: run, merge, print the merged run's summary (or JSON); returns the exit code. */
export async function replayProcs(rawArgs: readonly string[], opts: ReplayOptions, scale: ScaleOptions): Promise<number> {
  const r = await runProcs(rawArgs, opts, scale);
  const m = await import('../metrics/index.js');
  const { openStore } = await import('../store/index.js');
  const store = openStore(opts.db, { readonly: true });
  try {
    const summary = m.summarizeRun(store, r.merge!.runId);
    if (opts.json) {
      printJson('replay', {
        runId: r.merge!.runId,
        runUuid: r.runUuid,
        shards: r.merge!.shards,
        shardExitCodes: r.shardExitCodes,
        shardDir: r.shardDir,
        metrics: summary,
      });
    } else {
      process.stdout.write(
        `${m.formatSummaries([summary])}\nrun ${r.merge!.runId} (${r.merge!.shardCount} shards merged); full summary: splitbench summary --run ${r.merge!.runId} --db ${opts.db}\n`,
      );
    }
  } finally {
    store.close();
  }
  return r.exitCode;
}
