import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTokenTimes, type TokenTimesFields } from '../../src/load/replay.js';
import { requestParams, type RequestRow } from '../../src/store/index.js';

/** A row as the replay writes it, with `extra` standing for its token times. */
function row(extra: object): RequestRow {
  return {
    seq: 3,
    traceId: 't',
    arrival: 1,
    promptTokens: 8,
    outputTokens: 4,
    scheduled: 1,
    send: 1.5,
    firstToken: 1.6,
    end: 2,
    status: 'ok',
    tokensReceived: 4,
    ...extra,
  };
}

/** The stored parameters of the row with the stream's chunks as a chunk list (what the replay wrote before) and as `setTokenTimes` sets them. */
function both(chunkMs: number[], chunkTokens: number[], sendMs: number, K: number): { list: unknown[]; fast: unknown[]; kind: string } {
  const chunks = chunkMs.map((ms, i) => ({ t: ((ms - sendMs) / 1000) * K, tokens: chunkTokens[i]! }));
  const fast: TokenTimesFields = {};
  setTokenTimes(fast, { chunkMs, chunkTokens }, sendMs, K);
  return { list: requestParams(1, row({ chunks })), fast: requestParams(1, row(fast)), kind: 'chunks' in fast ? 'chunks' : 'blob' };
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test('token times: the pre-encoded blob stores exactly what the chunk list stored (token_times, max_stall, every column)', () => {
  const r = rng(7);
  for (let k = 0; k < 400; k++) {
    const n = 1 + Math.floor(r() * (k % 3 === 0 ? 600 : 40));
    const sendMs = 1000 + r() * 1e6;
    const K = [1, 0.37, 12.5, 1000][k % 4]!;
    const ms: number[] = [];
    const tokens: number[] = [];
    let t = sendMs + r() * 50;
    for (let i = 0; i < n; i++) {
      // Gaps of every varint width, repeats (coalesced chunks), now and then a long stall.
      t += r() < 0.2 ? 0 : r() < 0.05 ? r() * 5000 : r() * 3;
      ms.push(t);
      tokens.push(k % 2 === 0 ? 1 : r() < 0.7 ? 1 : r() < 0.9 ? 2 + Math.floor(r() * 5) : 200 + Math.floor(r() * 1e6));
    }
    const { list, fast, kind } = both(ms, tokens, sendMs, K);
    assert.equal(kind, 'blob');
    assert.deepEqual(fast, list, `stream ${k}: ${n} chunks, time scale ${K}`);
  }
});

test('token times: one chunk has no stall; a token count that is not a whole number keeps the chunk list', () => {
  const one = both([105.25], [1], 100, 1);
  assert.equal(one.kind, 'blob');
  assert.deepEqual(one.fast, one.list);
  const odd = both([101, 102, 104], [1, 2.5, 1], 100, 1);
  assert.equal(odd.kind, 'chunks');
  assert.deepEqual(odd.fast, odd.list);
  const huge = both([101, 102], [1, 2 ** 33], 100, 1);
  assert.equal(huge.kind, 'chunks');
  assert.deepEqual(huge.fast, huge.list);
});
