import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, InterruptedError, StoreError, TargetError } from '../../src/errors.js';
import type { RunEvents } from '../../src/run/events.js';
import { runExitCode, runLifecycle, type DriveResult, type LifecycleContext, type RunDriver } from '../../src/run/lifecycle.js';
import { openStore, type RunWriter, type Store } from '../../src/store/index.js';

/** A driver whose drive is what the test says; it records what the lifecycle did to it. */
class FakeDriver implements RunDriver<number, { runId: number; exitCode: number }> {
  readonly db: string;
  readonly common = { shape: { kind: 'trace' }, warmupS: 0, seed: 1, tags: {} };
  readonly calls: string[] = [];
  signals: string[] = [];
  constructor(
    dir: string,
    private readonly drives: (d: FakeDriver, writer: RunWriter, events: RunEvents<number>) => Promise<DriveResult>,
    private readonly opts: { startFails?: boolean; openWaits?: Promise<void> } = {},
  ) {
    this.db = path.join(dir, 'runs.db');
    writeFileSync(path.join(dir, 'trace.csv'), 'arrival,prompt_tokens,output_tokens\n0,8,2\n');
  }
  async open(): Promise<string> {
    this.calls.push('open');
    await this.opts.openWaits;
    return path.join(path.dirname(this.db), 'trace.csv');
  }
  async prepare(_s: Store, ctx: LifecycleContext): Promise<void> {
    this.calls.push('prepare');
    ctx.checkSignal();
  }
  runRow(): ReturnType<RunDriver<number, unknown>['runRow']> {
    this.calls.push('runRow');
    return { run: { kind: 'sim', options: {} }, writer: { bulk: true } };
  }
  async start(): Promise<void> {
    this.calls.push('start');
    if (this.opts.startFails) throw new TargetError('warm-up failed');
  }
  drive(writer: RunWriter, events: RunEvents<number>): Promise<DriveResult> {
    this.calls.push('drive');
    return this.drives(this, writer, events);
  }
  signal(sig: NodeJS.Signals, n: number): void {
    this.signals.push(`${sig}#${n}`);
  }
  async report(_s: Store, runId: number, _r: DriveResult, exitCode: number): Promise<{ runId: number; exitCode: number }> {
    this.calls.push('report');
    return { runId, exitCode };
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'sb-lifecycle-'));

/** Status and notes of every run in the store. */
function runRows(db: string): { status: string; notes: unknown }[] {
  const store = openStore(db);
  try {
    return store.listRuns().map((r) => ({ status: r.status, notes: r.notes }));
  } finally {
    store.close();
  }
}

function runRow(db: string, runId: number): { status: string; notes: unknown } {
  const store = openStore(db);
  try {
    const r = store.getRun(runId)!;
    return { status: r.status, notes: r.notes };
  } finally {
    store.close();
  }
}

test('the exit code follows how the run ended', () => {
  assert.equal(runExitCode({ status: 'completed', unsuccessful: 0 }), ExitCode.ok);
  assert.equal(runExitCode({ status: 'completed', unsuccessful: 3 }), ExitCode.requestErrors);
  assert.equal(runExitCode({ status: 'interrupted', unsuccessful: 3 }), ExitCode.interrupted);
  assert.equal(runExitCode({ status: 'failed', unsuccessful: 0 }), ExitCode.target);
  assert.equal(runExitCode({ status: 'failed', unsuccessful: 0, error: new StoreError('x') }), ExitCode.store);
});

test('a completed run: steps in order, run row finished with its notes, listeners get the end, exit 4 for failed requests', async () => {
  const dir = tmp();
  const ends: number[] = [];
  const ticks: number[] = [];
  const d = new FakeDriver(dir, async (_d, _w, events) => {
    events.tick(1);
    events.tick(2);
    return { status: 'completed', unsuccessful: 2, finish: { notes: { hello: 'world' } } };
  });
  const out = await runLifecycle(d, { progress: false, listeners: [{ end: (e) => void ends.push(e.runId), tick: (t) => void ticks.push(t) }] });
  assert.equal(out.exitCode, ExitCode.requestErrors);
  assert.deepEqual(out.report, { runId: out.report.runId, exitCode: ExitCode.requestErrors });
  assert.deepEqual(d.calls, ['open', 'prepare', 'runRow', 'start', 'drive', 'report', 'close']);
  assert.deepEqual(ends, [out.report.runId]);
  assert.deepEqual(ticks, [1, 2]);
  assert.deepEqual(runRow(d.db, out.report.runId), { status: 'completed', notes: { hello: 'world' } });
});

test('signals go to the driver with their count while the run runs; the run ends interrupted (130); handlers are removed', async () => {
  const dir = tmp();
  const before = process.listenerCount('SIGINT');
  const d = new FakeDriver(dir, async (drv) => {
    assert.equal(process.listenerCount('SIGINT'), before + 1);
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    assert.deepEqual(drv.signals, ['SIGINT#1', 'SIGTERM#2']);
    return { status: 'interrupted', unsuccessful: 0, finish: { notes: {} } };
  });
  const out = await runLifecycle(d, { handleSignals: true, progress: false, log: () => undefined });
  assert.equal(out.exitCode, ExitCode.interrupted);
  assert.equal(runRow(d.db, out.report.runId).status, 'interrupted');
  assert.equal(process.listenerCount('SIGINT'), before);
  assert.equal(process.listenerCount('SIGTERM'), before);
});

test('a signal before the run row exists: interrupted (130), nothing recorded, the driver closed', async () => {
  const dir = tmp();
  let release!: () => void;
  const d = new FakeDriver(dir, async () => assert.fail('no drive after an early signal'), { openWaits: new Promise<void>((r) => (release = r)) });
  const run = runLifecycle(d, { handleSignals: true, progress: false, log: () => undefined });
  await new Promise((r) => setImmediate(r));
  process.emit('SIGINT', 'SIGINT');
  release();
  await assert.rejects(run, (e: unknown) => e instanceof InterruptedError && e.exitCode === ExitCode.interrupted);
  assert.deepEqual(d.calls, ['open', 'prepare', 'close']);
  assert.deepEqual(runRows(d.db), []);
});

test('a store error that ended the drive: the run is marked failed and the store error is thrown (exit 6)', async () => {
  const dir = tmp();
  const d = new FakeDriver(dir, async () => ({
    status: 'failed',
    unsuccessful: 0,
    error: new StoreError('disk full'),
    finish: { notes: { reason: 'store error' } },
  }));
  await assert.rejects(runLifecycle(d, { progress: false }), (e: unknown) => e instanceof StoreError && e.exitCode === ExitCode.store);
  assert.deepEqual(runRows(d.db), [{ status: 'failed', notes: { reason: 'store error' } }]);
  assert.ok(d.calls.includes('close') && !d.calls.includes('report'));
});

test('a failed start: the run row is marked failed (never left running) and the error is thrown', async () => {
  const dir = tmp();
  const d = new FakeDriver(dir, async () => assert.fail('no drive after a failed start'), { startFails: true });
  await assert.rejects(runLifecycle(d, { progress: false }), /warm-up failed/);
  assert.deepEqual(runRows(d.db), [{ status: 'failed', notes: { reason: 'could not start: warm-up failed' } }]);
});

test('a failed run with a target error ends with the exit code of that error (5) and a report', async () => {
  const dir = tmp();
  const d = new FakeDriver(dir, async () => ({ status: 'failed', unsuccessful: 4, error: new TargetError('lost'), finish: { notes: {} } }));
  const out = await runLifecycle(d, { progress: false });
  assert.equal(out.exitCode, ExitCode.target);
  assert.equal(runRow(d.db, out.report.runId).status, 'failed');
});
