/**
 * The per-request breakdown adds up in sims (docs/metrics.md "Metric glossary"): queue + prefill = TTFT and
 * queue + prefill + kv_transfer + decode_wait + decode = E2E within 1e-9 s, and kv_transfer + decode_wait is
 * the wait for the second token (within the µs resolution of the stored chunk times), for the realistic engine
 * (split, with pool borrowing, and monolithic) and the SplitwiseSim-compatible one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { runCli } from '../cli/helpers.js';
import { tempDir } from '../load/helpers.js';
import { openStore } from '../../src/store/index.js';
import { requestRecords } from '../../src/metrics/rows.js';
import { decodeChunks } from '../../src/store/codec.js';
import { jsonResult } from '../json-output.js';

async function checkSums(args: string[], what: string): Promise<{ kvRequests: number; mixed: number }> {
  const db = path.join(tempDir(), 'b.db');
  const r = await runCli(['sim', ...args, '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  const store = openStore(db, { readonly: true });
  let n = 0;
  let kvRequests = 0;
  let mixed = 0;
  try {
    const run = store.getRun(1)!;
    for (const q of requestRecords(store, run.id)) {
      if (q.status !== 'ok') continue;
      n++;
      const [queue, prefill, kv, wait, decode] = [q.queueS, q.prefillS, q.kvTransferS, q.decodeWaitS, q.decodeS];
      assert.ok(queue !== null && prefill !== null && kv !== null && wait !== null && decode !== null, `${what} ${q.traceId}: breakdown stored`);
      for (const [k, v] of [
        ['queue', queue],
        ['prefill', prefill],
        ['kv', kv],
        ['decode wait', wait],
        ['decode', decode],
      ] as const) {
        assert.ok(v >= -1e-12, `${what} ${q.traceId}: ${k} ${v} is not negative`);
      }
      const ttft = q.firstToken! - q.send!;
      const e2e = q.end! - q.send!;
      assert.ok(Math.abs(queue + prefill - ttft) <= 1e-9, `${what} ${q.traceId}: queue ${queue} + prefill ${prefill} = TTFT ${ttft}`);
      const sum = queue + prefill + kv + wait + decode;
      assert.ok(Math.abs(sum - e2e) <= 1e-9, `${what} ${q.traceId}: components ${sum} = E2E ${e2e}`);
      const chunks = decodeChunks(q.tokenTimes);
      const tokensAfterFirst = chunks.length > 1 ? chunks[1]!.t - chunks[0]!.t : 0;
      if (q.tokensReceived > 1 && chunks.length > 1 && chunks[0]!.tokens === 1) {
        assert.ok(
          Math.abs(kv + wait - tokensAfterFirst) <= 2e-6,
          `${what} ${q.traceId}: kv ${kv} + decode wait ${wait} = second-token wait ${tokensAfterFirst}`,
        );
      }
      if (kv > 0) kvRequests++;
      if (q.pool === 'mixed') mixed++;
    }
  } finally {
    store.close();
  }
  assert.ok(n >= 50, `${what}: ${n} ok requests`);
  // `summary` shows the parts' means, which add up to the measured means.
  const sum = await runCli(['summary', '--db', db, '--json']);
  assert.equal(sum.code, 0, sum.stderr);
  const [s] = jsonResult(sum.stdout) as { latencyS: Record<string, { mean: number }>; breakdown: Record<string, number> }[];
  const b = s!.breakdown;
  assert.equal(b['requests'], n);
  assert.ok(Math.abs(b['queue']! + b['prefill']! - s!.latencyS['ttft']!.mean) <= 1e-9, `${what}: mean queue + prefill = mean TTFT`);
  const e2e = b['queue']! + b['prefill']! + b['kvTransfer']! + b['decodeWait']! + b['decode']!;
  assert.ok(Math.abs(e2e - s!.latencyS['e2e']!.mean) <= 1e-9, `${what}: mean parts ${e2e} = mean E2E ${s!.latencyS['e2e']!.mean}`);
  assert.ok(Math.abs(b['ttftOverhead']!) <= 1e-9 && Math.abs(b['afterFirstOverhead']!) <= 1e-9, `${what}: no overhead in a sim`);
  const text = await runCli(['summary', '--db', db]);
  assert.match(text.stdout, /TTFT mean = queue \+ prefill/);
  return { kvRequests, mixed };
}

test('breakdown adds up: split sim with KV transfers and borrowing', async () => {
  const s = await checkSums(['--trace', 'coding', '--deployment', 'splitwise-hh', '--rate', '40', '--duration', '20'], 'split');
  assert.ok(s.kvRequests > 0, 'some requests moved their KV state');
  assert.ok(s.mixed > 0, 'the mixed pool served some requests (machines were borrowed)');
});

test('breakdown adds up: monolithic sim', async () => {
  await checkSums(['--trace', 'conversation', '--deployment', 'baseline-h100', '--limit', '200'], 'mono');
});

test('breakdown adds up: SplitwiseSim-compatible split sim', async () => {
  const s = await checkSums(['--trace', 'coding', '--deployment', 'splitwise-hh', '--compat', 'splitwise', '--limit', '200'], 'compat');
  assert.ok(s.kvRequests > 0, 'some requests moved their KV state');
});
