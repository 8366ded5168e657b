/**
 * vLLM's Prometheus series on the reference backend's /metrics: every series the panels of vLLM's published
 * Grafana dashboard (examples/online_serving/prometheus_grafana/grafana.json) query is there, labelled
 * `model_name`, with vLLM's types and buckets; histogram counts agree with the requests served; the DCGM-style
 * series name the GPU model. The exposition is parsed strictly (our parser, then `promtool check metrics` where
 * a promtool is on PATH or in SPLITBENCH_PROMTOOL).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createBackend } from '../../src/server/backend.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { VLLM_BUCKETS, buckets125 } from '../../src/server/metrics.js';
import { parsePromText, type PromExposition } from '../../src/telemetry/prom-text.js';
import { call, post } from './helpers.js';

/** Metric names the panel expressions of vLLM's published Grafana dashboard select (PromQL series names). */
const DASHBOARD_SERIES = [
  'vllm:e2e_request_latency_seconds_bucket',
  'vllm:e2e_request_latency_seconds_sum',
  'vllm:e2e_request_latency_seconds_count',
  'vllm:prompt_tokens_total',
  'vllm:generation_tokens_total',
  'vllm:time_per_output_token_seconds_bucket',
  'vllm:time_per_output_token_seconds_sum',
  'vllm:time_per_output_token_seconds_count',
  'vllm:num_requests_running',
  'vllm:num_requests_swapped',
  'vllm:num_requests_waiting',
  'vllm:time_to_first_token_seconds_bucket',
  'vllm:time_to_first_token_seconds_sum',
  'vllm:time_to_first_token_seconds_count',
  'vllm:gpu_cache_usage_perc',
  'vllm:cpu_cache_usage_perc',
  'vllm:request_prompt_tokens_bucket',
  'vllm:request_generation_tokens_bucket',
  'vllm:request_success_total',
  'vllm:request_queue_time_seconds_sum',
  'vllm:request_prefill_time_seconds_sum',
  'vllm:request_decode_time_seconds_sum',
  'vllm:request_max_num_generation_tokens_sum',
];

const HISTOGRAMS: Record<string, readonly number[]> = {
  'vllm:time_to_first_token_seconds': VLLM_BUCKETS.ttft,
  'vllm:inter_token_latency_seconds': VLLM_BUCKETS.itl,
  'vllm:time_per_output_token_seconds': VLLM_BUCKETS.itl,
  'vllm:request_time_per_output_token_seconds': VLLM_BUCKETS.itl,
  'vllm:e2e_request_latency_seconds': VLLM_BUCKETS.request,
  'vllm:request_queue_time_seconds': VLLM_BUCKETS.request,
  'vllm:request_inference_time_seconds': VLLM_BUCKETS.request,
  'vllm:request_prefill_time_seconds': VLLM_BUCKETS.request,
  'vllm:request_decode_time_seconds': VLLM_BUCKETS.request,
  'vllm:iteration_tokens_total': VLLM_BUCKETS.iterationTokens,
};

const sum = (e: PromExposition, name: string, labels: Record<string, string> = {}): number =>
  e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

describe('vLLM metrics on /metrics (split deployment, real engine)', () => {
  let srv: RunningServer;
  let model: string;
  let text = '';
  let expo: PromExposition;
  const N = 6;
  const OUT = 5;
  before(async () => {
    const backend = createBackend({ deployment: 'splitwise-hh', timeScale: 50 });
    model = backend.model.name;
    srv = await startServer({
      cluster: backend.cluster,
      clock: backend.clock,
      model: backend.model,
      port: 0,
      gpuModel: (t) => backend.gpuModel(t),
      onIteration: (f) => backend.onIteration(f),
    });
    const replies = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        post(srv.url, '/v1/completions', { prompt: Array.from({ length: 200 + 50 * i }, (_, j) => j), max_tokens: OUT, ignore_eos: true, stream: i % 2 === 0 }),
      ),
    );
    for (const r of replies) assert.equal(r.status, 200, r.text);
    const m = await call(srv.url, 'GET', '/metrics');
    assert.equal(m.status, 200);
    text = m.text;
    expo = parsePromText(text);
  });
  after(async () => {
    await srv.close();
  });

  it('every series the published vLLM dashboard queries is there, with the served model_name', () => {
    for (const name of DASHBOARD_SERIES) {
      const found = expo.samples.filter((s) => s.name === name && s.labels.model_name === model);
      assert.ok(found.length > 0, `${name}{model_name="${model}"} missing`);
    }
  });

  it("histograms carry vLLM's types and buckets; counts match the requests served", () => {
    for (const [name, buckets] of Object.entries(HISTOGRAMS)) {
      assert.equal(expo.families.get(name)?.type, 'histogram', name);
      const les = [...new Set(expo.samples.filter((s) => s.name === `${name}_bucket`).map((s) => s.labels.le!))];
      assert.deepEqual(les, [...buckets.map(String), '+Inf'], `${name} buckets`);
    }
    assert.deepEqual(
      [...new Set(expo.samples.filter((s) => s.name === 'vllm:request_prompt_tokens_bucket').map((s) => s.labels.le!))],
      [...buckets125(32768).map(String), '+Inf'],
    );
    for (const name of [
      'vllm:time_to_first_token_seconds',
      'vllm:e2e_request_latency_seconds',
      'vllm:request_queue_time_seconds',
      'vllm:request_prefill_time_seconds',
      'vllm:request_decode_time_seconds',
    ]) {
      assert.equal(sum(expo, `${name}_count`), N, `${name}_count`);
    }
    // One inter-token sample per output token after the first.
    assert.equal(sum(expo, 'vllm:inter_token_latency_seconds_count'), N * (OUT - 1));
    assert.equal(sum(expo, 'vllm:request_success_total', { finished_reason: 'length' }), N);
    assert.equal(sum(expo, 'vllm:request_success_total', { finished_reason: 'stop' }), 0);
    assert.equal(sum(expo, 'vllm:request_generation_tokens_sum'), N * OUT);
    assert.equal(expo.families.get('vllm:request_success')?.type ?? expo.families.get('vllm:request_success_total')?.type, 'counter');
    // Every engine has its series from the start (idle machines included).
    const engines = new Set(expo.samples.filter((s) => s.name === 'vllm:time_to_first_token_seconds_count').map((s) => s.labels.engine));
    assert.equal(engines.size, 4);
    // Prompt-side figures on prompt machines, decode-side on the token machine of a split deployment.
    const pools = (n: string): Set<string> => new Set(expo.samples.filter((s) => s.name === n && s.value > 0).map((s) => s.labels.pool!));
    assert.deepEqual(pools('vllm:request_prefill_time_seconds_count'), new Set(['prompt']));
    assert.deepEqual(pools('vllm:request_decode_time_seconds_count'), new Set(['token']));
  });

  it('engine-side times are emulated seconds: TTFT ≥ queue + prefill, E2E ≥ TTFT', () => {
    const ttft = sum(expo, 'vllm:time_to_first_token_seconds_sum');
    const e2e = sum(expo, 'vllm:e2e_request_latency_seconds_sum');
    const prefill = sum(expo, 'vllm:request_prefill_time_seconds_sum');
    const queue = sum(expo, 'vllm:request_queue_time_seconds_sum');
    assert.ok(prefill > 0 && ttft >= prefill + queue - 1e-9, `ttft ${ttft} prefill ${prefill} queue ${queue}`);
    assert.ok(e2e > ttft, `e2e ${e2e} ttft ${ttft}`);
    assert.ok(sum(expo, 'vllm:iteration_tokens_total_count') > 0);
  });

  it('DCGM-style series carry the GPU model, not the machine name', () => {
    const names = new Set(expo.samples.filter((s) => s.name === 'DCGM_FI_DEV_POWER_USAGE').map((s) => s.labels.modelName));
    assert.deepEqual(names, new Set(['NVIDIA H100 80GB HBM3']));
  });

  // What promtool's linter says about names this server takes from the systems it emulates, not its own choice:
  // vLLM's ':' names and its histogram `vllm:iteration_tokens_total`, DCGM exporter's camelCase labels
  // (`modelName`, `UUID`, `Hostname`) and its counter without `_total`, prom-client's default `nodejs_active_*_total` gauges.
  const INHERITED = [
    /metric names should not contain ':'/,
    /^vllm:iteration_tokens_total non-counter metrics should not have "_total" suffix$/,
    /^DCGM_FI_DEV_\w+ label names should be written in 'snake_case' not 'camelCase'$/,
    /^DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter metrics should have "_total" suffix$/,
    /^nodejs_active_\w+_total non-counter metrics should not have "_total" suffix$/,
  ];
  it('promtool check metrics finds nothing beyond the names taken from vLLM, DCGM and prom-client (when promtool is available)', (t) => {
    const tool = process.env.SPLITBENCH_PROMTOOL ?? 'promtool';
    const r = spawnSync(tool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // ENOENT: not on PATH; EACCES: not on PATH either, but a PATH folder this user cannot read was searched.
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'EACCES') {
      t.diagnostic(`no ${tool} on this machine; the strict parse above is the check`);
      return;
    }
    const problems = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !/^error while linting/.test(l) && !INHERITED.some((re) => re.test(l)));
    assert.deepEqual(problems, [], problems.join('\n'));
  });
});
