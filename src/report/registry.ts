/**
 * The names of the charts a report draws (`--chart NAME`), with what each shows. Kept free of heavy imports
 * so `splitbench report --help` can list them without loading the renderer.
 */
export interface ChartInfo {
  readonly name: ChartName;
  readonly title: string;
  /** One line: what the chart shows (README, report.md, --help). */
  readonly description: string;
}

export const CHART_INFO = [
  { name: 'cdf-ttft', title: 'CDF of TTFT', description: 'time to first token, one line per run' },
  { name: 'cdf-tpot', title: 'CDF of TPOT', description: 'time per output token after the first, one value per request' },
  { name: 'cdf-tbt', title: 'CDF of per-token gaps (TBT)', description: 'gap between consecutive tokens, token-weighted (a chunk of k tokens gives k gaps of gap/k)' },
  { name: 'cdf-e2e', title: 'CDF of E2E latency', description: 'end-to-end latency, send to last token' },
  { name: 'load-ttft', title: 'TTFT vs offered load', description: 'p50 (dashed) and p99 (solid) TTFT per deployment over a rate sweep; --slo limits as black lines' },
  { name: 'load-tpot', title: 'TPOT vs offered load', description: 'p50 and p99 TPOT per deployment over a rate sweep' },
  { name: 'load-e2e', title: 'E2E vs offered load', description: 'p50 and p99 E2E latency per deployment over a rate sweep' },
  { name: 'throughput', title: 'Throughput', description: 'completed requests per second over the run span' },
  { name: 'output-throughput', title: 'Output token throughput', description: 'output tokens per second over the run span' },
  { name: 'goodput', title: 'Goodput', description: 'requests per second that met every per-request SLO (needs --slo)' },
  { name: 'cost', title: 'Cost per 1M output tokens', description: 'machine-hours × $/h over output tokens (runs with priced machines)' },
  { name: 'energy', title: 'Energy per output token', description: 'energy integrated from power samples over output tokens' },
  { name: 'timeline-inflight', title: 'Requests in flight', description: 'requests between send and end over the run, from the request rows' },
  { name: 'timeline-queue', title: 'Queue depth', description: 'queued requests per pool over the run (timeline samples named queue_depth)' },
  { name: 'timeline-power', title: 'Power per pool', description: 'summed machine power per pool over the run (power samples)' },
  { name: 'ttft-breakdown', title: 'TTFT breakdown', description: 'queue, prefill and KV-transfer time per run, stacked; mean and p50 of each part' },
  { name: 'lag-histogram', title: 'Schedule lag', description: 'histogram of send − scheduled: how late the client sent requests' },
  { name: 'slo-matrix', title: 'SLO verdicts', description: 'rules × runs, pass (green) / FAIL (vermillion) with the measured value' },
] as const satisfies readonly { name: string; title: string; description: string }[];

export type ChartName = (typeof CHART_INFO)[number]['name'];

export const CHART_NAMES: readonly ChartName[] = CHART_INFO.map((c) => c.name);
