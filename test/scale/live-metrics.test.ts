/**
 * `replay --metrics-port`'s registry: client TTFT / inter-token / E2E histograms, consistent at every scrape.
 * It is a run-events subscriber: these tests drive a RunEvents bus (starts, and outcomes through the one
 * recorder) and read what it serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestErrorCode } from '../../src/errors.js';
import { type RequestFields, Recorder, RunEvents } from '../../src/run/events.js';
import { OK, type RequestOutcome } from '../../src/run/outcome.js';
import { LiveMetrics, serveMetrics } from '../../src/scale/live.js';
import { encodeChunks, type RequestRow } from '../../src/store/index.js';
import { parsePromText } from '../../src/telemetry/prom-text.js';

/** A bus with `m` subscribed, and a recorder on it whose rows go nowhere. */
function bus(m: LiveMetrics): { events: RunEvents; recorder: Recorder; rows: RequestRow[] } {
  const events = new RunEvents().on(m);
  const rows: RequestRow[] = [];
  return { events, recorder: new Recorder({ addRequest: (r) => rows.push(r) }, events), rows };
}

const started = (events: RunEvents, n = 1): void => {
  for (let i = 0; i < n; i++) events.requestStarted({ lagS: 0 });
};

let seq = 0;
function row(send: number, chunks: { t: number; tokens: number }[]): RequestFields {
  const last = chunks.at(-1);
  return {
    seq: seq++,
    traceId: String(seq),
    arrival: send,
    promptTokens: 10,
    outputTokens: 4,
    scheduled: send,
    send,
    ...(chunks.length > 0 ? { firstToken: send + chunks[0]!.t, end: send + last!.t } : {}),
    tokensReceived: chunks.reduce((a, c) => a + c.tokens, 0),
    chunks,
  };
}

const FAILED: RequestOutcome = { kind: 'error', code: RequestErrorCode.stream, httpStatus: 200, message: 'bad stream' };

const value = (text: string, name: string, labels: Record<string, string> = {}): number =>
  parsePromText(text)
    .samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

function consistent(text: string): void {
  const sent = value(text, 'splitbench_replay_requests_sent_total');
  const inFlight = value(text, 'splitbench_replay_in_flight');
  const done = value(text, 'splitbench_replay_requests_completed_total');
  assert.equal(sent, inFlight + done, `sent ${sent} = in flight ${inFlight} + completed ${done}`);
  assert.equal(value(text, 'splitbench_replay_e2e_seconds_count'), value(text, 'splitbench_replay_requests_completed_total', { status: 'ok' }));
}

test('client histograms: TTFT per first token, E2E per ok request, one inter-token sample per token after the first', async () => {
  const m = new LiveMetrics({ shard: '0', shards: '1', runUuid: 'u' });
  const { events, recorder } = bus(m);
  started(events, 3);
  recorder.record(
    row(1, [
      { t: 0.5, tokens: 1 },
      { t: 0.625, tokens: 1 },
      { t: 0.875, tokens: 2 },
    ]),
    OK,
  );
  recorder.record(row(2, [{ t: 0.25, tokens: 1 }]), FAILED);
  const t = await m.text();
  assert.equal(value(t, 'splitbench_replay_ttft_seconds_count'), 2);
  assert.equal(value(t, 'splitbench_replay_ttft_seconds_sum'), 0.75);
  assert.equal(value(t, 'splitbench_replay_e2e_seconds_count'), 1);
  assert.ok(Math.abs(value(t, 'splitbench_replay_e2e_seconds_sum') - 0.875) < 1e-12);
  // Gaps 0.125 (1 token) and 0.25 spread over 2 tokens: 3 samples of 0.125.
  assert.equal(value(t, 'splitbench_replay_inter_token_latency_seconds_count'), 3);
  assert.ok(Math.abs(value(t, 'splitbench_replay_inter_token_latency_seconds_sum') - 0.375) < 1e-12);
  assert.equal(value(t, 'splitbench_replay_inter_token_latency_seconds_bucket', { le: '0.1' }), 0);
  assert.equal(value(t, 'splitbench_replay_inter_token_latency_seconds_bucket', { le: '0.15' }), 3);
  assert.equal(value(t, 'splitbench_replay_in_flight'), 1);
  consistent(t);
});

test('a replay row with its token times pre-encoded gives the inter-token samples its chunk list gives', async () => {
  const chunks = [
    { t: 0.5, tokens: 1 },
    { t: 0.625, tokens: 1 },
    { t: 0.875, tokens: 2 },
  ];
  const texts: string[] = [];
  const { chunks: _list, ...rest } = row(1, chunks);
  const pre: RequestFields = { ...rest, tokenTimesBlob: encodeChunks(chunks) };
  for (const r of [row(1, chunks), pre]) {
    const m = new LiveMetrics({ shard: '0', shards: '1', runUuid: 'u' });
    const { events, recorder } = bus(m);
    started(events);
    recorder.record(r, OK);
    texts.push(await m.text());
  }
  assert.equal(value(texts[1]!, 'splitbench_replay_inter_token_latency_seconds_count'), 3);
  assert.equal(texts[1], texts[0]);
});

test('a request finishing while a scrape renders counts in the next scrape, and each scrape adds up', async () => {
  const m = new LiveMetrics({ shard: '0', shards: '1', runUuid: 'u' });
  const { events, recorder } = bus(m);
  for (let i = 0; i < 50; i++) {
    started(events, 2);
    const rendering = m.text();
    // While it renders: one more sent, one finished.
    started(events);
    recorder.record(
      row(i, [
        { t: 0.1, tokens: 1 },
        { t: 0.2, tokens: 1 },
      ]),
      OK,
    );
    const t = await rendering;
    consistent(t);
    assert.equal(value(t, 'splitbench_replay_requests_completed_total'), i, 'the row observed during the render is not in it');
  }
  const last = await m.text();
  consistent(last);
  assert.equal(value(last, 'splitbench_replay_requests_completed_total'), 50);
  assert.equal(value(last, 'splitbench_replay_requests_sent_total'), 150);
});

test('GET /metrics serves what the bus said: started, finished by status, tokens, in flight', async () => {
  const m = new LiveMetrics({ shard: '1', shards: '4', runUuid: 'run-u' });
  const { events, recorder, rows } = bus(m);
  const server = await serveMetrics(m, 0, '127.0.0.1');
  try {
    const scrape = async (): Promise<string> => {
      const res = await fetch(server.url);
      assert.equal(res.status, 200);
      return res.text();
    };
    started(events, 5);
    recorder.record(
      row(0, [
        { t: 0.25, tokens: 1 },
        { t: 0.5, tokens: 3 },
      ]),
      OK,
    );
    recorder.record(row(1, [{ t: 0.125, tokens: 1 }]), FAILED);
    recorder.record(row(2, []), { kind: 'timeout', phase: 'first-token', limitS: 1 });
    recorder.record(row(3, []), { kind: 'cancelled', message: 'interrupted' });
    let t = await scrape();
    consistent(t);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['ok', 'error', 'timeout', 'cancelled'],
    );
    assert.equal(value(t, 'splitbench_replay_requests_sent_total'), 5);
    assert.equal(value(t, 'splitbench_replay_in_flight'), 1);
    for (const status of ['ok', 'error', 'timeout', 'cancelled']) assert.equal(value(t, 'splitbench_replay_requests_completed_total', { status }), 1, status);
    assert.equal(value(t, 'splitbench_replay_errors_total'), 2);
    assert.equal(value(t, 'splitbench_replay_input_tokens_total'), 10);
    assert.equal(value(t, 'splitbench_replay_output_tokens_total'), 5);
    assert.equal(value(t, 'splitbench_replay_dispatch_lag_seconds_count'), 4);
    assert.equal(value(t, 'splitbench_replay_shard_info', { shard: '1', shards: '4', run_uuid: 'run-u' }), 1);
    // The last one finishes: nothing left in flight, the counters only grow.
    recorder.record(row(4, [{ t: 0.5, tokens: 1 }]), OK);
    t = await scrape();
    consistent(t);
    assert.equal(value(t, 'splitbench_replay_requests_sent_total'), 5);
    assert.equal(value(t, 'splitbench_replay_in_flight'), 0);
    assert.equal(value(t, 'splitbench_replay_requests_completed_total', { status: 'ok' }), 2);
    assert.equal(value(t, 'splitbench_replay_output_tokens_total'), 6);
  } finally {
    await server.close();
  }
});
