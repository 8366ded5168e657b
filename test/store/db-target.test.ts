/**
 * Regression (issue 16, item 2): `replay --db ''` wrote into SQLite's private temporary database and
 * exited 0, losing the run. Every command that writes a store checks `--db` (merge: `--out`) once, at the
 * flag edge (src/store/target.ts), and refuses an empty or unusable name with exit 2 before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { storeTargetProblem } from '../../src/store/index.js';
import { runCli, tempDir, writeTrace } from '../load/helpers.js';
import { startServer } from '../load/servers.js';

test('storeTargetProblem: empty, :memory:, a folder, a path through a file, a pseudo file system; fine for a new nested file', () => {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'plain.txt'), 'x');
  assert.match(storeTargetProblem('')!, /expected a file name/);
  assert.match(storeTargetProblem('   ')!, /expected a file name/);
  assert.match(storeTargetProblem(':memory:')!, /not a file path/);
  assert.match(storeTargetProblem(dir)!, /is a folder/);
  assert.match(storeTargetProblem(path.join(dir, 'plain.txt', 'r.db'))!, /is a file, not a folder/);
  assert.match(storeTargetProblem('/proc/splitbench-none/r.db')!, /not writable/);
  assert.equal(storeTargetProblem(path.join(dir, 'a', 'b', 'r.db')), undefined);
  assert.equal(existsSync(path.join(dir, 'a')), false, 'the check creates nothing');
  assert.deepEqual(
    ['.splitbench-probe'].filter((p) => existsSync(path.join(dir, `${p}-${process.pid}`))),
    [],
    'the probe file is removed',
  );
});

test('replay refuses an empty or unusable --db with exit 2 before it sends anything (not even the preflight)', async () => {
  const server = await startServer({ ttftMs: 1 });
  const dir = tempDir();
  try {
    const trace = writeTrace(dir, [
      [0, 10, 2],
      [0.01, 10, 2],
    ]);
    mkdirSync(path.join(dir, 'folder'));
    writeFileSync(path.join(dir, 'plain.txt'), 'x');
    for (const db of ['', path.join(dir, 'folder'), path.join(dir, 'plain.txt', 'r.db')]) {
      const r = await runCli(['replay', '--trace', trace, '--url', server.url, '--db', db]);
      assert.equal(r.code, 2, `--db '${db}': ${r.stderr}`);
      assert.match(r.stderr, /^splitbench: --db: /, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(server.received.length, 0, 'nothing was sent');
  } finally {
    await server.close();
  }
});

test('sim, sweep, provision and merge use the same check (exit 2, naming the flag)', async () => {
  const dir = tempDir();
  const trace = writeTrace(dir, [[0, 10, 2]]);
  const cases: [string[], string][] = [
    [['sim', '--trace', trace, '--db', dir], '--db'],
    [['sweep', '--trace', trace, '--rates', '1', '--db', ''], '--db'],
    [['provision', '--trace', trace, '--design', 'splitwise-hh', '--objective', 'iso-power', '--rate', '1', '--db', ''], '--db'],
    [['merge', path.join(dir, 'x.db'), '--out', ''], '--out'],
  ];
  for (const [args, flag] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`${flag}: `), `${args.join(' ')}: ${r.stderr}`);
  }
});
