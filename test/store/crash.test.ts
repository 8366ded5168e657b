import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { isStale, openStore } from '../../src/store/index.js';
import { runCli } from '../cli/helpers.js';

const here = fileURLToPath(import.meta.url);
const ext = path.extname(here); // .ts under tsx, .js when compiled
const fixture = path.join(path.dirname(here), 'fixtures', `crash-writer${ext}`);

test('SIGKILL keeps every row handed to the writer more than about a second before', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'splitbench-crash-'));
  try {
    const file = path.join(tmp, 'crash.db');
    const args = ext === '.ts' ? ['--import', 'tsx', fixture, file] : [fixture, file];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const handed: { at: number; seq: number }[] = [];
    let buf = '';
    let firstAt: number | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      const now = performance.now();
      firstAt ??= now;
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) handed.push({ at: now, seq: Number(l) });
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // let it write for ~2.5 s after the first row
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (firstAt !== undefined && performance.now() - firstAt > 2500) {
          clearInterval(t);
          resolve();
        }
        if (child.exitCode !== null) {
          clearInterval(t);
          reject(new Error(`writer exited early with ${child.exitCode}`));
        }
      }, 20);
    });
    const killedAt = performance.now();
    child.kill('SIGKILL');
    await exited;
    // rows we saw handed over more than 1.5 s before the kill (1 s flush interval + scheduling slack)
    const old = handed.filter((h) => h.at < killedAt - 1500);
    assert.ok(old.length > 0, 'the writer handed over rows');
    const mustHave = Math.max(...old.map((h) => h.seq)) + 1;

    const s = openStore(file, { readonly: true });
    const run = s.findRun('crash');
    assert.equal(run.status, 'running');
    assert.equal(isStale(run), true);
    const seqs = [...s.requests(run.id)].map((r) => r.seq);
    assert.ok(seqs.length >= mustHave, `store has ${seqs.length} rows, expected at least ${mustHave}`);
    // committed rows are a prefix and intact
    seqs.forEach((q, i) => {
      assert.equal(q, i);
    });
    const last = [...s.requests(run.id)].at(-1)!;
    assert.deepEqual(last.chunks, [
      { t: 0.5, tokens: 1 },
      { t: 0.75, tokens: 1 },
      { t: 1, tokens: 1 },
    ]);
    assert.ok(Math.abs(last.tpot! - 0.25) < 1e-9, `tpot ${last.tpot}`);
    s.close();
    const list = await runCli(['runs', 'list', '--db', file]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /crash\s+live\s+running \(stale\)/);
    assert.match(list.stderr, /stale: the process writing the run is gone/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
