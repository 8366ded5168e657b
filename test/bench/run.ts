/**
 * `npm run bench`: runs every benchmark (each compiled test/bench/<name>.js except this runner) one after
 * another as its own Node process, so one benchmark's heap and JIT state never colour the next, and
 * passes their output through. Benchmarks print figures; they do not pass or fail on time. The runner
 * exits non-zero only when a benchmark crashed. `node dist/test/bench/run.js NAME...` runs only those.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const here = fileURLToPath(import.meta.url);
const dir = path.dirname(here);
const self = path.basename(here);

async function main(): Promise<number> {
  const ext = path.extname(self);
  const wanted = process.argv.slice(2).map((a) => path.basename(a).replace(/\.(ts|js)$/, ''));
  const all = readdirSync(dir)
    .filter((f) => f.endsWith(ext) && f !== self && !f.endsWith(`.test${ext}`))
    .sort();
  const files = wanted.length ? all.filter((f) => wanted.includes(f.slice(0, -ext.length))) : all;
  if (wanted.length && files.length !== wanted.length) {
    const known = all.map((f) => f.slice(0, -ext.length));
    process.stderr.write(`bench: unknown benchmark among ${wanted.join(', ')}; known: ${known.join(', ') || 'none'}\n`);
    return 2;
  }
  const failed: string[] = [];
  for (const f of files) {
    process.stdout.write(`\n=== ${f.slice(0, -ext.length)} ===\n`);
    const t0 = performance.now();
    const args = ext === '.ts' ? ['--import', 'tsx', path.join(dir, f)] : [path.join(dir, f)];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, args, { stdio: 'inherit' });
      child.on('error', () => resolve(-1));
      child.on('close', (c) => resolve(c));
    });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    if (code === 0) process.stdout.write(`--- ${f} done in ${s} s\n`);
    else {
      process.stdout.write(`--- ${f} FAILED (exit ${code}) after ${s} s\n`);
      failed.push(f);
    }
  }
  process.stdout.write(`\n${files.length - failed.length}/${files.length} benchmarks ran${failed.length ? `; failed: ${failed.join(', ')}` : ''}\n`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
