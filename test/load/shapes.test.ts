/** Load shapes and request contents: trace schedule with time scale and warmup, rate, closed loop, chat, auth. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { decodeChunks } from '../../src/store/codec.js';
import { readDb, replayInProcess, requests, runCli, runs, tempDir, writeTrace } from './helpers.js';
import { startServer } from './servers.js';
import { jsonResult } from '../json-output.js';

test('trace replay at --time-scale 10: scheduled = arrival, times stored in trace seconds, warmup marked, run metadata', async () => {
  const server = await startServer({ ttftMs: 30, itlMs: 5, breakdown: true });
  const dir = tempDir();
  try {
    const arrivals = [0, 0.5, 1, 1, 2.5, 4];
    const trace = writeTrace(
      dir,
      arrivals.map((a, i) => [a, 20 + i, 4] as const),
    );
    const db = path.join(dir, 'r.db');
    const r = await runCli([
      'replay',
      '--trace',
      trace,
      '--url',
      server.url,
      '--db',
      db,
      '--time-scale',
      '10',
      '--warmup',
      '1',
      '--name',
      'ts',
      '--tag',
      'build=abc',
      '--tag',
      'who=ci',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = requests(db);
    assert.equal(rows.length, arrivals.length);
    rows.forEach((row, i) => {
      assert.equal(row.status, 'ok');
      assert.equal(row.scheduled, arrivals[i]);
      assert.equal(row.arrival, arrivals[i]);
      assert.equal(row.warmup, arrivals[i]! < 1 ? 1 : 0);
      assert.ok((row.send as number) >= (row.scheduled as number), 'never sent early');
      // The server waits 30 ms (wall) before the first token: 0.3 s in trace seconds at ×10.
      assert.ok((row.ttft as number) >= 0.3, `ttft ${String(row.ttft)}`);
      assert.equal(row.prompt_tokens, 20 + i);
      assert.equal(row.tokens_received, 4);
      assert.equal(row.queue_s, 0.001);
      assert.equal(row.prompt_machine, 'prompt-0');
      const chunks = decodeChunks(row.token_times as Buffer);
      assert.equal(
        chunks.reduce((a, c) => a + c.tokens, 0),
        4,
      );
      assert.ok(Math.abs(chunks[0]!.t - (row.ttft as number)) < 1e-5);
    });
    // Requests carry exactly the trace's sizes.
    const bodies = server.received.slice(1).map((x) => x.body);
    assert.deepEqual(
      bodies.map((b) => (b.prompt as number[]).length).sort((a, b) => a - b),
      arrivals.map((_, i) => 20 + i),
    );
    assert.ok(bodies.every((b) => b.max_tokens === 4 && b.min_tokens === 4 && b.ignore_eos === true && b.stream === true));
    const [run] = runs(db);
    assert.equal(run!.name, 'ts');
    assert.equal(run!.kind, 'live');
    assert.equal(run!.time_scale, 10);
    assert.equal(run!.model, 'test-model');
    assert.equal(run!.warmup_s, 1);
    assert.match(String(run!.trace_sha256), /^[0-9a-f]{64}$/);
    assert.deepEqual(JSON.parse(String(run!.tags_json)), { build: 'abc', who: 'ci' });
    assert.equal(JSON.parse(String(run!.options_json)).timeScale, 10);
    assert.equal(typeof run!.lag_p99_s, 'number');
    const inFlight = readDb(db, (d) => d.prepare("SELECT t, value FROM timeline_samples WHERE source = 'client' AND name = 'in_flight' ORDER BY t").all()) as {
      t: number;
      value: number;
    }[];
    assert.ok(inFlight.length >= 2, 'client in-flight samples');
    assert.equal(inFlight.at(-1)!.value, 0, 'nothing in flight at the end');
    const s = jsonResult(r.stdout) as { ttftS: { count: number } };
    assert.equal(s.ttftS.count, 4, 'warmup requests excluded from the summary');
  } finally {
    await server.close();
  }
});

test('--rate with constant arrivals: scheduled i/R, sizes drawn from the trace, --max-requests bound', async () => {
  const server = await startServer();
  const dir = tempDir();
  try {
    const trace = writeTrace(dir, [
      [0, 33, 3],
      [5, 44, 2],
    ]);
    const db = path.join(dir, 'r.db');
    const r = await replayInProcess({ trace, url: server.url, db, rate: 40, arrivals: 'constant', maxRequests: 12, seed: 7 });
    assert.equal(r.exitCode, 0);
    const rows = requests(db);
    assert.equal(rows.length, 12);
    rows.forEach((row, i) => {
      assert.ok(Math.abs((row.scheduled as number) - i / 40) < 1e-9);
      assert.ok((row.prompt_tokens === 33 && row.output_tokens === 3) || (row.prompt_tokens === 44 && row.output_tokens === 2));
      assert.equal(row.status, 'ok');
    });
    assert.equal(runs(db)[0]!.offered_rate, 40);
  } finally {
    await server.close();
  }
});

test('--concurrency N is a closed loop: never more than N in flight, sizes in trace order', async () => {
  const server = await startServer({ ttftMs: 20, itlMs: 2 });
  const dir = tempDir();
  try {
    const trace = writeTrace(
      dir,
      Array.from({ length: 9 }, (_, i) => [i * 100, 10 + i, 3] as const),
    );
    const db = path.join(dir, 'r.db');
    const r = await replayInProcess({ trace, url: server.url, db, concurrency: 3 });
    assert.equal(r.exitCode, 0);
    const rows = requests(db);
    assert.equal(rows.length, 9);
    assert.ok(server.maxInFlight() <= 3, `max in flight ${server.maxInFlight()}`);
    assert.ok(server.maxInFlight() >= 2);
    assert.deepEqual(
      rows.map((x) => x.prompt_tokens),
      Array.from({ length: 9 }, (_, i) => 10 + i),
    );
  } finally {
    await server.close();
  }
});

test('chat endpoint with text prompts, API key from the environment, extra headers and body', async () => {
  const server = await startServer();
  const dir = tempDir();
  try {
    const trace = writeTrace(dir, [[0, 50, 3]]);
    const db = path.join(dir, 'r.db');
    const r = await replayInProcess(
      { trace, url: `${server.url}/v1`, db, endpoint: 'chat', header: ['X-Team: perf'], extraBody: '{"temperature":0}' },
      { SPLITBENCH_API_KEY: 'sekrit' },
    );
    assert.equal(r.exitCode, 0);
    const last = server.received.at(-1)!;
    assert.equal(last.path, '/v1/chat/completions');
    assert.equal(last.headers.authorization, 'Bearer sekrit');
    assert.equal(last.headers['x-team'], 'perf');
    assert.equal(last.body.temperature, 0);
    assert.equal((last.body.messages as { content: string }[])[0]!.content.split(' ').length >= 40, true);
    assert.equal(requests(db)[0]!.status, 'ok');
    assert.doesNotMatch(String(runs(db)[0]!.options_json), /sekrit/, 'the API key is not stored');
  } finally {
    await server.close();
  }
});
