import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { APPLICATION_ID, SCHEMA_VERSION, isStale, openStore, type RequestRow } from '../../src/store/index.js';
import { ConfigError, ExitCode, StoreError } from '../../src/errors.js';
import { VERSION } from '../../src/version.js';
import { connectionOf } from '../../src/store/store.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-store-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(tmp, `s${++n}`, 'nested', 'results.db');

/** Overrides for a test row; a field set to `undefined` is left out of the row. */
type RowOverrides = { [K in keyof RequestRow]?: RequestRow[K] | undefined };

function row(seq: number, over: RowOverrides = {}): RequestRow {
  const r: RowOverrides = {
    seq,
    traceId: String(seq),
    arrival: seq,
    promptTokens: 100 + seq,
    outputTokens: 5,
    scheduled: seq + 0.25,
    send: seq + 0.5,
    firstToken: seq + 1,
    end: seq + 3,
    status: 'ok',
    tokensReceived: 5,
    chunks: [
      { t: 0.5, tokens: 1 },
      { t: 1, tokens: 2 },
      { t: 2.5, tokens: 2 },
    ],
    ...over,
  };
  for (const k of Object.keys(r) as (keyof RequestRow)[]) if (r[k] === undefined) delete r[k];
  return r as RequestRow;
}

test('creates the folder and file, sets WAL, application_id and the schema version', () => {
  const file = fresh();
  const s = openStore(file);
  assert.ok(existsSync(file));
  assert.equal(connectionOf(s).pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(connectionOf(s).pragma('application_id', { simple: true }), APPLICATION_ID);
  assert.equal(connectionOf(s).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(connectionOf(s).pragma('foreign_keys', { simple: true }), 1);
  const tables = (connectionOf(s).prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  assert.deepEqual(tables, ['machines', 'power_samples', 'requests', 'runs', 'shards', 'slo_results', 'timeline_samples']);
  s.close();
  s.close(); // idempotent
  const again = openStore(file, { readonly: true });
  assert.equal(again.listRuns().length, 0);
  again.close();
});

test('a reader does not create a missing store', () => {
  const file = fresh();
  assert.throws(
    () => openStore(file, { readonly: true }),
    (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.equal(e.exitCode, ExitCode.store);
      assert.match(e.message, /no results store at .*results\.db/);
      return true;
    },
  );
  assert.equal(existsSync(file), false);
});

test('a file that is not SQLite is refused, naming the file', () => {
  const file = path.join(tmp, 'notes.txt');
  writeFileSync(file, 'hello, this is not a database at all\n'.repeat(100));
  for (const readonly of [false, true]) {
    assert.throws(
      () => openStore(file, { readonly }),
      (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.match(e.message, /notes\.txt is not a splitbench results store \(not an SQLite database\)/);
        return true;
      },
    );
  }
});

test("another program's SQLite database is refused", () => {
  const file = path.join(tmp, 'other.db');
  const db = new Database(file);
  db.exec('CREATE TABLE t (x)');
  db.close();
  assert.throws(() => openStore(file), /other\.db is not a splitbench results store/);
  const db2 = new Database(file);
  db2.pragma('application_id = 1234');
  db2.close();
  assert.throws(() => openStore(file), /application_id 1234/);
});

test('a store with a newer schema version asks for an upgrade', () => {
  const file = fresh();
  openStore(file).close();
  const db = new Database(file);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  for (const readonly of [false, true]) {
    assert.throws(
      () => openStore(file, { readonly }),
      (e: unknown) => {
        assert.ok(e instanceof StoreError);
        assert.match(e.message, new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than`));
        assert.match(e.hint ?? '', /upgrade splitbench/);
        return true;
      },
    );
  }
});

test('migrations apply from version 0, also for a reader of an empty file', () => {
  const file = path.join(tmp, 'empty.db');
  writeFileSync(file, '');
  const s = openStore(file, { readonly: true });
  assert.equal(s.readonly, true);
  assert.equal(connectionOf(s).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.deepEqual(s.listRuns(), []);
  assert.throws(() => s.createRun({ kind: 'sim', options: {} }), /read-only/);
  s.close();
  // a store marked as ours at version 0 (a crash before the first migration committed) is migrated
  const file2 = path.join(tmp, 'v0.db');
  const db = new Database(file2);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  db.close();
  const s2 = openStore(file2);
  assert.equal(connectionOf(s2).pragma('user_version', { simple: true }), SCHEMA_VERSION);
  s2.close();
});

test('createRun records metadata, default name, environment and version', () => {
  const s = openStore(fresh());
  const w = s.createRun({ kind: 'live', options: { rate: 2 }, target: 'http://127.0.0.1:1', tags: { a: 'b' }, startWallMs: 1_700_000_000_000 });
  const w2 = s.createRun({ kind: 'sim', name: 'mine', options: {} });
  const r = s.findRun(w.runId);
  assert.equal(r.name, `live-${w.runId}`);
  assert.equal(r.kind, 'live');
  assert.equal(r.status, 'running');
  assert.equal(r.startedAt, new Date(1_700_000_000_000).toISOString());
  assert.equal(r.startWallMs, 1_700_000_000_000);
  assert.equal(r.target, 'http://127.0.0.1:1');
  assert.deepEqual(r.options, { rate: 2 });
  assert.deepEqual(r.tags, { a: 'b' });
  assert.equal(r.env.node, process.version);
  assert.equal(r.env.host, os.hostname());
  assert.equal(typeof r.env.cpu, 'string');
  assert.equal(r.env.platform, `${process.platform}-${process.arch}`);
  assert.equal(r.splitbenchVersion, VERSION);
  assert.equal(r.endedAt, null);
  assert.equal(r.env.pid, process.pid);
  assert.equal(isStale(r), false); // its writer (this process) is alive
  assert.equal(s.findRun('mine').id, w2.runId);
  w.finish('completed', { lagFlagged: true, lagP99S: 0.125, notes: { neverCompleted: 3 } });
  w.finish('failed'); // idempotent: the first call wins
  const done = s.findRun(w.runId);
  assert.equal(done.status, 'completed');
  assert.equal(done.lagFlagged, true);
  assert.equal(done.lagP99S, 0.125);
  assert.deepEqual(done.notes, { neverCompleted: 3 });
  assert.ok(done.endedAt);
  assert.equal(isStale(done), undefined);
  assert.throws(() => w.addRequest(row(0)), /after finish/);
  w2.finish('interrupted');
  assert.deepEqual(
    s.listRuns().map((x) => x.status),
    ['completed', 'interrupted'],
  );
  s.close();
});

test('the writer stores raw times and derived columns exactly', () => {
  const file = fresh();
  const s = openStore(file);
  const w = s.createRun({ kind: 'live', options: {} });
  w.addRequest(
    row(0, {
      breakdown: { queue: 0.125, prefill: 0.25, kvTransfer: 0.0625, decodeWait: 0.5, decode: 1.5 },
      promptMachine: 'prompt-0',
      tokenMachine: 'token-1',
      pool: 'prompt',
      usagePrompt: 100,
      usageCompletion: 5,
      countMethod: 'usage-final',
      httpStatus: 200,
    }),
  );
  w.addRequest(
    row(1, { status: 'error', errorCode: 'SB_HTTP', error: 'HTTP 500: boom', httpStatus: 500, end: 2, tokensReceived: 1, chunks: [{ t: 0.5, tokens: 1 }] }),
  );
  w.addRequest(row(2, { status: 'never-completed', send: undefined, firstToken: undefined, end: undefined, tokensReceived: 0, chunks: [], warmup: true }));
  w.addRequest(row(3, { firstToken: undefined, end: undefined, tokensReceived: 1, chunks: [{ t: 0.75, tokens: 1 }] }));
  w.flush();
  const raw = connectionOf(s).prepare('SELECT * FROM requests WHERE run_id = ? ORDER BY seq').all(w.runId) as Record<string, unknown>[];
  assert.equal(raw.length, 4);
  const [a, b, c, d] = raw as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  assert.deepEqual(
    [a.scheduled, a.send, a.first_token, a.end, a.lag, a.ttft, a.e2e, a.ttft_sched, a.e2e_sched, a.tpot, a.max_stall],
    [0.25, 0.5, 1, 3, 0.25, 0.5, 2.5, 0.75, 2.75, 0.5, 1.5],
  );
  assert.deepEqual([a.queue_s, a.prefill_s, a.kv_transfer_s, a.decode_wait_s, a.decode_s], [0.125, 0.25, 0.0625, 0.5, 1.5]);
  assert.deepEqual(
    [a.prompt_machine, a.token_machine, a.pool, a.usage_prompt, a.usage_completion, a.count_method, a.http_status],
    ['prompt-0', 'token-1', 'prompt', 100, 5, 'usage-final', 200],
  );
  assert.deepEqual(
    [b.status, b.ttft, b.e2e, b.e2e_sched, b.tpot, b.max_stall, b.error_code, b.error],
    ['error', 0.5, null, null, null, null, 'SB_HTTP', 'HTTP 500: boom'],
  );
  assert.deepEqual([c.send, c.lag, c.ttft, c.e2e, c.token_times, c.warmup], [null, null, null, null, null, 1]);
  assert.deepEqual([d.first_token, d.end, d.ttft, d.e2e, d.tpot], [4.25, 4.25, 0.75, 0.75, null]);
  const recs = [...s.requests(w.runId)];
  assert.deepEqual(recs[0]!.chunks, [
    { t: 0.5, tokens: 1 },
    { t: 1, tokens: 2 },
    { t: 2.5, tokens: 2 },
  ]);
  assert.equal(recs[0]!.maxStall, 1.5);
  assert.equal(recs[0]!.kvTransferS, 0.0625);
  assert.equal(recs[2]!.warmup, true);
  assert.deepEqual(recs[2]!.chunks, []);
  assert.deepEqual(
    [...s.requests(w.runId, { status: 'ok' })].map((r) => r.seq),
    [0, 3],
  );
  assert.deepEqual(
    [...s.requests(w.runId, { status: ['error', 'never-completed'] })].map((r) => r.seq),
    [1, 2],
  );
  assert.deepEqual(
    [...s.requests(w.runId, { includeWarmup: false })].map((r) => r.seq),
    [0, 1, 3],
  );
  assert.deepEqual([...s.requests(w.runId, { chunks: false })][0]!.chunks, []);
  const counts = s.requestCounts(w.runId);
  assert.equal(counts.total, 4);
  assert.equal(counts.ok, 2);
  assert.equal(counts.error, 1);
  assert.equal(counts['never-completed'], 1);
  assert.equal(counts.timeout, 0);
  w.finish('completed');
  s.close();
});

test('bad rows are refused when handed over, not at flush time', () => {
  const s = openStore(fresh());
  const w = s.createRun({ kind: 'sim', options: {} });
  assert.throws(() => w.addRequest(row(-1)), /seq/);
  assert.throws(() => w.addRequest(row(1, { status: 'weird' as never })), /status/);
  assert.throws(() => w.addRequest(row(1, { scheduled: Number.NaN })), /scheduled/);
  w.addRequest(row(1));
  w.finish('completed');
  assert.equal(s.requestCounts(w.runId).total, 1);
  s.close();
});

test('a full batch is committed without an explicit flush; other connections see it', () => {
  const file = fresh();
  const s = openStore(file);
  const w = s.createRun({ kind: 'sim', options: {} }, { batchRows: 3, flushIntervalMs: 60_000 });
  const reader = openStore(file, { readonly: true });
  w.addRequest(row(0));
  w.addRequest(row(1));
  assert.equal(reader.requestCounts(w.runId).total, 0);
  w.addRequest(row(2));
  assert.equal(reader.requestCounts(w.runId).total, 3);
  w.addRequest(row(3));
  s.close(); // close flushes open writers
  assert.equal(reader.requestCounts(w.runId).total, 4);
  assert.equal(reader.findRun(w.runId).status, 'running');
  reader.close();
});

test('a duplicate request key fails the flush with a store error naming the row', () => {
  const s = openStore(fresh());
  const w = s.createRun({ kind: 'sim', options: {} });
  w.addRequest(row(7));
  w.addRequest(row(7));
  assert.throws(
    () => w.flush(),
    (e: unknown) => {
      assert.ok(e instanceof StoreError);
      assert.match(e.message, /seq 7/);
      return true;
    },
  );
  assert.throws(() => w.addRequest(row(8)), StoreError);
  s.close();
});

test('findRun: by id, by latest name, unknown lists runs', () => {
  const s = openStore(fresh());
  assert.throws(
    () => s.findRun('nope'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.hint ?? '', /no runs yet/);
      return true;
    },
  );
  const a = s.createRun({ kind: 'sim', name: 'base', options: {} });
  const b = s.createRun({ kind: 'sim', name: 'base', options: {} });
  const c = s.createRun({ kind: 'live', name: '999', options: {} });
  assert.equal(s.findRun('base').id, b.runId);
  assert.equal(s.findRun(a.runId).id, a.runId);
  assert.equal(s.findRun(String(a.runId)).id, a.runId);
  assert.equal(s.findRun('999').id, c.runId); // no run with id 999: falls back to the name
  assert.throws(
    () => s.findRun('missing'),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.exitCode, ExitCode.usage);
      assert.match(e.message, /no run "missing"/);
      assert.match(e.hint ?? '', /base/);
      return true;
    },
  );
  for (const w of [a, b, c]) w.finish('completed');
  s.close();
});

test('machines, power, timeline and SLO rows round-trip; delete cascades', () => {
  const s = openStore(fresh());
  const w = s.createRun({ kind: 'sim', options: {} });
  const keep = s.createRun({ kind: 'sim', options: {} });
  keep.addRequest(row(0));
  keep.finish('completed');
  w.addMachines([
    { machineId: 'token-0', machineType: 'dgx-a100', pool: 'token', gpus: 8, pricePerHour: 17.6, tdpW: 6500, idleW: 1500 },
    { machineId: 'prompt-0', machineType: 'dgx-h100', pool: 'prompt' },
  ]);
  w.addPowerSample({ t: 1, machineId: 'prompt-0', role: 'prompt', source: 'model', watts: 9000, energyJ: 10 });
  w.addPowerSample({ t: 0.5, machineId: 'prompt-0', role: 'prompt', source: 'model', watts: null });
  w.addTimelineSample({ t: 0.5, source: 'engine', role: 'token', name: 'batch_size', labels: { m: 'token-0' }, value: 4 });
  w.addTimelineSample({ t: 0.25, source: 'engine', name: 'in_flight', value: 2 });
  w.addRequest(row(0));
  w.finish('completed');
  assert.deepEqual(s.machines(w.runId), [
    { machineId: 'prompt-0', machineType: 'dgx-h100', pool: 'prompt', gpus: null, pricePerHour: null, tdpW: null, idleW: null },
    { machineId: 'token-0', machineType: 'dgx-a100', pool: 'token', gpus: 8, pricePerHour: 17.6, tdpW: 6500, idleW: 1500 },
  ]);
  assert.deepEqual(
    s.powerSamples(w.runId).map((p) => [p.t, p.watts, p.energyJ]),
    [
      [0.5, null, null],
      [1, 9000, 10],
    ],
  );
  assert.deepEqual(
    s.timelineSamples(w.runId).map((p) => p.name),
    ['in_flight', 'batch_size'],
  );
  assert.deepEqual(s.timelineSamples(w.runId, 'batch_size'), [
    { t: 0.5, source: 'engine', role: 'token', name: 'batch_size', labels: { m: 'token-0' }, value: 4 },
  ]);
  s.addSloResults(w.runId, [
    {
      sloFile: 'slo.yaml',
      rule: 'ttft p99 < 1s',
      metric: 'ttft.p99',
      value: 0.5,
      limitValue: 1,
      op: '<',
      passed: true,
      evaluatedAt: '2024-01-01T00:00:00.000Z',
    },
    { sloFile: 'slo.yaml', rule: 'e2e p50 < 1s', metric: 'e2e.p50', value: 2, limitValue: 1, op: '<', passed: false, baselineRunId: keep.runId, detail: 'x' },
  ]);
  const slo = s.sloResults(w.runId);
  assert.equal(slo.length, 2);
  assert.deepEqual(slo[0], {
    evaluatedAt: '2024-01-01T00:00:00.000Z',
    sloFile: 'slo.yaml',
    rule: 'ttft p99 < 1s',
    metric: 'ttft.p99',
    value: 0.5,
    limitValue: 1,
    op: '<',
    passed: true,
    baselineRunId: null,
    detail: null,
  });
  assert.equal(slo[1]!.passed, false);
  assert.deepEqual(s.setRunNotes(w.runId, { a: 1, b: 2 }), { a: 1, b: 2 });
  assert.deepEqual(s.setRunNotes(w.runId, { a: undefined, c: 'x' }), { b: 2, c: 'x' });
  s.setRunStatus(w.runId, 'interrupted');
  assert.equal(s.findRun(w.runId).status, 'interrupted');

  assert.equal(s.deleteRun(w.runId), true);
  assert.equal(s.deleteRun(w.runId), false);
  for (const t of ['requests', 'machines', 'power_samples', 'timeline_samples', 'slo_results']) {
    const n = (connectionOf(s).prepare(`SELECT count(*) AS n FROM ${t} WHERE run_id = ?`).get(w.runId) as { n: number }).n;
    assert.equal(n, 0, t);
  }
  assert.equal(s.requestCounts(keep.runId).total, 1);
  s.close();
});

test('two connections can write runs into one file at once', () => {
  const file = fresh();
  const s1 = openStore(file);
  const s2 = openStore(file);
  const w1 = s1.createRun({ kind: 'sim', options: {} }, { batchRows: 5 });
  const w2 = s2.createRun({ kind: 'sim', options: {} }, { batchRows: 7 });
  for (let i = 0; i < 50; i++) {
    w1.addRequest(row(i));
    w2.addRequest(row(i));
  }
  w1.finish('completed');
  w2.finish('completed');
  assert.equal(s1.requestCounts(w2.runId).total, 50);
  assert.equal(s2.requestCounts(w1.runId).total, 50);
  s1.close();
  s2.close();
});

test('a writer on a connection that is busy reading keeps its rows and commits them afterwards', () => {
  const s = openStore(fresh());
  const old = s.createRun({ kind: 'sim', options: {} });
  for (let i = 0; i < 3; i++) old.addRequest(row(i));
  old.finish('completed');
  const w = s.createRun({ kind: 'sim', options: {} }, { batchRows: 2 });
  const it = s.requests(old.runId);
  assert.equal(it.next().value?.seq, 0); // an open read on this connection
  w.addRequest(row(0));
  w.addRequest(row(1)); // a full batch: the background flush retries later instead of failing
  w.addRequest(row(2));
  assert.throws(() => w.flush(), /connection is reading/);
  assert.throws(() => w.finish('completed'), /connection is reading/);
  assert.equal(s.findRun(w.runId).status, 'running');
  assert.deepEqual(
    [...it].map((r) => r.seq),
    [1, 2],
  ); // the read ends
  w.addRequest(row(3));
  w.finish('completed');
  assert.equal(s.requestCounts(w.runId).total, 4);
  assert.equal(s.findRun(w.runId).status, 'completed');
  s.close();
});

test('a failed writer still marks its run when finished, and says why it failed', () => {
  const s = openStore(fresh());
  const w = s.createRun({ kind: 'sim', options: {} });
  w.addRequest(row(1));
  w.addRequest(row(1));
  assert.throws(() => w.finish('completed'), /seq 1/);
  assert.equal(s.findRun(w.runId).status, 'completed');
  w.finish('failed'); // idempotent after a failure too
  s.close();
});
