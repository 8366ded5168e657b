/**
 * Regression (issue 16, item 4): a full disk mid-run sometimes crashed with a stack trace (an unhandled
 * rejection from the telemetry poller's error path, which wrote a gap row into the failed store) instead of
 * the one-line exit 6. A replay against the bundled backend (model power telemetry on) writes its store on a
 * file system that fills up at a different moment in each try; every try must end with one line and exit 6.
 *
 * As root with `mount -t tmpfs` available, the store is on a small tmpfs (the real thing). Otherwise SQLite
 * is capped with PRAGMA max_page_count through a preload (fixtures/max-pages.ts): the same SQLITE_FULL error.
 * The test's name says which it used; SPLITBENCH_FAULT_INJECTION=1 forces the fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, tempDir } from '../load/helpers.js';

const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'max-pages.js');

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'splitbench-tmpfs-probe-'));
  try {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) return false;
    spawnSync('umount', [dir]);
    return true;
  } finally {
    rmdirSync(dir);
  }
}
// SPLITBENCH_FAULT_INJECTION=1 forces the fallback (to check it where tmpfs works).
const TMPFS = process.env.SPLITBENCH_FAULT_INJECTION === '1' ? false : canMount();

// Store sizes at which the disk fills: during the run's first seconds, and later (different writers active).
const TRIES = TMPFS ? ['448k', '896k'] : ['28', '56']; // tmpfs size, or SQLite pages of 16 KiB

for (const size of TRIES) {
  test(`a full disk mid-run: one line, exit 6, no stack trace (${TMPFS ? `tmpfs of ${size}` : `fault injection: max_page_count ${size}`})`, async () => {
    const dir = tempDir();
    const mnt = path.join(dir, 'mnt');
    let env: NodeJS.ProcessEnv = {};
    if (TMPFS) {
      spawnSync('mkdir', [mnt]);
      const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
      assert.equal(m.status, 0, String(m.stderr));
    } else {
      spawnSync('mkdir', [mnt]);
      env = { SPLITBENCH_FAULT_MAX_PAGES: size, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PRELOAD}` };
    }
    try {
      const r = await runCli(['replay', '--trace', 'conversation', '--window', '0:600', '--time-scale', '20', '--db', path.join(mnt, 'r.db')], env);
      assert.equal(r.code, 6, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^splitbench: .*database or disk is full$/);
    } finally {
      if (TMPFS) spawnSync('umount', [mnt]);
    }
  });
}
