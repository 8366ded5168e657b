import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REQUEST_ERROR_MEANINGS, RequestErrorCode, systemErrorCode } from '../../src/errors.js';
import { Recorder, RunEvents } from '../../src/run/events.js';
import { OK, outcomeCode, outcomeColumns, type RequestOutcome } from '../../src/run/outcome.js';
import type { RequestRow } from '../../src/store/index.js';

import { simulate, type SimProgress } from '../../src/sim/simulate.js';
import type { RequestSpec } from '../../src/trace/index.js';
import { repoRoot } from '../tools/schema-docs.js';
import { defineDeployment, loadCatalog, loadEngineData } from '../../src/config/index.js';

test('each outcome maps to the stored columns a replay and a sim have always written', () => {
  const cases: [RequestOutcome, object][] = [
    [OK, { status: 'ok' }],
    [
      { kind: 'error', code: RequestErrorCode.http, httpStatus: 503, message: 'HTTP 503: busy' },
      { status: 'error', errorCode: 'SB_HTTP', httpStatus: 503, error: 'HTTP 503: busy' },
    ],
    [
      { kind: 'error', code: RequestErrorCode.engine, message: 'out of KV' },
      { status: 'error', errorCode: 'SB_ENGINE', error: 'out of KV' },
    ],
    [
      { kind: 'timeout', phase: 'first-token', limitS: 2.5 },
      { status: 'timeout', errorCode: 'SB_TIMEOUT', error: 'timed out in phase first-token after 2.5 s', timeoutPhase: 'first-token' },
    ],
    [
      { kind: 'cancelled', message: 'cancelled by the run' },
      { status: 'cancelled', errorCode: 'SB_CANCELLED', error: 'cancelled by the run' },
    ],
    [
      { kind: 'never-completed', message: 'still in flight' },
      { status: 'never-completed', error: 'still in flight' },
    ],
  ];
  for (const [o, cols] of cases) assert.deepEqual(outcomeColumns(o), cols, o.kind);
  assert.equal(outcomeCode(OK), undefined);
  assert.equal(outcomeCode({ kind: 'timeout', phase: 'connect', limitS: 1 }), 'SB_TIMEOUT');
});

test('a connection error keeps its system code; one without a code is ERR_UNKNOWN', () => {
  assert.equal(systemErrorCode(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
  assert.equal(systemErrorCode({ name: 'SocketError' }), 'SocketError');
  assert.equal(systemErrorCode(undefined), 'ERR_UNKNOWN');
  assert.deepEqual(outcomeColumns({ kind: 'error', code: systemErrorCode({ code: 'ECONNRESET' }), message: 'reset' }), {
    status: 'error',
    errorCode: 'ECONNRESET',
    error: 'reset',
  });
});

test('every code of the table has a meaning, and docs/store.md lists exactly the table', () => {
  assert.deepEqual(Object.values(RequestErrorCode).sort(), Object.keys(REQUEST_ERROR_MEANINGS).sort());
  const doc = readFileSync(path.join(repoRoot, 'docs/store.md'), 'utf8');
  const m = /<!-- request-error-codes -->\n([\s\S]*?)<!-- \/request-error-codes -->/.exec(doc);
  assert.ok(m, 'docs/store.md has a request-error-codes block');
  const want = ['| code | meaning |', '|---|---|', ...Object.entries(REQUEST_ERROR_MEANINGS).map(([c, w]) => `| \`${c}\` | ${w} |`)].join('\n');
  assert.equal(m[1]!.trim(), want);
});

test('the recorder writes the row with its outcome columns, then announces the outcome; a failing write still announces it', () => {
  const rows: RequestRow[] = [];
  const seen: string[] = [];
  const events = new RunEvents().on({ outcome: (row, o) => seen.push(`${row.seq}:${o.kind}:${rows.length}`) });
  const fields = { seq: 0, traceId: 'a', arrival: 0, promptTokens: 8, outputTokens: 2, scheduled: 0, send: 0, tokensReceived: 2 };
  new Recorder({ addRequest: (r) => rows.push(r) }, events).record(fields, OK);
  assert.deepEqual(rows, [{ ...fields, status: 'ok' }]);
  const failing = new Recorder(
    {
      addRequest: () => {
        throw new Error('disk full');
      },
    },
    events,
  );
  assert.throws(() => failing.record({ ...fields, seq: 1 }, { kind: 'cancelled', message: 'c' }), /disk full/);
  assert.deepEqual(seen, ['0:ok:1', '1:cancelled:1']);
});

test('the sim driver reports each request to the recorder: one start and one outcome per row, same row as stored', async () => {
  const ctx = loadCatalog().model('llama2-70b').maxContextTokens;
  const dep = defineDeployment({ kind: 'monolithic', model: 'llama2-70b', pools: { mixed: { machine: 'dgx-h100', count: 1 } } });
  const specs: RequestSpec[] = [
    { id: 'a', arrival: 0, promptTokens: 100, outputTokens: 10 },
    { id: 'too-long', arrival: 0.1, promptTokens: ctx, outputTokens: 10 },
    { id: 'b', arrival: 0.2, promptTokens: 50, outputTokens: 5 },
  ];
  const stored: RequestRow[] = [];
  const announced: [RequestRow, RequestOutcome][] = [];
  let started = 0;
  const ticks: number[] = [];
  const run = new RunEvents<SimProgress>().on({
    requestStarted: (e) => {
      assert.equal(e.lagS, 0);
      started++;
    },
    outcome: (row, o) => void announced.push([row, o]),
    tick: (p) => void ticks.push(p.submitted),
  });
  await simulate({ data: loadEngineData(), deployment: dep, requests: specs, sink: { addRequest: (r) => stored.push(r) }, sampleIntervalS: 0, run });
  assert.equal(started, 3);
  assert.deepEqual(
    announced.map(([, o]) => o.kind),
    stored.map((r) => r.status),
  );
  assert.deepEqual(
    announced.map(([r]) => r),
    stored,
  );
  const refused = announced.find(([r]) => r.traceId === 'too-long')!;
  assert.deepEqual(outcomeColumns(refused[1]), { status: 'error', errorCode: 'SB_HTTP', httpStatus: 400, error: refused[0].error });
  assert.ok(ticks.length > 0 && ticks.at(-1) === 3, `ticks ${ticks}`);
});
