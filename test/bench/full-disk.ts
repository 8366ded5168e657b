/**
 * The full-disk promise, measured (docs/guarantees.md): TRIES replays (default 20) of the bundled backend
 * (model power telemetry on) whose store lies on a tmpfs of 192 KiB + 64 KiB × (try − 1), so the disk fills
 * at a different moment each time (migration, run creation, early and late in the run). Each try must end
 * with exit 6 and one line on stderr, no stack trace. Needs root (mount -t tmpfs); prints why it skipped
 * otherwise. `node dist/test/bench/full-disk.js [TRIES]`
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../load/helpers.js';

async function main(): Promise<number> {
  const tries = Number(process.argv[2] ?? 20);
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: mounting a small tmpfs needs root\n');
    return 0;
  }
  const mnt = path.join(tempDir(), 'mnt');
  mkdirSync(mnt);
  let good = 0;
  for (let i = 1; i <= tries; i++) {
    const size = `${192 + (i - 1) * 64}k`;
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
    if (m.status !== 0) {
      process.stdout.write(`skipped: mount -t tmpfs failed: ${String(m.stderr).trim()}\n`);
      return 0;
    }
    try {
      const t0 = performance.now();
      const r = await runCli(['replay', '--trace', 'conversation', '--window', '0:600', '--time-scale', '20', '--db', path.join(mnt, 'r.db')]);
      const lines = r.stderr.trim().split('\n');
      const ok = r.code === 6 && lines.length === 1 && !/\n\s+at /.test(r.stderr);
      if (ok) good++;
      process.stdout.write(
        `try ${String(i).padStart(2)} tmpfs ${size.padStart(6)}: exit ${r.code}, ${lines.length} line(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s${ok ? '' : '  <-- NOT one line and exit 6'}: ${lines[0]!.slice(0, 140)}\n`,
      );
    } finally {
      spawnSync('umount', [mnt]);
    }
  }
  process.stdout.write(`\n${good} of ${tries} tries: one line and exit 6\n`);
  return 0;
}

process.exitCode = await main();
