/**
 * The simulator's fast row path: token_times encoded straight from typed arrays (codec encodeChunkTimes)
 * and bulk store writes must store exactly what the chunk-object path stores.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeChunks, encodeChunkTimes, encodeChunks, maxStallOf, openStore, type Chunk, type RequestRow } from '../../src/store/index.js';
import { simulate } from '../../src/sim/index.js';
import type { RequestSpec } from '../../src/trace/index.js';
import { seededRandom } from '../../src/engine/index.js';
import { connectionOf } from '../../src/store/store.js';
import { loadDeployment, loadEngineData } from '../../src/config/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-simfast-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Small deterministic PRNG: the engine's mulberry32 (the `random` scheduler's). */
const rng = seededRandom;

/** Random chunk times (absolute), counts (or none), and a send time: ties, zero-token chunks, huge gaps. */
function randomCase(r: () => number): { times: Float64Array; counts: Uint32Array | undefined; n: number; send: number } {
  const n = 1 + Math.floor(r() * 300);
  const send = r() * 5000;
  const times = new Float64Array(n + 3); // spare room: only the first n count
  const counts = r() < 0.5 ? new Uint32Array(n + 3) : undefined;
  let t = send + (r() < 0.1 ? -0.001 : r() * 2);
  for (let i = 0; i < n; i++) {
    const k = r();
    t += k < 0.1 ? 0 : k < 0.12 ? r() * 5000 : k < 0.2 ? r() * 1e-6 : r() * 0.05;
    times[i] = t;
    if (counts) counts[i] = r() < 0.05 ? 0 : r() < 0.1 ? 1 + Math.floor(r() * 300) : 1;
  }
  return { times, counts, n, send };
}

test('encodeChunkTimes gives encodeChunks bytes and maxStallOf for the same chunks', () => {
  const r = rng(7);
  for (let c = 0; c < 400; c++) {
    const { times, counts, n, send } = randomCase(r);
    const chunks: Chunk[] = [];
    for (let i = 0; i < n; i++) chunks.push({ t: times[i]! - send, tokens: counts ? counts[i]! : 1 });
    const { blob, maxStall } = encodeChunkTimes(times, counts, n, send);
    assert.deepEqual(blob, encodeChunks(chunks), `case ${c}: bytes`);
    assert.equal(maxStall, maxStallOf(chunks), `case ${c}: max stall`);
  }
  // The returned blob is the caller's own: a later call does not change it.
  const a = encodeChunkTimes(new Float64Array([1, 2]), undefined, 2, 0).blob;
  const copy = Buffer.from(a);
  encodeChunkTimes(new Float64Array([7, 9, 11]), undefined, 3, 0);
  assert.deepEqual(a, copy);
});

test('a row with a pre-encoded blob is stored exactly like the same row with chunks; bulk writers toggle synchronous', () => {
  const store = openStore(path.join(tmp, 'blob.db'));
  try {
    const r = rng(11);
    const rows: RequestRow[] = [];
    for (let i = 0; i < 200; i++) {
      const { times, counts, n, send: s0 } = randomCase(r);
      const send = s0;
      const chunks: Chunk[] = [];
      for (let k = 0; k < n; k++) chunks.push({ t: times[k]! - send, tokens: counts ? counts[k]! : 1 });
      const status = i % 13 === 0 ? 'error' : i % 17 === 0 ? 'never-completed' : 'ok';
      rows.push({
        seq: i,
        traceId: `t${i}`,
        arrival: send,
        promptTokens: 10 + i,
        outputTokens: n,
        scheduled: send,
        send,
        firstToken: times[0]!,
        ...(status === 'never-completed' ? {} : { end: times[n - 1]! + 0.001 }),
        status,
        tokensReceived: chunks.reduce((a, c) => a + c.tokens, 0),
        countMethod: 'exact',
        chunks,
        breakdown: { queue: 0.1, prefill: 0.2, kvTransfer: 0, decodeWait: 0, decode: 1 },
        promptMachine: 'p',
        tokenMachine: 't',
        pool: 'prompt',
      });
    }
    rows.push({ seq: 200, traceId: 'none', arrival: 1, promptTokens: 1, outputTokens: 1, scheduled: 1, send: 1, status: 'never-completed', tokensReceived: 0 });
    const slow = store.createRun({ kind: 'sim', options: {} });
    assert.equal(connectionOf(store).pragma('synchronous', { simple: true }), 1, 'NORMAL by default');
    const fast = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 64 });
    assert.equal(connectionOf(store).pragma('synchronous', { simple: true }), 0, 'OFF while a bulk writer is open');
    for (const row of rows) {
      slow.addRequest(row);
      if (!row.chunks) {
        fast.addRequest(row);
        continue;
      }
      const c = row.chunks;
      const times = new Float64Array(c.map((x) => x.t + row.send!));
      // Rebuild absolute times exactly as the encoder will subtract them: use the chunk list it implies.
      const enc = encodeChunkTimes(times, new Uint32Array(c.map((x) => x.tokens)), c.length, row.send!);
      const { chunks: _omit, ...rest } = row;
      const expectChunks = c.map((x, k) => ({ t: times[k]! - row.send!, tokens: x.tokens }));
      assert.deepEqual(enc.blob, encodeChunks(expectChunks));
      fast.addRequest({
        ...rest,
        chunks: [{ t: 99, tokens: 99 }],
        tokenTimesBlob: enc.blob,
        ...(enc.maxStall === undefined ? {} : { maxStall: enc.maxStall }),
      });
      // The slow path's own chunk list must be the same one, for the comparison below.
      assert.deepEqual(
        expectChunks.map((x) => x.tokens),
        c.map((x) => x.tokens),
      );
    }
    slow.finish('completed');
    fast.finish('completed');
    assert.equal(connectionOf(store).pragma('synchronous', { simple: true }), 1, 'NORMAL again after the bulk writer finished');
    const dump = (id: number): unknown[] =>
      (connectionOf(store).prepare('SELECT * FROM requests WHERE run_id = ? ORDER BY seq').all(id) as Record<string, unknown>[]).map(
        ({ run_id: _r, ...x }) => x,
      );
    const a = dump(slow.runId);
    const b = dump(fast.runId);
    assert.equal(a.length, 201);
    // Rows whose chunk times survive the add-then-subtract round trip bit for bit must match exactly.
    let compared = 0;
    for (let i = 0; i < a.length; i++) {
      const row = rows[i]!;
      const exact = !row.chunks || row.chunks.every((x) => x.t + row.send! - row.send! === x.t);
      if (!exact) continue;
      assert.deepEqual(b[i], a[i], `row ${i}`);
      compared++;
    }
    assert.ok(compared > 20, `compared ${compared} rows`);
  } finally {
    store.close();
  }
});

test('a simulated run stores token_times consistent with its first token, end, token count and max stall', async () => {
  const store = openStore(path.join(tmp, 'sim.db'));
  try {
    const reqs: RequestSpec[] = [];
    const r = rng(3);
    for (let i = 0; i < 300; i++)
      reqs.push({ id: `r${i}`, arrival: i * 0.02, promptTokens: 50 + Math.floor(r() * 3000), outputTokens: 2 + Math.floor(r() * 400) });
    for (const compat of [undefined, 'splitwise' as const]) {
      const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true });
      const res = await simulate({
        data: loadEngineData(),
        deployment: loadDeployment('splitwise-hh'),
        requests: reqs,
        sink: w,
        ...(compat ? { compat } : {}),
      });
      w.finish('completed');
      assert.equal(res.ok, 300);
      let n = 0;
      for (const row of store.requests(w.runId)) {
        n++;
        const c = decodeChunks(Buffer.from(encodeChunks(row.chunks)));
        assert.equal(
          c.reduce((a, x) => a + x.tokens, 0),
          row.tokensReceived,
          `${compat} seq ${row.seq}: tokens`,
        );
        assert.ok(Math.abs(row.send! + c[0]!.t - row.firstToken!) < 1e-6, `${compat} seq ${row.seq}: first chunk at the first token`);
        assert.ok(Math.abs(row.send! + c[c.length - 1]!.t - row.end!) < 1e-6, `${compat} seq ${row.seq}: last chunk at the end`);
        const stall = maxStallOf(c);
        if (stall === undefined) assert.equal(row.maxStall, null);
        else assert.ok(Math.abs(stall - row.maxStall!) < 2e-6, `${compat} seq ${row.seq}: max stall ${row.maxStall} vs ${stall}`);
      }
      assert.equal(n, 300);
    }
  } finally {
    store.close();
  }
});

test('a bulk writer on a file commits through its writer thread: flush() waits, failures name the row and break the writer', () => {
  const file = path.join(tmp, 'bulk.db');
  const store = openStore(file);
  try {
    const row = (seq: number): RequestRow => ({
      seq,
      traceId: `r${seq}`,
      arrival: seq,
      promptTokens: 5,
      outputTokens: 2,
      scheduled: seq,
      send: seq,
      firstToken: seq + 1,
      end: seq + 2,
      status: 'ok',
      tokensReceived: 2,
    });
    const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 10 });
    for (let i = 0; i < 35; i++) w.addRequest(row(i));
    w.flush();
    // Another connection sees every row once flush() returned.
    const other = openStore(file, { readonly: true });
    assert.equal(other.requestCounts(w.runId).total, 35);
    other.close();
    w.addRequest(row(3)); // duplicate (run, shard, seq): the insert fails in the writer thread
    assert.throws(
      () => w.flush(),
      (e: Error) => e.name === 'StoreError' && /request shard 0 seq 3/.test(e.message) && /UNIQUE|PRIMARY/i.test(e.message),
    );
    assert.throws(() => w.addRequest(row(99)), /request shard 0 seq 3/);
    assert.throws(() => w.finish('completed'), /request shard 0 seq 3/);
    assert.equal(store.getRun(w.runId)!.status, 'completed');
    assert.equal(store.requestCounts(w.runId).total, 35);
    assert.equal(connectionOf(store).pragma('synchronous', { simple: true }), 1);
  } finally {
    store.close();
  }
});

test('a bulk writer on an in-memory store writes in its own thread', () => {
  const store = openStore(':memory:');
  try {
    const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 3 });
    for (let i = 0; i < 10; i++)
      w.addRequest({ seq: i, traceId: `r${i}`, arrival: i, promptTokens: 5, outputTokens: 1, scheduled: i, status: 'never-completed', tokensReceived: 0 });
    w.finish('completed');
    assert.equal(store.requestCounts(w.runId)['never-completed'], 10);
  } finally {
    store.close();
  }
});
