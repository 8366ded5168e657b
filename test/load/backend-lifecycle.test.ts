/**
 * The bundled backend's lifecycle (issue 16, items 1 and 5) and a `--url` target that goes away:
 *
 * - a signal to the replay's whole process group (Ctrl-C in a terminal, `kill -INT -- -PGID`, `timeout`)
 *   must not reach the backend child: in-flight requests get the grace period and end `ok` or `cancelled`,
 *   never as server errors ("server shutting down");
 * - the backend still dies with the replay (SIGKILL of the replay: it notices its stdin pipe closing);
 * - a backend that dies mid-run stops the run: exit 5, a line saying so, the run `failed`, nothing sent after;
 * - a `--url` target that refuses connection after connection stops the run the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BIN, childPids, readDb, requests, runs, spawnCli, tempDir, writeTrace, type CliResult, alive } from './helpers.js';
import { startServer } from './servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Rows stored so far (0 while the store or its tables do not exist yet). */
function storedRows(db: string): number {
  if (!existsSync(db)) return 0;
  try {
    return readDb(db, (d) => (d.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n);
  } catch {
    return 0;
  }
}

/** The replay as a process-group leader (like `setsid splitbench replay ... &` or a job in a terminal). */
function spawnGroupLeader(args: readonly string[]): { pid: number; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { pid: child.pid!, done };
}

// Requests of ~1–3 s on the emulated cluster, one every 50 ms: a few dozen in flight at any moment.
const rows = (n: number): [number, number, number][] => Array.from({ length: n }, (_, i) => [i * 0.05, 200 + (i % 7), 40] as [number, number, number]);

test("a SIGINT to the replay's process group leaves the bundled backend up: in-flight requests end ok, exit 130", async () => {
  const dir = tempDir();
  const db = path.join(dir, 'r.db');
  const trace = writeTrace(dir, rows(600));
  const r = spawnGroupLeader(['replay', '--trace', trace, '--db', db, '--grace', '20']);
  await waitFor(() => storedRows(db) >= 10, 'the first stored rows');
  const backend = childPids(r.pid);
  assert.equal(backend.length, 1, 'one backend child');
  process.kill(-r.pid, 'SIGINT'); // the whole group, as a terminal's Ctrl-C does
  const res = await r.done;
  assert.equal(res.code, 130, res.stderr);
  assert.equal(runs(db)[0]!.status, 'interrupted');
  const stored = requests(db);
  const bad = stored.filter((x) => x.status !== 'ok' && x.status !== 'cancelled');
  assert.deepEqual(
    bad.map((x) => `${x.status} ${x.error_code} ${x.error}`),
    [],
    'no request ended as a server error',
  );
  assert.ok(stored.length > 10 && stored.length < 600, `${stored.length} rows`);
  assert.doesNotMatch(res.stderr, /serve: SIGINT/);
  await waitFor(() => !alive(backend[0]!), 'the backend to be stopped by the replay', 10_000);
});

test('the bundled backend exits on its own when its replay is SIGKILLed (its stdin pipe closes)', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'r.db');
  const trace = writeTrace(dir, rows(600));
  const { child, done } = spawnCli(['replay', '--trace', trace, '--db', db]);
  await waitFor(() => storedRows(db) >= 3, 'the first stored rows');
  const backend = childPids(child.pid!);
  assert.equal(backend.length, 1);
  child.kill('SIGKILL');
  await done;
  // Liveness, not speed: nothing else would ever stop an orphaned backend (tests do not assert on wall time).
  await waitFor(() => !alive(backend[0]!), 'the orphaned backend to exit', 15_000);
});

test('a bundled backend killed mid-run: the replay stops sending, marks the run failed, says so, exit 5', async () => {
  const dir = tempDir();
  const db = path.join(dir, 'r.db');
  const trace = writeTrace(dir, rows(600));
  const { child, done } = spawnCli(['replay', '--trace', trace, '--db', db]);
  await waitFor(() => storedRows(db) >= 10, 'the first stored rows');
  const [backend] = childPids(child.pid!);
  process.kill(backend!, 'SIGKILL');
  const killedAt = performance.now();
  const res = await done;
  assert.equal(res.code, 5, res.stderr);
  assert.ok(performance.now() - killedAt < 10_000, 'the replay ended promptly');
  assert.match(res.stderr, /the reference backend exited mid-run \(killed by SIGKILL\)/);
  assert.doesNotMatch(res.stderr, /\n\s+at /);
  const [run] = runs(db);
  assert.equal(run!.status, 'failed');
  assert.match(String(JSON.parse(String(run!.notes_json)).reason), /reference backend exited mid-run/);
  const stored = requests(db);
  assert.ok(stored.length < 600, 'the rest of the trace was not sent');
  // What was in flight at the kill is recorded (as a connection error or cancelled), and nothing after it
  // was sent into the dead port: at most the requests due in the 2 s before the replay noticed.
  const failed = stored.filter((x) => x.status !== 'ok');
  assert.ok(failed.length >= 1, 'the requests in flight at the kill have rows');
  assert.ok(
    failed.every((x) => x.status === 'error' || x.status === 'cancelled'),
    JSON.stringify(failed.map((x) => x.status)),
  );
  const refused = failed.filter((x) => x.error_code === 'ECONNREFUSED').length;
  assert.ok(refused <= 5, `${refused} requests were sent to the dead port`);
});

test('a --url target that refuses connection after connection stops the run: failed, exit 5', async () => {
  const server = await startServer({ ttftMs: 1, itlMs: 1 });
  const dir = tempDir();
  const db = path.join(dir, 'r.db');
  const trace = writeTrace(
    dir,
    Array.from({ length: 2000 }, (_, i) => [i * 0.005, 10, 2] as [number, number, number]),
  );
  const { done } = spawnCli(['replay', '--trace', trace, '--url', server.url, '--db', db]);
  await waitFor(() => server.completions.length >= 20, 'some completed requests');
  await server.close(); // nothing listens on the port any more: connections are refused
  const res = await done;
  assert.equal(res.code, 5, res.stderr);
  assert.match(res.stderr, /the target became unreachable: 20 requests in a row could not connect \(ECONNREFUSED\)/);
  const [run] = runs(db);
  assert.equal(run!.status, 'failed');
  const stored = requests(db);
  assert.ok(stored.length < 2000, 'the rest of the trace was not sent');
  assert.ok(stored.filter((x) => x.error_code === 'ECONNREFUSED').length >= 20);
});
