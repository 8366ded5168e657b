/**
 * Fault tests: the compiled CLI replays against in-process servers that misbehave on purpose. Failures
 * are data: the run finishes, every sent request has a row with the right status and error, exit 4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { ExitCode, SplitbenchError } from '../../src/errors.js';
import { replayInProcess, requests, runCli, runs, spawnCli, tempDir, writeTrace, type Row } from './helpers.js';
import { startServer, type Knobs } from './servers.js';
import { jsonResult } from '../json-output.js';

/** Behaviour chosen by the prompt length (token-id prompts have exactly the trace's length). */
const BY_PROMPT: Record<number, Knobs> = {
  10: {},
  11: { failAfterTokens: 2, resetMidStream: true },
  12: { failAfterTokens: 2, stallMs: 3000 },
  13: { status: 500 },
  14: { status: 429, retryAfter: '1' },
  15: { garbage: true },
  16: { neverAnswer: true },
  17: { failAfterTokens: 2 },
  18: { endAfterTokens: 2 },
  19: { extraTokens: -2 },
  20: { dropUsage: true },
  21: { finalUsageOnly: true, tokensPerChunk: 2 },
  22: { extraTokens: 3 },
};

test('every fault becomes a row with its status and error; the run completes with exit 4', async () => {
  const server = await startServer((_i, body) => (Array.isArray(body.prompt) ? (BY_PROMPT[body.prompt.length] ?? {}) : {}));
  const dir = tempDir();
  try {
    const lens = Object.keys(BY_PROMPT).map(Number);
    const trace = writeTrace(
      dir,
      lens.map((p, i) => [i * 0.02, p, 6] as const),
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
      '--timeout-first-token',
      '1',
      '--timeout-between-tokens',
      '0.5',
      '--json',
    ]);
    assert.equal(r.code, 4, r.stderr);
    const summary = jsonResult(r.stdout) as { requests: Record<string, number>; outputMismatch: { fewer: number; more: number }; runId: number };
    const rows = requests(db, summary.runId);
    assert.equal(rows.length, lens.length, 'one row per sent request');
    const by = new Map<number, Row>(rows.map((x) => [Number(x.prompt_tokens), x]));
    const expect = (p: number, status: string, code?: string | RegExp): Row => {
      const row = by.get(p)!;
      assert.equal(row.status, status, `prompt ${p}: ${JSON.stringify(row)}`);
      if (code instanceof RegExp) assert.match(String(row.error_code), code, `prompt ${p}`);
      else if (code !== undefined) assert.equal(row.error_code, code, `prompt ${p}`);
      return row;
    };
    const ok = expect(10, 'ok');
    assert.equal(ok.tokens_received, 6);
    assert.equal(ok.count_method, 'usage-continuous');
    assert.ok((ok.ttft as number) > 0 && (ok.e2e as number) >= (ok.ttft as number));
    assert.ok(Buffer.isBuffer(ok.token_times));
    const reset = expect(11, 'error', /ECONNRESET|UND_ERR_SOCKET|SB_STREAM_TRUNCATED/);
    assert.equal(reset.tokens_received, 2, 'tokens before the reset are kept');
    const stall = expect(12, 'timeout', 'SB_TIMEOUT');
    assert.equal(stall.timeout_phase, 'between-tokens');
    assert.equal(stall.tokens_received, 2);
    const e500 = expect(13, 'error', 'SB_HTTP');
    assert.equal(e500.http_status, 500);
    assert.match(String(e500.error), /injected status 500/);
    const e429 = expect(14, 'error', 'SB_HTTP');
    assert.equal(e429.http_status, 429);
    assert.match(String(e429.error), /retry-after 1/);
    expect(15, 'error', 'SB_STREAM');
    const never = expect(16, 'timeout', 'SB_TIMEOUT');
    assert.equal(never.timeout_phase, 'first-token');
    assert.equal(never.first_token, null);
    expect(17, 'error', 'SB_TARGET_ERROR');
    expect(18, 'error', 'SB_STREAM_TRUNCATED');
    const fewer = expect(19, 'ok');
    assert.equal(fewer.tokens_received, 4);
    const noUsage = expect(20, 'ok');
    assert.equal(noUsage.count_method, 'chunks');
    assert.equal(noUsage.tokens_received, 6);
    const finalOnly = expect(21, 'ok');
    assert.equal(finalOnly.count_method, 'usage-final');
    assert.equal(finalOnly.tokens_received, 6);
    expect(22, 'ok');
    assert.deepEqual(summary.outputMismatch, { fewer: 1, more: 1 });
    assert.equal(summary.requests.ok, 5);
    assert.equal(summary.requests.error, 6);
    assert.equal(summary.requests.timeout, 2);
    const run = runs(db).find((x) => x.id === summary.runId)!;
    assert.equal(run.status, 'completed');
    assert.ok(run.ended_at);
  } finally {
    await server.close();
  }
});

test('--max-error-rate stops a failing run: status failed, exit 5, rows kept', async () => {
  const server = await startServer((i) => (i === 0 ? {} : { status: 503 }));
  const dir = tempDir();
  try {
    const trace = writeTrace(
      dir,
      Array.from({ length: 200 }, (_, i) => [i * 0.005, 10, 4] as const),
    );
    const db = path.join(dir, 'r.db');
    const r = await replayInProcess({ trace, url: server.url, db, maxErrorRate: 0.5 });
    assert.equal(r.exitCode, ExitCode.target);
    assert.equal(r.summary.status, 'failed');
    const [run] = runs(db);
    assert.equal(run!.status, 'failed');
    assert.match(String(run!.notes_json), /max-error-rate/);
    const rows = requests(db);
    assert.ok(rows.length >= 20 && rows.length < 200, `rows ${rows.length}`);
    assert.ok(rows.every((x) => x.status === 'error' || x.status === 'cancelled'));
  } finally {
    await server.close();
  }
});

test('preflight: an unreachable target or one without usage exits 5 and records no run', async () => {
  const dir = tempDir();
  const trace = writeTrace(dir, [[0, 10, 2]]);
  const db = path.join(dir, 'r.db');
  const closed = await startServer();
  const deadUrl = closed.url;
  await closed.close();
  const r1 = await runCli(['replay', '--trace', trace, '--url', deadUrl, '--db', db]);
  assert.equal(r1.code, 5);
  assert.match(r1.stderr, /unreachable/);
  assert.doesNotMatch(r1.stderr, /\n\s+at /, 'no stack trace');
  const server = await startServer({ dropUsage: true });
  const rejectsWith = async (flags: Record<string, unknown>, code: number, message: RegExp): Promise<void> => {
    await assert.rejects(replayInProcess(flags), (e: unknown) => e instanceof SplitbenchError && e.exitCode === code && message.test(e.message));
  };
  try {
    await rejectsWith({ trace, url: server.url, db }, ExitCode.target, /usage/);
    await rejectsWith({ trace, url: server.url, db, model: 'other' }, ExitCode.target, /does not serve model 'other'/);
    assert.equal(runs(db).length, 0);
  } finally {
    await server.close();
  }
});

test('bad flags: every problem named at once, exit 2', async () => {
  const dir = tempDir();
  const trace = writeTrace(dir, [[0, 10, 2]]);
  const r = await runCli([
    'replay',
    '--trace',
    trace,
    '--url',
    'ftp://x',
    '--tag',
    'novalue',
    '--rate',
    '5',
    '--concurrency',
    '2',
    '--extra-body',
    '[1]',
    '--db',
    path.join(dir, 'r.db'),
  ]);
  assert.equal(r.code, 2);
  for (const flag of ['--url', '--tag', '--rate and --concurrency', '--extra-body']) assert.ok(r.stderr.includes(flag), `${flag} in: ${r.stderr}`);
  await assert.rejects(
    replayInProcess({ trace: path.join(dir, 'missing.csv'), url: 'http://127.0.0.1:9', db: path.join(dir, 'r.db') }),
    (e: unknown) => e instanceof SplitbenchError && e.exitCode === ExitCode.usage && /trace file not found/.test(e.message),
  );
});

test('the target going away near the end (fewer than 20 refused in a row): connection-error rows, the run completes (exit 4)', async () => {
  const server = await startServer({ ttftMs: 5 });
  const dir = tempDir();
  try {
    // 8 of 20 reach the server, so at most 12 are refused in a row: below the "target unreachable" bound
    // (20, see backend-lifecycle.test.ts for the run it stops).
    const trace = writeTrace(
      dir,
      Array.from({ length: 20 }, (_, i) => [i * 0.03, 10, 3] as const),
    );
    const db = path.join(dir, 'r.db');
    const { done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db]);
    while (server.received.length < 8) await new Promise((r) => setTimeout(r, 5));
    await server.close();
    const r = await done;
    assert.equal(r.code, 4, r.stderr);
    const rows = requests(db);
    assert.equal(rows.length, 20);
    assert.ok(rows.filter((x) => x.status === 'ok').length >= 5);
    const failed = rows.filter((x) => x.status === 'error');
    assert.ok(failed.length >= 5, `failed ${failed.length}`);
    assert.ok(
      failed.some((x) => x.error_code === 'ECONNREFUSED'),
      JSON.stringify(failed.map((x) => x.error_code)),
    );
    assert.equal(runs(db)[0]!.status, 'completed');
  } finally {
    await server.close().catch(() => undefined);
  }
});

test('an unusable results store is a run-level failure: exit 6 before anything is sent', async () => {
  const server = await startServer();
  const dir = tempDir();
  try {
    const trace = writeTrace(dir, [[0, 10, 2]]);
    const notAStore = path.join(dir, 'notes.txt');
    writeFileSync(notAStore, 'hello, this is not SQLite at all, just text that is long enough to have a header');
    await assert.rejects(
      replayInProcess({ trace, url: server.url, db: notAStore }),
      (e: unknown) => e instanceof SplitbenchError && e.exitCode === ExitCode.store && /not a splitbench results store|not an SQLite/.test(e.message),
    );
    assert.equal(server.received.length, 0);
  } finally {
    await server.close();
  }
});
