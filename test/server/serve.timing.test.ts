/**
 * `splitbench serve` end to end (spawned CLI, real engine): the acceptance check against the performance
 * model, disconnect → cancel in the engine, time scale, SIGTERM, bad flags.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { VirtualClock, withDefaults, type PerfModel } from '../../src/engine/index.js';
import { call, promValue, timedStream, type SseEvent } from './helpers.js';
import { runServe, startServe, type ServeProcess } from './serve-cli.js';
import { loadDeployment, loadEngineData } from '../../src/config/index.js';

const PROMPT = 4096;
const OUTPUT = 32;
const TOLERANCE_MS = 5;

/** What the engine's performance model says a lone request of PROMPT/OUTPUT tokens sees on baseline-h100. */
function expectation(): { ttftS: number; tbtS: number[] } {
  const dep = loadDeployment('baseline-h100', { model: 'bloom-176b' });
  const pool = dep.pools[0]!;
  // The performance model the engine picks for this deployment (its defaults, as serve and sim use them).
  const opts = withDefaults(dep, { clock: new VirtualClock(), data: loadEngineData() });
  assert.equal(typeof opts.perfModel, 'function');
  const perf = (opts.perfModel as Exclude<typeof opts.perfModel, PerfModel | undefined>)(opts.catalog.machine(pool.machine)!, opts.catalog.model(dep.model)!);
  // Chunked prefill: the prompt goes through in chunks of at most maxBatchTokens, each costed with its offset
  // (the prefix it attends to), the first token comes out of the last chunk's iteration; then one decode
  // iteration per token, context growing by one.
  let ttftS = 0;
  for (let done = 0; done < PROMPT; done += pool.limits.maxBatchTokens) {
    const chunk = Math.min(PROMPT - done, pool.limits.maxBatchTokens);
    ttftS += perf.iterationTime({ promptTokens: [chunk], promptOffsets: [done], decodes: 0, decodeContextTokens: 0 });
  }
  const tbtS: number[] = [];
  for (let i = 1; i < OUTPUT; i++) tbtS.push(perf.iterationTime({ promptTokens: [], decodes: 1, decodeContextTokens: PROMPT + i }));
  return { ttftS, tbtS };
}

const body = (maxTokens: number, extra: Record<string, unknown> = {}) => ({
  model: 'bloom-176b',
  prompt: Array.from({ length: PROMPT }, (_, i) => (i * 7919) % 50000),
  max_tokens: maxTokens,
  ignore_eos: true,
  stream: true,
  stream_options: { include_usage: true, continuous_usage_stats: true },
  ...extra,
});

/** A fresh process pays for lazy loading and JIT on its first requests: get that out of the way. */
async function warmUp(url: string): Promise<void> {
  // Requests rejected after parsing (unknown model) exercise the whole request path in milliseconds.
  for (let i = 0; i < 30; i++) await timedStream(url, '/v1/completions', body(2, { model: 'warm-up' }));
  for (let i = 0; i < 2; i++) await timedStream(url, '/v1/completions', body(1));
}

const MAX_TIMING_ATTEMPTS = 5;

/** Why chunk arrival times disagree with the model by TOLERANCE_MS or more (undefined: they agree). */
function timingMiss(tokenChunks: readonly { ms: number }[], exp: { ttftS: number; tbtS: number[] }): string | undefined {
  const ttftMs = tokenChunks[0]!.ms;
  if (Math.abs(ttftMs - exp.ttftS * 1000) >= TOLERANCE_MS) return `TTFT ${ttftMs.toFixed(2)} ms, model says ${(exp.ttftS * 1000).toFixed(2)} ms`;
  const gaps = tokenChunks.slice(1).map((c, i) => c.ms - tokenChunks[i]!.ms);
  const errs = gaps.map((g, i) => Math.abs(g - exp.tbtS[i]! * 1000)).sort((a, b) => a - b);
  const median = errs[Math.floor(errs.length / 2)]!;
  if (median >= TOLERANCE_MS) return `median TBT error ${median.toFixed(2)} ms (gaps ${gaps.map((g) => g.toFixed(1)).join(' ')})`;
  const span = tokenChunks.at(-1)!.ms - ttftMs;
  const model = exp.tbtS.reduce((a, b) => a + b, 0) * 1000;
  if (Math.abs(span - model) >= TOLERANCE_MS) return `decode span ${span.toFixed(2)} ms, model says ${model.toFixed(2)} ms`;
  return undefined;
}

type Chunk = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const isChunk = (e: SseEvent): e is Chunk => e !== '[DONE]';

describe('splitbench serve (baseline-h100, bloom-176b, time scale 1)', () => {
  let srv: ServeProcess;
  before(async () => {
    srv = await startServe(['--deployment', 'baseline-h100', '--model', 'bloom-176b', '--host', '127.0.0.1', '--port', '0']);
    await warmUp(srv.url);
  });
  after(async () => {
    srv.child.kill('SIGTERM');
    await srv.exited;
  });

  it('prints the listening line first, with the real port', () => {
    assert.match(srv.firstLine, /^splitbench serve: listening on http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(srv.url).port, '0');
  });

  it('acceptance: 4096 prompt ids, 32 tokens: exact count, TTFT and TBT as the performance model says, breakdown, usage', async () => {
    const exp = expectation();
    const { status, events } = await timedStream(srv.url, '/v1/completions', body(OUTPUT));
    assert.equal(status, 200);
    assert.equal(events.at(-1)!.event, '[DONE]');
    const chunks = events.filter((e) => isChunk(e.event)) as { ms: number; event: Chunk }[];
    const tokenChunks = chunks.filter((c) => c.event.choices.length > 0);
    const tokens = tokenChunks.reduce((n, c) => n + c.event.choices[0].text.length / ' tok'.length, 0);
    assert.equal(tokens, OUTPUT);
    assert.equal(tokenChunks.length, OUTPUT, 'one chunk per decode iteration');
    assert.deepEqual(
      tokenChunks.map((c) => c.event.usage.completion_tokens),
      Array.from({ length: OUTPUT }, (_, i) => i + 1),
    );
    const usage = chunks.at(-1)!.event;
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, { prompt_tokens: PROMPT, completion_tokens: OUTPUT, total_tokens: PROMPT + OUTPUT });

    // Wall-clock timing: the test machine may be shared and starve either process for a moment, so a
    // miss is retried (at most MAX_TIMING_ATTEMPTS requests in all); every attempt is reported on failure.
    const misses: string[] = [];
    for (let attempt = 1, chunksNow = tokenChunks; ; attempt++) {
      const miss = timingMiss(chunksNow, exp);
      if (miss === undefined) break;
      misses.push(`attempt ${attempt}: ${miss}`);
      assert.ok(attempt < MAX_TIMING_ATTEMPTS, misses.join('; '));
      const again = await timedStream(srv.url, '/v1/completions', body(OUTPUT));
      chunksNow = again.events.filter((e) => isChunk(e.event) && e.event.choices.length > 0) as { ms: number; event: Chunk }[];
    }

    const last = tokenChunks.at(-1)!.event;
    assert.equal(last.choices[0].finish_reason, 'length');
    const sb = last.splitbench;
    assert.ok(Math.abs(sb.queue_s) < 1e-9, `queue ${sb.queue_s}`);
    assert.ok(Math.abs(sb.prefill_s - exp.ttftS) < 1e-9, `prefill_s ${sb.prefill_s} vs ${exp.ttftS}`);
    assert.equal(sb.kv_transfer_s, 0);
    // Second-token wait = KV transfer (0 here) + decode wait = the first decode iteration; decode = second → last token.
    assert.ok(Math.abs(sb.decode_wait_s - exp.tbtS[0]!) < 1e-9, `decode_wait_s ${sb.decode_wait_s} vs ${exp.tbtS[0]}`);
    assert.ok(Math.abs(sb.decode_s - exp.tbtS.slice(1).reduce((a, b) => a + b, 0)) < 1e-9, `decode_s ${sb.decode_s}`);
    assert.equal(sb.prompt_machine, sb.token_machine);
    assert.match(sb.prompt_machine, /^mixed-\d$/);
    assert.equal(sb.pool, 'mixed');
    assert.equal(sb.preemptions, 0);
  });

  it('a client that disconnects cancels its request in the engine (in-flight drops, KV freed)', async () => {
    const inFlight = async (): Promise<number> => promValue((await call(srv.url, 'GET', '/metrics')).text, 'splitbench_requests_in_flight')!;
    const kvUsed = async (): Promise<number> => {
      const t = (await call(srv.url, 'GET', '/metrics')).text;
      return t
        .split('\n')
        .filter((l) => l.startsWith('splitbench_kv_used_tokens{'))
        .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    };
    assert.equal(await inFlight(), 0);
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${srv.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.once('data', async () => {
          try {
            assert.equal(await inFlight(), 1);
            assert.ok((await kvUsed()) > 0);
            res.destroy();
            resolve();
          } catch (e) {
            reject(e);
          }
        });
      });
      req.on('error', () => undefined);
      req.end(JSON.stringify(body(2000, { prompt: [1, 2, 3, 4] })));
    });
    const end = performance.now() + 3000;
    while ((await inFlight()) !== 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await inFlight(), 0);
    assert.equal(await kvUsed(), 0);
  });
});

describe('splitbench serve: time scale, SIGTERM, bad flags', () => {
  it('--time-scale 20 runs the emulation 20x faster while the breakdown stays in real-GPU seconds; SIGTERM ends streams and exits 0', async () => {
    const exp = expectation();
    const srv = await startServe(['--deployment', 'baseline-h100', '--port', '0', '--time-scale', '20']);
    try {
      await warmUp(srv.url);
      const { events } = await timedStream(srv.url, '/v1/completions', body(OUTPUT));
      const tokenChunks = events.filter((e) => isChunk(e.event) && e.event.choices.length > 0) as { ms: number; event: Chunk }[];
      assert.equal(tokenChunks.length, OUTPUT);
      const sb = tokenChunks.at(-1)!.event.splitbench;
      assert.ok(Math.abs(sb.prefill_s - exp.ttftS) < 1e-9, `prefill_s ${sb.prefill_s} vs ${exp.ttftS}`);
      const walls = [tokenChunks[0]!.ms];
      while (Math.abs(walls.at(-1)! - (exp.ttftS * 1000) / 20) >= TOLERANCE_MS && walls.length < MAX_TIMING_ATTEMPTS) {
        const again = await timedStream(srv.url, '/v1/completions', body(OUTPUT));
        walls.push(again.events.find((e) => isChunk(e.event) && e.event.choices.length > 0)!.ms);
      }
      assert.ok(
        Math.abs(walls.at(-1)! - (exp.ttftS * 1000) / 20) < TOLERANCE_MS,
        `wall TTFT ${walls.map((w) => w.toFixed(2)).join(', ')} ms at 20x; model ${(exp.ttftS * 1000).toFixed(2)} ms real`,
      );

      // SIGTERM while a long stream is open: the stream gets an error event and [DONE], the process exits 0.
      const pending = timedStream(srv.url, '/v1/completions', body(5000, { prompt: [1, 2, 3] }));
      await new Promise((r) => setTimeout(r, 300));
      srv.child.kill('SIGTERM');
      const { events: ev } = await pending;
      assert.equal(ev.at(-1)!.event, '[DONE]');
      const err = ev.at(-2)!.event as Chunk;
      assert.equal(err.error.code, 'server_shutdown');
      assert.ok(ev.length > 3, 'tokens were streamed before the shutdown');
      assert.equal(await srv.exited, 0);
      assert.doesNotMatch(srv.stderr(), /at .*\.js:\d+/, 'no stack trace');
    } finally {
      srv.child.kill('SIGKILL');
    }
  });

  it('exits 0 when its stdin pipe closes (the parent that started it is gone)', async () => {
    const srv = await startServe(['--deployment', 'baseline-h100', '--port', '0'], { stdin: 'pipe' });
    try {
      assert.equal((await call(srv.url, 'GET', '/health')).status, 200);
      srv.child.stdin!.end();
      assert.equal(await srv.exited, 0);
      assert.match(srv.stderr(), /stdin closed/);
    } finally {
      srv.child.kill('SIGKILL');
    }
  });

  it('bad flags and an unknown deployment exit 2 with a one-line message naming the flag', async () => {
    const a = await runServe(['--deployment', 'baseline-h100', '--time-scale', '0', '--port', '-1']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--port: must be an integer from 0 to 65535/);
    assert.match(a.stderr, /--time-scale: must be > 0, got 0/);
    assert.equal(a.stdout, '');
    const b = await runServe(['--deployment', 'no-such-cluster', '--port', '0']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--deployment: unknown deployment 'no-such-cluster'/);
    const c = await runServe(['--deployment', 'baseline-h100', '--model', 'no-such-model', '--port', '0']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /no-such-model/);
  });
});
