/**
 * Regression (issue 16, item 6): a store owned by another user (0644 file in a 0755 folder) gave `attempt to
 * write a readonly database` for `runs list`, `summary` and `gate`: a read-only connection to a WAL store
 * must create the -shm file, which it may not. Readers now open read-only, immutable when the -shm cannot be
 * made; `gate` judges a store it cannot write and says the verdicts were not stored.
 *
 * The reader is a different user: as root the CLI runs as `nobody` (setpriv); as any other user the folder
 * is made read-only instead (a non-root user cannot write a 0555 folder, so the effect is the same).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type RequestRow } from '../../src/store/index.js';
import { BIN } from '../load/helpers.js';
import { jsonResult } from '../json-output.js';

const isRoot = process.getuid?.() === 0;
const setpriv = isRoot && spawnSync('setpriv', ['--version']).status === 0;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const how = isRoot ? (setpriv ? 'as nobody via setpriv' : undefined) : 'in a 0555 folder';

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cmd = isRoot ? ['setpriv', ...NOBODY, process.execPath, BIN, ...args] : [process.execPath, BIN, ...args];
  return new Promise((resolve) => {
    const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function row(seq: number): RequestRow {
  return {
    seq,
    traceId: String(seq),
    arrival: seq * 0.1,
    promptTokens: 100,
    outputTokens: 3,
    scheduled: seq * 0.1,
    send: seq * 0.1,
    firstToken: seq * 0.1 + 0.05,
    end: seq * 0.1 + 0.2,
    status: 'ok',
    tokensReceived: 3,
    chunks: [
      { t: 0.05, tokens: 1 },
      { t: 0.1, tokens: 1 },
      { t: 0.2, tokens: 1 },
    ],
  };
}

function makeStore(): { dir: string; db: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-ro-'));
  const db = path.join(dir, 'store.db');
  const s = openStore(db);
  const w = s.createRun({ kind: 'live', name: 'ro', target: 'http://127.0.0.1:1', model: 'm', timeScale: 1, options: {} });
  for (let i = 0; i < 30; i++) w.addRequest(row(i));
  w.finish('completed');
  s.close();
  chmodSync(db, 0o644);
  chmodSync(dir, isRoot ? 0o755 : 0o555);
  return { dir, db };
}

const READERS: readonly (readonly string[])[] = [
  ['runs', 'list'],
  ['runs', 'show', 'ro'],
  ['summary', '--run', 'ro'],
  ['runs', 'export', 'ro', '--format', 'jsonl'],
  ['gate', '--slo', 'interactive', '--run', 'ro'],
]; // and `report`, below

test(`every reader reads a store it cannot write (${how ?? 'skipped: running as root without setpriv, no way to switch to another user'})`, {
  skip: how === undefined ? 'root without setpriv: cannot switch to another user' : false,
}, async () => {
  const { dir, db } = makeStore();
  try {
    assert.deepEqual(readdirSync(dir), ['store.db'], 'a closed store leaves no -wal/-shm');
    for (const args of READERS) {
      const r = await cli([...args, '--db', db]);
      assert.ok(r.code === 0 || (args[0] === 'gate' && r.code === 1), `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /readonly database|cannot read results store/, `${args.join(' ')}: ${r.stderr}`);
    }
    const list = await cli(['runs', 'list', '--json', '--db', db]);
    assert.equal((jsonResult(list.stdout) as { requests: number }[])[0]!.requests, 30);
    const exp = await cli(['runs', 'export', 'ro', '--format', 'jsonl', '--db', db]);
    assert.equal(exp.stdout.trim().split('\n').length, 30);
    const gate = await cli(['gate', '--slo', 'interactive', '--run', 'ro', '--db', db]);
    assert.match(gate.stderr, /read-only for this user; the verdicts are printed but not stored/);
    assert.deepEqual(readdirSync(dir), ['store.db'], 'the readers created nothing');
    // report: charts and pages from the store, written to a folder this user may write.
    const out = mkdtempSync(path.join(os.tmpdir(), 'splitbench-ro-report-'));
    chmodSync(out, 0o777);
    const rep = await cli(['report', '--run', 'ro', '--db', db, '--out', path.join(out, 'r'), '--format', 'svg']);
    assert.equal(rep.code, 0, rep.stderr);
    assert.ok(existsSync(path.join(out, 'r', 'index.html')));
  } finally {
    chmodSync(dir, 0o755);
  }
});

test(`a reader reads a store another user is writing, -wal and -shm present (${how ?? 'skipped'})`, {
  skip: how === undefined ? 'root without setpriv: cannot switch to another user' : false,
}, async () => {
  const { dir, db } = makeStore();
  chmodSync(dir, 0o755);
  const s = openStore(db); // the writer: holds -wal and -shm open
  try {
    const w = s.createRun({ kind: 'live', name: 'live', target: 'http://127.0.0.1:1', model: 'm', timeScale: 1, options: {} });
    for (let i = 0; i < 5; i++) w.addRequest(row(i));
    w.flush();
    assert.ok(existsSync(`${db}-wal`) && existsSync(`${db}-shm`));
    if (!isRoot) chmodSync(dir, 0o555);
    const r = await cli(['runs', 'list', '--json', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const runs = jsonResult(r.stdout) as { name: string; requests: number }[];
    assert.deepEqual(
      runs.map((x) => [x.name, x.requests]).sort(),
      [
        ['live', 5],
        ['ro', 30],
      ],
      'the uncheckpointed rows in the WAL are read too',
    );
    w.finish('completed');
  } finally {
    chmodSync(dir, 0o755);
    s.close();
  }
});
