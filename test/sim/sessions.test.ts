/**
 * Session workloads on the virtual clock: turn k + 1 is submitted exactly at turn k's end + its think time
 * (not at its trace arrival), its prompt hits the prefix cache on turn k's blocks, and a failed turn ends its
 * session.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { simulate, type SimulateOptions } from '../../src/sim/index.js';
import { resolveSimOptions } from '../../src/sim/options.js';
import { resolveReplayOptions } from '../../src/load/options.js';
import type { RequestRow } from '../../src/store/index.js';
import { SessionWorkload, type RequestSpec } from '../../src/trace/index.js';
import { defineDeployment, loadCatalog, loadEngineData } from '../../src/config/index.js';

const dep = defineDeployment({ kind: 'monolithic', model: 'llama2-70b', prefixCache: true, pools: { mixed: { machine: 'dgx-h100', count: 1 } } });

async function run(specs: RequestSpec[], sessions?: SessionWorkload, sessionLimits?: SimulateOptions['sessionLimits']): Promise<RequestRow[]> {
  const rows: RequestRow[] = [];
  await simulate({
    data: loadEngineData(),
    deployment: dep,
    requests: specs,
    sink: { addRequest: (r) => rows.push(r) },
    sampleIntervalS: 0,
    ...(sessions ? { sessions } : {}),
    ...(sessionLimits ? { sessionLimits } : {}),
  });
  return rows;
}

test('sim releases turn k+1 at the end of turn k + think time on the virtual clock', async () => {
  // Two sessions; the trace's gaps (think times) are shorter than an answer takes, so the closed loop shows.
  const specs: RequestSpec[] = [
    { id: 'a0', arrival: 0, promptTokens: 1500, outputTokens: 60, sessionId: 'A' },
    { id: 'b0', arrival: 0.2, promptTokens: 800, outputTokens: 40, sessionId: 'B' },
    { id: 'a1', arrival: 0.5, promptTokens: 1700, outputTokens: 30, sessionId: 'A' },
    { id: 'b1', arrival: 0.7, promptTokens: 1000, outputTokens: 30, sessionId: 'B' },
    { id: 'a2', arrival: 1.25, promptTokens: 2000, outputTokens: 20, sessionId: 'A' },
  ];
  const w = new SessionWorkload();
  const rows = await run(specs, w);
  assert.equal(rows.length, 5);
  const by = new Map(rows.map((r) => [r.traceId, r]));
  for (const r of rows) assert.equal(r.status, 'ok', r.traceId);
  const think = (id: string, prev: string): number => specs.find((s) => s.id === id)!.arrival - specs.find((s) => s.id === prev)!.arrival;
  for (const [id, prev] of [
    ['a1', 'a0'],
    ['a2', 'a1'],
    ['b1', 'b0'],
  ] as const) {
    const r = by.get(id)!;
    const p = by.get(prev)!;
    assert.equal(r.scheduled, p.end! + think(id, prev), `${id}: due at ${prev}'s end + think`);
    assert.equal(r.send, r.scheduled);
    assert.ok(r.scheduled > specs.find((s) => s.id === id)!.arrival, `${id} went later than its open-loop arrival`);
    assert.equal(r.sessionId, p.sessionId);
    assert.equal(r.sessionTurn, p.sessionTurn! + 1);
    // The prefix cache holds the previous turn's whole blocks: they are not prefilled again.
    assert.equal(r.breakdown?.cachedPromptTokens, Math.floor(p.promptTokens / 512) * 512, `${id} hits on ${prev}'s blocks`);
  }
  assert.equal(by.get('a0')!.sessionTurn, 0);
  assert.equal(by.get('a0')!.scheduled, 0);
  assert.equal(by.get('b0')!.scheduled, 0.2, 'sessions start on the trace schedule');
  // Turn prompts are prev + answer + new: a1 (trace 1700 ≥ 1500 + 60 + 1) kept, a2 2000 ≥ 1700 + 30 + 1 kept.
  assert.equal(by.get('a1')!.promptTokens, 1700);
  assert.deepEqual(w.counts(), { sessions: 2, released: 5, dropped: 0, lengthened: 0 });
  // Rows are numbered in send order.
  const seqs = [...rows].sort((x, y) => x.seq - y.seq).map((r) => r.scheduled);
  assert.deepEqual(
    seqs,
    [...seqs].sort((x, y) => x - y),
  );
});

test('without --sessions the same trace is open loop (arrivals as in the trace)', async () => {
  const specs: RequestSpec[] = [
    { id: 'a0', arrival: 0, promptTokens: 1500, outputTokens: 60, sessionId: 'A' },
    { id: 'a1', arrival: 0.5, promptTokens: 1700, outputTokens: 30, sessionId: 'A' },
  ];
  const rows = await run(specs);
  assert.equal(rows.find((r) => r.traceId === 'a1')!.scheduled, 0.5);
  assert.equal(rows.find((r) => r.traceId === 'a1')!.sessionTurn, undefined);
});

test('a turn past the context fails (HTTP 400, as the live server answers) and ends its session', async () => {
  const ctx = loadCatalog().model('llama2-70b').maxContextTokens;
  const specs: RequestSpec[] = [
    { id: 'a0', arrival: 0, promptTokens: ctx - 100, outputTokens: 50, sessionId: 'A' },
    { id: 'a1', arrival: 1, promptTokens: ctx - 40, outputTokens: 50, sessionId: 'A' },
    { id: 'a2', arrival: 2, promptTokens: ctx - 10, outputTokens: 5, sessionId: 'A' },
    { id: 'b0', arrival: 2.5, promptTokens: 100, outputTokens: 5, sessionId: 'B' },
  ];
  const w = new SessionWorkload();
  const rows = await run(specs, w);
  assert.deepEqual(rows.map((r) => [r.traceId, r.status]).sort(), [
    ['a0', 'ok'],
    ['a1', 'error'],
    ['b0', 'ok'],
  ]);
  assert.equal(rows.find((r) => r.traceId === 'a1')!.httpStatus, 400);
  assert.deepEqual(w.counts(), { sessions: 2, released: 3, dropped: 1, lengthened: 0 });
});

test('sessions cannot run in the SplitwiseSim-compatible mode', async () => {
  const paper = defineDeployment({ kind: 'monolithic', model: 'llama2-70b', pools: { mixed: { machine: 'dgx-h100', count: 1 } } });
  await assert.rejects(
    simulate({
      data: loadEngineData(),
      deployment: paper,
      compat: 'splitwise',
      requests: [{ id: '0', arrival: 0, promptTokens: 10, outputTokens: 2, sessionId: 's' }],
      sink: { addRequest: () => undefined },
      sessions: new SessionWorkload(),
    }),
    /SplitwiseSim-compatible mode/,
  );
});

test('--sessions: not with --rate, --concurrency or --compat splitwise (clear errors naming the flag)', () => {
  assert.equal(resolveSimOptions({ trace: 'x.jsonl', sessions: true }).sessions, true);
  assert.equal(resolveSimOptions({ trace: 'x.jsonl' }).sessions, undefined);
  assert.throws(() => resolveSimOptions({ trace: 'x.jsonl', sessions: true, rate: 2, duration: 10 }), /--sessions: not with --rate/);
  assert.throws(() => resolveSimOptions({ trace: 'x.jsonl', sessions: true, compat: 'splitwise' }), /--sessions: not with --compat splitwise/);
  assert.equal(resolveReplayOptions({ trace: 'x.jsonl', sessions: true }, {}).sessions, true);
  assert.throws(() => resolveReplayOptions({ trace: 'x.jsonl', sessions: true, concurrency: 4 }, {}), /--sessions: not with --concurrency/);
  assert.throws(() => resolveReplayOptions({ trace: 'x.jsonl', sessions: true, rate: 4, duration: 5 }, {}), /--sessions: not with --rate/);
});

test("session limits count turns sent (as a session replay's --max-requests / --duration); a turn past them ends its session", async () => {
  const specs: RequestSpec[] = [
    { id: 'a0', arrival: 0, promptTokens: 600, outputTokens: 20, sessionId: 'A' },
    { id: 'b0', arrival: 0.1, promptTokens: 600, outputTokens: 20, sessionId: 'B' },
    { id: 'a1', arrival: 0.2, promptTokens: 700, outputTokens: 20, sessionId: 'A' },
    { id: 'a2', arrival: 0.3, promptTokens: 800, outputTokens: 20, sessionId: 'A' },
    { id: 'b1', arrival: 5, promptTokens: 700, outputTokens: 20, sessionId: 'B' },
  ];
  const w = new SessionWorkload();
  const rows = await run(specs, w, { maxTurns: 3 });
  // Sent in due order: a0, b0, then a1 (due a0's end + 0.2 s; b1 waits 4.9 s of think after b0).
  assert.deepEqual(rows.map((r) => r.traceId).sort(), ['a0', 'a1', 'b0']);
  assert.deepEqual(w.counts(), { sessions: 2, released: 3, dropped: 2, lengthened: 0 }, 'a2 and b1 not sent');
  const w2 = new SessionWorkload();
  const rows2 = await run(specs, w2, { untilS: 4 });
  assert.ok(rows2.every((r) => r.scheduled < 4));
  assert.ok(!rows2.some((r) => r.traceId === 'b1'), 'b1 is due past 4 s');
});
