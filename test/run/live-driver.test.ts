import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { StoreError } from '../../src/errors.js';
import { flagValues } from '../../src/flagspec.js';
import { LoadClient, resolveReplayOptions, Runner, traceSchedule } from '../../src/load/index.js';
import { REPLAY_FLAGS } from '../../src/load/options.js';
import { RunEvents } from '../../src/run/events.js';
import type { RequestOutcome } from '../../src/run/outcome.js';
import type { RequestRow, RunWriter } from '../../src/store/index.js';
import type { RequestSpec } from '../../src/trace/index.js';
import { tempDir, writeTrace } from '../load/helpers.js';
import { startServer } from '../load/servers.js';

/** A writer that keeps rows in memory and throws from the `failAt`-th request row on. */
function memoryWriter(failAt = Infinity): RunWriter & { rows: RequestRow[] } {
  const rows: RequestRow[] = [];
  return {
    runId: 1,
    rows,
    addRequest: (row) => {
      if (rows.length + 1 >= failAt) throw new Error('disk full');
      rows.push(row);
    },
    addMachines: () => undefined,
    addPowerSample: () => undefined,
    addTimelineSample: () => undefined,
    flush: () => undefined,
    finish: () => undefined,
  };
}

async function* specs(n: number): AsyncGenerator<RequestSpec> {
  for (let i = 0; i < n; i++) yield { id: `r${i}`, arrival: 0, promptTokens: 8, outputTokens: 3 };
}

async function drive(knobs: Parameters<typeof startServer>[0], writer: RunWriter, n: number) {
  const server = await startServer(knobs);
  const dir = tempDir();
  const opts = resolveReplayOptions(
    flagValues(REPLAY_FLAGS, { trace: writeTrace(dir, [[0, 8, 3]]), url: server.url, db: path.join(dir, 'r.db'), concurrency: 1 }),
    {},
  );
  const client = new LoadClient({ url: server.url, headers: { 'content-type': 'application/json' }, timeouts: opts.timeouts });
  const seen: [RequestRow, RequestOutcome][] = [];
  let started = 0;
  const events = new RunEvents().on({ requestStarted: () => void started++, outcome: (row, o) => void seen.push([row, o]) });
  try {
    const runner = new Runner(opts, { client, writer, model: 'test-model', events });
    const result = await runner.run(traceSchedule(specs(n)));
    return { result, seen, started, runner };
  } finally {
    await client.destroy();
    await server.close();
  }
}

test('the live driver: every sent request has one outcome event, after its row, and live stats follow the events', async () => {
  const w = memoryWriter();
  const { result, seen, started } = await drive((i) => (i === 2 ? { status: 503 } : {}), w, 4);
  assert.equal(result.status, 'completed');
  assert.equal(started, 4);
  assert.deepEqual(
    seen.map(([r]) => r),
    w.rows,
  );
  assert.deepEqual(
    seen.map(([, o]) => o.kind),
    ['ok', 'ok', 'error', 'ok'],
  );
  const failed = w.rows[2]!;
  assert.equal(failed.errorCode, 'SB_HTTP');
  assert.equal(failed.httpStatus, 503);
  assert.deepEqual(result.stats.byStatus, { ok: 3, error: 1, timeout: 0, cancelled: 0 });
  assert.equal(result.stats.inFlight, 0);
});

test('the live driver: a store error ends the run failed with a StoreError, and the outcome still counts', async () => {
  const w = memoryWriter(2);
  const { result, seen } = await drive({}, w, 5);
  assert.equal(result.status, 'failed');
  assert.ok(result.error instanceof StoreError, String(result.error));
  assert.match(result.error.message, /disk full/);
  assert.equal(w.rows.length, 1);
  assert.equal(seen.length, result.stats.done, 'the failing row was announced too');
  assert.equal(result.stats.inFlight, 0);
});
