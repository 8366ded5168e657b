/** The session workload (closed loop within a session) and `trace synth --sessions`. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BodyBuilder } from '../../src/load/prompt.js';
import {
  SessionWorkload,
  createRng,
  geometricAtLeastOne,
  openTrace,
  rateArrivals,
  rateRequests,
  sizeSamplerFromArrays,
  synthesizeSessions,
  synthesizeSessionTrace,
  type RequestSpec,
  type SessionTurn,
} from '../../src/trace/index.js';
import { collect, tmpDir } from './helpers.js';

const row = (id: string, arrival: number, promptTokens: number, outputTokens: number, extra: Partial<RequestSpec> = {}): RequestSpec => ({
  id,
  arrival,
  promptTokens,
  outputTokens,
  ...extra,
});

test("a session turn waits for the previous answer; it is due that answer's end + the trace gap", () => {
  const w = new SessionWorkload();
  const t0 = w.feed(row('a0', 1, 1000, 50, { sessionId: 'A' }))!;
  assert.deepEqual([t0.sessionId, t0.turn, t0.dueS, t0.thinkS], ['A', 0, 1, 0]);
  // Turn 1 is read (trace arrival 4, gap 3) while turn 0 is in flight: it waits.
  assert.equal(w.feed(row('a1', 4, 1200, 20, { sessionId: 'A' })), undefined);
  // Another session starts on its own schedule (open loop across sessions).
  const b0 = w.feed(row('b0', 4.5, 300, 10, { sessionId: 'B' }))!;
  assert.equal(b0.dueS, 4.5);
  assert.equal(w.open, 3);
  const t1 = w.complete(t0, 9.25, true)!;
  assert.equal(t1.turn, 1);
  assert.equal(t1.dueS, 9.25 + 3, 'released the think time (the trace gap) after the answer ended, not at the trace arrival');
  assert.equal(t1.spec.arrival, t1.dueS);
  assert.equal(t1.thinkS, 3);
  // Turn 2 read after turn 1 ended: released at once, due turn 1's end + its gap.
  assert.equal(w.complete(t1, 14, true), undefined);
  const t2 = w.feed(row('a2', 6, 2000, 5, { sessionId: 'A' }))!;
  assert.equal(t2.dueS, 14 + 2);
  assert.equal(w.complete(t2, 17, true), undefined);
  assert.equal(w.complete(b0, 5, true), undefined);
  assert.equal(w.open, 0);
  assert.deepEqual(w.counts(), { sessions: 2, released: 4, dropped: 0, lengthened: 0 });
});

test("each turn's prompt is the previous prompt + answer + new tokens (lengthened where the trace's is shorter); blocks grow as one stream", () => {
  const w = new SessionWorkload();
  const t0 = w.feed(row('0', 0, 700, 400, { sessionId: 's' }))!;
  assert.deepEqual(t0.spec.hashIds, [-1, -2], 'fresh negative block ids where the row has none');
  w.feed(row('1', 1, 900, 10, { sessionId: 's' })); // shorter than 700 + 400
  const t1 = w.complete(t0, 2, true)!;
  assert.equal(t1.spec.promptTokens, 700 + 400 + 1);
  assert.deepEqual(t1.spec.hashIds, [-1, -2, -3]);
  assert.equal(w.counts().lengthened, 1);
  // The wire: turn 1's token ids begin with turn 0's prompt and the tokens standing for its answer.
  const b = new BodyBuilder({ endpoint: 'completions', prompt: 'tokens', model: 'm', seed: 7 });
  const ids = (t: SessionTurn, seq: number): string[] =>
    (
      JSON.parse(b.build({ seq, promptTokens: t.spec.promptTokens, outputTokens: t.spec.outputTokens, hashIds: t.spec.hashIds })) as { prompt: number[] }
    ).prompt.map(String);
  const p0 = ids(t0, 0);
  const p1 = ids(t1, 1);
  assert.equal(p0.length, 700);
  assert.equal(p1.length, 1101);
  assert.deepEqual(p1.slice(0, 700), p0, "turn 1's prompt starts with turn 0's");
  // Turn 2 begins with turn 1's whole prompt and the 10 tokens standing for turn 1's answer.
  w.feed(row('2', 3, 1200, 10, { sessionId: 's' }));
  const t2 = w.complete(t1, 4, true)!;
  const p2 = ids(t2, 2);
  assert.deepEqual(p2.slice(0, 1101 + 10), ids({ ...t2, spec: { ...t2.spec, promptTokens: 1111 } }, 3), 'turn 2 begins with turn 1 + its answer');
  assert.deepEqual(p2.slice(0, 1101), p1);
});

test('rows without session ids chain by hash prefix (all the previous blocks, or all but the partial last one)', () => {
  const w = new SessionWorkload();
  // The Mooncake synthetic trace's multi-turn order: the next turn replaces the partial last block.
  const a0 = w.feed(row('10', 0, 1500, 20, { hashIds: [1, 2, 3] }))!;
  const x0 = w.feed(row('11', 0.5, 600, 20, { hashIds: [1, 9] }))!; // shares a block, but not a chain: own session
  assert.notEqual(x0.sessionId, a0.sessionId);
  assert.equal(w.feed(row('12', 2, 2100, 20, { hashIds: [1, 2, 4, 5, 6] })), undefined, 'continues 10 (all but its last block): waits');
  const a1 = w.complete(a0, 1, true)!;
  assert.equal(a1.sessionId, '10');
  assert.equal(a1.turn, 1);
  assert.equal(a1.dueS, 1 + 2);
  assert.deepEqual(a1.spec.hashIds, [1, 2, 3, 5, 6], "the session's block stream keeps its blocks and takes the row's new ones");
  // Continues by its whole list too.
  assert.equal(w.feed(row('13', 5, 2700, 20, { hashIds: [1, 2, 4, 5, 6, 7] })), undefined);
  assert.equal(w.complete(a1, 6, true)!.turn, 2);
  assert.equal(w.counts().sessions, 2);
});

test('a turn that did not complete ends its session: the later turns are dropped', () => {
  const w = new SessionWorkload();
  const t0 = w.feed(row('0', 0, 100, 10, { sessionId: 's' }))!;
  w.feed(row('1', 1, 200, 10, { sessionId: 's' }));
  assert.equal(w.complete(t0, 0.5, false), undefined);
  assert.equal(w.feed(row('2', 2, 300, 10, { sessionId: 's' })), undefined);
  assert.deepEqual(w.counts(), { sessions: 1, released: 1, dropped: 2, lengthened: 0 });
  assert.equal(w.open, 0);
});

test('geometric turn counts have the stated mean', () => {
  const rng = createRng(3);
  let sum = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const k = geometricAtLeastOne(rng, 4);
    assert.ok(Number.isInteger(k) && k >= 1);
    sum += k;
  }
  assert.ok(Math.abs(sum / n - 4) < 0.1, `mean ${sum / n}`);
  assert.equal(geometricAtLeastOne(rng, 1), 1);
});

test('trace synth --sessions: byte-identical per seed; turns extend their session; drawn think times and user tokens', async () => {
  const dir = tmpDir();
  const o = { like: 'conversation', rate: 2, sessions: 400, turnsMean: 3, thinkMeanS: 5, userTokensMean: 64, seed: 11 };
  const a = await synthesizeSessionTrace({ ...o, out: path.join(dir, 'a.jsonl') });
  await synthesizeSessionTrace({ ...o, out: path.join(dir, 'b.jsonl') });
  await synthesizeSessionTrace({ ...o, seed: 12, out: path.join(dir, 'c.jsonl') });
  assert.ok(fs.readFileSync(path.join(dir, 'a.jsonl')).equals(fs.readFileSync(path.join(dir, 'b.jsonl'))));
  assert.ok(!fs.readFileSync(path.join(dir, 'a.jsonl')).equals(fs.readFileSync(path.join(dir, 'c.jsonl'))));
  assert.equal(a.sessions, 400);
  const rows = await collect(openTrace(path.join(dir, 'a.jsonl')));
  assert.equal(rows.length, a.written);
  const by = new Map<string, RequestSpec[]>();
  for (const r of rows) by.set(r.sessionId!, [...(by.get(r.sessionId!) ?? []), r]);
  assert.equal(by.size, 400);
  const gaps: number[] = [];
  const added: number[] = [];
  for (const turns of by.values()) {
    for (let k = 1; k < turns.length; k++) {
      const p = turns[k - 1]!;
      const q = turns[k]!;
      gaps.push(q.arrival - p.arrival);
      added.push(q.promptTokens - p.promptTokens - p.outputTokens);
      assert.ok(q.promptTokens > p.promptTokens + p.outputTokens);
      assert.deepEqual(q.hashIds!.slice(0, p.hashIds!.length), p.hashIds, "blocks extend the previous turn's");
      assert.equal(q.hashIds!.length, Math.ceil(q.promptTokens / 512));
    }
  }
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(rows.length / 400 - 3) < 0.3, `turns per session ${rows.length / 400}`);
  assert.ok(Math.abs(mean(gaps) - 5) < 0.6, `think mean ${mean(gaps)}`);
  assert.ok(Math.abs(mean(added) - 64) < 7, `user tokens mean ${mean(added)}`);
  // Read back as a session workload, the think times are the drawn ones (to the file's microsecond).
  const w = new SessionWorkload();
  const inFlight: SessionTurn[] = [];
  for (const r of rows) {
    const t = w.feed(r);
    if (t) inFlight.push(t);
  }
  assert.equal(w.counts().sessions, 400);
  const t0 = inFlight[0]!;
  const next = w.complete(t0, t0.dueS, true);
  const own = by.get(t0.sessionId)!;
  if (own.length > 1) assert.ok(Math.abs(next!.thinkS - (own[1]!.arrival - own[0]!.arrival)) < 1e-9);
});

for (const arrivals of ['poisson', 'gamma:2', 'uniform']) {
  test(`trace synth --sessions starts its sessions on the rate generator's arrivals (seed 21, ${arrivals})`, async () => {
    const o = { like: 'conversation', rate: 3, arrivals, sessions: 250, turnsMean: 3, thinkMeanS: 4, userTokensMean: 32, seed: 21 };
    const { requests } = await synthesizeSessions(o);
    const starts = requests.filter((r) => r.id.endsWith('-0')).map((r) => [Number(r.sessionId!.slice(1)), r.arrival] as const);
    starts.sort((a, b) => a[0] - b[0]);
    const load = { rate: o.rate, arrivals, seed: o.seed };
    const expected = [...rateArrivals({ ...load, maxRequests: o.sessions })];
    assert.equal(expected.length, 250);
    assert.deepEqual(
      starts.map(([, t]) => t),
      expected,
    );
    assert.deepEqual(
      starts.map(([n]) => n),
      expected.map((_, i) => i),
    );
    // The same instants as the requests of a rate load with that seed (`replay --rate`, `sim --rate`).
    const sizes = sizeSamplerFromArrays([100], [10]);
    assert.deepEqual(
      [...rateRequests(sizes, { ...load, maxRequests: 250 })].map((r) => r.arrival),
      expected,
    );
    // A duration cuts the sessions where it cuts the generator.
    const cut = await synthesizeSessions({ ...o, durationS: 30 });
    const cutStarts = cut.requests.filter((r) => r.id.endsWith('-0')).map((r) => r.arrival);
    assert.deepEqual(
      cutStarts.sort((a, b) => a - b),
      [...rateArrivals({ ...load, maxRequests: o.sessions, durationS: 30 })],
    );
    assert.ok(cutStarts.length < 250 && cutStarts.length > 0);
  });
}
