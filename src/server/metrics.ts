/**
 * `/metrics` of the reference backend: Prometheus text exposition from a private prom-client Registry.
 * Machine series are read from the cluster's snapshot at scrape time; energy is integrated from the power
 * model's watts by a sampler (trapezoid rule over engine seconds, i.e. real-GPU joules) and at each scrape.
 * vLLM's request histograms (names, types and buckets of vLLM's v1 Prometheus logger) are observed when a
 * request ends, in engine seconds (real-GPU seconds, the emulated time, like every figure of the server).
 * Names are listed in the docs/backend.md.
 */
import { Counter, Gauge, Histogram, Registry, Summary, collectDefaultMetrics } from 'prom-client';
import type { Clock, Cluster, IterationEvent, MachineInfo, MachineSnapshot, RequestBreakdown } from '../engine/index.js';

type Labels = Record<string, string>;

/** vLLM's bucket sets (vllm/v1/metrics/loggers.py). */
export const VLLM_BUCKETS = {
  ttft: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0],
  itl: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0],
  request: [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0],
  prefillPerToken: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
  iterationTokens: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
  n: [1, 2, 5, 10, 20],
} as const;

/** vLLM's `build_1_2_5_buckets(max)`: 1, 2, 5, 10, 20, 50, … up to `max`. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let e = 1; ; e *= 10) {
    for (const m of [1, 2, 5]) {
      if (m * e > max) return out;
      out.push(m * e);
    }
  }
}

/** One finished request (one choice), in engine seconds. */
export interface FinishedRequestStats {
  readonly breakdown: RequestBreakdown;
  /** Engine times: submitted to the cluster, first token, last token. */
  readonly submitted: number;
  readonly firstToken: number;
  readonly end: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  /** The request's `max_tokens` (absent: not given). */
  readonly maxTokens?: number;
  readonly n: number;
  readonly finishReason: 'stop' | 'length' | 'abort';
  /** Token-weighted inter-token gaps (engine seconds): `gaps[i]` seconds each for `counts[i]` tokens. */
  readonly gaps: readonly number[];
  readonly counts: readonly number[];
}

export interface ServerMetricsOptions {
  /** The GPU product name (DCGM's `modelName`) of a machine type; default: the machine type. */
  readonly gpuModel?: (machineType: string) => string;
  /** The model's context length (the 1-2-5 buckets of the token-count histograms go up to it). */
  readonly maxModelLen?: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private snap: readonly MachineSnapshot[] = [];
  private readonly info = new Map<string, MachineInfo>();
  private readonly energyJ = new Map<string, number>();
  private readonly lastWatts = new Map<string, number>();
  private lastSampleT: number;
  private readonly emitDelay: Summary;
  private readonly emitDelayMax: Gauge;
  private readonly httpRequests: Counter;
  private maxDelay = 0;
  private readonly vh: Record<string, Histogram>;
  private readonly success: Counter;

  constructor(
    private readonly cluster: Cluster,
    private readonly clock: Clock & { realNow?(): number },
    private readonly modelName: string,
    opts: ServerMetricsOptions = {},
  ) {
    for (const m of cluster.machines()) this.info.set(m.id, m);
    this.lastSampleT = this.observedNow();
    const r = this.registry;
    // Process figures (CPU seconds, memory, event-loop lag) of the server itself.
    collectDefaultMetrics({ register: r });
    const self = this;
    const machineLabels = (s: MachineSnapshot): Labels => ({
      machine: s.id,
      pool: s.pool,
      type: this.info.get(s.id)?.type ?? 'unknown',
    });
    const vllmLabels = (s: MachineSnapshot): Labels => ({ model_name: this.modelName, engine: s.id, pool: s.pool });

    // One series per machine, read from the snapshot at scrape time (a counter shows the machine's total).
    const perMachine =
      (kind: 'gauge' | 'counter') =>
      (name: string, help: string, labels: string[], value: (s: MachineSnapshot) => number, lab = machineLabels): void => {
        const config = {
          name,
          help,
          labelNames: labels,
          registers: [r],
          collect(this: Gauge | Counter): void {
            this.reset();
            for (const s of self.snap) {
              if (this instanceof Gauge) this.set(lab(s), value(s));
              else this.inc(lab(s), value(s));
            }
          },
        };
        if (kind === 'gauge') new Gauge(config);
        else new Counter(config);
      };
    const gauge = perMachine('gauge');
    const counter = perMachine('counter');
    const ml = ['machine', 'pool', 'type'];
    const kvFrac = (s: MachineSnapshot): number => (s.kvCapacityTokens > 0 ? s.kvUsedTokens / s.kvCapacityTokens : 0);
    gauge('splitbench_queue_depth', 'Requests waiting on the machine (not yet in a batch).', ml, (s) => s.queuedRequests);
    gauge('splitbench_running_requests', 'Requests admitted on the machine (holding KV memory).', ml, (s) => s.runningRequests);
    gauge('splitbench_batch_size', "Requests in the machine's current iteration.", ml, (s) => s.batchSize);
    gauge('splitbench_batch_prompt_tokens', "Prompt tokens in the machine's current iteration.", ml, (s) => s.batchPromptTokens);
    gauge('splitbench_kv_used_fraction', "Fraction of the machine's KV-cache capacity in use (0-1).", ml, kvFrac);
    gauge('splitbench_kv_used_tokens', 'KV-cache tokens in use on the machine.', ml, (s) => s.kvUsedTokens);
    gauge('splitbench_kv_capacity_tokens', 'KV-cache capacity of the machine in tokens.', ml, (s) => s.kvCapacityTokens);
    counter('splitbench_prompt_tokens_total', 'Prompt tokens processed by the machine.', ml, (s) => s.promptTokensTotal);
    counter('splitbench_generation_tokens_total', 'Output tokens produced by the machine.', ml, (s) => s.outputTokensTotal);
    gauge('splitbench_power_watts', 'Machine power from the power model (W, all GPUs).', ml, (s) => s.watts);
    counter('splitbench_energy_joules_total', 'Machine energy integrated from the power model (J, real-GPU seconds).', ml, (s) => this.energyJ.get(s.id) ?? 0);
    new Gauge({
      name: 'splitbench_requests_in_flight',
      help: 'Engine requests submitted and not yet done, failed or cancelled.',
      registers: [r],
      collect() {
        this.set(self.cluster.inFlight());
      },
    });
    new Gauge({
      name: 'splitbench_engine_time_seconds',
      help: 'Engine clock (real-GPU seconds since the server started).',
      registers: [r],
      collect() {
        this.set(self.observedNow());
      },
    });

    // vLLM-style aliases (one `engine` per machine), so tools that scrape vLLM work.
    const vl = ['model_name', 'engine', 'pool'];
    gauge('vllm:num_requests_running', 'Requests running on the engine (vLLM alias).', vl, (s) => s.runningRequests, vllmLabels);
    gauge('vllm:num_requests_waiting', 'Requests waiting on the engine (vLLM alias).', vl, (s) => s.queuedRequests, vllmLabels);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage, 0-1 (vLLM alias).', vl, kvFrac, vllmLabels);
    gauge('vllm:gpu_cache_usage_perc', "KV-cache usage, 0-1 (vLLM's older name of vllm:kv_cache_usage_perc).", vl, kvFrac, vllmLabels);
    // vLLM v0 series the published dashboard still plots: nothing is swapped or cached on CPU here (a preempted
    // request is recomputed), so these are 0, truthfully.
    gauge('vllm:num_requests_swapped', 'Requests swapped to CPU (always 0: preemption recomputes).', vl, () => 0, vllmLabels);
    gauge('vllm:cpu_cache_usage_perc', 'CPU KV-cache usage (always 0: no CPU KV cache).', vl, () => 0, vllmLabels);
    // prom-client adds `_total` to a counter's name in the exposition only when the name lacks it: these print as
    // vllm:prompt_tokens_total and vllm:generation_tokens_total, as vLLM's do.
    counter('vllm:prompt_tokens_total', 'Prompt tokens processed (vLLM alias).', vl, (s) => s.promptTokensTotal, vllmLabels);
    counter('vllm:generation_tokens_total', 'Generation tokens produced (vLLM alias).', vl, (s) => s.outputTokensTotal, vllmLabels);
    // Prefix cache (deployments with prefixCache: true; 0 elsewhere): vLLM v1's token counters and v0's hit-rate gauge.
    counter(
      'vllm:prefix_cache_queries_total',
      'Prompt tokens looked up in the prefix cache (vLLM alias).',
      vl,
      (s) => s.prefixCache?.queryTokens ?? 0,
      vllmLabels,
    );
    counter('vllm:prefix_cache_hits_total', 'Prompt tokens found in the prefix cache (vLLM alias).', vl, (s) => s.prefixCache?.hitTokens ?? 0, vllmLabels);
    gauge(
      'vllm:gpu_prefix_cache_hit_rate',
      'Prefix-cache token hit rate since start, 0-1 (vLLM v0 alias).',
      vl,
      (s) => (s.prefixCache && s.prefixCache.queryTokens > 0 ? s.prefixCache.hitTokens / s.prefixCache.queryTokens : 0),
      vllmLabels,
    );
    counter(
      'splitbench_prefix_cache_query_requests_total',
      "Requests whose prompt was looked up in the machine's prefix cache.",
      ml,
      (s) => s.prefixCache?.queries ?? 0,
    );
    counter(
      'splitbench_prefix_cache_hit_requests_total',
      "Requests that found at least one prompt block in the machine's prefix cache.",
      ml,
      (s) => s.prefixCache?.hits ?? 0,
    );
    gauge(
      'splitbench_prefix_cache_tokens',
      "Tokens of KV the machine's prefix cache holds (part of the KV in use).",
      ml,
      (s) => s.prefixCache?.cachedTokens ?? 0,
    );

    // vLLM's request histograms, one `engine` per machine. A request's prompt-side figures (TTFT, queue,
    // prefill) go to its prompt machine, the rest to its token machine (where it ends); one machine when unsplit.
    const maxLen = Math.max(1, opts.maxModelLen ?? 32768);
    const len125 = buckets125(maxLen);
    const hist = (name: string, help: string, buckets: readonly number[]): Histogram =>
      new Histogram({ name, help, labelNames: vl, buckets: [...buckets], registers: [r] });
    this.vh = {
      ttft: hist('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds (engine seconds).', VLLM_BUCKETS.ttft),
      itl: hist('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds (engine seconds).', VLLM_BUCKETS.itl),
      tpotOld: hist(
        'vllm:time_per_output_token_seconds',
        "Histogram of time per output token in seconds (vLLM's older name of the inter-token latency).",
        VLLM_BUCKETS.itl,
      ),
      tpot: hist('vllm:request_time_per_output_token_seconds', 'Histogram of time_per_output_token_seconds per request (engine seconds).', VLLM_BUCKETS.itl),
      e2e: hist('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds (engine seconds).', VLLM_BUCKETS.request),
      queue: hist('vllm:request_queue_time_seconds', 'Histogram of time spent in WAITING phase for request.', VLLM_BUCKETS.request),
      inference: hist('vllm:request_inference_time_seconds', 'Histogram of time spent in RUNNING phase for request.', VLLM_BUCKETS.request),
      prefill: hist('vllm:request_prefill_time_seconds', 'Histogram of time spent in PREFILL phase for request.', VLLM_BUCKETS.request),
      decode: hist('vllm:request_decode_time_seconds', 'Histogram of time spent in DECODE phase for request.', VLLM_BUCKETS.request),
      prefillPerToken: hist(
        'vllm:time_per_prefill_token_request_seconds',
        'Time spent per token during prefill phase in seconds.',
        VLLM_BUCKETS.prefillPerToken,
      ),
      promptTokens: hist('vllm:request_prompt_tokens', 'Number of prefill tokens processed.', len125),
      generationTokens: hist('vllm:request_generation_tokens', 'Number of generation tokens processed.', len125),
      maxGeneration: hist('vllm:request_max_num_generation_tokens', 'Histogram of maximum number of requested generation tokens.', len125),
      maxTokens: hist('vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', len125),
      n: hist('vllm:request_params_n', 'Histogram of the n request parameter.', VLLM_BUCKETS.n),
      iteration: hist('vllm:iteration_tokens_total', 'Histogram of number of tokens per engine_step.', VLLM_BUCKETS.iterationTokens),
    };
    this.success = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: [...vl, 'finished_reason'],
      registers: [r],
    });
    // Every engine's series exist from the start (vLLM creates them per engine), so a dashboard finds them at once.
    for (const m of cluster.machines()) {
      const l = { model_name: modelName, engine: m.id, pool: m.pool };
      for (const h of Object.values(this.vh)) h.zero(l);
      for (const reason of ['stop', 'length', 'abort']) this.success.inc({ ...l, finished_reason: reason }, 0);
    }

    // DCGM-exporter-style per-GPU power and energy (machine figures split evenly over its GPUs).
    const dl = ['gpu', 'UUID', 'device', 'modelName', 'Hostname', 'pool'];
    const gpuModelOf = opts.gpuModel ?? ((t: string) => t);
    const perGpu = (s: MachineSnapshot, f: (gpus: number) => (g: number) => void): void => {
      const gpus = Math.max(1, this.info.get(s.id)?.gpus ?? 1);
      const each = f(gpus);
      for (let g = 0; g < gpus; g++) each(g);
    };
    const gpuLabels = (s: MachineSnapshot, g: number): Labels => ({
      gpu: String(g),
      UUID: `GPU-${s.id}-${g}`,
      device: `nvidia${g}`,
      modelName: gpuModelOf(this.info.get(s.id)?.type ?? 'unknown'),
      Hostname: s.id,
      pool: s.pool,
    });
    new Gauge({
      name: 'DCGM_FI_DEV_POWER_USAGE',
      help: 'Power draw (in W), from the power model.',
      labelNames: dl,
      registers: [r],
      collect() {
        this.reset();
        for (const s of self.snap) perGpu(s, (n) => (g) => this.set(gpuLabels(s, g), s.watts / n));
      },
    });
    new Counter({
      name: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION',
      help: 'Total energy consumption since the server started (in mJ), integrated from the power model.',
      labelNames: dl,
      registers: [r],
      collect() {
        this.reset();
        for (const s of self.snap) {
          const mj = (self.energyJ.get(s.id) ?? 0) * 1000;
          perGpu(s, (n) => (g) => this.inc(gpuLabels(s, g), mj / n));
        }
      },
    });

    this.emitDelay = new Summary({
      name: 'splitbench_emit_delay_seconds',
      help: 'Token emission delay: wall time a chunk was written minus the wall time the engine intended (s).',
      percentiles: [0.5, 0.9, 0.99, 0.999],
      registers: [r],
    });
    this.emitDelayMax = new Gauge({
      name: 'splitbench_emit_delay_max_seconds',
      help: 'Largest token emission delay so far (s).',
      registers: [r],
      collect() {
        this.set(self.maxDelay);
      },
    });
    this.httpRequests = new Counter({
      name: 'splitbench_http_requests_total',
      help: 'HTTP requests answered, by route and status.',
      labelNames: ['route', 'status'],
      registers: [r],
    });
    void this.emitDelayMax;
  }

  /** Record one chunk's emission delay (wall seconds). */
  observeEmitDelay(seconds: number): void {
    const v = seconds > 0 ? seconds : 0;
    this.emitDelay.observe(v);
    if (v > this.maxDelay) this.maxDelay = v;
  }

  /** vLLM's request histograms for one finished request (engine seconds). */
  observeRequest(q: FinishedRequestStats): void {
    const b = q.breakdown;
    const pool = (id: string): string => this.info.get(id)?.pool ?? 'unknown';
    const at = (id: string): Labels => ({ model_name: this.modelName, engine: id, pool: pool(id) });
    const p = at(b.promptMachine);
    const t = at(b.tokenMachine || b.promptMachine);
    const v = this.vh;
    const ttft = q.firstToken - q.submitted;
    const decode = Math.max(0, q.end - q.firstToken);
    v.ttft!.observe(p, Math.max(0, ttft));
    v.queue!.observe(p, Math.max(0, b.queue));
    v.prefill!.observe(p, Math.max(0, b.prefill));
    if (q.promptTokens > 0) v.prefillPerToken!.observe(p, Math.max(0, b.prefill) / q.promptTokens);
    for (let i = 0; i < q.gaps.length; i++) {
      const g = Math.max(0, q.gaps[i]!);
      for (let k = 0; k < q.counts[i]!; k++) {
        v.itl!.observe(t, g);
        v.tpotOld!.observe(t, g);
      }
    }
    if (q.outputTokens > 1) v.tpot!.observe(t, decode / (q.outputTokens - 1));
    v.e2e!.observe(t, Math.max(0, q.end - q.submitted));
    v.decode!.observe(t, decode);
    v.inference!.observe(t, Math.max(0, b.prefill) + decode);
    v.promptTokens!.observe(t, q.promptTokens);
    v.generationTokens!.observe(t, q.outputTokens);
    v.maxGeneration!.observe(t, q.maxTokens ?? q.outputTokens);
    if (q.maxTokens !== undefined) v.maxTokens!.observe(t, q.maxTokens);
    v.n!.observe(t, q.n);
    this.success.inc({ ...t, finished_reason: q.finishReason });
  }

  /** vLLM's `iteration_tokens_total`: tokens (prompt + one per decode) of one iteration of one machine. */
  observeIteration(e: IterationEvent): void {
    const tokens = e.promptTokens + e.decodes;
    if (tokens <= 0) return;
    const l = { model_name: this.modelName, engine: e.machine, pool: this.info.get(e.machine)?.pool ?? 'unknown' };
    for (let i = 0; i < e.iterations; i++) this.vh.iteration!.observe(l, tokens);
  }

  countHttp(route: string, status: number): void {
    this.httpRequests.inc({ route, status: String(status) });
  }

  /**
   * Engine time for an observer: RealClock's `realNow()`, which reads the monotonic clock without moving the
   * engine's own "latest time seen" (its `now()` does, so that callbacks never run before an arrival they must
   * see): a scrape or an energy sample must not delay the engine's next callback time.
   */
  private observedNow(): number {
    return this.clock.realNow?.() ?? this.clock.now();
  }

  /** Integrate energy up to now (call periodically and before a scrape). */
  sampleEnergy(): readonly MachineSnapshot[] {
    const now = this.observedNow();
    const dt = Math.max(0, now - this.lastSampleT);
    const snap = this.cluster.snapshot();
    for (const s of snap) {
      const prev = this.lastWatts.get(s.id) ?? s.watts;
      this.energyJ.set(s.id, (this.energyJ.get(s.id) ?? 0) + ((prev + s.watts) / 2) * dt);
      this.lastWatts.set(s.id, s.watts);
    }
    this.lastSampleT = now;
    return snap;
  }

  /** Joules per machine so far. */
  energy(): ReadonlyMap<string, number> {
    return this.energyJ;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.snap = this.sampleEnergy();
    return this.registry.metrics();
  }
}
