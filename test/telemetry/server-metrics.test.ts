import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText } from '../../src/telemetry/prom-text.js';
import { ServerMetricsMapper } from '../../src/telemetry/server-metrics.js';
import { TARGET_PRESETS } from '../../src/telemetry/targets.js';

const vllm = (running: number, prompt: number, gen: number, ttft: [number, number, number, number]): string =>
  [
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{model_name="m",engine="0"} ${running}`,
    `vllm:num_requests_waiting{model_name="m",engine="0"} 2`,
    `vllm:gpu_cache_usage_perc{model_name="m",engine="0"} 0.25`,
    '# TYPE vllm:prompt_tokens counter',
    `vllm:prompt_tokens_total{model_name="m",engine="0"} ${prompt}`,
    `vllm:generation_tokens_total{model_name="m",engine="0"} ${gen}`,
    '# TYPE vllm:time_to_first_token_seconds histogram',
    `vllm:time_to_first_token_seconds_bucket{model_name="m",engine="0",le="0.1"} ${ttft[0]}`,
    `vllm:time_to_first_token_seconds_bucket{model_name="m",engine="0",le="+Inf"} ${ttft[1]}`,
    `vllm:time_to_first_token_seconds_sum{model_name="m",engine="0"} ${ttft[2]}`,
    `vllm:time_to_first_token_seconds_count{model_name="m",engine="0"} ${ttft[3]}`,
  ].join('\n');

const byName = (pts: { name: string; labels: Record<string, string>; value: number }[]): Record<string, number[]> => {
  const o: Record<string, number[]> = {};
  for (const p of pts) (o[p.name] ??= []).push(p.value);
  return o;
};

test('vLLM: gauges as read, counters and the TTFT histogram as increases; the first scrape is the baseline', () => {
  const m = new ServerMetricsMapper();
  const first = byName(m.map(parsePromText(vllm(3, 1000, 50, [1, 2, 0.3, 2]))));
  assert.deepEqual(first, { running: [3], queue_depth: [2], kv_used_frac: [0.25] });
  const second = m.map(parsePromText(vllm(4, 1500, 80, [3, 5, 0.9, 5])));
  const s = byName(second);
  assert.deepEqual(s.prompt_tokens, [500]);
  assert.deepEqual(s.generation_tokens, [30]);
  assert.deepEqual(s.ttft_seconds_count, [3]);
  assert.ok(Math.abs(s.ttft_seconds_sum![0]! - 0.6) < 1e-12);
  assert.deepEqual(s.ttft_seconds_bucket, [2, 3]);
  assert.equal(second.find((p) => p.name === 'ttft_seconds_bucket')!.labels.le, '0.1');
  assert.equal(second.find((p) => p.name === 'running')!.labels.engine, '0');
  // No new requests: no histogram rows. A counter that went down is a restart: counts from zero.
  const third = byName(m.map(parsePromText(vllm(0, 20, 80, [3, 5, 0.9, 5]))));
  assert.equal(third.ttft_seconds_count, undefined);
  assert.deepEqual(third.prompt_tokens, [20]);
  assert.deepEqual(third.generation_tokens, [0]);
  assert.equal(m.counterRestarts, 1);
});

test('SGLang and Dynamo names map to the same common names', () => {
  const m = new ServerMetricsMapper();
  const text = (n: number): string =>
    [
      `sglang:num_running_reqs{engine_type="decode",tp_rank="0"} 7`,
      `sglang:num_queue_reqs{engine_type="decode",tp_rank="0"} 1`,
      `sglang:token_usage{engine_type="decode",tp_rank="0"} 0.5`,
      `sglang:generation_tokens_total{model_name="m"} ${n}`,
      `dynamo_frontend_inflight_requests{model="m"} 9`,
    ].join('\n');
  m.map(parsePromText(text(10)));
  const s = byName(m.map(parsePromText(text(25))));
  assert.deepEqual(s.running, [7]);
  assert.deepEqual(s.queue_depth, [1]);
  assert.deepEqual(s.kv_used_frac, [0.5]);
  assert.deepEqual(s.in_flight, [9]);
  assert.deepEqual(s.generation_tokens, [15]);
});

test('the first listed source wins: the reference backend is not counted twice through its vLLM aliases', () => {
  const m = new ServerMetricsMapper();
  const text = [
    'splitbench_queue_depth{machine="prompt-0",pool="prompt",type="dgx-h100"} 4',
    'vllm:num_requests_waiting{model_name="m",engine="prompt-0",pool="prompt"} 4',
  ].join('\n');
  assert.deepEqual(byName(m.map(parsePromText(text))), { queue_depth: [4] });
});

test('target presets: exact output length where the engine allows it', () => {
  assert.deepEqual(TARGET_PRESETS.vllm!.fields(7, 'completions'), {
    max_tokens: 7,
    min_tokens: 7,
    ignore_eos: true,
    stream_options: { include_usage: true, continuous_usage_stats: true },
  });
  assert.deepEqual(TARGET_PRESETS.openai!.fields(7, 'chat'), { max_completion_tokens: 7, stream_options: { include_usage: true } });
  assert.equal(TARGET_PRESETS.openai!.fields(7, 'chat').ignore_eos, undefined);
  assert.deepEqual(TARGET_PRESETS.dynamo!.fields(3, 'chat').nvext, { ignore_eos: true });
  assert.equal(TARGET_PRESETS.sglang!.fields(3, 'completions').min_tokens, 3);
});
