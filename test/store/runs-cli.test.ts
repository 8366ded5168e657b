import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { EXPORT_COLUMNS, openStore, type RequestRow } from '../../src/store/index.js';
import { runCli } from '../cli/helpers.js';
import { jsonResult } from '../json-output.js';
import { connectionOf } from '../../src/store/store.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-runs-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const db = path.join(tmp, 'results.db');

/** Overrides for a test row; a field set to `undefined` is left out of the row. */
type RowOverrides = { [K in keyof RequestRow]?: RequestRow[K] | undefined };

function row(seq: number, over: RowOverrides = {}): RequestRow {
  const r: RowOverrides = {
    seq,
    traceId: `t${seq}`,
    arrival: seq / 4,
    promptTokens: 100 + seq,
    outputTokens: 3,
    scheduled: seq / 4,
    send: seq / 4 + 0.125,
    firstToken: seq / 4 + 0.625,
    end: seq / 4 + 1.125,
    status: 'ok',
    tokensReceived: 3,
    chunks: [
      { t: 0.5, tokens: 1 },
      { t: 0.75, tokens: 1 },
      { t: 1, tokens: 1 },
    ],
    ...over,
  };
  for (const k of Object.keys(r) as (keyof RequestRow)[]) if (r[k] === undefined) delete r[k];
  return r as RequestRow;
}

let liveId = 0;
let simId = 0;
test.before(() => {
  const s = openStore(db);
  const live = s.createRun({ kind: 'live', name: 'baseline', options: { rate: 4 }, target: 'http://127.0.0.1:9', deployment: 'splitwise-hh' });
  live.addMachines([{ machineId: 'prompt-0', machineType: 'dgx-h100', pool: 'prompt', gpus: 8, pricePerHour: 30 }]);
  for (let i = 0; i < 20; i++) live.addRequest(row(i));
  live.addRequest(
    row(20, {
      status: 'error',
      error: 'HTTP 503: "busy", retry later',
      errorCode: 'SB_HTTP',
      httpStatus: 503,
      tokensReceived: 0,
      chunks: [],
      firstToken: undefined,
    }),
  );
  live.addRequest(row(21, { status: 'timeout', timeoutPhase: 'first-token', tokensReceived: 0, chunks: [], firstToken: undefined }));
  live.finish('completed');
  const sim = s.createRun({ kind: 'sim', options: {} });
  sim.addRequest(row(0));
  sim.finish('interrupted');
  liveId = live.runId;
  simId = sim.runId;
  s.close();
});

test('runs list: table and JSON', async () => {
  const t = await runCli(['runs', 'list', '--db', db]);
  assert.equal(t.code, 0, t.stderr);
  const lines = t.stdout.trim().split('\n');
  assert.match(lines[0]!, /^id\s+name\s+kind\s+status\s+started\s+requests\s+ok\s+target/);
  assert.match(lines[1]!, new RegExp(`^\\s*${liveId}\\s+baseline\\s+live\\s+completed\\s+\\S+ \\S+\\s+22\\s+20\\s+http://127.0.0.1:9 / splitwise-hh$`));
  assert.match(lines[2]!, new RegExp(`^\\s*${simId}\\s+sim-${simId}\\s+sim\\s+interrupted`));
  const j = await runCli(['runs', 'list', '--db', db, '--json']);
  assert.equal(j.code, 0);
  const runs = jsonResult(j.stdout) as { id: number; name: string; requests: number; ok: number; options: unknown }[];
  assert.deepEqual(
    runs.map((r) => [r.id, r.name, r.requests, r.ok]),
    [
      [liveId, 'baseline', 22, 20],
      [simId, `sim-${simId}`, 1, 1],
    ],
  );
  assert.deepEqual(runs[0]!.options, { rate: 4 });
});

test('runs show: by name and by id, text and JSON', async () => {
  const t = await runCli(['runs', 'show', 'baseline', '--db', db]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^id\s+\d+$/m);
  assert.match(t.stdout, /^deployment\s+splitwise-hh$/m);
  assert.match(t.stdout, /^requests\s+22 \(ok 20, error 1, timeout 1\)$/m);
  assert.match(t.stdout, /prompt-0\s+dgx-h100\s+prompt\s+8\s+30/);
  const j = await runCli(['runs', 'show', String(liveId), '--db', db, '--json']);
  const o = jsonResult(j.stdout) as { run: { name: string; env: { node: string } }; requests: Record<string, number>; machines: unknown[] };
  assert.equal(o.run.name, 'baseline');
  assert.equal(o.run.env.node, process.version);
  assert.equal(o.requests.total, 22);
  assert.equal(o.requests.timeout, 1);
  assert.equal(o.machines.length, 1);
});

test('one run lookup: runs show and summary both find a run by uuid and by latest', async () => {
  const s = openStore(db, { readonly: true });
  const uuid = s.getRun(liveId)!.uuid;
  s.close();
  const byUuid = await runCli(['runs', 'show', uuid, '--db', db, '--json']);
  assert.equal(byUuid.code, 0, byUuid.stderr);
  assert.equal((jsonResult(byUuid.stdout) as { run: { id: number } }).run.id, liveId);
  const latest = await runCli(['runs', 'show', 'latest', '--db', db, '--json']);
  assert.equal(latest.code, 0, latest.stderr);
  assert.equal((jsonResult(latest.stdout) as { run: { id: number } }).run.id, simId);
  const summary = await runCli(['summary', '--run', uuid, '--db', db, '--json']);
  assert.equal(summary.code, 0, summary.stderr);
  assert.match(summary.stdout, /"baseline"/);
});

test('runs show: an unknown run is exit 2 naming the runs there are', async () => {
  const r = await runCli(['runs', 'show', 'nosuch', '--db', db]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no run "nosuch"/);
  assert.match(r.stderr, /hint: .*baseline/);
});

test('runs export: jsonl and json parse back to the stored rows', async () => {
  const s = openStore(db, { readonly: true });
  const stored = [...s.requests(liveId)];
  s.close();
  for (const format of ['jsonl', 'json'] as const) {
    const r = await runCli(['runs', 'export', 'baseline', '--format', format, '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const rows = (
      format === 'json'
        ? JSON.parse(r.stdout)
        : r.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
    ) as Record<string, unknown>[];
    assert.equal(rows.length, 22);
    assert.deepEqual(Object.keys(rows[0]!), [...EXPORT_COLUMNS]);
    rows.forEach((x, i) => {
      const want = stored[i]!;
      assert.equal(x.seq, want.seq);
      assert.equal(x.trace_id, want.traceId);
      assert.equal(x.ttft, want.ttft);
      assert.equal(x.e2e, want.e2e);
      assert.equal(x.tpot, want.tpot);
      assert.equal(x.status, want.status);
      assert.deepEqual(
        x.chunk_times_s,
        want.chunks.map((c) => c.t),
      );
      assert.deepEqual(
        x.chunk_tokens,
        want.chunks.map((c) => c.tokens),
      );
    });
    assert.equal(rows[0]!.ttft, 0.5);
    assert.equal(rows[0]!.tpot, 0.25);
    assert.equal(rows[20]!.error, 'HTTP 503: "busy", retry later');
    assert.equal(rows[20]!.e2e, null);
  }
});

test('runs export: csv with --out parses back', async () => {
  const out = path.join(tmp, 'out.csv');
  const r = await runCli(['runs', 'export', String(liveId), '--db', db, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /exported 22 requests/);
  const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, 22);
  assert.deepEqual(Object.keys(rows[0]!), [...EXPORT_COLUMNS]);
  assert.equal(rows[0]!.ttft, '0.5');
  assert.equal(rows[0]!.chunk_times_s, '0.5;0.75;1');
  assert.equal(rows[0]!.chunk_tokens, '1;1;1');
  assert.equal(rows[20]!.error, 'HTTP 503: "busy", retry later');
  assert.equal(rows[20]!.e2e, '');
  assert.equal(rows[21]!.timeout_phase, 'first-token');
});

test('runs export: an unwritable --out names the flag', async () => {
  const r = await runCli(['runs', 'export', String(liveId), '--db', db, '--out', path.join(tmp, 'no', 'such', 'dir', 'x.csv')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out: cannot write/);
});

test('runs delete removes the run and its rows; the rest stays', async () => {
  const copy = path.join(tmp, 'del.db');
  const s = openStore(copy);
  const a = s.createRun({ kind: 'sim', name: 'gone', options: {} });
  a.addRequest(row(0));
  a.addRequest(row(1));
  a.finish('completed');
  const b = s.createRun({ kind: 'sim', name: 'kept', options: {} });
  b.addRequest(row(0));
  b.finish('completed');
  s.close();
  const r = await runCli(['runs', 'delete', 'gone', '--db', copy]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`deleted run ${a.runId} \\(gone, sim, completed\\) with 2 requests`));
  const j = await runCli(['runs', 'list', '--db', copy, '--json']);
  assert.deepEqual(
    (jsonResult(j.stdout) as { name: string }[]).map((x) => x.name),
    ['kept'],
  );
  // a run whose writer is alive (this test process) is kept unless --force
  const s1 = openStore(copy);
  const live = s1.createRun({ kind: 'live', name: 'writing', options: {} });
  const busy = await runCli(['runs', 'delete', 'writing', '--db', copy]);
  assert.equal(busy.code, 2);
  assert.match(busy.stderr, new RegExp(`still being written by process ${process.pid}`));
  const forced = await runCli(['runs', 'delete', 'writing', '--db', copy, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  live.finish('completed'); // its row is gone: nothing to update, no error
  s1.close();
  const again = await runCli(['runs', 'delete', 'gone', '--db', copy]);
  assert.equal(again.code, 2);
  const s2 = openStore(copy, { readonly: true });
  assert.equal((connectionOf(s2).prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n, 1);
  s2.close();
});
