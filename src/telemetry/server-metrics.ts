/**
 * Server metrics: the Prometheus series of vLLM, SGLang, Dynamo, TensorRT-LLM's server and the reference backend
 * mapped to common names (docs/telemetry-and-cost.md "Server metrics"), turned into timeline samples:
 *
 *   gauges     running, queue_depth, in_flight, kv_used_frac: the value at each scrape
 *   counters   prompt_tokens, generation_tokens, requests: the increase since the previous scrape (a decrease is a
 *              restart: the new value counts from zero)
 *   histogram  ttft_seconds (server-side time to first token): per scrape, the increase of each `_bucket{le}`,
 *              of `_sum` and of `_count` (written only when `_count` grew), as ttft_seconds_bucket /
 *              ttft_seconds_sum / ttft_seconds_count
 *
 * For every common name the FIRST listed series present in a target's exposition is used (the reference backend
 * exposes both its own names and vLLM aliases; summing both would double count).
 */
import type { PromExposition, PromSample } from './prom-text.js';

export type CommonKind = 'gauge' | 'counter' | 'histogram';

export interface CommonMetric {
  readonly name: string;
  readonly kind: CommonKind;
  readonly description: string;
  /** Source series names in order of preference (counters without their `_total`; histograms without suffixes). */
  readonly sources: readonly string[];
}

export const COMMON_METRICS: readonly CommonMetric[] = [
  {
    name: 'running',
    kind: 'gauge',
    description: 'requests running on the engine (admitted, holding KV memory)',
    sources: ['splitbench_running_requests', 'vllm:num_requests_running', 'sglang:num_running_reqs'],
  },
  {
    name: 'queue_depth',
    kind: 'gauge',
    description: 'requests waiting to be scheduled',
    sources: ['splitbench_queue_depth', 'vllm:num_requests_waiting', 'sglang:num_queue_reqs', 'dynamo_frontend_queued_requests'],
  },
  {
    name: 'in_flight',
    kind: 'gauge',
    description: 'requests the server has accepted and not finished',
    sources: ['splitbench_requests_in_flight', 'dynamo_frontend_inflight_requests'],
  },
  {
    name: 'kv_used_frac',
    kind: 'gauge',
    description: 'fraction of the KV-cache capacity in use (0-1)',
    sources: ['splitbench_kv_used_fraction', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'sglang:token_usage'],
  },
  {
    name: 'batch_size',
    kind: 'gauge',
    description: "requests in the machine's current iteration (reference backend)",
    sources: ['splitbench_batch_size'],
  },
  {
    name: 'batch_prompt_tokens',
    kind: 'gauge',
    description: "prompt tokens in the machine's current iteration (reference backend)",
    sources: ['splitbench_batch_prompt_tokens'],
  },
  {
    name: 'prompt_tokens',
    kind: 'counter',
    description: 'prompt tokens processed since the previous scrape',
    sources: ['splitbench_prompt_tokens', 'vllm:prompt_tokens', 'sglang:prompt_tokens'],
  },
  {
    name: 'generation_tokens',
    kind: 'counter',
    description: 'output tokens produced since the previous scrape',
    sources: ['splitbench_generation_tokens', 'vllm:generation_tokens', 'sglang:generation_tokens', 'dynamo_frontend_output_tokens'],
  },
  {
    name: 'requests',
    kind: 'counter',
    description: 'requests finished (vLLM: by finished_reason) or received (SGLang, Dynamo) since the previous scrape',
    sources: ['vllm:request_success', 'sglang:num_requests', 'dynamo_frontend_requests'],
  },
  {
    name: 'ttft_seconds',
    kind: 'histogram',
    description: 'server-side time to first token (histogram increases per scrape)',
    sources: ['vllm:time_to_first_token_seconds', 'sglang:time_to_first_token_seconds', 'dynamo_frontend_time_to_first_token_seconds'],
  },
];

export interface TimelinePoint {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const keyOf = (name: string, labels: Readonly<Record<string, string>>): string =>
  `${name}\u0000${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0001')}`;

/** Turns successive expositions of one target into timeline points (state: the previous counter values). */
export class ServerMetricsMapper {
  private readonly prev = new Map<string, number>();
  private restarts = 0;

  /** Counter restarts seen (a counter that went down). */
  get counterRestarts(): number {
    return this.restarts;
  }

  map(expo: PromExposition): TimelinePoint[] {
    const byName = new Map<string, PromSample[]>();
    for (const s of expo.samples) {
      const arr = byName.get(s.name);
      if (arr) arr.push(s);
      else byName.set(s.name, [s]);
    }
    const out: TimelinePoint[] = [];
    for (const m of COMMON_METRICS) {
      if (m.kind === 'gauge') {
        const src = m.sources.find((n) => byName.has(n));
        if (!src) continue;
        for (const s of byName.get(src)!) if (Number.isFinite(s.value)) out.push({ name: m.name, labels: { ...s.labels }, value: s.value });
      } else if (m.kind === 'counter') {
        const src = m.sources.map((n) => (byName.has(`${n}_total`) ? `${n}_total` : byName.has(n) ? n : undefined)).find((n) => n !== undefined);
        if (!src) continue;
        for (const s of byName.get(src)!) {
          const d = this.delta(`${m.name}|${keyOf(src, s.labels)}`, s.value);
          if (d !== undefined) out.push({ name: m.name, labels: { ...s.labels }, value: d });
        }
      } else {
        const src = m.sources.find((n) => byName.has(`${n}_count`));
        if (!src) continue;
        // Per series (labels without `le`): count first; buckets and sum only when it grew.
        const sums = new Map<string, PromSample>();
        for (const s of byName.get(`${src}_sum`) ?? []) sums.set(keyOf('', s.labels), s);
        const bucketsOf = new Map<string, PromSample[]>();
        for (const b of byName.get(`${src}_bucket`) ?? []) {
          const k = keyOf('', withoutLe(b.labels));
          const arr = bucketsOf.get(k);
          if (arr) arr.push(b);
          else bucketsOf.set(k, [b]);
        }
        for (const c of byName.get(`${src}_count`)!) {
          const ck = keyOf('', c.labels);
          const dc = this.delta(`${m.name}|count|${keyOf(src, c.labels)}`, c.value);
          const sum = sums.get(ck);
          const ds = sum ? this.delta(`${m.name}|sum|${keyOf(src, c.labels)}`, sum.value) : undefined;
          const buckets = bucketsOf.get(ck) ?? [];
          const db = buckets.map((b) => ({ b, d: this.delta(`${m.name}|bucket|${keyOf(src, b.labels)}`, b.value) }));
          if (dc === undefined || dc <= 0) continue;
          out.push({ name: `${m.name}_count`, labels: { ...c.labels }, value: dc });
          if (ds !== undefined) out.push({ name: `${m.name}_sum`, labels: { ...c.labels }, value: ds });
          for (const { b, d } of db) if (d !== undefined) out.push({ name: `${m.name}_bucket`, labels: { ...b.labels }, value: d });
        }
      }
    }
    return out;
  }

  private delta(key: string, v: number): number | undefined {
    if (!Number.isFinite(v)) return undefined;
    const p = this.prev.get(key);
    this.prev.set(key, v);
    if (p === undefined) return undefined; // the first scrape is the baseline
    if (v < p) {
      this.restarts++;
      return v;
    }
    return v - p;
  }
}

function withoutLe(l: Readonly<Record<string, string>>): Record<string, string> {
  const { le: _le, ...rest } = l;
  return rest;
}
