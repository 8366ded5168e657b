/**
 * The SIGKILL promise, measured (docs/guarantees.md): a replay killed with SIGKILL at a random moment keeps
 * every request that finished more than 1.0 s before the kill. TRIES kills (default 20) at seeded random
 * moments 1.5–6 s into a run of ~100 requests/s against an in-process SSE server, which logs when each
 * stream ended; after each kill the store is read back. Prints per try the requests finished, stored, and
 * the age at the kill of the oldest finished request missing from the store; then the worst case.
 * `node dist/test/bench/sigkill-durability.js [TRIES]`
 */
import path from 'node:path';
import { createRng } from '../../src/trace/index.js';
import { requests, spawnCli, tempDir, writeTrace } from '../load/helpers.js';
import { startServer } from '../load/servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const tries = Number(process.argv[2] ?? 20);
  const rng = createRng(16);
  let worstMs = 0;
  let violations = 0;
  for (let i = 1; i <= tries; i++) {
    const server = await startServer({ ttftMs: 2, itlMs: 2 });
    const dir = tempDir();
    try {
      const trace = writeTrace(
        dir,
        Array.from({ length: 1000 }, (_, k) => [k * 0.01, 100 + k, 3] as const),
      );
      const db = path.join(dir, 'r.db');
      const { child, done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db]);
      while (server.completions.filter((c) => c.promptLength >= 100).length === 0) await sleep(5);
      const afterMs = rng.uniform(1500, 6000);
      await sleep(afterMs);
      const killEpochMs = performance.timeOrigin + performance.now();
      child.kill('SIGKILL');
      await done;
      const stored = new Set(
        requests(db)
          .filter((x) => x.status === 'ok')
          .map((x) => x.prompt_tokens as number),
      );
      const finished = server.completions.filter((c) => c.promptLength >= 100 && c.endEpochMs < killEpochMs);
      const missing = finished.filter((c) => !stored.has(c.promptLength));
      const oldestMissingMs = missing.length ? Math.max(...missing.map((c) => killEpochMs - c.endEpochMs)) : 0;
      const lostOld = missing.filter((c) => killEpochMs - c.endEpochMs > 1000).length;
      if (lostOld > 0) violations++;
      worstMs = Math.max(worstMs, oldestMissingMs);
      process.stdout.write(
        `try ${String(i).padStart(2)}: kill at +${(afterMs / 1000).toFixed(2)} s: ${finished.length} finished, ${stored.size} stored, ${missing.length} missing, oldest missing finished ${oldestMissingMs.toFixed(0)} ms before the kill${lostOld ? `, ${lostOld} older than 1.0 s: PROMISE BROKEN` : ''}\n`,
      );
    } finally {
      await server.close();
    }
  }
  process.stdout.write(
    `\n${tries} SIGKILLs: worst case, a request that finished ${worstMs.toFixed(0)} ms before the kill was missing; tries with a request older than 1.0 s missing: ${violations}\n`,
  );
  return 0;
}

process.exitCode = await main();
