/**
 * Telemetry benchmark: parsing a large Prometheus exposition (a vLLM-like /metrics of many engines, with
 * histograms) and mapping it to timeline points, per scrape. Prints figures; passes or fails nothing.
 * Run alone: node dist/test/bench/telemetry.js
 */
import { parsePromText } from '../../src/telemetry/prom-text.js';
import { ServerMetricsMapper } from '../../src/telemetry/server-metrics.js';

function exposition(engines: number, step: number): string {
  const lines: string[] = [];
  const les = ['0.001', '0.005', '0.01', '0.02', '0.04', '0.06', '0.08', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '20', '40', '80', '+Inf'];
  lines.push('# HELP vllm:num_requests_running Running requests.', '# TYPE vllm:num_requests_running gauge');
  for (let e = 0; e < engines; e++) lines.push(`vllm:num_requests_running{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} ${e % 7}`);
  lines.push('# TYPE vllm:num_requests_waiting gauge');
  for (let e = 0; e < engines; e++) lines.push(`vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} ${e % 3}`);
  lines.push('# TYPE vllm:kv_cache_usage_perc gauge');
  for (let e = 0; e < engines; e++) lines.push(`vllm:kv_cache_usage_perc{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} 0.${e % 10}`);
  lines.push('# TYPE vllm:prompt_tokens counter');
  for (let e = 0; e < engines; e++) lines.push(`vllm:prompt_tokens_total{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} ${1e6 + step * 1000 + e}`);
  lines.push('# TYPE vllm:generation_tokens counter');
  for (let e = 0; e < engines; e++) lines.push(`vllm:generation_tokens_total{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} ${2e5 + step * 100 + e}`);
  for (const h of ['vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds', 'vllm:e2e_request_latency_seconds']) {
    lines.push(`# TYPE ${h} histogram`);
    for (let e = 0; e < engines; e++) {
      les.forEach((le, i) => {
        lines.push(`${h}_bucket{model_name="meta-llama/Llama-3.1-70B",engine="${e}",le="${le}"} ${(i + 1) * (step + 1)}`);
      });
      lines.push(`${h}_sum{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} ${12.5 * (step + 1)}`);
      lines.push(`${h}_count{model_name="meta-llama/Llama-3.1-70B",engine="${e}"} ${20 * (step + 1)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const engines = 64;
const texts = Array.from({ length: 20 }, (_, i) => exposition(engines, i));
const bytes = texts[0]!.length;
const series = texts[0]!.split('\n').filter((l) => l && !l.startsWith('#')).length;
// warm up
for (const t of texts.slice(0, 3)) parsePromText(t);
const mapper = new ServerMetricsMapper();
let points = 0;
const c0 = process.cpuUsage();
const w0 = performance.now();
const rounds = 10;
for (let r = 0; r < rounds; r++) for (const t of texts) points += mapper.map(parsePromText(t)).length;
const wallMs = performance.now() - w0;
const cpu = process.cpuUsage(c0);
const scrapes = rounds * texts.length;
console.log(`telemetry: Prometheus exposition of ${series} series (${(bytes / 1024).toFixed(0)} KiB, ${engines} engines with 3 histograms)`);
console.log(`  parse + map: ${(wallMs / scrapes).toFixed(2)} ms wall per scrape, ${((cpu.user + cpu.system) / 1000 / scrapes).toFixed(2)} ms CPU per scrape`);
console.log(`  throughput: ${((series * scrapes) / (wallMs / 1000) / 1e6).toFixed(2)} M series/s; ${Math.round(points / scrapes)} timeline points per scrape`);
