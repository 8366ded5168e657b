/** Distributed sweeps: a plan split into chunks and collected equals the single-process sweep; a killed chunk reruns only what is missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseChunk } from '../../src/scale/index.js';
import { runCli, spawnCli, tempDir } from './helpers.js';
import { jsonResult } from '../json-output.js';

const BASE = ['sweep', '--trace', 'coding', '--rates', '1,3', '--duration', '10'];

interface Collected {
  result: {
    configs: { deployment: string; key: string; maxRate: number | null; firstFail: number | null; points: unknown[]; db: string; runIds: number[] }[];
    best?: unknown;
    exitCode: number;
  };
}
/** The answer without where the runs happen to be stored. */
const answer = (c: Collected): unknown => ({
  ...c.result,
  plan: undefined,
  configs: c.result.configs.map((x) => ({ ...x, db: undefined, runIds: undefined })),
});

test('parseChunk: k/K, and auto from a job array or an Indexed Job', () => {
  assert.deepEqual(parseChunk('1/4'), { index: 1, count: 4 });
  assert.deepEqual(parseChunk('auto', { env: { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' } }), { index: 3, count: 4 });
  assert.deepEqual(parseChunk('auto', { env: { JOB_COMPLETION_INDEX: '2', SPLITBENCH_CHUNKS: '3' } }), { index: 2, count: 3 });
  assert.throws(() => parseChunk('4/4'), /--chunk: chunk 4 of 4 is out of range/);
  assert.throws(() => parseChunk('auto', { env: {} }), /--chunk: auto: no job-array environment found/);
});

test('a sweep plan in 2 chunks, collected, equals the single-process sweep (and the plain sweep per deployment)', async () => {
  const dir = tempDir();
  const deps = ['--deployment', 'splitwise-hh,baseline-h100'];
  const single = await runCli([...BASE, ...deps, '--plan', path.join(dir, 'one.json'), '--db', path.join(dir, 'one.db'), '--json']);
  assert.equal(single.code, 0, single.stderr);
  const plan = path.join(dir, 'two.json');
  const [c0, c1] = await Promise.all([0, 1].map((k) => runCli([...BASE, ...deps, '--plan', plan, '--chunk', `${k}/2`, '--db', path.join(dir, `c${k}.db`)])));
  assert.equal(c0!.code, 0, c0!.stderr);
  assert.equal(c1!.code, 0, c1!.stderr);
  assert.match(c0!.stdout, /chunk 0\/2: ran 1, skipped 0/);
  const collected = await runCli([...BASE, ...deps, '--plan', plan, '--collect', '--json']);
  assert.equal(collected.code, 0, collected.stderr);
  const a = jsonResult(single.stdout) as Collected;
  const b = jsonResult(collected.stdout) as Collected;
  assert.equal(a.result.configs.length, 2);
  assert.deepEqual(answer(b), answer(a));
  // The chunks' runs are in their own stores.
  assert.deepEqual(
    b.result.configs.map((c) => path.basename(c.db)),
    ['c0.db', 'c1.db'],
  );
  // And one configuration equals the plain single-deployment sweep.
  const plain = await runCli([...BASE, '--deployment', 'baseline-h100', '--db', path.join(dir, 'plain.db'), '--json']);
  assert.equal(plain.code, 0, plain.stderr);
  const p = jsonResult(plain.stdout) as { maxRate: number; points: { runId: number }[] };
  const cfg = a.result.configs.find((c) => c.deployment === 'baseline-h100')!;
  assert.equal(cfg.maxRate, p.maxRate ?? null);
  assert.deepEqual(
    cfg.points,
    p.points.map((x) => ({ ...x, runId: undefined })).map((x) => JSON.parse(JSON.stringify(x)) as unknown),
  );
  // Collecting before every chunk is done names what is missing.
  const partial = path.join(dir, 'partial.json');
  assert.equal((await runCli([...BASE, ...deps, '--plan', partial, '--chunk', '0/2', '--db', path.join(dir, 'p.db')])).code, 0);
  const early = await runCli([...BASE, ...deps, '--plan', partial, '--collect']);
  assert.equal(early.code, 2);
  assert.match(early.stderr, /partial\.json: 1 of 2 configurations have no result yet: baseline-h100 \([0-9a-f]{20}\)/);
  // Other flags against an existing plan are refused.
  const other = await runCli([...BASE.slice(0, 3), '--rates', '1,2', '--duration', '10', ...deps, '--plan', plan, '--chunk', '0/2']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /two\.json: holds another plan/);
});

test('killing a chunk and rerunning it redoes only what is missing', async () => {
  const dir = tempDir();
  const plan = path.join(dir, 'plan.json');
  const args = [...BASE, '--deployment', 'splitwise-hh,baseline-h100,splitwise-aa', '--plan', plan, '--chunk', '0/1', '--db', path.join(dir, 'c.db')];
  const first = spawnCli(args);
  const results = `${plan}.results`;
  const done = (): string[] => (existsSync(results) ? readdirSync(results).filter((f) => f.endsWith('.json')) : []);
  for (let i = 0; i < 600 && done().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  first.child.kill('SIGKILL');
  await first.done;
  const kept = done();
  assert.ok(kept.length >= 1 && kept.length < 3, `killed after ${kept.length} of 3`);
  const before = new Map(kept.map((f) => [f, readFileSync(path.join(results, f), 'utf8')]));
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`ran ${3 - kept.length}, skipped ${kept.length} already done`));
  assert.equal((again.stderr.match(/already done; skipped/g) ?? []).length, kept.length);
  for (const [f, text] of before) assert.equal(readFileSync(path.join(results, f), 'utf8'), text, `${f} untouched`);
  const all = await runCli([...BASE, '--deployment', 'splitwise-hh,baseline-h100,splitwise-aa', '--plan', plan, '--collect', '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal((jsonResult(all.stdout) as Collected).result.configs.length, 3);
});

test('--copy-db-to: a chunk written on local disk is copied as one consistent non-WAL file, and its results name the copy', async () => {
  const dir = tempDir();
  const local = path.join(dir, 'node-local', 'c0.db');
  const shared = path.join(dir, 'shared', 'chunks', 'c0.db');
  const plan = path.join(dir, 'shared', 'plan.json');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(path.dirname(local), { recursive: true });
  mkdirSync(path.dirname(plan), { recursive: true });
  const r = await runCli([...BASE, '--deployment', 'splitwise-hh', '--plan', plan, '--chunk', '0/1', '--db', local, '--copy-db-to', shared]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /store copied to .*shared\/chunks\/c0\.db/);
  assert.ok(existsSync(shared), 'the copy is in the shared folder');
  assert.deepEqual(readdirSync(path.dirname(shared)), ['c0.db'], 'no temporary or -wal files beside it');
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(shared, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'delete', 'a rollback journal, safe to read over a network filesystem');
    const runs = db.prepare('SELECT count(*) FROM runs').pluck().get() as number;
    const localDb = new Database(local, { readonly: true });
    assert.equal(runs, localDb.prepare('SELECT count(*) FROM runs').pluck().get(), 'every run of the chunk is in the copy');
    localDb.close();
    assert.ok(runs >= 1);
  } finally {
    db.close();
  }
  const collected = await runCli([...BASE, '--deployment', 'splitwise-hh', '--plan', plan, '--collect', '--json']);
  assert.equal(collected.code, 0, collected.stderr);
  assert.deepEqual(
    (jsonResult(collected.stdout) as Collected).result.configs.map((c) => c.db),
    [shared],
  );
  // Misuse is a one-line error.
  const bad = await runCli([...BASE, '--deployment', 'splitwise-hh', '--copy-db-to', shared]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--copy-db-to: needs --plan FILE/);
  const withCollect = await runCli([...BASE, '--deployment', 'splitwise-hh', '--plan', plan, '--collect', '--copy-db-to', shared]);
  assert.equal(withCollect.code, 2);
  assert.match(withCollect.stderr, /--copy-db-to: applies to a chunk that runs/);
});
