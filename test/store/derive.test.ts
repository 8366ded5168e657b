import test from 'node:test';
import assert from 'node:assert/strict';
import { deriveRequest, e2eOf, lagOf, maxStallOf, tpotOf, ttftOf } from '../../src/store/derive.js';

test('lag, ttft and e2e are plain differences', () => {
  assert.equal(lagOf(1.5, 1.25), 0.25);
  assert.equal(ttftOf(2, 1.5), 0.5);
  assert.equal(e2eOf(4, 1.5, 'ok'), 2.5);
  assert.equal(lagOf(undefined, 1), undefined);
  assert.equal(ttftOf(undefined, 1), undefined);
});

test('e2e exists only for ok requests', () => {
  assert.equal(e2eOf(4, 1.5, 'error'), undefined);
  assert.equal(e2eOf(4, 1.5, 'timeout'), undefined);
  assert.equal(e2eOf(undefined, 1.5, 'ok'), undefined);
});

test('tpot needs at least two tokens', () => {
  assert.equal(tpotOf(2.5, 0.5, 5), 0.5);
  assert.equal(tpotOf(2.5, 0.5, 2), 2);
  assert.equal(tpotOf(2.5, 0.5, 1), undefined);
  assert.equal(tpotOf(2.5, 0.5, 0), undefined);
  assert.equal(tpotOf(undefined, 0.5, 5), undefined);
});

test('max stall is the longest gap between token chunks after the first', () => {
  assert.equal(
    maxStallOf([
      { t: 0.5, tokens: 1 },
      { t: 1, tokens: 2 },
      { t: 2.5, tokens: 2 },
    ]),
    1.5,
  );
  // the TTFT gap (0 → 3) is not a stall
  assert.equal(
    maxStallOf([
      { t: 3, tokens: 1 },
      { t: 3.25, tokens: 1 },
    ]),
    0.25,
  );
  // chunks without tokens are skipped
  assert.equal(
    maxStallOf([
      { t: 1, tokens: 1 },
      { t: 5, tokens: 0 },
      { t: 1.5, tokens: 1 },
    ]),
    0.5,
  );
  assert.equal(maxStallOf([{ t: 1, tokens: 4 }]), undefined);
  assert.equal(maxStallOf([]), undefined);
  assert.equal(maxStallOf(undefined), undefined);
});

test('deriveRequest computes every column from raw times', () => {
  const d = deriveRequest({
    scheduled: 1.25,
    send: 1.5,
    firstToken: 2,
    end: 4,
    status: 'ok',
    tokensReceived: 5,
    chunks: [
      { t: 0.5, tokens: 1 },
      { t: 1, tokens: 2 },
      { t: 2.5, tokens: 2 },
    ],
  });
  assert.deepEqual(d, {
    firstToken: 2,
    end: 4,
    lag: 0.25,
    ttft: 0.5,
    e2e: 2.5,
    ttftSched: 0.75,
    e2eSched: 2.75,
    tpot: 0.5,
    maxStall: 1.5,
  });
});

test('deriveRequest fills first token and end from chunks when absent', () => {
  const d = deriveRequest({
    scheduled: 0,
    send: 1,
    status: 'ok',
    tokensReceived: 3,
    chunks: [
      { t: 0.25, tokens: 1 },
      { t: 0.75, tokens: 2 },
    ],
  });
  assert.equal(d.firstToken, 1.25);
  assert.equal(d.end, 1.75);
  assert.equal(d.ttft, 0.25);
  assert.equal(d.e2e, 0.75);
  assert.equal(d.tpot, 0.25);
});

test('a failed request keeps ttft but has no e2e, e2e_sched or tpot', () => {
  const d = deriveRequest({ scheduled: 0, send: 0.5, firstToken: 1, end: 3, status: 'error', tokensReceived: 4 });
  assert.equal(d.ttft, 0.5);
  assert.equal(d.ttftSched, 1);
  assert.equal(d.e2e, undefined);
  assert.equal(d.e2eSched, undefined);
  assert.equal(d.tpot, undefined);
  assert.equal(d.end, 3);
});

test('a never-sent request has only its schedule', () => {
  const d = deriveRequest({ scheduled: 2, status: 'never-completed', tokensReceived: 0 });
  assert.equal(d.lag, undefined);
  assert.equal(d.ttft, undefined);
  assert.equal(d.e2e, undefined);
  assert.equal(d.maxStall, undefined);
});
