import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TraceFormatError, ConfigError } from '../../src/errors.js';
import { openTrace, traceReaders, resolveTracePath } from '../../src/trace/index.js';
import { collect, tmpFile } from './helpers.js';

const AZ = 'TIMESTAMP,ContextTokens,GeneratedTokens\n';

async function rejectsWith(p: Promise<unknown>, file: string, line: number, field: string | undefined, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TraceFormatError, String(e));
    assert.equal(e.file, file);
    assert.equal(e.line, line);
    assert.equal(e.field, field);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(`${file}:${line}${field ? `:${field}` : ''}: `), e.message);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

test('registry: the three formats by name', () => {
  assert.deepEqual(Object.keys(traceReaders).sort(), ['azure', 'mooncake', 'splitwise']);
});

test('azure 2023: arrivals in seconds since the first row, ids are row indexes', async () => {
  const f = tmpFile('a.csv', `${AZ}2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n2023-11-16 18:18:03.9799601,1,0`);
  const src = openTrace(f);
  assert.equal(src.format, 'azure');
  const rs = await collect(src);
  assert.equal(rs.length, 3);
  assert.deepEqual(rs[0], { id: '0', arrival: 0, promptTokens: 4808, outputTokens: 10 });
  assert.ok(Math.abs(rs[1]!.arrival - 0.052) < 1e-9);
  assert.ok(Math.abs(rs[2]!.arrival - 60.0000001) < 1e-9);
  assert.equal(rs[2]!.id, '2');
  assert.equal(rs[2]!.outputTokens, 0);
});

test('azure 2024: +00:00 and varying precision, CRLF line ends, BOM, blank lines, reordered quoted columns', async () => {
  const f = tmpFile(
    'b.csv',
    '\ufeffTIMESTAMP,ContextTokens,GeneratedTokens\r\n2024-05-10 00:00:00+00:00,10,1\r\n\r\n2024-05-10 00:00:00.5+00:00,20,2\r\n2024-05-10 00:00:01.000123+00:00,30,3\r\n',
  );
  const rs = await collect(openTrace(f));
  assert.deepEqual(
    rs.map((r) => r.arrival),
    [0, 0.5, 1.000123],
  );
  assert.deepEqual(
    rs.map((r) => r.promptTokens),
    [10, 20, 30],
  );
  const q = tmpFile('q.csv', `${AZ}2024-05-10 00:00:00.1+00:00,1,1\n"2024-05-10 00:00:00.25+00:00","2",3\n 2024-05-10 00:00:00.3+00:00 ,4,5,extra\n`);
  assert.deepEqual(
    (await collect(openTrace(q))).map((r) => [r.arrival, r.promptTokens, r.outputTokens]),
    [
      [0, 1, 1],
      [0.15, 2, 3],
      [0.2, 4, 5],
    ],
  );
  const g = tmpFile('c.csv', 'GeneratedTokens,"TIMESTAMP",ContextTokens\n7,"2024-05-10 00:00:00+00:00",70\n8,2024-05-10 00:00:02+00:00,"80"\n');
  const rs2 = await collect(openTrace(g));
  assert.deepEqual(
    rs2.map((r) => [r.arrival, r.promptTokens, r.outputTokens]),
    [
      [0, 70, 7],
      [2, 80, 8],
    ],
  );
});

test('mooncake JSONL: ms timestamps, hash_ids, session ids', async () => {
  const f = tmpFile(
    'm.jsonl',
    '{"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]}\n' +
      '{"timestamp": 30535, "input_length": 600, "output_length": 5, "hash_ids": [46], "session_id": "s1"}\n' +
      '{"timestamp": 30535, "input_length": 1, "output_length": 1, "conversation_id": 9}\n',
  );
  const src = openTrace(f);
  assert.equal(src.format, 'mooncake');
  const rs = await collect(src);
  assert.deepEqual(rs[0], { id: '0', arrival: 0, promptTokens: 6955, outputTokens: 52, hashIds: [46, 47, 48] });
  assert.ok(Math.abs(rs[1]!.arrival - 3.053) < 1e-12);
  assert.equal(rs[1]!.sessionId, 's1');
  assert.equal(rs[2]!.sessionId, '9');
  assert.equal(rs[2]!.hashIds, undefined);
});

test('splitwise CSV: float ids normalised, arrivals re-based, extra index column tolerated', async () => {
  const f = tmpFile(
    's.csv',
    'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n1024.0,2,0,0.5,1,100,10\n1025.0,2,0,0.75,1,200,20\n',
  );
  const src = openTrace(f);
  assert.equal(src.format, 'splitwise');
  const rs = await collect(src);
  assert.deepEqual(rs, [
    { id: '1024', arrival: 0, promptTokens: 100, outputTokens: 10 },
    { id: '1025', arrival: 0.25, promptTokens: 200, outputTokens: 20 },
  ]);
  const g = tmpFile('s2.csv', ',request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n0,0,2,0,1.0,1,5,6\n');
  assert.deepEqual(await collect(openTrace(g)), [{ id: '0', arrival: 0, promptTokens: 5, outputTokens: 6 }]);
});

test('a re-iterable source re-reads the file; breaking early stops reading', async () => {
  const rows = Array.from(
    { length: 5000 },
    (_, i) => `2024-05-10 00:00:${String(Math.floor(i / 100)).padStart(2, '0')}.${String(i % 100).padStart(2, '0')}+00:00,${i},1`,
  );
  const f = tmpFile('r.csv', `${AZ + rows.join('\n')}\n`);
  const src = openTrace(f);
  assert.equal((await collect(src)).length, 5000);
  assert.equal((await collect(src)).length, 5000);
  let n = 0;
  for await (const r of src) {
    if (++n === 3) {
      assert.equal(r.promptTokens, 2);
      break;
    }
  }
  let batches = 0;
  for await (const b of src.batches()) batches += b.length;
  assert.equal(batches, 5000);
  assert.equal(src.bytesRead(), src.sizeBytes);
});

test('--format overrides detection; unknown names list the known ones', async () => {
  const f = tmpFile('x.txt', 'TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00+00:00,1,1\n');
  assert.equal(openTrace(f, { format: 'azure' }).format, 'azure');
  assert.throws(
    () => openTrace(f, { format: 'parquet' }),
    (e: unknown) => e instanceof ConfigError && /known: azure, mooncake, splitwise/.test(e.message),
  );
  await rejectsWith(collect(openTrace(f, { format: 'splitwise' })), f, 1, 'arrival_timestamp', /missing column/);
});

test('bad rows: file:line:field for each kind of problem', async () => {
  const cases: [string, string, number, string | undefined, RegExp][] = [
    ['ooo.csv', `${AZ}2023-11-16 18:17:03.97,1,1\n2023-11-16 18:17:05,1,1\n2023-11-16 18:17:04,1,1\n`, 4, 'TIMESTAMP', /out of time order/],
    ['nan.csv', `${AZ}2023-11-16 18:17:03.97,1,1\n2023-11-16 18:17:04,x1,1\n`, 3, 'ContextTokens', /not a number: 'x1'/],
    ['neg.csv', `${AZ}2023-11-16 18:17:03.97,1,-3\n`, 2, 'GeneratedTokens', /negative value: -3/],
    ['frac.csv', `${AZ}2023-11-16 18:17:03.97,1.5,3\n`, 2, 'ContextTokens', /whole number/],
    ['ts.csv', `${AZ}yesterday,1,3\n`, 2, 'TIMESTAMP', /not a timestamp/],
    ['short.csv', `${AZ}2023-11-16 18:17:03.97,1\n`, 2, 'GeneratedTokens', /missing value/],
    ['col.csv', 'TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.97,1\n', 1, 'GeneratedTokens', /missing column 'GeneratedTokens'/],
    ['hdr.csv', AZ, 2, undefined, /no requests/],
    ['empty.csv', '', 1, undefined, /empty file/],
    ['blank.csv', '\n \n', 1, undefined, /empty file/],
    ['bad.jsonl', '{"timestamp":0,"input_length":1,"output_length":1}\n{"timestamp":1,\n', 2, undefined, /bad JSON/],
    ['neg.jsonl', '{"timestamp":0,"input_length":1,"output_length":-1}\n', 1, 'output_length', /negative/],
    ['miss.jsonl', '{"timestamp":0,"input_length":1}\n', 1, 'output_length', /missing field/],
    [
      'ooo.jsonl',
      '{"timestamp":5,"input_length":1,"output_length":1}\n{"timestamp":4,"input_length":1,"output_length":1}\n',
      2,
      'timestamp',
      /out of time order/,
    ],
    ['hash.jsonl', '{"timestamp":5,"input_length":1,"output_length":1,"hash_ids":[1,"a"]}\n', 1, 'hash_ids', /integer/],
    [
      'sw.csv',
      'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n0,2,0,abc,1,1,1\n',
      2,
      'arrival_timestamp',
      /not a number/,
    ],
    [
      'swo.csv',
      'request_id,request_type,application_id,arrival_timestamp,batch_size,prompt_size,token_size\n0,2,0,2,1,1,1\n1,2,0,1,1,1,1\n',
      3,
      'arrival_timestamp',
      /out of time order/,
    ],
  ];
  for (const [name, text, line, field, re] of cases) {
    const f = tmpFile(name, text);
    const p = (async () => collect(openTrace(f)))();
    await rejectsWith(p, f, line, field, re);
  }
});

test('unrecognised content names the first line and suggests --format', async () => {
  const f = tmpFile('u.csv', 'a,b,c\n1,2,3\n');
  assert.throws(
    () => openTrace(f),
    (e: unknown) => e instanceof TraceFormatError && e.line === 1 && /unrecognised trace format/.test(e.message) && /--format/.test(e.hint ?? ''),
  );
  assert.throws(
    () => openTrace(`${f}.missing`),
    (e: unknown) => e instanceof ConfigError && /not found/.test(e.message),
  );
});

test('--lenient skips and counts bad rows, per iteration', async () => {
  const f = tmpFile('l.csv', `${AZ}2023-11-16 18:17:03,1,1\n2023-11-16 18:17:02,1,1\nbad,1,1\n2023-11-16 18:17:04,x,1\n2023-11-16 18:17:05,5,1\n`);
  const src = openTrace(f, { lenient: true });
  const rs = await collect(src);
  assert.deepEqual(
    rs.map((r) => [r.id, r.arrival, r.promptTokens]),
    [
      ['0', 0, 1],
      ['4', 2, 5],
    ],
  );
  assert.equal(src.skipped(), 3);
  assert.deepEqual(
    src.skippedExamples().map((s) => [s.line, s.field]),
    [
      [3, 'TIMESTAMP'],
      [4, 'TIMESTAMP'],
      [5, 'ContextTokens'],
    ],
  );
  await collect(src);
  assert.equal(src.skipped(), 3);
  const all = tmpFile('all.csv', `${AZ}bad,1,1\n`);
  await rejectsWith(collect(openTrace(all, { lenient: true })), all, 2, undefined, /all 1 rows were skipped/);
});

test('bundled trace names resolve to workloads/', () => {
  assert.match(resolveTracePath('coding'), /workloads[\\/]coding\.csv$/);
  assert.match(resolveTracePath('conversation.csv'), /workloads[\\/]conversation\.csv$/);
  assert.equal(resolveTracePath('./coding'), './coding');
  assert.equal(resolveTracePath('other.csv'), 'other.csv');
});
