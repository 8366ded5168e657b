/**
 * The names of the charts a report draws (`--chart NAME`), with what each shows. Kept free of heavy imports
 * so `splitbench report --help` can list them without loading the renderer.
 */
export interface ChartInfo {
  readonly name: ChartName;
  readonly title: string;
  /** One line: what the chart shows (docs/reports.md, report.md, --help). */
  readonly description: string;
}

export const CHART_INFO = [
  { name: 'cdf-ttft', title: 'CDF of TTFT', description: 'time to first token, one line per run (seeds: mean and min–max band)' },
  { name: 'cdf-tpot', title: 'CDF of TPOT', description: 'time per output token after the first, one value per request' },
  {
    name: 'cdf-tbt',
    title: 'CDF of per-token gaps (TBT)',
    description: 'gap between consecutive tokens, token-weighted (a chunk of k tokens gives k gaps of gap/k)',
  },
  { name: 'cdf-e2e', title: 'CDF of E2E latency', description: 'end-to-end latency, send to last token' },
  {
    name: 'load-ttft',
    title: 'TTFT vs offered load',
    description: 'p50 (dashed) and p99 (solid) TTFT per deployment over a rate sweep; --slo limits as black lines',
  },
  { name: 'load-tpot', title: 'TPOT vs offered load', description: 'p50 and p99 TPOT per deployment over a rate sweep' },
  { name: 'load-e2e', title: 'E2E vs offered load', description: 'p50 and p99 E2E latency per deployment over a rate sweep' },
  {
    name: 'slo-attainment',
    title: 'SLO attainment vs offered load',
    description: 'share of requests meeting every per-request limit of --slo, per deployment over a rate sweep',
  },
  { name: 'slo-scale', title: 'SLO attainment vs SLO scale', description: 'share of requests meeting every limit of --slo multiplied by k, per run' },
  {
    name: 'slowdown',
    title: 'Slowdown percentiles',
    description: 'p50/p90/p99 of TTFT, TBT and E2E slowdown (latency ÷ the same request alone on the reference machine)',
  },
  { name: 'pareto', title: 'Throughput vs latency', description: 'achieved throughput against E2E p99, one line per deployment, with the Pareto frontier' },
  { name: 'throughput', title: 'Throughput', description: 'completed requests per second over the run span' },
  { name: 'output-throughput', title: 'Output token throughput', description: 'output tokens per second over the run span' },
  { name: 'goodput', title: 'Goodput', description: 'requests per second that met every per-request SLO (needs --slo)' },
  { name: 'cost', title: 'Cost per 1M output tokens', description: 'machine-hours × $/h over output tokens (runs with priced machines), stacked by pool' },
  { name: 'energy', title: 'Energy per output token', description: 'energy integrated from power samples over output tokens, stacked by pool' },
  { name: 'timeline-inflight', title: 'Requests in flight', description: 'requests between send and end over the run, from the request rows' },
  {
    name: 'timeline-latency',
    title: 'Rolling latency and arrival rate',
    description: 'TTFT p50/p99 of the requests sent in each of 40 windows, with the arrival rate on the right axis',
  },
  { name: 'timeline-queue', title: 'Queue depth', description: 'queued requests per pool over the run (timeline samples named queue_depth)' },
  { name: 'timeline-kv', title: 'KV-cache usage', description: 'KV cache in use per pool, % of its capacity (timeline samples named kv_used_frac)' },
  { name: 'timeline-power', title: 'Power per pool', description: 'summed machine power per pool over the run (power samples)' },
  {
    name: 'batch-size',
    title: 'Batch size per pool',
    description: 'distribution of requests per iteration on busy machines, per pool (timeline samples named batch_size)',
  },
  {
    name: 'batch-tokens',
    title: 'Batched prompt tokens per pool',
    description: 'distribution of prompt tokens per iteration on busy machines, per pool (batch_prompt_tokens)',
  },
  {
    name: 'kv-transfer',
    title: 'KV transfer vs prompt length',
    description: 'p50 and p99 KV-cache transfer time per half-octave of prompt length (phase-split runs)',
  },
  {
    name: 'ttft-breakdown',
    title: 'Latency breakdown',
    description:
      'means per run: TTFT stacked as queue + prefill (+ overhead in live runs), the wait for the second token as KV transfer + decode wait (+ overhead)',
  },
  { name: 'lag-histogram', title: 'Schedule lag', description: 'histogram of send − scheduled on log axes: how late the client sent requests (live runs)' },
  { name: 'slo-matrix', title: 'SLO verdicts', description: 'rules (grouped by SLO file) × runs: ✓ pass / ✗ FAIL with the measured value and its unit' },
  {
    name: 'prefix-cache',
    title: 'Prefix-cache hit rates',
    description: 'per run, % of prompt tokens and % of requests served from the prefix cache (runs that record cached prompt tokens)',
  },
  {
    name: 'provision-heatmap',
    title: 'Provisioning heatmap',
    description: 'prompt × token machine counts of a provisioning search: the highest rate meeting the SLOs in each cell',
  },
] as const satisfies readonly { name: string; title: string; description: string }[];

export type ChartName = (typeof CHART_INFO)[number]['name'];

export const CHART_NAMES: readonly ChartName[] = CHART_INFO.map((c) => c.name);
