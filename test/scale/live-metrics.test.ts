/** `replay --metrics-port`'s registry: client TTFT / inter-token / E2E histograms, consistent at every scrape. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveMetrics } from '../../src/scale/live.js';
import { encodeChunks, type RequestRow } from '../../src/store/index.js';
import { parsePromText } from '../../src/telemetry/prom-text.js';

let seq = 0;
function row(status: RequestRow['status'], send: number, chunks: { t: number; tokens: number }[]): RequestRow {
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
    status,
    tokensReceived: chunks.reduce((a, c) => a + c.tokens, 0),
    chunks,
  };
}

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
  const src = { sent: 3, inFlight: 1 };
  m.attach(src);
  m.observe(
    row('ok', 1, [
      { t: 0.5, tokens: 1 },
      { t: 0.625, tokens: 1 },
      { t: 0.875, tokens: 2 },
    ]),
  );
  m.observe(row('error', 2, [{ t: 0.25, tokens: 1 }]));
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
  const { chunks: _list, ...rest } = row('ok', 1, chunks);
  const pre: RequestRow = { ...rest, tokenTimesBlob: encodeChunks(chunks) };
  for (const r of [row('ok', 1, chunks), pre]) {
    const m = new LiveMetrics({ shard: '0', shards: '1', runUuid: 'u' });
    m.attach({ sent: 1, inFlight: 0 });
    m.observe(r);
    texts.push(await m.text());
  }
  assert.equal(value(texts[1]!, 'splitbench_replay_inter_token_latency_seconds_count'), 3);
  assert.equal(texts[1], texts[0]);
});

test('a request finishing while a scrape renders counts in the next scrape, and each scrape adds up', async () => {
  const m = new LiveMetrics({ shard: '0', shards: '1', runUuid: 'u' });
  const src = { sent: 0, inFlight: 0 };
  m.attach(src);
  for (let i = 0; i < 50; i++) {
    src.sent += 2;
    const rendering = m.text();
    // While it renders: one more sent, one finished.
    src.sent++;
    m.observe(
      row('ok', i, [
        { t: 0.1, tokens: 1 },
        { t: 0.2, tokens: 1 },
      ]),
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
