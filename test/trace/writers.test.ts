import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { convertTrace, openTrace, writeTrace, type RequestSpec } from '../../src/trace/index.js';
import { collect, fromArray, tmpDir, tmpFile } from './helpers.js';

const src: RequestSpec[] = [
  { id: '0', arrival: 0, promptTokens: 1000, outputTokens: 10 },
  { id: '1', arrival: 0.123456, promptTokens: 20, outputTokens: 1 },
  { id: '2', arrival: 0.123456, promptTokens: 513, outputTokens: 0 },
  { id: '3', arrival: 3725.5, promptTokens: 7, outputTokens: 300 },
];

for (const format of ['azure', 'mooncake', 'splitwise']) {
  test(`${format}: write then read back gives the same requests`, async () => {
    const out = path.join(tmpDir(), `t.${format === 'mooncake' ? 'jsonl' : 'csv'}`);
    assert.equal(await writeTrace(fromArray(src), format, out), 4);
    const back = openTrace(out);
    assert.equal(back.format, format);
    const rs = await collect(back);
    assert.deepEqual(
      rs.map((r) => [r.id, r.promptTokens, r.outputTokens]),
      src.map((r) => [r.id, r.promptTokens, r.outputTokens]),
    );
    rs.forEach((r, i) => {
      assert.ok(Math.abs(r.arrival - src[i]!.arrival) < 1e-6, `${r.arrival} vs ${src[i]!.arrival}`);
    });
    const again = path.join(tmpDir(), 'again');
    await writeTrace(fromArray(src), format, again);
    assert.equal(readFileSync(again, 'utf8'), readFileSync(out, 'utf8'));
  });
}

test('mooncake writer keeps hash_ids and sessions, and invents unshared blocks otherwise', async () => {
  const out = path.join(tmpDir(), 'm.jsonl');
  await writeTrace(
    fromArray([{ id: 'a', arrival: 0, promptTokens: 600, outputTokens: 1, hashIds: [7, 8], sessionId: 'x' }, ...src.slice(0, 3)]),
    'mooncake',
    out,
  );
  const rs = await collect(openTrace(out));
  assert.deepEqual(rs[0]!.hashIds, [7, 8]);
  assert.equal(rs[0]!.sessionId, 'x');
  assert.deepEqual(rs[1]!.hashIds, [0, 1]); // 1000 tokens = 2 blocks of 512
  assert.deepEqual(rs[2]!.hashIds, [2]);
  assert.deepEqual(rs[3]!.hashIds, [3, 4]);
});

test('convert streams through transforms; the azure writer uses 2024 timestamps', async () => {
  const f = tmpFile(
    'in.csv',
    'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n0,2,0,0,1,5,1\n1,2,0,10,1,6,2\n2,2,0,20,1,7,3\n',
  );
  const out = path.join(tmpDir(), 'o.csv');
  const r = await convertTrace(f, { to: 'azure', out, transforms: { window: [10, 30], speedup: 2 } });
  assert.deepEqual(r, { written: 2, skipped: 0, from: 'splitwise', to: 'azure' });
  assert.equal(
    readFileSync(out, 'utf8'),
    'TIMESTAMP,ContextTokens,GeneratedTokens\n2024-01-01 00:00:00.000000+00:00,6,2\n2024-01-01 00:00:05.000000+00:00,7,3\n',
  );
});
